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
    (["--method", "magic"], "unknown method 'magic'; choose from: cca, ccl, ccl-fixed-weights"),
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
    assert "unknown source 'flickr'; choose from: emoji, openclipart, photos" in result.stderr


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "evaluate" in result.stdout and "data" in result.stdout


def _config(tmp_path, **fields):
    path = tmp_path / "config.json"
    base = {"dim": 8, "hidden": 16, "code": 8, "stage1_epochs": 1, "fusion_epochs": 1, "stage2_epochs": 2,
            "use_conse": False, "batch_size": 16}
    path.write_text(json.dumps(base | fields))
    return path


def test_train_then_evaluate_the_model_folder(tiny_corpus, tmp_path, cache_home, tiny_towers):
    out = tmp_path / "model"
    result = runner.invoke(app, ["train", str(tiny_corpus), "--out", str(out), "--config", str(_config(tmp_path)),
                                 "--text-feature", "bow"])
    assert result.exit_code == 0, result.output
    assert (out / "config.json").exists() and (out / "model.safetensors").exists()
    assert "validation MAP image->text" in result.stdout
    result = runner.invoke(app, ["evaluate", str(tiny_corpus), "--model", str(out), "--text-feature", "bow", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["n_images"] == 4


def test_train_resume_without_checkpoint_and_bad_config(tiny_corpus, tmp_path, cache_home, tiny_towers):
    result = runner.invoke(app, ["train", str(tiny_corpus), "--out", str(tmp_path / "m"), "--resume",
                                 "--config", str(_config(tmp_path)), "--text-feature", "bow"])
    assert result.exit_code == 2 and "no checkpoint to resume from" in result.stderr
    result = runner.invoke(app, ["train", str(tiny_corpus), "--out", str(tmp_path / "m"),
                                 "--config", str(_config(tmp_path, dim=0)), "--text-feature", "bow"])
    assert result.exit_code == 2 and "CCLConfig.dim=0: must be a positive integer" in result.stderr
    (tmp_path / "bad.json").write_text("{oops")
    result = runner.invoke(app, ["train", str(tiny_corpus), "--out", str(tmp_path / "m"), "--config", str(tmp_path / "bad.json")])
    assert result.exit_code == 2 and "bad.json: not valid JSON" in result.stderr
    assert "Traceback" not in result.output


def test_train_splits_an_unsplit_corpus(tmp_path, cache_home, tiny_towers):
    from tests.conftest import make_corpus

    corpus = make_corpus(tmp_path / "plain", splits=False)
    result = runner.invoke(app, ["train", str(corpus), "--out", str(tmp_path / "m"), "--config", str(_config(tmp_path)),
                                 "--text-feature", "bow"])
    assert result.exit_code == 0, result.output
