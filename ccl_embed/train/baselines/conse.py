"""Zero-shot ConSE (Norouzi et al., ICLR 2014): needs no image-text pairs.

An image's vector is the average of the text embeddings of its top-T ImageNet classes,
weighted by the classifier's probabilities; a text's vector is its own text embedding. Both live
in the text tower's space, compared by cosine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ccl_embed.train.features import FeatureSet

TOP_T = 10


def conse_vectors(logits: np.ndarray, class_vectors: np.ndarray, top: int = TOP_T) -> np.ndarray:
    """``[n, classes]`` logits and ``[classes, d]`` class-name vectors to ``[n, d]`` ConSE vectors."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    top = min(top, p.shape[1])
    idx = np.argpartition(-p, top - 1, axis=1)[:, :top]
    w = np.take_along_axis(p, idx, axis=1)
    w /= w.sum(axis=1, keepdims=True)
    return np.einsum("nt,ntd->nd", w, class_vectors[idx])


@dataclass
class ConSEEncoders:
    class_vectors: np.ndarray
    top: int = TOP_T

    def encode_images(self, features: FeatureSet) -> np.ndarray:
        return conse_vectors(features.image["logits"], self.class_vectors, self.top)

    def encode_texts(self, features: FeatureSet) -> np.ndarray:
        return features.text


def fit_conse(train: FeatureSet, val: FeatureSet | None = None, *, class_vectors: np.ndarray | None = None) -> ConSEEncoders:
    """ConSE uses no training pairs; it needs the class-name vectors from the same text tower.

    Raises:
        ValueError: When ``class_vectors`` is not given or does not match the text width.
    """
    if class_vectors is None:
        raise ValueError("ConSE needs class_vectors: the text tower's vectors of the ImageNet class names "
                         "(see ccl_embed.train.imagenet.class_names)")
    if class_vectors.shape[1] != train.text.shape[1]:
        raise ValueError(f"class_vectors have width {class_vectors.shape[1]}, the text features {train.text.shape[1]}; "
                         "embed the class names with the same text tower")
    return ConSEEncoders(np.asarray(class_vectors, dtype=np.float32))
