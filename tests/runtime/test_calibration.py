"""Mixed-modality ranking: the calibration record, its score, and a calibrated mixed search."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ccl_embed.runtime.calibration import PAIRS, Relevance, check_calibration, related_stats

CAL = {"image:image": (0.6, 0.1), "image:text": (0.5, 0.04), "text:image": (0.5, 0.04), "text:text": (1.0, 0.003)}


def test_a_calibration_needs_every_pair_and_a_positive_spread():
    assert check_calibration(CAL) == CAL and check_calibration({}) == {}
    with pytest.raises(ValueError, match="give all of"):
        check_calibration({"text:image": (0.5, 0.04)})
    with pytest.raises(ValueError, match="calibration key 'text:audio'"):
        check_calibration({**CAL, "text:audio": (0.1, 0.1)})
    with pytest.raises(ValueError, match="std positive"):
        check_calibration({**CAL, "text:text": (1.0, 0.0)})


def test_relevance_is_linear_within_a_pair_and_an_identical_item_of_any_pair_scores_one():
    relevance = Relevance(CAL)
    cosines = np.linspace(-1, 0.999, 200)
    for pair in PAIRS:
        q, m = pair.split(":")
        scores = relevance(cosines, q, m)
        steps = np.diff(scores)
        assert (steps > 0).all() and np.allclose(steps, steps[0]), pair  # never saturates: equal steps
        assert scores.max() < 1.0 and relevance(1.0, q, m) == 1.0, pair
    assert relevance(0.5, "text", "image") == pytest.approx(0.0)  # a typical true match of its pair
    # an identical image leads even a caption far above its pair's typical match
    assert relevance(1.0, "image", "image") > relevance(0.7, "image", "text") > relevance(0.95, "image", "image")


def test_relevance_lifts_a_weak_image_over_unrelated_texts_and_is_the_cosine_without_a_calibration():
    relevance = Relevance(CAL)
    # a caption's picture at cosine 0.48 against another caption at 0.9 (text:text matches are ~1.0)
    assert relevance(0.48, "text", "image") > relevance(0.9, "text", "text")
    assert relevance(0.999999, "text", "text") > relevance(0.6, "text", "image")
    assert Relevance({})(0.42, "text", "image") == 0.42


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
    # the best image stands one spread above a typical match; other captions are far below theirs
    typical = images[0].score - 0.05
    calibration = {"image:image": (0.9, 0.05), "image:text": (typical, 0.05), "text:image": (typical, 0.05),
                   "text:text": (1.0, 0.003)}
    write_manifest(model, replace(read_manifest(model), calibration=calibration))
    with ccl_embed.open(store=tmp_path / "s2", model=model) as index:
        index.ingest(tmp_path / "f")
        mixed = index.search("a red square", limit=5)
        only_images = index.search("a red square", limit=5, modality="image")
    assert [h.id for h in only_images] == [h.id for h in images]  # one modality: the same order as before
    assert all(a.relevance >= b.relevance for a, b in zip(mixed, mixed[1:]))
    assert mixed[0].text == "a red square" and mixed[0].relevance == 1.0  # the identical caption leads
    assert mixed[1].modality == "image" and mixed[1].id == images[0].id  # then the best image, before other captions
    assert all(h.score == pytest.approx(o.score) for h, o in zip(only_images, images))  # score stays the cosine
    assert texts_first[0] == "text"  # uncalibrated, raw cosine put a text first


def test_a_mixed_search_by_an_ingested_item_finds_it_first(tmp_path, tiny_model):
    """Images of a broad spread (an identical image only 1.25 spreads above a typical match) and
    captions of a narrow one: ranked by how typical a cosine is, captions led; an identical item leads now."""
    import shutil

    import ccl_embed
    from ccl_embed.runtime.manifest import read_manifest, write_manifest
    from tests.conftest import make_folder

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    calibration = {"image:image": (0.5, 0.4), "image:text": (0.0, 0.05), "text:image": (0.0, 0.05),
                   "text:text": (1.0, 0.003)}
    write_manifest(model, replace(read_manifest(model), calibration=calibration))
    folder = make_folder(tmp_path / "f")
    with ccl_embed.open(store=tmp_path / "s", model=model) as index:
        index.ingest(folder)
        items = sorted(p for p in folder.rglob("*") if p.suffix in (".png", ".txt", ".md"))
        for item in items:
            name = item.relative_to(folder).as_posix()
            if item.suffix != ".png":
                hits = index.search(item.read_text(encoding="utf-8"), limit=5)
            else:
                hits = index.search(image=item, limit=5)
            assert hits[0].path == name and hits[0].relevance == 1.0, (name, [(h.path, h.relevance) for h in hits])
            assert {h.modality for h in hits} == {"image", "text"}  # the list is mixed
            assert all(a.relevance >= b.relevance for a, b in zip(hits, hits[1:])), name
        # pages of a merged list are the list: offset skips the best hits of the merge
        full = index.search("a red square", limit=12)
        pages = [h for o in (0, 4, 8) for h in index.search("a red square", limit=4, offset=o)]
        assert [h.id for h in pages] == [h.id for h in full]
        with pytest.raises(ccl_embed.CCLEmbedError, match="offset=-1"):
            index.search("a red square", offset=-1)


def test_the_docs_figures_are_the_measured_ones():
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "ingest.md").read_text()
    ways = json.loads((root / "benchmarks" / "results" / "mixed_ranking.json").read_text())["ways"]
    for way in ways.values():
        assert (f"| {way['corpus:val']['map']:.4f} / {way['photos:photos-val']['map']:.4f} ({way['score']:.4f}) "
                f"| {way['corpus:val']['self_first']:.4f} / {way['photos:photos-val']['self_first']:.4f} "
                f"| {way['corpus:test']['map']:.4f} |") in doc
    assert ways["relevance"]["score"] >= ways["log-cdf"]["score"]  # the change keeps the validation score
    example = json.loads((root / "benchmarks" / "results" / "example_corpus.json").read_text())
    first = example["itself_first"]
    assert (f"puts it first for all {first['image']['of']}, and by each note's exact text for all "
            f"{first['text']['of']}.") in " ".join(doc.split())
    assert first["image"]["found"] == first["image"]["of"] and first["text"]["found"] == first["text"]["of"]
    assert example["relevance_rises_in"] == []
