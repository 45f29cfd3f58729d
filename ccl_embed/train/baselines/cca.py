"""CCA baseline: PCA-whitened pooled image and text features, then scikit-learn CCA.

Canonical directions past the true shared rank are noise, so the number kept is chosen on the
validation split (never on test) among :data:`CCA_DIMS`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ccl_embed.errors import require
from ccl_embed.train.features import FeatureSet

PCA_DIM = 128
CCA_DIMS = (8, 16, 32, 64)


@dataclass
class CCAEncoders:
    image_pca: object
    text_pca: object
    cca: object
    keep: int

    def encode_images(self, features: FeatureSet) -> np.ndarray:
        x = self.image_pca.transform(features.image["pool"])  # type: ignore[attr-defined]
        return self.cca.transform(x)[:, : self.keep]  # type: ignore[attr-defined]

    def encode_texts(self, features: FeatureSet) -> np.ndarray:
        y = self.text_pca.transform(features.text)  # type: ignore[attr-defined]
        _, yc = self.cca.transform(np.zeros((len(y), self.cca.n_features_in_)), y)  # type: ignore[attr-defined]
        return yc[:, : self.keep]


def fit_cca(train: FeatureSet, val: FeatureSet | None = None, *, seed: int = 0) -> CCAEncoders:
    """Fit PCA per modality and CCA on the training pairs; keep the best number of components on ``val``."""
    decomposition = require("sklearn.decomposition", "train")
    cross = require("sklearn.cross_decomposition", "train")
    from ccl_embed.train.evaluate import evaluate_method

    n_pca = min(PCA_DIM, len(train) - 1, train.text.shape[1], train.image["pool"].shape[1])
    image_pca = decomposition.PCA(n_pca, whiten=True, random_state=seed).fit(train.image["pool"])
    text_pca = decomposition.PCA(n_pca, whiten=True, random_state=seed).fit(train.text)
    dims = [d for d in CCA_DIMS if d < n_pca] + [n_pca]
    cca = cross.CCA(n_components=max(dims), max_iter=1000)
    cca.fit(image_pca.transform(train.image["pool"]), text_pca.transform(train.text))
    enc = CCAEncoders(image_pca, text_pca, cca, keep=max(dims))
    if val is not None and len(val):
        enc = max((replace(enc, keep=d) for d in dims), key=lambda e: evaluate_method(e, val).mean_map)
    return enc
