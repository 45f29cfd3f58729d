"""The model commands (ccl_embed/cli/model.py): data build, train, evaluate, calibrate."""

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
    (["--method", "magic"], "unknown method 'magic'; choose from: cca, ccl, ccl-adaptive-weights"),
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
    assert "unknown source 'flickr'; choose from: emoji, icons, openclipart, photos" in result.stderr


@pytest.mark.parametrize("value, message", [
    ("fluent-render", "--hold-out 'fluent-render': write it as STYLE=SPLIT"),
    ("fluent-render=test", "name the split style-SOMETHING"),
    ("openmoji=style-x", "each held-out style needs its own split"),
])
def test_data_build_bad_hold_out_is_one_line(tmp_path, cache_home, value, message):
    result = runner.invoke(app, ["data", "build", "emoji", "--out", str(tmp_path / "c"), "--hold-out", value])
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "evaluate" in result.stdout and "data" in result.stdout


def _config(tmp_path, **fields):
    path = tmp_path / "config.json"
    base = {"dim": 8, "hidden": 16, "code": 8, "stage1_epochs": 1, "fusion_epochs": 1, "stage2_epochs": 2,
            "use_conse": False, "batch_size": 16,  # no class names: no semantic part in the readout either
            "readout": {"semantic_weight": 0.0, "photo_semantic_weight": 0.0, "text_projection": 0.0,
                        "drawing_semantic_weight": None}}
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
    assert result.exit_code == 2 and "ModelConfig.dim=0: must be a positive integer" in result.stderr
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


def test_train_and_evaluate_without_torch_name_the_pinned_pip_command(tiny_corpus, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # as if the train extra were not installed
    for args in (["train", str(tiny_corpus), "--out", str(tmp_path / "m")], ["evaluate", str(tiny_corpus)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "pip install torch==2.13.0 'ccl-embed[train]'" in result.stderr, result.stderr
        assert "Traceback" not in result.output and "unexpected" not in result.output


def test_calibrate_records_the_mixed_ranking_in_the_model_folder(tmp_path, tiny_model, tiny_corpus):
    import shutil

    from ccl_embed.runtime.calibration import PAIRS
    from ccl_embed.runtime.manifest import read_manifest

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    refused = runner.invoke(app, ["calibrate", str(model), str(tiny_corpus), "--split", "test"])
    assert refused.exit_code == 2 and "never on a test split" in refused.stderr
    assert read_manifest(model).calibration == {}
    done = runner.invoke(app, ["calibrate", str(model), str(tiny_corpus), "--split", "val"])
    assert done.exit_code == 0, done.output
    calibration = read_manifest(model).calibration
    assert set(calibration) == set(PAIRS) and all(std >= 0 for _, std in calibration.values())
    assert calibration["text:text"][0] == pytest.approx(1.0, abs=1e-3)  # related texts: the same concept's text
    assert "calibrated" in done.stdout and str(model) in done.stdout


def test_calibrate_on_two_validation_sets_counts_each_equally(tmp_path, tiny_model, tiny_corpus):
    import shutil

    from ccl_embed.data.corpus import read_corpus
    from ccl_embed.evaluation import calibrate_model
    from ccl_embed.runtime.calibration import pooled
    from ccl_embed.runtime.manifest import read_manifest

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    mismatch = runner.invoke(app, ["calibrate", str(model), str(tiny_corpus), str(tiny_corpus),
                                   "--split", "val", "--split", "val", "--split", "val"])
    assert mismatch.exit_code == 2 and "3 times for 2 corpora" in mismatch.stderr
    other = tmp_path / "other"  # a second validation set: the tiny corpus's training pairs, as photos-val
    shutil.copytree(tiny_corpus, other)
    lines = [json.loads(line) for line in (other / "pairs.jsonl").read_text().splitlines() if line.strip()]
    (other / "pairs.jsonl").write_text("".join(json.dumps({**r, "split": "photos-val"}) + "\n"
                                               for r in lines if r.get("split") == "train"))
    done = runner.invoke(app, ["calibrate", str(model), str(tiny_corpus), str(other), "--split", "val", "--split", "photos-val"])
    assert done.exit_code == 0, done.output
    each = [calibrate_model(model, read_corpus(tiny_corpus).split("val")), calibrate_model(model, read_corpus(other).split("photos-val"))]
    assert each[0] != each[1]
    both = read_manifest(model).calibration
    for key in both:
        mean, std = pooled([each[0][key], each[1][key]])
        assert both[key] == pytest.approx((mean, std), abs=1e-6)
        assert min(e[key][0] for e in each) - 1e-9 <= both[key][0] <= max(e[key][0] for e in each) + 1e-9
