"""CCL's losses on hand-made vectors: the instance level of the inter-modality constraint."""

import math

import pytest
import torch

from ccl_embed.model.config import CCLConfig, DataSpec
from ccl_embed.model import readout
from ccl_embed.model.network import CCL

SPEC = DataSpec(image_dim=6, text_dim=4, classes=3, image_patches=2, text_patches=2, labels=("a", "b"))


def _model(labelled: bool = True, **config) -> CCL:
    from dataclasses import replace

    options = {"use_instance": True, "instance_dim": 0, "text_bow": 0, **config}  # one space unless a test asks
    return CCL(CCLConfig.of(dim=2, hidden=4, code=2, **options), replace(SPEC, labelled=labelled))


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
    paper = CCL(CCLConfig.of(dim=2, hidden=4, code=2, use_instance=False, text_bow=0), SPEC)
    assert paper.stage2_parts == ("intra", "inter") and paper.log_scale is None  # the paper's category-only form


def test_a_bag_of_words_widens_the_text_instance_and_is_required():
    model = _model(text_bow=8).eval()
    assert model.instance.intra_text.enc.in_features == SPEC.text_dim + 8
    gen = torch.Generator().manual_seed(0)
    text, fragments = torch.randn(3, 4, generator=gen), torch.randn(3, 2, 4, generator=gen)
    mask = torch.ones(3, 2, dtype=torch.bool)
    with pytest.raises(ValueError, match="bag of words of width 8"):
        model.encode_text(text, fragments, mask)
    a = torch.eye(8)[:3]
    with torch.no_grad():
        same = model.encode_text(text, fragments, mask, a)
        other = model.encode_text(text, fragments, mask, torch.eye(8)[3:6])
    assert torch.allclose(same, model.encode_text(text, fragments, mask, a))
    assert (same - other).abs().max() > 1e-4  # other words, another vector


def test_the_instance_weight_scales_its_share_of_the_balance():
    b = _tiny_batch()
    totals = []
    for w in (1.0, 3.0):
        torch.manual_seed(0)
        model = _model(instance_weight=w, use_conse=False, input_dropout=0.0, dropout=0.0).eval()
        total, parts = model.stage2_loss(b)
        totals.append((float(total.detach()), parts))
    (t1, p1), (t3, p3) = totals
    assert p1["instance"] == pytest.approx(p3["instance"])  # the same model and loss values
    # With log variances at 0, the total is the sum of the parts, the instance part counted w times.
    assert t3 - t1 == pytest.approx(2.0 * p1["instance"], rel=1e-5)


def _tiny_batch(n: int = 4):
    from ccl_embed.model.network import Batch

    gen = torch.Generator().manual_seed(0)
    return Batch(image=torch.randn(n, 6, generator=gen), logits=torch.randn(n, 3, generator=gen),
                 image_patches=torch.randn(n, 2, 6, generator=gen), text=torch.randn(n, 4, generator=gen),
                 text_patches=torch.randn(n, 2, 4, generator=gen), text_mask=torch.ones(n, 2, dtype=torch.bool),
                 label=torch.tensor([0, 1, 0, 1][:n]))


def test_the_instance_share_sets_each_part_of_the_cosine():
    b = _tiny_batch()
    model = _model(instance_dim=3, use_conse=False).eval()
    with torch.no_grad():
        (ci, ii), (ct, it) = (model.parts("image", *model.image_inputs(b.image, b.logits, b.image_patches)),
                              model.parts("text", *model.text_inputs(b.text, b.text_patches, b.text_mask)))
        assert model.out_dim == 5
        for a in (0.0, 0.3, 1.0):
            model.config = model.config.replace(instance_share=a)
            zi, zt = model.embed(b)
            torch.testing.assert_close(zi @ zt.T, (1 - a) * ci @ ct.T + a * ii @ it.T, atol=1e-6, rtol=0)
            torch.testing.assert_close(zi.norm(dim=1), torch.ones(4))


def test_the_instance_part_trains_on_the_instance_level_alone():
    b = _tiny_batch()
    model = _model(instance_dim=3, use_conse=False, input_dropout=0.0, dropout=0.0)
    assert model.top_image[-1].out_features == 2 and model.instance_image is not None
    assert model.out_dim == 5
    model.stage2_losses(b)["instance"].backward()
    assert model.instance_image.weight.grad is not None and model.instance_image.weight.grad.abs().sum() > 0
    model.zero_grad()
    model.stage2_losses(b)["intra"].backward()
    assert model.instance_image.weight.grad is None or model.instance_image.weight.grad.abs().sum() == 0


def test_without_labels_the_instance_level_trains_both_parts():
    b = _tiny_batch()
    model = _model(labelled=False, instance_dim=3, use_conse=False, input_dropout=0.0, dropout=0.0)
    assert model.stage2_parts == ("instance",)
    model.stage2_losses(b)["instance"].backward()
    for layer in (model.top_image[-1], model.instance_image):  # no untrained part
        assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


