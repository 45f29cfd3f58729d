import json

import pytest
from typer.testing import CliRunner

from ccl_embed.cli import app
from ccl_embed.train import pipeline
from tests.conftest import TinyImageTower

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_server_from_the_environment(monkeypatch):
    """These tests use the embedded store; a QDRANT_URL set for the server tests must not redirect them."""
    monkeypatch.delenv("QDRANT_URL", raising=False)
    monkeypatch.delenv("QDRANT_API_KEY", raising=False)


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


def _ingest(folder, store, model, *extra):
    return runner.invoke(app, ["ingest", str(folder), "--store", str(store), "--model", str(model), *extra])


def test_ingest_then_search_exit_codes_and_json(tmp_path, tiny_model):
    from tests.conftest import make_folder

    root = make_folder(tmp_path / "f")
    store = tmp_path / "store"
    result = _ingest(root, store, tiny_model, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["added"], summary["points"], summary["skipped"]) == (19, 19, [])
    again = _ingest(root, store, tiny_model, "-q")
    assert again.exit_code == 0 and "0 added, 19 unchanged" in again.stdout
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    partial = _ingest(root, store, tiny_model)
    assert partial.exit_code == 1
    assert "skipped broken.png: not a readable image" in partial.stderr and "1 added" not in partial.stdout
    found = runner.invoke(app, ["search", "a red square", "--store", str(store), "--model", str(tiny_model),
                                "--limit", "3", "--modality", "text", "--json"])
    assert found.exit_code == 0, found.output
    hits = json.loads(found.stdout)
    assert len(hits) == 3 and hits[0]["path"] == "red-square.txt" and hits[0]["text"] == "a red square"
    assert set(hits[0]) == {"score", "modality", "path", "text", "label", "id", "root", "rank_score"}
    assert hits[0]["root"] == root.resolve().as_posix()
    by_image = runner.invoke(app, ["search", "--image", str(root / "red-square.png"), "--store", str(store),
                                   "--model", str(tiny_model), "--filter", "modality=image", "-k", "1"])
    assert by_image.exit_code == 0 and "red-square.png" in by_image.stdout


@pytest.mark.parametrize("args, message", [
    (["search", "x", "--image", "y.png"], "either a text QUERY or --image"),
    (["search"], "either a text QUERY or --image"),
    (["search", "x", "--filter", "label"], "write it as FIELD=VALUE"),
    (["search", "--image", "missing.png"], "--image missing.png: no such file"),
    (["search", "x", "-c", "nothing-here"], "does not exist; ingest something into it first"),
    (["ingest", "no-such-folder"], "not a folder"),
    (["ingest", ".", "--url", "http://127.0.0.1:9", "--store", "s"], "not both"),
])
def test_usage_errors_exit_2_with_one_line(tmp_path, monkeypatch, tiny_model, args, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CCL_EMBED_STORE", str(tmp_path / "store"))
    result = runner.invoke(app, [*args, "--model", str(tiny_model)])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


def test_api_key_is_never_printed(tmp_path, tiny_model):
    with pytest.warns(UserWarning, match="insecure connection"):
        result = runner.invoke(app, ["ingest", str(tmp_path), "--url", "http://127.0.0.1:9", "--model", str(tiny_model)],
                               env={"QDRANT_API_KEY": "SECRET-KEY-123"})
    assert result.exit_code == 2
    assert "127.0.0.1:9" in result.stderr and "SECRET-KEY-123" not in result.output


def test_train_and_evaluate_without_torch_name_the_pinned_pip_command(tiny_corpus, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # as if the train extra were not installed
    for args in (["train", str(tiny_corpus), "--out", str(tmp_path / "m")], ["evaluate", str(tiny_corpus)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "pip install torch==2.13.0 'ccl-embed[train]'" in result.stderr, result.stderr
        assert "Traceback" not in result.output and "unexpected" not in result.output


def test_conflicting_store_options_fail_before_the_model_is_loaded(tmp_path):
    result = runner.invoke(app, ["search", "x", "--store", str(tmp_path), "--url", "http://127.0.0.1:9",
                                 "--model", str(tmp_path / "no-such-model")])
    assert result.exit_code == 2 and "not both" in result.stderr and "no-such-model" not in result.stderr


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
