import json

import numpy as np
import pytest
import torch

from ccl_embed.errors import CCLEmbedError
from ccl_embed.model.config import CCLConfig
from ccl_embed.model.folder import CONFIG_FILE, ModelFolderError, load_model
from ccl_embed.model.network import CCL
from ccl_embed.train.encoders import CCLEncoders, make_spec, to_batch
from ccl_embed.train.loop import train_ccl
from ccl_embed.train.evaluate import evaluate_method
from tests.conftest import synthetic_features

TINY = CCLConfig.of(dim=12, instance_dim=4, text_bow=64, hidden=32, code=16, stage1_epochs=2, fusion_epochs=2, stage2_epochs=4, batch_size=32, val_every=2,
                 input_dropout=0.0,  # tiny synthetic features: no denoising needed
                 instance_weight=1.0, instance_share=0.7)  # pinned: the tests check learning, not the tuned defaults
CLASS_VECTORS = np.random.default_rng(1).normal(size=(10, 12)).astype(np.float32)


@pytest.fixture(scope="module")
def features():
    return synthetic_features()


def test_a_training_step_lowers_each_phase_loss(features):
    train = features.split("train")
    spec = make_spec(train, TINY, CLASS_VECTORS)
    torch.manual_seed(0)
    model = CCL(TINY, spec)
    model.class_vectors.copy_(torch.from_numpy(CLASS_VECTORS))
    batch = to_batch(train, spec, TINY.model.text_bow)
    model.fit_normalizers(batch)
    model.eval()  # no dropout: the same loss function before and after
    for loss_fn in (model.stage1_loss, model.fusion_loss, lambda b: model.stage2_loss(b)[0]):
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        before = float(loss_fn(batch).detach())
        for _ in range(5):
            opt.zero_grad()
            loss_fn(batch).backward()
            opt.step()
        assert float(loss_fn(batch).detach()) < before


def test_training_learns_and_the_folder_round_trips(features, tmp_path):
    result = train_ccl(features.split("train"), features.split("val"), TINY, class_vectors=CLASS_VECTORS, out=tmp_path / "m")
    scores = evaluate_method(CCLEncoders(result.model), features.split("test"))
    assert scores.mean_map > 0.6  # 4 balanced categories: chance is about 0.25
    assert [h["phase"] for h in result.history] == ["stage1"] * 2 + ["fusion"] * 2 + ["stage2"] * 4
    assert "val_map" in result.history[-1] and "val_map" in result.history[5] and "val_map" not in result.history[4]
    loaded = load_model(tmp_path / "m")
    test = features.split("test")
    np.testing.assert_array_equal(CCLEncoders(loaded).encode_images(test), CCLEncoders(result.model).encode_images(test))
    np.testing.assert_array_equal(CCLEncoders(loaded).encode_texts(test), CCLEncoders(result.model).encode_texts(test))
    record = json.loads((tmp_path / "m" / CONFIG_FILE).read_text())
    assert record["format_version"] == 2 and record["metrics"]["val"]["mean_map"] > 0.5
    assert CCLConfig.from_dict(record["config"]) == TINY


def test_training_is_deterministic(features):
    a = train_ccl(features.split("train"), None, TINY, class_vectors=CLASS_VECTORS).model
    b = train_ccl(features.split("train"), None, TINY, class_vectors=CLASS_VECTORS).model
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k


def test_label_free_corpus_trains_on_pair_identity():
    fs = synthetic_features(labelled=False)
    result = train_ccl(fs.split("train"), None, TINY.replace(**{"stage2_epochs": 10}), class_vectors=CLASS_VECTORS)
    assert len(result.model.spec.labels) == len(fs.split("train"))
    scores = evaluate_method(CCLEncoders(result.model), fs.split("test"))
    assert scores.r10_i2t > 0.8  # chance: 10 / 24


def test_resume_continues_from_the_saved_step(features, tmp_path):
    full = train_ccl(features.split("train"), None, TINY, class_vectors=CLASS_VECTORS, out=tmp_path / "full")

    class Stop(Exception):
        pass

    def stop_after(n):
        def progress(iterable, total, desc):
            for i, item in enumerate(iterable):
                if i == n:
                    raise Stop
                yield item
        return progress

    with pytest.raises(Stop):  # killed in stage 2's 4th epoch, after the checkpoint at its 2nd
        train_ccl(features.split("train"), None, TINY, class_vectors=CLASS_VECTORS, out=tmp_path / "part",
                  progress=stop_after(2 + 2 + 3), checkpoint_every=2)
    state = json.loads((tmp_path / "part" / "checkpoint" / "state.json").read_text())
    assert (state["phase"], state["epoch"]) == ("stage2", 2)
    resumed = train_ccl(features.split("train"), None, TINY, class_vectors=CLASS_VECTORS, out=tmp_path / "part", resume=True)
    assert len(resumed.history) == 8
    for (k, va), vb in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.allclose(va, vb, atol=1e-6), k


