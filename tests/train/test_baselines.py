"""Baselines recover a shared latent structure that random projections do not."""

import numpy as np
import pytest

from ccl_embed.data.corpus import Pair
from ccl_embed.train.baselines import METHODS, FitContext
from ccl_embed.train.baselines.conse import conse_vectors
from ccl_embed.evaluation import distinct_text_rows
from ccl_embed.train.evaluate import evaluate_method
from ccl_embed.train.features import FeatureSet


def synthetic(n_concepts=240, n_labels=6, seed=0) -> FeatureSet:
    """Images and texts are different noisy linear views of a per-label latent plus a per-concept detail."""
    rng = np.random.default_rng(seed)
    label_z = rng.normal(size=(n_labels, 8))
    a, b = rng.normal(size=(8, 40)), rng.normal(size=(8, 24))
    pairs, img, txt = [], [], []
    for c in range(n_concepts):
        lab = c % n_labels
        z = label_z[lab] + 0.3 * rng.normal(size=8)
        split = ("train", "train", "train", "val", "test")[c % 5]
        for style in ("s1", "s2"):
            pairs.append(Pair(f"{c}-{style}.png", f"text {c}", label=f"L{lab}", concept=f"c{c}", style=style, split=split))
            img.append(z @ a + 0.5 * rng.normal(size=40))
            txt.append(z @ b + 0.5 * rng.normal(size=24))
    n = len(pairs)
    img_arr = np.array(img, dtype=np.float32)
    return FeatureSet(tuple(pairs), {"pool": img_arr, "logits": img_arr[:, :10]}, np.array(txt, dtype=np.float32),
                      np.zeros((n, 8, 24), np.float32), np.zeros((n, 8), bool))


class Random:
    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.a, self.b = rng.normal(size=(40, 16)), rng.normal(size=(24, 16))

    def encode_images(self, fs):
        return fs.image["pool"] @ self.a

    def encode_texts(self, fs):
        return fs.text @ self.b


@pytest.mark.parametrize("method", ["cca", "infonce", "supervised"])
def test_trained_baselines_beat_random_projection(method):
    fs = synthetic()
    enc = METHODS[method](fs.split("train"), fs.split("val"), FitContext(seed=0))
    got = evaluate_method(enc, fs.split("test"))
    chance = evaluate_method(Random(), fs.split("test"))
    assert got.mean_map > chance.mean_map + 0.3, (got, chance)
    assert got.mean_map > 0.7


def labels_only(n_concepts=240, n_labels=6, seed=0) -> FeatureSet:
    """Images and texts related through their label alone: each view is the label's latent plus noise of its own."""
    rng = np.random.default_rng(seed)
    label_z = rng.normal(size=(n_labels, 8))
    a, b = rng.normal(size=(8, 40)), rng.normal(size=(8, 24))
    pairs = tuple(Pair(f"{c}.png", f"text {c}", label=f"L{c % n_labels}", concept=f"c{c}",
                       split=("train", "train", "train", "val", "test")[c % 5]) for c in range(n_concepts))
    img = np.array([label_z[c % n_labels] @ a + 2.0 * rng.normal(size=40) for c in range(n_concepts)], np.float32)
    txt = np.array([label_z[c % n_labels] @ b + 2.0 * rng.normal(size=24) for c in range(n_concepts)], np.float32)
    return FeatureSet(pairs, {"pool": img, "logits": img[:, :10]}, txt,
                      np.zeros((n_concepts, 8, 24), np.float32), np.zeros((n_concepts, 8), bool))


def test_the_supervised_two_tower_learns_from_the_labels():
    """With the category softmax, category MAP on unseen concepts beats the same towers trained
    by the contrastive loss alone (same pairs, seed and schedule)."""
    from ccl_embed.train.baselines.infonce import InfoNCEConfig, fit_infonce

    fs = labels_only()
    scores = [evaluate_method(fit_infonce(fs.split("train"), None, InfoNCEConfig(category_weight=w, epochs=60, batch_size=32)),
                              fs.split("test")).mean_map for w in (0.0, 1.0)]
    assert scores[1] > scores[0] + 0.005, scores


