"""The release build's guard (scripts/build_default_model.py): a work folder trained otherwise is
refused by name, never reused."""

import importlib.util
from pathlib import Path

import numpy as np

from ccl_embed.model.config import CCLConfig
from ccl_embed.train.loop import train_ccl
from tests.conftest import synthetic_features

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "build_default_model.py"
TINY = CCLConfig.of(dim=12, instance_dim=4, text_bow=64, hidden=32, code=16, stage1_epochs=1, fusion_epochs=1,
                    stage2_epochs=1, batch_size=32)


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
    train_ccl(fs.split("train"), None, TINY, class_vectors=vectors, out=tmp_path / "m")
    assert build.trained_differently(tmp_path / "m", TINY) == ""
    # the readout is part of the recipe too: a folder built with another one is not the recipe's
    assert build.trained_differently(tmp_path / "m", TINY.replace(centering=0.5)) == "centering: 0.0, wanted 0.5"
    assert build.trained_differently(tmp_path / "m", TINY.replace(conse_input=True)) == "conse_input: False, wanted True"


def test_the_release_section_names_what_the_build_needs():
    release, _, _ = _script().load_release(Path(__file__).resolve().parent.parent / "ccl_embed" / "train" / "recipe.json")
    assert {"corpus", "photos", "work", "fit_on", "int8", "licences", "licences_file", "max_shipped_mb"} <= set(release)
    assert isinstance(release["work"], Path) and "~" not in str(release["work"])
