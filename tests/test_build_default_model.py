"""The release build's guards (scripts/build_default_model.py): a work folder trained otherwise is
refused, and no embedding setting of an earlier build lingers."""

import importlib.util
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ccl_embed.model.config import EMBEDDING_FIELDS, CCLConfig
from ccl_embed.train.loop import train_ccl
from tests.conftest import synthetic_features

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "build_default_model.py"
TINY = {"dim": 12, "instance_dim": 4, "text_bow": 64, "hidden": 32, "code": 16, "stage1_epochs": 1, "fusion_epochs": 1,
        "stage2_epochs": 1, "batch_size": 32}


def _script():
    spec = importlib.util.spec_from_file_location("build_default_model", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_work_folder_trained_with_other_settings_is_named_not_reused(tmp_path):
    build = _script()
    fs = synthetic_features()
    vectors = np.random.default_rng(1).normal(size=(10, 12)).astype(np.float32)
    train_ccl(fs.split("train"), None, CCLConfig(**TINY), class_vectors=vectors, out=tmp_path / "m")
    assert build.trained_differently(tmp_path / "m", TINY) == ""
    # settings applied when embedding do not count: the build sets them after training
    assert build.trained_differently(tmp_path / "m", {**TINY, "centering": 0.5}) == ""
    assert build.trained_differently(tmp_path / "m", {**TINY, "conse_input": True}) == "conse_input: False, wanted True"


def test_every_embedding_setting_comes_from_the_release_config_or_the_defaults():
    build = _script()
    assert EMBEDDING_FIELDS <= set(asdict(CCLConfig()))
    settings = build.embedding_settings({"after_fit": {"instance_share": 0.8}, "semantic": {"centering": 0.75}})
    assert set(settings) == EMBEDDING_FIELDS | {"instance_share"}
    assert settings["centering"] == 0.75 and settings["text_projection"] == CCLConfig().text_projection
    assert json.dumps(settings)  # a folder's config takes it as JSON
