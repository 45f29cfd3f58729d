"""Train on your own data: a folder of images with same-name captions, fine-tuned twice, served."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ccl_embed.cli import app
from ccl_embed.errors import CorpusError
from ccl_embed.train import read_training_folder
from ccl_embed.train.folder_data import with_replay
from ccl_embed.train.recipe import fine_tune_changes
from tests.conftest import COLOURS, SHAPES, draw

runner = CliRunner()


def _captioned_folder(root: Path) -> Path:
    """24 drawings, each with a caption of the same name, in two subfolders; one broken image."""
    for i, colour in enumerate(COLOURS):
        for shape in SHAPES:
            sub = root / ("warm" if i % 2 else "cool")
            sub.mkdir(parents=True, exist_ok=True)
            draw(colour, shape, 64).save(sub / f"{colour}-{shape}.png")
            (sub / f"{colour}-{shape}.txt").write_text(f"a {colour} {shape}\n")
    (root / "broken.png").write_bytes(b"not an image")
    (root / "broken.txt").write_text("a broken picture")
    (root / "lonely.png").write_bytes((root / "cool" / "red-square.png").read_bytes())  # no caption
    return root


def test_a_folder_of_captioned_images_is_split_by_concept_the_same_way_each_time(tmp_path):
    folder = _captioned_folder(tmp_path / "f")
    corpus = read_training_folder(folder)
    assert len(corpus.pairs) == 25 and {"train", "val", "test"} <= set(corpus.splits)
    assert any("lonely.png" in str(p) and "no caption" in p.reason for p in corpus.skipped)
    assert [p.split for p in read_training_folder(folder).pairs] == [p.split for p in corpus.pairs]
    few = tmp_path / "few"
    few.mkdir()
    draw("red", "square").save(few / "a.png")
    (few / "a.txt").write_text("a red square")
    with pytest.raises(CorpusError, match="1 pairs are too few to split by concept.*at least 20"):
        read_training_folder(few)


def test_fine_tune_twice_then_ingest_and_find(tmp_path, tiny_model, tiny_corpus, monkeypatch):
    monkeypatch.setenv("CCL_EMBED_CACHE", str(tmp_path / "cache"))
    folder = _captioned_folder(tmp_path / "f")
    first, second = tmp_path / "first", tmp_path / "second"
    result = runner.invoke(app, ["train", str(folder), "--out", str(first), "--from", str(tiny_model)])
    assert result.exit_code == 0, result.output
    assert "fine-tuned from" in result.stdout and "skipped" in result.stdout and "broken.png" in result.stdout
    assert "peak memory" in result.stdout
    assert "no MAP: no pair has a label" in result.stdout  # captions only: recall is reported, MAP is not
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["metrics"]["test"]["n_images"] > 0 and manifest["calibration"]
    assert manifest["licences"]["fine-tuning data"].startswith("f: your own data")
    result = runner.invoke(app, ["train", str(folder), "--out", str(second), "--from", str(first), "--seed", "1",
                                 "--replay", str(tiny_corpus)])
    assert result.exit_code == 0, result.output
    assert "replayed " in result.stdout
    assert "replayed pairs from corpus" in json.loads((second / "manifest.json").read_text())["licences"]["fine-tuning data"]
    trained = json.loads((second / "config.json").read_text())["config"]
    schedule = fine_tune_changes()  # the recipe's fine-tune schedule: stage 2 learns the folder
    assert schedule["stage1_epochs"] == 0 and schedule["fusion_epochs"] == 0
    assert {k: trained["train"][k] for k in schedule} == schedule and trained["train"]["seed"] == 1
    scored = runner.invoke(app, ["evaluate", str(folder), "--model", str(second), "--json"])
    assert scored.exit_code == 0, scored.output
    record = json.loads(scored.stdout.strip().splitlines()[-1])
    assert record["method"] == str(second) and record["r10_i2t"] > 0
    assert record["mean_map"] is None and "label" in record["map_missing"]
    shown = runner.invoke(app, ["evaluate", str(folder), "--model", str(second)])
    assert shown.exit_code == 0 and "no MAP" in shown.stdout and "R@1/5/10" in shown.stdout

    import ccl_embed

    with ccl_embed.open(collection="mine", store=tmp_path / "store", model=second) as index:
        summary = index.ingest(folder / "cool")
        assert summary.added > 0
        query = folder / "cool" / "blue-ring.png"
        hits = index.search(query, limit=3, modality="image")
        assert hits and hits[0].path.endswith("blue-ring.png") and hits[0].score > 0.999


def test_replay_lends_training_pairs_only(tmp_path, tiny_corpus):
    folder = _captioned_folder(tmp_path / "f")
    own = read_training_folder(folder)
    mixed = with_replay(own, tiny_corpus, seed=0)
    extra = mixed.pairs[len(own.pairs):]
    other = read_training_folder(tiny_corpus)
    pool = {str(other.image_path(p)) for p in other.pairs if p.split == "train"}
    assert mixed.pairs[:len(own.pairs)] == own.pairs  # the folder's own val and test are untouched
    assert len(extra) == min(own.splits["train"], len(pool)) > 0
    assert all(p.split == "train" and p.image in pool and p.concept.startswith("replay:") for p in extra)
    assert all(mixed.image_path(p).is_file() for p in extra)
    assert [p.image for p in with_replay(own, tiny_corpus, seed=0).pairs] == [p.image for p in mixed.pairs]
