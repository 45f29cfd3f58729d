"""Mixed-modality ranking: the calibration record, its score, and a calibrated mixed search."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from ccl_embed.runtime.calibration import PAIRS, check_calibration, log_phi, rank_score, related_stats

CAL = {"image:image": (0.6, 0.1), "image:text": (0.5, 0.04), "text:image": (0.5, 0.04), "text:text": (1.0, 0.003)}


def test_a_calibration_needs_every_pair_and_a_positive_spread():
    assert check_calibration(CAL) == CAL and check_calibration({}) == {}
    with pytest.raises(ValueError, match="give all of"):
        check_calibration({"text:image": (0.5, 0.04)})
    with pytest.raises(ValueError, match="calibration key 'text:audio'"):
        check_calibration({**CAL, "text:audio": (0.1, 0.1)})
    with pytest.raises(ValueError, match="std positive"):
        check_calibration({**CAL, "text:text": (1.0, 0.0)})


def test_log_phi_is_the_normal_log_cdf_and_stays_finite_in_the_tail():
    for z in (-4.9, -2.0, 0.0, 1.5):
        assert log_phi(z) == pytest.approx(math.log(0.5 * math.erfc(-z / math.sqrt(2))), rel=1e-9)
    assert log_phi(-5.0) == pytest.approx(math.log(0.5 * math.erfc(5.0 / math.sqrt(2))), rel=1e-4)  # the seam
    assert math.isfinite(log_phi(-200.0)) and log_phi(-200.0) < log_phi(-50.0) < log_phi(-6.0)


def test_the_rank_score_is_monotone_within_a_pair_and_lifts_a_weak_image_over_unrelated_texts():
    cosines = np.linspace(-1, 1, 101)
    for pair in PAIRS:
        q, m = pair.split(":")
        ranks = [rank_score(float(c), q, m, CAL) for c in cosines]
        assert all(a < b for a, b in zip(ranks, ranks[1:])), pair
    # a caption's picture at cosine 0.33 against another caption at 0.66 (text:text matches are ~1.0)
    assert rank_score(0.33, "text", "image", CAL) > rank_score(0.66, "text", "text", CAL)
    assert rank_score(1.0, "text", "text", CAL) > rank_score(0.33, "text", "image", CAL)
    assert rank_score(0.42, "text", "image", {}) == 0.42  # no calibration: the cosine


def test_related_stats_reads_only_related_pairs():
    q = np.array([[1.0, 0.0], [0.0, 1.0]])
    related = np.array([[True, False], [False, True]])
    assert related_stats(q, q, related) == (1.0, 0.0)
    with pytest.raises(ValueError, match="at least two related"):
        related_stats(q, q, np.zeros((2, 2), dtype=bool))


def test_a_calibrated_model_interleaves_a_mixed_search(tmp_path, tiny_model):
    import shutil

    import ccl_embed
    from ccl_embed.runtime.manifest import read_manifest, write_manifest
    from tests.conftest import make_folder

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    make_folder(tmp_path / "f")
    with ccl_embed.open(store=tmp_path / "s1", model=model) as index:
        index.ingest(tmp_path / "f")
        plain = index.search("a red square", limit=5)
        texts_first = [h.modality for h in plain]
        images = index.search("a red square", limit=5, modality="image")
    # the best image stands one spread above a typical match; the identical caption is a typical one
    typical = images[0].score - 0.05
    calibration = {"image:image": (0.9, 0.05), "image:text": (typical, 0.05), "text:image": (typical, 0.05),
                   "text:text": (1.0, 0.003)}
    write_manifest(model, replace(read_manifest(model), calibration=calibration))
    with ccl_embed.open(store=tmp_path / "s2", model=model) as index:
        index.ingest(tmp_path / "f")
        mixed = index.search("a red square", limit=5)
        only_images = index.search("a red square", limit=5, modality="image")
    assert [h.id for h in only_images] == [h.id for h in images]  # one modality: the same order as before
    assert all(a.rank_score >= b.rank_score for a, b in zip(mixed, mixed[1:]))
    assert mixed[0].modality == "image" and mixed[0].id == images[0].id  # the best image leads
    assert all(h.score == pytest.approx(o.score) for h, o in zip(only_images, images))  # score stays the cosine
    assert texts_first[0] == "text"  # uncalibrated, raw cosine put a text first