def test_without_the_correspondence_autoencoder_stage1_is_intra_reconstruction_alone():
    b = _tiny_batch()
    model = _model(use_corr=False, use_conse=False, input_dropout=0.0).eval()
    assert model.instance.corr_image is None and model.patch is not None and model.patch.corr_text is None
    with torch.no_grad():
        xi, pi, xt, pt, mi, mt = model._inputs(b)
        _, rec_i = model.instance._intra(model.instance.intra_image, xi, None)
        _, rec_t = model.instance._intra(model.instance.intra_text, xt, None)
        assert float(model.instance.loss(xi, xt, None, None, 0.7)) == pytest.approx(float(rec_i + rec_t))
        assert [c.shape[-1] for c in model.instance.codes(xi, "image")] == [4]  # the intra code only
        ri, rt = model.fused(b)  # the fusion network reads intra codes of both granularities
    assert ri.shape == rt.shape == (4, 4)
    with_corr = _model(use_conse=False)
    assert with_corr.fuse_image[0].in_features == 2 * (4 + 2) and model.fuse_image[0].in_features == 2 * 4


def test_each_modality_can_have_its_own_category_classifier():
    b = _tiny_batch()
    shared = _model(use_conse=False, input_dropout=0.0, dropout=0.0)
    own = _model(use_conse=False, input_dropout=0.0, dropout=0.0, shared_prototypes=False)
    assert shared.text_prototypes is None and own.text_prototypes is not None
    own.stage2_losses(b)["intra"].backward()
    assert own.prototypes.grad is not None and own.prototypes.grad.abs().sum() > 0  # the image side's classes
    assert own.text_prototypes.grad is not None and own.text_prototypes.grad.abs().sum() > 0  # the text side's
    with torch.no_grad():  # the text side no longer reads the image side's classes
        before = float(own.stage2_losses(b)["intra"])
        own.text_prototypes.normal_()
        assert float(own.stage2_losses(b)["intra"]) != pytest.approx(before)


def test_centring_moves_vectors_away_from_the_mean_of_their_kind():
    b = _tiny_batch()
    model = _model(instance_dim=3, use_conse=False, input_dropout=0.0, dropout=0.0).eval()

    with torch.no_grad():
        plain_text = model.encode_text(b.text, b.text_patches, b.text_mask)
        model.config = model.config.replace(centering=0.5)
        with pytest.raises(ValueError, match="fit_centers"):  # never fitted: says how to fit them
            model.encode_text(b.text, b.text_patches, b.text_mask)
        readout.fit_centers(model, b)
        assert bool(model.centers.fitted)
        centred = model.encode_text(b.text, b.text_patches, b.text_mask)
        model.config = model.config.replace(centering=0.0)
        torch.testing.assert_close(model.encode_text(b.text, b.text_patches, b.text_mask), plain_text)  # 0: unchanged
    assert torch.allclose(centred.norm(dim=-1), torch.ones(4))  # still unit vectors
    # each part's mean over the training texts shrinks: they no longer share one direction
    for part in (slice(0, 2), slice(2, 5)):
        before = torch.nn.functional.normalize(plain_text[:, part], dim=-1).mean(0).norm()
        after = torch.nn.functional.normalize(centred[:, part], dim=-1).mean(0).norm()
        assert after < before, part


def test_the_conse_vector_can_stay_out_of_the_input_and_still_carry_the_semantic_part():
    from dataclasses import replace

    b = _tiny_batch()
    b = replace(b, logits=torch.randn(4, 12, generator=torch.Generator().manual_seed(1)))  # more classes than ConSE's top k
    spec = replace(SPEC, classes=12)
    options = {"dim": 2, "hidden": 4, "code": 2, "instance_dim": 0, "text_bow": 0, "input_dropout": 0.0, "dropout": 0.0,
               "semantic_weight": 0.2}
    full, apart = CCL(CCLConfig.of(**options, conse_input=True), spec), CCL(CCLConfig.of(**options), spec)
    assert full.norm_image.mean.shape[-1] == 6 + 4 and apart.norm_image.mean.shape[-1] == 6  # the pooled vector alone
    assert apart.class_vectors.shape == (12, 4)  # kept for the semantic part
    apart.class_vectors.normal_()
    apart.eval()
    with torch.no_grad():
        v = apart.encode_image(b.image, b.logits, b.image_patches)
        other = apart.encode_image(b.image, b.logits.flip(0), b.image_patches)
    common = apart.config.model.common_dim
    assert v.shape == (4, apart.out_dim) and apart.out_dim == common + 4  # the logits reach the semantic part only, never the common-space part
    assert torch.allclose(v[:, :common], other[:, :common]) and not torch.allclose(v[:, common:], other[:, common:])