def test_resume_errors_are_clear(features, tmp_path):
    with pytest.raises(CCLEmbedError, match="no checkpoint to resume from"):
        train_ccl(features.split("train"), None, TINY, class_vectors=CLASS_VECTORS, out=tmp_path, resume=True)
    train_ccl(features.split("train"), None, TINY, class_vectors=CLASS_VECTORS, out=tmp_path / "m")
    other = TINY.replace(**{"dim": 8})
    with pytest.raises(CCLEmbedError, match="trained with another config"):
        train_ccl(features.split("train"), None, other, class_vectors=CLASS_VECTORS, out=tmp_path / "m", resume=True)
    with pytest.raises(CCLEmbedError, match="no class_vectors"):
        train_ccl(features.split("train"), None, TINY)


def _variants() -> list:
    from ccl_embed.train.methods import CCL_VARIANTS

    return [pytest.param(o, id=name) for name, o in CCL_VARIANTS.items() if name != "ccl"]


@pytest.mark.parametrize("overrides", _variants())
def test_every_ablation_and_preset_trains(features, overrides):
    cfg = TINY.replace(**overrides)
    model = train_ccl(features.split("train"), None, cfg, class_vectors=CLASS_VECTORS).model
    vectors = CCLEncoders(model).encode_images(features.split("test"))
    assert vectors.shape == (len(features.split("test")), model.out_dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_the_papers_layout_learns(features):
    from ccl_embed.train.methods import PAPER

    cfg = TINY.replace(**PAPER, **{"stage2_epochs": 30})  # no skip: stage 2 reads stage 1's codes alone, slower to learn
    model = train_ccl(features.split("train"), None, cfg, class_vectors=CLASS_VECTORS).model
    assert model.text_prototypes is not None and model.instance.corr_image is not None  # its own classifiers, stage 1 whole
    assert evaluate_method(CCLEncoders(model), features.split("test")).mean_map > 0.4  # 4 balanced categories: chance is about 0.25


def test_load_errors_name_the_problem(tmp_path):
    with pytest.raises(ModelFolderError, match="no config.json"):
        load_model(tmp_path)
    (tmp_path / CONFIG_FILE).write_text(json.dumps({"format_version": 99}))
    with pytest.raises(ModelFolderError, match="format version 99, this ccl-embed reads version 2"):
        load_model(tmp_path)


def test_semantic_part_mixes_cosines_and_needs_conse(features):

    model = train_ccl(features.split("train"), None, TINY, class_vectors=CLASS_VECTORS).model
    test = features.split("test")
    plain_i, plain_t = CCLEncoders(model).encode_images(test), CCLEncoders(model).encode_texts(test)
    model.config = TINY.replace(semantic_weight=0.3)
    assert model.out_dim == 16 + 12
    mixed_i, mixed_t = CCLEncoders(model).encode_images(test), CCLEncoders(model).encode_texts(test)
    np.testing.assert_allclose(np.linalg.norm(mixed_i, axis=1), 1.0, atol=1e-5)
    sem_i, sem_t = mixed_i[:, 16:] / np.sqrt(0.3), mixed_t[:, 16:] / np.sqrt(0.3)
    np.testing.assert_allclose(mixed_i @ mixed_t.T, 0.7 * plain_i @ plain_t.T + 0.3 * sem_i @ sem_t.T, atol=1e-5)
    with pytest.raises(ValueError, match="semantic_weight > 0 needs use_conse=True"):
        CCLConfig.of(semantic_weight=0.2, use_conse=False)


def test_drawings_can_drop_the_semantic_part_that_texts_keep(features):

    model = train_ccl(features.split("train"), None, TINY, class_vectors=CLASS_VECTORS).model
    test = features.split("test")
    plain_i, plain_t = CCLEncoders(model).encode_images(test), CCLEncoders(model).encode_texts(test)
    model.config = TINY.replace(semantic_weight=0.3)
    shared_i, shared_t = CCLEncoders(model).encode_images(test), CCLEncoders(model).encode_texts(test)
    model.config = TINY.replace(semantic_weight=0.3, drawing_semantic_weight=0.0)
    own_i, own_t = CCLEncoders(model).encode_images(test), CCLEncoders(model).encode_texts(test)
    np.testing.assert_allclose(own_t, shared_t, atol=1e-6)  # texts keep their part
    np.testing.assert_allclose(own_i[:, :16], plain_i, atol=1e-6)  # drawings are CCL's vectors alone
    np.testing.assert_allclose(own_i[:, 16:], 0.0, atol=1e-7)
    np.testing.assert_allclose(own_i @ own_t.T, np.sqrt(0.7) * plain_i @ plain_t.T, atol=1e-5)  # CCL's ranking, scaled
    model.config = TINY.replace(semantic_weight=0.3, drawing_semantic_weight=0.1)
    sem_i, sem_t = shared_i[:, 16:] / np.sqrt(0.3), shared_t[:, 16:] / np.sqrt(0.3)
    mixed = CCLEncoders(model).encode_images(test) @ shared_t.T
    np.testing.assert_allclose(mixed, np.sqrt(0.9 * 0.7) * plain_i @ plain_t.T + np.sqrt(0.1 * 0.3) * sem_i @ sem_t.T, atol=1e-5)
    with pytest.raises(ValueError, match="drawing_semantic_weight needs semantic_weight > 0"):
        CCLConfig.of(drawing_semantic_weight=0.0)
    with pytest.raises(ValueError, match="drawing_semantic_weight=1.0: must be in"):
        CCLConfig.of(semantic_weight=0.2, drawing_semantic_weight=1.0)


def test_images_unlike_the_training_ones_take_the_imagenet_bridge(features):

    import torch

    from ccl_embed.model.readout import TEXT_OFFSET_KEY as k

    model = train_ccl(features.split("train"), None, TINY, class_vectors=CLASS_VECTORS).model
    test = features.split("test")
    model.config = TINY.replace(semantic_weight=0.3)
    plain, plain_texts = CCLEncoders(model).encode_images(test), CCLEncoders(model).encode_texts(test)
    # Novelty: about 1 on the training images, far above for features off their span.
    novelty = model.novelty(torch.from_numpy(test.image["pool"])).numpy()
    off = -test.image["pool"]  # pointing away from every training image
    far = model.novelty(torch.from_numpy(off)).numpy()
    train_novelty = model.novelty(torch.from_numpy(features.split("train").image["pool"])).numpy()
    assert 0.8 < train_novelty.mean() < 1.2 and 2 * novelty.max() < far.min()
    middle = float(novelty.max() + far.min()) / 2
    model.config = TINY.replace(semantic_weight=0.3, photo_semantic_weight=0.8, photo_offset=0.4, photo_novelty=middle)
    assert model.out_dim == 16 + 12 + 1
    like = CCLEncoders(model).encode_images(test)
    np.testing.assert_allclose(like[:, :-1], plain, atol=2e-3)  # images like the training ones keep their vectors
    np.testing.assert_allclose(like[:, -1], 0.0, atol=1e-3)
    photo = np.arange(len(test)) % 2 == 1
    test.image["pool"][photo] = off[photo]
    routed = CCLEncoders(model).encode_images(test)
    np.testing.assert_allclose(np.linalg.norm(routed, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(routed[~photo], like[~photo], atol=1e-6)
    np.testing.assert_allclose(routed[photo, -1], 0.4, atol=1e-3)  # the unlike images' offset
    tail = np.linalg.norm(routed[photo, 16:-1], axis=1)  # the semantic share: sqrt(1 - e^2) sqrt(w)
    np.testing.assert_allclose(tail, np.sqrt(1 - 0.16) * np.sqrt(0.8), atol=1e-3)
    # Their common part is the text tower's reading of their ConSE vector, whatever the image tower says.
    again = test.select(np.arange(len(test)))
    again.image["pool"][photo] = np.roll(off, 1, axis=0)[photo]
    np.testing.assert_allclose(CCLEncoders(model).encode_images(again)[photo, :16], routed[photo, :16], atol=1e-3)
    # Texts: the same vector, scaled, plus the offset key, so a photograph's score is shifted by e * k.
    texts = CCLEncoders(model).encode_texts(test)
    np.testing.assert_allclose(texts[:, :-1], plain_texts * np.sqrt(1 - k**2), atol=1e-6)
    np.testing.assert_allclose(texts[:, -1], k)
    np.testing.assert_allclose(routed[~photo] @ texts.T, np.sqrt(1 - k**2) * plain[~photo] @ plain_texts.T, atol=2e-3)


def test_text_projection_moves_texts_towards_their_nearest_class_names(features):

    model = train_ccl(features.split("train"), None, TINY, class_vectors=CLASS_VECTORS).model
    test = features.split("test")
    model.config = TINY.replace(semantic_weight=0.3)
    plain = CCLEncoders(model).encode_texts(test)
    images = CCLEncoders(model).encode_images(test)
    t = test.text / np.linalg.norm(test.text, axis=1, keepdims=True)
    np.testing.assert_allclose(plain[:, 16:], t * np.sqrt(0.3), atol=1e-5)  # b = 0: the text vector itself
    classes = CLASS_VECTORS / np.linalg.norm(CLASS_VECTORS, axis=1, keepdims=True)
    nearest = classes[np.argmax(t @ classes.T, axis=1)]
    # b = 1 and a cold softmax: the semantic part is the nearest class name's vector.
    model.config = TINY.replace(semantic_weight=0.3, text_projection=1.0, text_projection_temperature=1e-4)
    projected = CCLEncoders(model).encode_texts(test)
    np.testing.assert_allclose(projected[:, 16:], nearest * np.sqrt(0.3), atol=1e-4)
    np.testing.assert_allclose(projected[:, :16], plain[:, :16], atol=1e-6)  # the learned part is untouched
    # b = 0.5: half way between the two, then unit length.
    model.config = TINY.replace(semantic_weight=0.3, text_projection=0.5, text_projection_temperature=1e-4)
    half = CCLEncoders(model).encode_texts(test)[:, 16:]
    mid = (t + nearest) / 2
    np.testing.assert_allclose(half, mid / np.linalg.norm(mid, axis=1, keepdims=True) * np.sqrt(0.3), atol=1e-4)
    np.testing.assert_array_equal(CCLEncoders(model).encode_images(test), images)  # images are not projected


def test_the_instance_level_finds_the_item_not_only_its_category():
    """Same data, same seed: the instance InfoNCE raises recall of each pair's own text and image."""

    fs = synthetic_features(n_concepts=300)
    config = TINY.replace(stage1_epochs=2, fusion_epochs=2, stage2_epochs=10)
    scores = {}
    for instance in (False, True):
        model = train_ccl(fs.split("train"), None, config.replace(use_instance=instance, instance_dim=16), class_vectors=CLASS_VECTORS).model
        scores[instance] = evaluate_method(CCLEncoders(model), fs.split("train"))
    recall = {k: (s.r10_i2t + s.r10_t2i) / 2 for k, s in scores.items()}
    assert recall[True] > recall[False] + 0.1, recall
    assert scores[True].mean_map > scores[False].mean_map - 0.02  # category MAP is kept


def test_a_label_free_corpus_trains_with_the_instance_level_alone():

    fs = synthetic_features(labelled=False)
    result = train_ccl(fs.split("train"), None, TINY.replace(use_instance=True), class_vectors=CLASS_VECTORS)
    assert result.model.stage2_parts == ("instance",) and not result.model.spec.labelled
    last = result.history[-1]
    assert "instance" in last and "intra" not in last and "inter" not in last
    first = next(h for h in result.history if h["phase"] == "stage2")
    assert last["instance"] < first["instance"]


def test_pairs_without_a_label_in_a_labelled_corpus_train_the_instance_level_only(features):
    from dataclasses import replace

    train = features.split("train")
    # Every third pair loses its label, as the unlabelled icon sets do beside emoji and clip-art.
    mixed = replace(train, pairs=tuple(replace(p, label=None) if i % 3 == 0 else p for i, p in enumerate(train.pairs)))
    config = TINY.replace(use_instance=True)
    spec = make_spec(mixed, config, CLASS_VECTORS)
    assert spec.labelled and spec.labels == ("L0", "L1", "L2", "L3")  # no per-pair categories
    batch = to_batch(mixed, spec, config.model.text_bow)
    want = [-1 if p.label is None else spec.labels.index(p.label) for p in mixed.pairs]
    assert batch.label.tolist() == want and want.count(-1) == len(range(0, len(mixed), 3))
    model = train_ccl(mixed, None, config, class_vectors=CLASS_VECTORS).model
    assert set(model.stage2_parts) >= {"intra", "instance"}
    assert evaluate_method(CCLEncoders(model), features.split("test")).mean_map > 0.6
