import json

import torch

from ccl_embed.model.config import CCLConfig, DataSpec
from ccl_embed.model.folder import CONFIG_FILE, load_model, save_model
from ccl_embed.model.network import CCL

SPEC = DataSpec(image_dim=6, text_dim=4, classes=3, image_patches=2, text_patches=2, labels=("a", "b"))
SMALL = {"dim": 2, "hidden": 4, "code": 2, "instance_dim": 0, "text_bow": 0, "semantic_weight": 0.2}


def test_a_folder_written_before_conse_input_loads_with_the_conse_vector_in_its_input(tmp_path):
    torch.manual_seed(0)
    trained = CCL(CCLConfig(**SMALL, conse_input=True), SPEC)  # what every model was before the field
    save_model(trained, tmp_path)
    record = json.loads((tmp_path / CONFIG_FILE).read_text())
    del record["config"]["conse_input"]
    (tmp_path / CONFIG_FILE).write_text(json.dumps(record))
    loaded = load_model(tmp_path)  # today's default (False) would not match the saved weights
    assert loaded.config.conse_input is True
    assert loaded.norm_image.mean.shape == trained.norm_image.mean.shape
    assert CCLConfig().conse_input is False
