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
    "ccl-with-instance": {"use_instance": True},
    "ccl-instance-not-pairwise": {"use_instance": True, "use_inter": False},
}
"""The full model, one ablation per component, and the instance level added (CCLConfig overrides)."""


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
