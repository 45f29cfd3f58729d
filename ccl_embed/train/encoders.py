"""A trained CCL model as encoders of feature sets, for evaluation and training-time validation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ccl_embed.model.config import CCLConfig, DataSpec
from ccl_embed.model.network import CCL, Batch
from ccl_embed.runtime.bow import hashed_bow
from ccl_embed.train.features import FeatureSet


def make_spec(train: FeatureSet, config: CCLConfig, class_vectors: np.ndarray | None,
              image_tower: str = "", text_tower: str = "") -> DataSpec:
    """The DataSpec of a training set: widths, patch counts and the label vocabulary."""
    labelled = any(p.label is not None for p in train.pairs)
    return DataSpec(
        image_dim=train.image["pool"].shape[1],
        text_dim=train.text.shape[1],
        classes=(class_vectors.shape[0] if class_vectors is not None else train.image["logits"].shape[1]),
        image_patches=train.image["regions"].shape[1],
        text_patches=train.fragments.shape[1],
        labels=tuple(sorted({c for c in _categories(train, labelled) if c is not None})),
        labelled=labelled,
        image_tower=image_tower,
        text_tower=text_tower,
    )


def _categories(fs: FeatureSet, labelled: bool) -> list[str | None]:
    """The training category of each row. In a labelled corpus, a pair without a label has none
    (it trains the instance level only); in an unlabelled one, each instance is its own category."""
    return [p.label for p in fs.pairs] if labelled else list(fs.labels)


def to_batch(fs: FeatureSet, spec: DataSpec, bow: int = 0) -> Batch:
    """Tensors of a feature set; labels outside the vocabulary become -1; ``bow``: the width of
    the texts' hashed bag of words (0: none)."""
    index = {label: i for i, label in enumerate(spec.labels)}
    texts: dict[str, int] = {}  # identical texts are one instance
    t = torch.from_numpy
    return Batch(
        image=t(np.ascontiguousarray(fs.image["pool"], dtype=np.float32)),
        logits=t(np.ascontiguousarray(fs.image["logits"], dtype=np.float32)),
        image_patches=t(np.ascontiguousarray(fs.image["regions"], dtype=np.float32)),
        text=t(np.ascontiguousarray(fs.text, dtype=np.float32)),
        text_patches=t(np.ascontiguousarray(fs.fragments, dtype=np.float32)),
        text_mask=t(fs.fragment_mask.copy()),
        label=torch.tensor([-1 if c is None else index.get(c, -1) for c in _categories(fs, spec.labelled)],
                           dtype=torch.long),
        instance=torch.tensor([texts.setdefault(p.text, len(texts)) for p in fs.pairs], dtype=torch.long),
        bow=t(hashed_bow([p.text for p in fs.pairs], bow)) if bow else None,
    )


@dataclass
class CCLEncoders:
    """A trained CCL model as encoders of feature sets (for evaluation)."""

    model: CCL
    chunk: int = 2048

    def _embed(self, fs: FeatureSet, texts: bool) -> np.ndarray:
        """One side only: the other side is neither encoded nor, for images, hashed into words."""
        self.model.eval()
        batch = to_batch(fs, self.model.spec, self.model.config.model.text_bow if texts else 0)
        out = []
        with torch.inference_mode():
            for i in range(0, len(batch), self.chunk):
                b = batch.take(torch.arange(i, min(i + self.chunk, len(batch))))
                z = (self.model.encode_text(b.text, b.text_patches, b.text_mask, b.bow) if texts
                     else self.model.encode_image(b.image, b.logits, b.image_patches))
                out.append(z.numpy())
        return np.concatenate(out)

    def encode_images(self, features: FeatureSet) -> np.ndarray:
        return self._embed(features, texts=False)

    def encode_texts(self, features: FeatureSet) -> np.ndarray:
        return self._embed(features, texts=True)


