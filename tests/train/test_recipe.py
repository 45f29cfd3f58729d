"""The recipe: one file that `ccl-embed train` and the release build both read."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ccl_embed.cli import app
from ccl_embed.model.config import CCLConfig
from ccl_embed.train.recipe import read_recipe, recipe_config

SHIPPED = Path(__file__).resolve().parents[2] / "ccl_embed" / "models" / "default" / "config.json"


def test_the_recipe_is_the_shipped_models_config():
    shipped = CCLConfig.from_dict(json.loads(SHIPPED.read_text())["config"])
    assert recipe_config() == shipped
    assert recipe_config({"seed": 3}).train.seed == 3
    assert recipe_config({"train": {"seed": 3}}) == recipe_config({"seed": 3})
    with pytest.raises(ValueError, match="unknown field 'epochs'"):
        recipe_config({"epochs": 3})


def test_a_broken_recipe_is_named(tmp_path):
    from ccl_embed.errors import CCLEmbedError

    (tmp_path / "r.json").write_text("{")
    with pytest.raises(CCLEmbedError, match="r.json: not a readable recipe"):
        read_recipe(tmp_path / "r.json")


def test_train_with_no_flags_trains_the_recipe(tmp_path, monkeypatch):
    from ccl_embed.export import onnx_export
    from ccl_embed.train import pipeline
    from ccl_embed.train.towers import BowTower
    from tests.conftest import TinyImageTower, make_corpus, tiny_backbones

    monkeypatch.setenv("CCL_EMBED_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(pipeline, "EfficientNetTower", TinyImageTower)
    monkeypatch.setitem(pipeline.TEXT_FEATURES, "minilm", lambda: BowTower(64))
    # the export's backbones: tiny graphs of the same widths as the tiny towers
    files = tiny_backbones(tmp_path / "bb", image_dim=16, classes=1000, text_dim=64)
    monkeypatch.setattr(onnx_export, "backbones", lambda cache=None: (files, []))
    corpus = make_corpus(tmp_path / "c", styles=("plain", "rotated"))
    result = CliRunner().invoke(app, ["train", str(corpus), "--out", str(tmp_path / "m"), "--seed", "4"])
    assert result.exit_code == 0, result.output
    trained = json.loads((tmp_path / "m" / "config.json").read_text())["config"]
    shipped = json.loads(SHIPPED.read_text())["config"]
    assert trained["train"].pop("seed") == 4 and shipped["train"].pop("seed") == 0
    assert trained == shipped  # every other setting, architecture, schedule and readout alike
