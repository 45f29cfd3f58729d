import json

import pytest

from ccl_embed.model.config import CCLConfig, DataSpec


def test_config_round_trips_through_json():
    cfg = CCLConfig(dim=64, use_patches=False, margin=0.5, seed=7)
    assert CCLConfig.from_json(cfg.to_json()) == cfg


@pytest.mark.parametrize("kwargs, match", [
    ({"dim": 0}, "CCLConfig.dim=0: must be a positive integer"),
    ({"dropout": 1.0}, r"CCLConfig.dropout=1.0: must be in \[0, 1\)"),
    ({"margin": 3.0}, "unit vectors are at most 2 apart"),
    ({"use_intra": False, "use_inter": False, "use_instance": False}, "stage 2 would learn nothing"),
    ({"instance_dim": -1}, "instance_dim=-1: must be 0"),
    ({"instance_share": 1.5}, r"instance_share=1.5: must be in \[0, 1\]"),
    ({"instance_head": "deep"}, "instance_head='deep': choose 'top', 'linear' or 'raw'"),
    ({"instance_weight": 0.0}, "instance_weight=0.0: must be positive"),
    ({"text_bow": -2}, "text_bow=-2: must be 0"),
    ({"stage2_epochs": -1}, "must be 0 or more"),
    ({"lr": 0.0}, "must be positive"),
    ({"semantic_weight": 0.2, "photo_semantic_weight": 1.0}, r"photo_semantic_weight=1.0: must be in \[0, 1\)"),
    ({"photo_semantic_weight": 0.5}, "photo_semantic_weight > 0 needs semantic_weight > 0"),
    ({"photo_novelty": 0.0}, r"photo_novelty=0.0: must be positive"),
    ({"described_novelty": -1.0}, r"described_novelty=-1.0: must be positive, or None"),
    ({"semantic_weight": 0.2, "photo_semantic_weight": 0.8, "bridge_confidence": 1.0},
     r"bridge_confidence=1.0: must be a probability in \(0, 1\)"),
    ({"semantic_weight": 0.2, "bridge_confidence": 0.5}, "bridge_confidence needs photo_semantic_weight > 0"),
    ({"bridge_confidence_width": 0.0}, "bridge_confidence_width=0.0: must be positive"),
    ({"novelty_rank": 0}, r"novelty_rank=0: must be a positive whole number"),
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
        CCLConfig(**kwargs)


def test_unknown_field_is_named():
    with pytest.raises(ValueError, match="unknown field 'dimension'"):
        CCLConfig.from_dict({"dimension": 3})


def test_spec_needs_two_categories_and_round_trips():
    spec = DataSpec(image_dim=4, text_dim=3, classes=10, image_patches=5, text_patches=8, labels=("a", "b"))
    assert DataSpec.from_dict(__import__("json").loads(spec.to_json())) == spec
    with pytest.raises(ValueError, match="training needs at least 2"):
        DataSpec(image_dim=4, text_dim=3, classes=10, image_patches=5, text_patches=8, labels=("a",))


def test_instance_level_options_validate():
    import pytest

    from ccl_embed.model.config import CCLConfig

    with pytest.raises(ValueError, match="instance_temperature=0.001: must be in"):
        CCLConfig(use_instance=True, instance_temperature=0.001)
    with pytest.raises(ValueError, match="all False"):
        CCLConfig(use_intra=False, use_inter=False, use_instance=False)
    assert CCLConfig(use_intra=False, use_inter=False, use_instance=True).use_instance
    cfg = CCLConfig(use_instance=True, instance_temperature=0.05)
    assert CCLConfig.from_json(cfg.to_json()) == cfg


def test_fields_of_retired_features_are_dropped_when_read():
    # photo_flatness set the pixel-flatness route of older model folders; the novelty switch replaced it.
    old = {**json.loads(CCLConfig().to_json()), "photo_flatness": 0.4}
    assert CCLConfig.from_dict(old) == CCLConfig()
    with pytest.raises(ValueError, match="unknown field 'photo_flat'"):
        CCLConfig.from_dict({"photo_flat": 0.4})


def test_a_saved_config_without_a_later_field_keeps_what_it_was_trained_with():
    saved = json.loads(CCLConfig().to_json())
    assert CCLConfig.from_saved(saved) == CCLConfig()  # written today: every field is there
    del saved["conse_input"]  # written before the field: the ConSE vector joined the image input
    assert CCLConfig.from_saved(saved).conse_input is True
    assert CCLConfig.from_dict(saved).conse_input is False  # an override file takes today's default


def test_an_unknown_region_scheme_is_refused_by_name():
    import pytest

    from ccl_embed.model.config import CCLConfig

    with pytest.raises(ValueError, match="CCLConfig.image_regions='tiles': choose one of quadrants, grid"):
        CCLConfig(image_regions="tiles")
    assert CCLConfig.from_dict({"image_regions": "grid"}).image_regions == "grid"
