"""Every method the evaluation can fit by name: the baselines, CCL and CCL's ablations."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ccl_embed.model.config import CCLConfig
from ccl_embed.train.baselines import METHODS as BASELINES
from ccl_embed.train.baselines import Fit, FitContext
from ccl_embed.train.evaluate import Encoders
from ccl_embed.train.features import FeatureSet

CCL_VARIANTS: dict[str, dict[str, Any]] = {
    "ccl": {},
    "ccl-no-patches": {"use_patches": False},
    "ccl-no-stage1": {"use_stage1": False},
    "ccl-no-intra": {"use_intra": False},
    "ccl-no-inter": {"use_inter": False},
    "ccl-fixed-weights": {"adaptive_weights": False},
    "ccl-no-instance": {"use_instance": False},
    "ccl-no-instance-part": {"instance_dim": 0},
    "ccl-no-bow": {"text_bow": 0},
    "ccl-category-only": {"use_instance": False, "text_bow": 0},
}
"""The full model and one ablation per component (CCLConfig overrides). ``ccl-no-instance-part``
keeps the instance level but in the category space; ``ccl-category-only`` is the paper's
category-only constraints on the paper's inputs (no instance level, no bag of words)."""


def ccl_fit(overrides: dict[str, Any], base: CCLConfig | None = None) -> Fit:
    """A fit function training CCL with ``overrides`` on top of ``base`` (default config)."""

    def fit(train: FeatureSet, val: FeatureSet | None, ctx: FitContext) -> Encoders:
        from ccl_embed.train.encoders import CCLEncoders
        from ccl_embed.train.loop import train_ccl

        config = replace(base or CCLConfig(), seed=ctx.seed, **overrides)
        vectors = ctx.class_vectors() if (config.use_conse and ctx.class_vectors) else None
        if config.use_conse and vectors is None:
            config = replace(config, use_conse=False)
        return CCLEncoders(train_ccl(train, val, config, class_vectors=vectors).model)

    return fit


METHODS: dict[str, Fit] = {**BASELINES, **{name: ccl_fit(o) for name, o in CCL_VARIANTS.items()}}
