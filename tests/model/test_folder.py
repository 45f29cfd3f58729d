import json

import pytest
import torch

from ccl_embed.model.config import CCLConfig, DataSpec
from ccl_embed.model.folder import CONFIG_FILE, ModelFolderError, load_model, save_model
from ccl_embed.model.network import CCL

SPEC = DataSpec(image_dim=6, text_dim=4, classes=3, image_patches=2, text_patches=2, labels=("a", "b"))
SMALL = {"dim": 2, "hidden": 4, "code": 2, "instance_dim": 0, "text_bow": 0, "semantic_weight": 0.2}


def test_a_folder_round_trips_its_sections_and_weights(tmp_path):
    torch.manual_seed(0)
    trained = CCL(CCLConfig.of(**SMALL, conse_input=True, seed=3), SPEC)
    save_model(trained, tmp_path)
    record = json.loads((tmp_path / CONFIG_FILE).read_text())
    assert set(record["config"]) == {"model", "train", "readout"}
    loaded = load_model(tmp_path)
    assert loaded.config == trained.config
    for key, value in trained.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_a_flat_config_of_an_unreleased_format_is_refused_with_the_fix(tmp_path):
    save_model(CCL(CCLConfig.of(**SMALL), SPEC), tmp_path)
    record = json.loads((tmp_path / CONFIG_FILE).read_text())
    record["format_version"] = 1
    (tmp_path / CONFIG_FILE).write_text(json.dumps(record))
    with pytest.raises(ModelFolderError, match="format version 1, this ccl-embed reads version 2; retrain"):
        load_model(tmp_path)
