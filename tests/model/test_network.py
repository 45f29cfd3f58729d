"""CCL's losses on hand-made vectors: the instance level of the inter-modality constraint."""

import math

import pytest
import torch

from ccl_embed.model.config import CCLConfig, DataSpec
from ccl_embed.model.network import CCL

SPEC = DataSpec(image_dim=6, text_dim=4, classes=3, image_patches=2, text_patches=2, labels=("a", "b"))


def _model(labelled: bool = True, **config) -> CCL:
    from dataclasses import replace

    return CCL(CCLConfig(dim=2, hidden=4, code=2, use_instance=True, **config), replace(SPEC, labelled=labelled))


def test_identical_texts_are_positives_of_each_other():
    model = _model()
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0]])  # two images, two identical texts: all four scores equal
    with torch.no_grad():
        # Each its own instance: the other (equal) text is a negative, so the loss is log 2.
        assert float(model.instance_loss(z, z, torch.tensor([0, 1]))) == pytest.approx(math.log(2), abs=1e-6)
        assert float(model.instance_loss(z, z, None)) == pytest.approx(math.log(2), abs=1e-6)
        # One instance (the same text): both are positives and nothing is left to push apart.
        assert float(model.instance_loss(z, z, torch.tensor([3, 3]))) == pytest.approx(0.0, abs=1e-6)


def test_instance_loss_is_symmetric_infonce_with_a_learned_temperature():
    model = _model(instance_temperature=0.5)
    zi = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    zt = torch.tensor([[0.6, 0.8], [0.0, 1.0]])
    s = 2.0 * zi @ zt.T  # scale 1 / 0.5
    i2t = (torch.logsumexp(s, 1) - s.diagonal()).mean()
    t2i = (torch.logsumexp(s.T, 1) - s.diagonal()).mean()
    got = model.instance_loss(zi, zt, torch.tensor([0, 1]))
    assert float(got.detach()) == pytest.approx(float((i2t + t2i) / 2), abs=1e-6)
    got.backward()
    assert model.log_scale is not None and model.log_scale.grad is not None  # the temperature learns


def test_stage2_parts_follow_the_config_and_the_labels():
    assert _model().stage2_parts == ("intra", "inter", "instance")
    assert _model(labelled=False).stage2_parts == ("instance",)  # label-free: the instance level alone
    assert len(_model(labelled=False).log_vars) == 1
    paper = CCL(CCLConfig(dim=2, hidden=4, code=2), SPEC)
    assert paper.stage2_parts == ("intra", "inter") and paper.log_scale is None  # the paper's category-only form