def test_distinct_text_rows_dedupes_styles():
    fs = synthetic(n_concepts=10)
    assert len(distinct_text_rows(fs.pairs)) == 10


def test_conse_mixes_class_vectors_by_probability():
    class_vectors = np.eye(3, dtype=np.float32)
    logits = np.array([[10.0, 0.0, -10.0]])
    v = conse_vectors(logits, class_vectors, top=2)
    assert v[0, 0] > 0.99 and v[0, 2] == 0.0
    flat = conse_vectors(np.zeros((1, 3)), class_vectors, top=3)
    np.testing.assert_allclose(flat, [[1 / 3, 1 / 3, 1 / 3]], atol=1e-6)


def test_conse_needs_class_vectors_of_the_text_width():
    fs = synthetic(n_concepts=10)
    with pytest.raises(ValueError, match="ConSE needs class_vectors"):
        METHODS["conse"](fs, None, FitContext())
    with pytest.raises(ValueError, match="width 5, the text features 24"):
        METHODS["conse"](fs, None, FitContext(class_vectors=lambda: np.zeros((10, 5))))
    enc = METHODS["conse"](fs, None, FitContext(class_vectors=lambda: np.zeros((10, 24))))
    assert enc.encode_images(fs).shape == (len(fs), 24)


def test_closed_form_cca_finds_the_canonical_correlations():
    from ccl_embed.train.baselines.cca import canonical_pairs

    rng = np.random.default_rng(0)
    n, shared = 4000, rng.normal(size=(4000, 2))
    # Two views sharing two latent signals with known correlations (0.9 and 0.5), plus noise.
    x = np.column_stack([shared[:, 0], shared[:, 1], rng.normal(size=(n, 3))])
    y = np.column_stack([0.9 * shared[:, 0] + np.sqrt(1 - 0.81) * rng.normal(size=n),
                         0.5 * shared[:, 1] + np.sqrt(1 - 0.25) * rng.normal(size=n), rng.normal(size=(n, 2))])
    x, y = x - x.mean(0), y - y.mean(0)
    x = x @ np.linalg.inv(np.linalg.cholesky(np.cov(x.T)).T)  # whiten, as the PCA does
    y = y @ np.linalg.inv(np.linalg.cholesky(np.cov(y.T)).T)
    pairs = canonical_pairs(x, y)
    np.testing.assert_allclose(pairs.correlations[:2], [0.9, 0.5], atol=0.03)
    assert pairs.correlations[2] < 0.1
    u, v = x @ pairs.image, y @ pairs.text
    np.testing.assert_allclose(np.cov(u.T), np.eye(4), atol=1e-6)  # unit-variance, uncorrelated variates
    np.testing.assert_allclose([np.corrcoef(u[:, k], v[:, k])[0, 1] for k in range(2)], pairs.correlations[:2], atol=1e-6)


def test_closed_form_cca_equals_scikit_learns_iterative_cca():
    from sklearn.cross_decomposition import CCA
    from sklearn.decomposition import PCA

    from ccl_embed.train.baselines.cca import canonical_pairs

    rng = np.random.default_rng(0)
    z = rng.normal(size=(3000, 4))
    x = np.column_stack([z @ rng.normal(size=(4, 6)), rng.normal(size=(3000, 6))]) + 0.5 * rng.normal(size=(3000, 12))
    y = np.column_stack([z @ rng.normal(size=(4, 5)), rng.normal(size=(3000, 5))]) + 0.5 * rng.normal(size=(3000, 10))
    x, y = PCA(8, whiten=True).fit_transform(x), PCA(8, whiten=True).fit_transform(y)
    ours = canonical_pairs(x, y)
    u, v = CCA(n_components=4, max_iter=1000).fit(x, y).transform(x, y)
    np.testing.assert_allclose(ours.correlations[:4], [np.corrcoef(u[:, k], v[:, k])[0, 1] for k in range(4)], atol=1e-4)
    same = np.abs(np.corrcoef((x @ ours.image[:, :4]).T, u.T)[:4, 4:])
    assert np.all(np.diag(same) > 0.999)  # the same variates, up to sign
