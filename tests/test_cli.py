import json

import pytest
from typer.testing import CliRunner

from ccl_embed.cli import app
from ccl_embed.train import pipeline
from tests.conftest import TinyImageTower

runner = CliRunner()


@pytest.fixture()
def tiny_towers(monkeypatch):
    monkeypatch.setattr(pipeline, "EfficientNetTower", TinyImageTower)
    from ccl_embed.train.towers import BowTower

    monkeypatch.setitem(pipeline.TEXT_FEATURES, "bow", lambda: BowTower(128))


def test_evaluate_prints_scores_as_json(tiny_corpus, cache_home, tiny_towers):
    result = runner.invoke(app, ["evaluate", str(tiny_corpus), "--method", "cca", "--split", "style",
                                 "--text-feature", "bow", "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    assert scores["method"] == "cca" and scores["split"] == "style"
    assert scores["n_images"] == 24 and scores["n_texts"] == 24
    assert 0.0 <= scores["i2t_map"] <= 1.0 and scores["medr_i2t"] >= 1


def test_evaluate_human_output(tiny_corpus, cache_home, tiny_towers):
    result = runner.invoke(app, ["evaluate", str(tiny_corpus), "--method", "infonce", "--text-feature", "bow"])
    assert result.exit_code == 0, result.output
    assert "infonce on test (4 images, 4 texts)" in result.stdout and "MAP  image->text" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--method", "magic"], "unknown method 'magic'; choose from: cca, conse, infonce"),
    (["--split", "holdout"], "the corpus has no pair in split 'holdout'; splits here: style, test, train, val"),
    (["--text-feature", "glove"], "unknown text feature 'glove'; choose from: minilm, bow"),
])
def test_evaluate_usage_errors_are_one_line(tiny_corpus, cache_home, tiny_towers, args, message):
    result = runner.invoke(app, ["evaluate", str(tiny_corpus), "--text-feature", "bow", *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_evaluate_on_a_missing_corpus(tmp_path, cache_home, tiny_towers):
    result = runner.invoke(app, ["evaluate", str(tmp_path / "nope"), "--text-feature", "bow"])
    assert result.exit_code == 2 and "not a folder" in result.stderr


def test_data_build_unknown_source(tmp_path, cache_home):
    result = runner.invoke(app, ["data", "build", "flickr", "--out", str(tmp_path / "c")])
    assert result.exit_code == 2
    assert "unknown source 'flickr'; choose from: emoji, openclipart" in result.stderr


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "evaluate" in result.stdout and "data" in result.stdout
