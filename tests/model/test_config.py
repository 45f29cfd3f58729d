import json

import pytest

from ccl_embed.model.config import CCLConfig, DataSpec


def test_config_round_trips_through_json():
    cfg = CCLConfig.of(dim=64, use_patches=False, margin=0.5, seed=7)
    assert CCLConfig.from_json(cfg.to_json()) == cfg


@pytest.mark.parametrize("kwargs, match", [
    ({"dim": 0}, "ModelConfig.dim=0: must be a positive integer"),
    ({"dropout": 1.0}, r"ModelConfig.dropout=1.0: must be in \[0, 1\)"),
    ({"margin": 3.0}, "unit vectors are at most 2 apart"),
    ({"use_intra": False, "use_inter": False, "use_instance": False}, "stage 2 would learn nothing"),
    ({"instance_dim": -1}, "instance_dim=-1: must be 0"),
    ({"instance_share": 1.5}, r"instance_share=1.5: must be in \[0, 1\]"),
    ({"instance_weight": 0.0}, "instance_weight=0.0: must be positive"),
    ({"text_bow": -2}, "text_bow=-2: must be 0"),
    ({"stage2_epochs": -1}, "must be 0 or more"),
    ({"lr": 0.0}, "must be positive"),
    ({"semantic_weight": 0.2, "photo_semantic_weight": 1.0}, r"photo_semantic_weight=1.0: must be in \[0, 1\)"),
    ({"photo_semantic_weight": 0.5}, "photo_semantic_weight > 0 needs semantic_weight > 0"),
    ({"photo_novelty": 0.0}, r"photo_novelty=0.0: must be positive"),
    ({"novelty_rank": 0}, r"ModelConfig.novelty_rank=0: must be a positive integer"),
    ({"semantic_weight": 0.2, "use_conse": False}, "semantic_weight > 0 needs use_conse=True"),
    ({"dimension": 3}, "unknown field 'dimension'; known fields: "),
    ({"photo_gate_width": 0.0}, "photo_gate_width=0.0: must be positive"),
    ({"photo_offset": 1.0}, r"photo_offset=1.0: must be in \[-0.9, 0.9\]"),
    ({"semantic_weight": 0.2, "text_projection": 1.5}, r"text_projection=1.5: must be in \[0, 1\]"),
    ({"text_projection": 0.5}, "text_projection > 0 needs semantic_weight > 0"),
    ({"text_projection_temperature": 0.0}, "text_projection_temperature=0.0: must be positive"),
    ({"centering": 1.5}, r"centering=1.5: must be in \[0, 1\]"),
    ({"corr_distance_weight": 1.2}, r"corr_distance_weight=1.2: must be in \[0, 1\]"),
])
def test_bad_configs_say_what_is_wrong(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CCLConfig.of(**kwargs)


def test_sections_are_small_named_and_unknown_ones_are_refused():
    from dataclasses import fields

    from ccl_embed.model.config import SECTIONS

    assert all(len(fields(kind)) <= 20 for kind in SECTIONS.values())
    assert set(json.loads(CCLConfig().to_json())) == {"model", "train", "readout"}
    with pytest.raises(ValueError, match="unknown section 'dim' \\(did you mean \\{'model': \\{'dim'"):
        CCLConfig.from_dict({"dim": 3})
    with pytest.raises(ValueError, match="ModelConfig: unknown field 'dimension'"):
        CCLConfig.from_dict({"model": {"dimension": 3}})
    assert CCLConfig.from_dict({"readout": {"centering": 0.5}}) == CCLConfig.of(centering=0.5)


def test_spec_needs_two_categories_and_round_trips():
    spec = DataSpec(image_dim=4, text_dim=3, classes=10, image_patches=5, text_patches=8, labels=("a", "b"))
    assert DataSpec.from_dict(__import__("json").loads(spec.to_json())) == spec
    with pytest.raises(ValueError, match="training needs at least 2"):
        DataSpec(image_dim=4, text_dim=3, classes=10, image_patches=5, text_patches=8, labels=("a",))


def test_instance_level_options_validate():
    import pytest

    from ccl_embed.model.config import CCLConfig

    with pytest.raises(ValueError, match="instance_temperature=0.001: must be in"):
        CCLConfig.of(use_instance=True, instance_temperature=0.001)
    with pytest.raises(ValueError, match="all False"):
        CCLConfig.of(use_intra=False, use_inter=False, use_instance=False)
    assert CCLConfig.of(use_intra=False, use_inter=False, use_instance=True).model.use_instance
    cfg = CCLConfig.of(use_instance=True, instance_temperature=0.05)
    assert CCLConfig.from_json(cfg.to_json()) == cfg


def test_an_unknown_region_scheme_is_refused_by_name():
    import pytest

    from ccl_embed.model.config import CCLConfig

    with pytest.raises(ValueError, match="ModelConfig.image_regions='tiles': choose one of quadrants, grid"):
        CCLConfig.of(image_regions="tiles")
    assert CCLConfig.from_dict({"model": {"image_regions": "grid"}}).model.image_regions == "grid"
