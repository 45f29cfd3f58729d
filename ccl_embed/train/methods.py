"""Every method the evaluation can fit by name: the baselines, CCL and CCL's ablations."""

from __future__ import annotations

from typing import Any

from ccl_embed.model.config import CCLConfig
from ccl_embed.train.baselines import METHODS as BASELINES
from ccl_embed.train.baselines import Fit, FitContext
from ccl_embed.train.evaluate import Encoders
from ccl_embed.train.features import FeatureSet

PAPER: dict[str, Any] = {
    "use_conse": False, "stage2_skip": False, "shared_prototypes": False, "corr_distance_weight": 0.7,
    "use_instance": False, "text_bow": 0, "input_dropout": 0.0, "adaptive_weights": True,
}
"""The paper's layout as closely as these layers allow: no ConSE input, no stage-2 skip, a category
classifier per modality, the correspondence weights of the authors' released code (code distance
0.7, reconstruction 0.3), the category-level pairwise constraint only (no instance level, no bag
of words) and no input dropout; the losses are balanced adaptively, as the paper describes."""

CCL_VARIANTS: dict[str, dict[str, Any]] = {
    "ccl": {},
    "ccl-paper": PAPER,
    "ccl-paper-fixed-weights": {**PAPER, "adaptive_weights": False},
    "ccl-no-patches": {"use_patches": False},
    "ccl-grid-patches": {"image_regions": "grid"},
    "ccl-two-scale-patches": {"image_regions": "quadrants+grid"},
    "ccl-no-stage1": {"use_stage1": False},
    "ccl-no-corr": {"use_corr": False},
    "ccl-no-intra": {"use_intra": False},
    "ccl-no-inter": {"use_inter": False},
    "ccl-adaptive-weights": {"adaptive_weights": True},
    "ccl-own-classifiers": {"shared_prototypes": False},
    "ccl-corr-released": {"corr_distance_weight": 0.7},
    "ccl-no-instance": {"use_instance": False},
    "ccl-no-instance-part": {"instance_dim": 0},
    "ccl-no-bow": {"text_bow": 0},
    "ccl-no-conse": {"use_conse": False},
    "ccl-conse-input": {"conse_input": True},
    "ccl-no-skip": {"stage2_skip": False},
    "ccl-no-input-dropout": {"input_dropout": 0.0},
    "ccl-category-only": {"use_instance": False, "text_bow": 0},
}
"""The full model, the paper's (:data:`PAPER`; ``-fixed-weights``: with the released code's fixed
equal loss weights) and one change per component (CCLConfig overrides). ``ccl-no-corr`` keeps
stage 1's intra-modality autoencoders but drops the correspondence autoencoder (the paper's
intra-only codes); ``ccl-no-stage1`` drops stage 1 and the fusion network together.
``ccl-adaptive-weights`` balances stage 2's losses adaptively, as the paper describes (``ccl``
has the released code's fixed weights); ``ccl-own-classifiers`` gives each modality its own category classifier (the paper's) instead of
shared prototypes; ``ccl-corr-released`` weighs the correspondence code distance 0.7 as the
released code does. ``ccl-no-instance-part`` keeps the instance level but in the category space;
``ccl-grid-patches`` pools nine image regions that do not overlap, nearer the paper's separate
regions, and ``ccl-two-scale-patches`` those and the five overlapping ones together;
``ccl-conse-input`` appends the ConSE vector to the network's image input (``ccl`` keeps the class
vectors for the semantic part alone); ``ccl-no-conse``, ``ccl-no-skip`` and ``ccl-no-input-dropout`` remove the additions ``ccl`` carries
beyond the paper; ``ccl-category-only`` is the paper's category-only constraints on the paper's
inputs (no instance level, no bag of words)."""


def ccl_fit(overrides: dict[str, Any], base: CCLConfig | None = None) -> Fit:
    """A fit function training CCL with ``overrides`` on top of ``base`` (default config)."""

    def fit(train: FeatureSet, val: FeatureSet | None, ctx: FitContext) -> Encoders:
        from ccl_embed.train.encoders import CCLEncoders
        from ccl_embed.train.loop import train_ccl

        config = (base or CCLConfig()).replace(seed=ctx.seed, **overrides)
        vectors = ctx.require_class_vectors() if config.model.use_conse else None
        return CCLEncoders(train_ccl(train, val, config, class_vectors=vectors).model)

    return fit


METHODS: dict[str, Fit] = {**BASELINES, **{name: ccl_fit(o) for name, o in CCL_VARIANTS.items()}}
