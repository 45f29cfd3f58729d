"""CCA baseline: PCA-whitened pooled image and text features, then scikit-learn CCA."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ccl_embed.errors import require
from ccl_embed.train.features import FeatureSet

PCA_DIM = 128
CCA_DIM = 48


@dataclass
class CCAEncoders:
    image_pca: object
    text_pca: object
    cca: object

    def encode_images(self, features: FeatureSet) -> np.ndarray:
        x = self.image_pca.transform(features.image["pool"])  # type: ignore[attr-defined]
        return self.cca.transform(x)  # type: ignore[attr-defined,no-any-return]

    def encode_texts(self, features: FeatureSet) -> np.ndarray:
        y = self.text_pca.transform(features.text)  # type: ignore[attr-defined]
        _, yc = self.cca.transform(np.zeros((len(y), self.cca.n_features_in_)), y)  # type: ignore[attr-defined]
        return yc  # type: ignore[no-any-return]


def fit_cca(train: FeatureSet, val: FeatureSet | None = None, *, seed: int = 0) -> CCAEncoders:
    """Fit PCA (``PCA_DIM``) per modality, then CCA (``CCA_DIM`` components) on the training pairs."""
    decomposition = require("sklearn.decomposition", "train")
    cross = require("sklearn.cross_decomposition", "train")
    n_pca = min(PCA_DIM, len(train) - 1, train.text.shape[1])
    image_pca = decomposition.PCA(n_pca, whiten=True, random_state=seed).fit(train.image["pool"])
    text_pca = decomposition.PCA(n_pca, whiten=True, random_state=seed).fit(train.text)
    cca = cross.CCA(n_components=min(CCA_DIM, n_pca), max_iter=1000)
    cca.fit(image_pca.transform(train.image["pool"]), text_pca.transform(train.text))
    return CCAEncoders(image_pca, text_pca, cca)
