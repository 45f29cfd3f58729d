"""Baselines that CCL is compared with, on the same features and splits.

- ``cca``: canonical correlation analysis in closed form on PCA-reduced pooled image and text features;
- ``infonce``: a two-tower contrastive projection (CLIP-style linear heads, symmetric InfoNCE);
- ``supervised``: the same two towers trained with a category softmax (one classifier for both
  modalities) besides the contrastive loss: what labels alone give, without CCL's structure;
- ``conse``: zero-shot ConSE: the ImageNet classifier's top class probabilities mix the text
  embeddings of the class names; needs no pairs at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ccl_embed.errors import CCLEmbedError

from ccl_embed.train.evaluate import Encoders
from ccl_embed.train.features import FeatureSet


@dataclass(frozen=True)
class FitContext:
    """What some methods need besides the training features.

    Attributes:
        class_vectors: Text-tower vectors of the ImageNet class names (ConSE), or a callable making them.
        seed: Seed of every random draw in training.
    """

    class_vectors: Callable[[], np.ndarray] | None = None
    seed: int = 0

    def require_class_vectors(self) -> np.ndarray:
        """The class-name vectors, for a model that reads them (``ModelConfig.use_conse``).

        Raises:
            CCLEmbedError: When none can be made; the message names the fix.
        """
        if self.class_vectors is None:
            raise CCLEmbedError("this model reads the ImageNet class-name vectors (use_conse) but none were given; "
                                "pass FitContext(class_vectors=...) or train with use_conse=False")
        return self.class_vectors()


Fit = Callable[[FeatureSet, FeatureSet | None, FitContext], Encoders]


def _cca(train: FeatureSet, val: FeatureSet | None, ctx: FitContext) -> Encoders:
    from ccl_embed.train.baselines.cca import fit_cca

    return fit_cca(train, val, seed=ctx.seed)


def _infonce(train: FeatureSet, val: FeatureSet | None, ctx: FitContext) -> Encoders:
    from ccl_embed.train.baselines.infonce import InfoNCEConfig, fit_infonce

    return fit_infonce(train, val, InfoNCEConfig(seed=ctx.seed))


def _supervised(train: FeatureSet, val: FeatureSet | None, ctx: FitContext) -> Encoders:
    from ccl_embed.train.baselines.infonce import InfoNCEConfig, fit_infonce

    return fit_infonce(train, val, InfoNCEConfig(seed=ctx.seed, category_weight=1.0))


def _conse(train: FeatureSet, val: FeatureSet | None, ctx: FitContext) -> Encoders:
    from ccl_embed.train.baselines.conse import fit_conse

    return fit_conse(train, val, class_vectors=ctx.class_vectors() if ctx.class_vectors else None)


METHODS: dict[str, Fit] = {"cca": _cca, "infonce": _infonce, "supervised": _supervised, "conse": _conse}
"""Every baseline by name: ``fit(train, val, context) -> encoders``."""
