import numpy as np
import pytest

from ccl_embed.data.corpus import read_corpus
from ccl_embed.train.cache import FeatureCache
from ccl_embed.train.features import extract_features
from ccl_embed.train.towers import BowTower
from tests.conftest import TinyImageTower


def test_cache_round_trip_in_half_precision(tmp_path):
    with FeatureCache(tmp_path / "f.sqlite") as cache:
        cache.put_many("t", {"k": {"a": np.array([1.0, 2.5, -3.0]), "b": np.zeros((2, 2))}})
        got = cache.get_many("t", ["k", "missing"])
        assert set(got) == {"k"}
        assert got["k"]["a"].tolist() == [1.0, 2.5, -3.0] and got["k"]["b"].shape == (2, 2)
        assert cache.get_many("other-tower", ["k"]) == {}


def test_features_align_with_pairs_and_are_cached(tiny_corpus, tmp_path):
    corpus = read_corpus(tiny_corpus)
    tower = TinyImageTower()
    fs = extract_features(corpus, tower, BowTower(256), cache=tmp_path / "f.sqlite", batch_size=8)
    assert len(fs) == len(corpus) and tower.calls == 6
    assert fs.image["pool"].shape == (48, 16) and fs.image["regions"].shape == (48, 5, 16)
    assert fs.text.shape == (48, 256) and fs.fragments.shape == (48, 8, 256)
    # "a red square. red, square, shape" -> 4 fragments
    assert fs.fragment_mask[0].sum() == 4
    np.testing.assert_allclose(np.linalg.norm(fs.text, axis=1), 1.0, atol=1e-3)
    again_tower = TinyImageTower()
    again = extract_features(corpus, again_tower, BowTower(256), cache=tmp_path / "f.sqlite")
    assert again_tower.calls == 0
    np.testing.assert_array_equal(again.image["pool"], fs.image["pool"])
    assert len(fs.split("train")) == 16 and fs.split("train").labels[0] == "red"


def test_undecodable_image_is_dropped_and_reported(tiny_corpus, tmp_path):
    (tiny_corpus / "img/plain/red-square.png").write_bytes(b"not an image")
    fs = extract_features(read_corpus(tiny_corpus), TinyImageTower(), BowTower(64), cache=tmp_path / "f.sqlite")
    assert len(fs) == 47
    assert len(fs.problems) == 1 and "red-square.png: not a readable image" in fs.problems[0].reason


def test_bow_tower_is_deterministic_and_word_based():
    t = BowTower(512)
    v = t.encode(["Red square", "red SQUARE", "blue circle"])["vec"]
    assert np.allclose(v[0], v[1]) and float(v[0] @ v[2]) == pytest.approx(0.0, abs=1e-6)


def test_a_release_refit_trains_on_every_pair(tmp_path, monkeypatch):
    import pytest

    from ccl_embed.errors import CCLEmbedError
    from ccl_embed.train import loop, pipeline
    from ccl_embed.train.towers import BowTower
    from tests.conftest import TinyImageTower, make_corpus

    monkeypatch.setattr(pipeline, "EfficientNetTower", TinyImageTower)
    monkeypatch.setenv("CCL_EMBED_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(pipeline.TEXT_FEATURES, "bow", lambda: BowTower(64))
    seen = []
    real = loop.train_ccl

    def spy(train, val, *args, **kwargs):
        seen.append((len(train), None if val is None else len(val), {p.split for p in train.pairs}))
        return real(train, val, *args, **kwargs)

    monkeypatch.setattr(loop, "train_ccl", spy)
    corpus = make_corpus(tmp_path / "c", styles=("plain", "rotated"))
    small = {"dim": 8, "hidden": 16, "code": 8, "stage1_epochs": 1, "fusion_epochs": 1, "stage2_epochs": 1, "batch_size": 16}
    protocol = pipeline.train_model(corpus, tmp_path / "p", overrides=small, text_feature="bow")
    refit = pipeline.train_model(corpus, tmp_path / "r", overrides=small, text_feature="bow", fit_on="all")
    assert protocol.val is not None and refit.val is None
    (n_train, n_val, train_splits), (n_all, no_val, all_splits) = seen
    assert train_splits == {"train"} and n_val == 4
    assert n_all == 48 and no_val is None and all_splits == {"train", "val", "test", "style"}
    with pytest.raises(CCLEmbedError, match="fit_on='everything': choose one of train, all"):
        pipeline.train_model(corpus, tmp_path / "x", overrides=small, text_feature="bow", fit_on="everything")


def test_feature_sets_of_the_same_towers_join_into_one_gallery():
    from tests.conftest import synthetic_features

    from ccl_embed.train.features import FeatureSet

    fs = synthetic_features()
    val, test = fs.split("val"), fs.split("test")
    both = FeatureSet.concat([val, test])
    assert both.pairs == val.pairs + test.pairs and len(both) == len(val) + len(test)
    for key in fs.image:
        np.testing.assert_array_equal(both.image[key], np.concatenate([val.image[key], test.image[key]]))
    np.testing.assert_array_equal(both.fragment_mask[len(val):], test.fragment_mask)
    odd = FeatureSet(test.pairs, {"pool": test.image["pool"]}, test.text, test.fragments, test.fragment_mask)
    with pytest.raises(ValueError, match="different image features"):
        FeatureSet.concat([val, odd])


def test_train_model_reads_the_features_of_its_region_scheme(tmp_path, monkeypatch):
    from ccl_embed.model.folder import read_config
    from ccl_embed.train import pipeline
    from ccl_embed.train.towers import BowTower
    from tests.conftest import TinyImageTower, make_corpus

    monkeypatch.setattr(pipeline, "EfficientNetTower", TinyImageTower)
    monkeypatch.setenv("CCL_EMBED_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(pipeline.TEXT_FEATURES, "bow", lambda: BowTower(64))
    corpus = make_corpus(tmp_path / "c")
    small = {"dim": 8, "hidden": 16, "code": 8, "stage1_epochs": 1, "fusion_epochs": 1, "stage2_epochs": 1, "batch_size": 16}
    for scheme, count in (("quadrants", 5), ("grid", 9), ("quadrants+grid", 14)):
        pipeline.train_model(corpus, tmp_path / scheme, overrides={**small, "image_regions": scheme}, text_feature="bow")
        config, spec, _ = read_config(tmp_path / scheme)
        assert (config.model.image_regions, spec.image_patches) == (scheme, count)
