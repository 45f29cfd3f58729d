"""The store commands (ccl_embed/cli/store.py): ingest and search, their exit codes and errors."""

import json

import pytest
from typer.testing import CliRunner

from ccl_embed.cli import app

runner = CliRunner()


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
    assert set(hits[0]) == {"relevance", "score", "modality", "path", "text", "label", "id", "root"}
    assert hits[0]["root"] == root.resolve().as_posix()
    mixed = json.loads(runner.invoke(app, ["search", "a red square", "--store", str(store), "--model", str(tiny_model),
                                           "--limit", "19", "--json"]).stdout)
    assert list(mixed[0])[0] == "relevance" and {h["modality"] for h in mixed} == {"image", "text"}
    assert all(a["relevance"] >= b["relevance"] for a, b in zip(mixed, mixed[1:]))  # what is shown first orders
    by_image = runner.invoke(app, ["search", "--image", str(root / "red-square.png"), "--store", str(store),
                                   "--model", str(tiny_model), "--filter", "modality=image", "-k", "1"])
    assert by_image.exit_code == 0 and "red-square.png" in by_image.stdout


@pytest.mark.parametrize("args, message", [
    (["search", "x", "--image", "y.png"], "either a text QUERY or --image"),
    (["search"], "either a text QUERY or --image"),
    (["search", "x", "--filter", "label"], "write it as FIELD:VALUE, for example --filter label:animals"),
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


def test_conflicting_store_options_fail_before_the_model_is_loaded(tmp_path):
    result = runner.invoke(app, ["search", "x", "--store", str(tmp_path), "--url", "http://127.0.0.1:9",
                                 "--model", str(tmp_path / "no-such-model")])
    assert result.exit_code == 2 and "not both" in result.stderr and "no-such-model" not in result.stderr


def test_a_cut_text_ends_with_an_ellipsis(tmp_path, tiny_model):
    folder = tmp_path / "notes"
    folder.mkdir()
    long = "a red square " * 20
    (folder / "long.txt").write_text(long)
    (folder / "short.txt").write_text("a blue circle")
    store = ["--store", str(tmp_path / "store"), "--model", str(tiny_model)]
    assert runner.invoke(app, ["ingest", str(folder), *store]).exit_code == 0
    shown = runner.invoke(app, ["search", "a red square", "-k", "2", *store])
    lines = {line.split()[2]: line for line in shown.stdout.splitlines() if line.strip()}
    assert lines["long.txt"].endswith("'…") and not lines["short.txt"].endswith("…")


def test_a_misspelled_collection_gets_a_did_you_mean_with_the_list(tmp_path, tiny_model):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("a blue circle")
    store = ["--store", str(tmp_path / "store"), "--model", str(tiny_model)]
    assert runner.invoke(app, ["ingest", str(folder), "-c", "examples", *store]).exit_code == 0
    wrong = runner.invoke(app, ["search", "a circle", "-c", "exampels", *store])
    assert wrong.exit_code == 2 and "did you mean 'examples'? (collections here: examples)" in wrong.stderr
    far = runner.invoke(app, ["search", "a circle", "-c", "zzz", *store])
    assert far.exit_code == 2 and "did you mean" not in far.stderr and "(collections here: examples)" in far.stderr


def test_hits_from_two_roots_say_which_folder_they_are_in(tmp_path, tiny_model):
    store = ["--store", str(tmp_path / "store"), "--model", str(tiny_model)]
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "note.txt").write_text("a blue circle")
    assert runner.invoke(app, ["ingest", str(tmp_path / "one"), *store]).exit_code == 0
    assert runner.invoke(app, ["ingest", str(tmp_path / "two"), "--root", "photos", *store]).exit_code == 0
    shown = runner.invoke(app, ["search", "a blue circle", "-k", "2", *store]).stdout
    paths = {line.split()[2] for line in shown.splitlines() if line.strip()}
    one = (tmp_path / "one").resolve()
    assert paths == {f"{one}/note.txt", "photos:note.txt"}, shown
    alone = runner.invoke(app, ["search", "a blue circle", "-k", "1", "--filter", "root=photos", *store]).stdout
    assert alone.split()[2] == "note.txt"  # one root: the path alone, as before


def test_one_filter_syntax_everywhere(tmp_path, tiny_model):
    from ccl_embed.store.base import parse_filters

    assert parse_filters(["label:animals", "root=/a:b", "path:x=y.png"]) == {
        "label": ["animals"], "root": ["/a:b"], "path": ["x=y.png"]}  # the first ':' or '=' ends the field
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "pairs.jsonl").write_text('{"image": "a.png", "text": "a cat", "label": "animals"}\n')
    from tests.conftest import draw

    draw("red", "square").save(folder / "a.png")
    (folder / "b.txt").write_text("a cat too")
    store = ["--store", str(tmp_path / "store"), "--model", str(tiny_model)]
    assert runner.invoke(app, ["ingest", str(folder), *store]).exit_code == 0
    colon = runner.invoke(app, ["search", "a cat", "--filter", "label:animals", "--json", *store])
    equals = runner.invoke(app, ["search", "a cat", "--filter", "label=animals", "--json", *store])
    assert colon.exit_code == 0 and json.loads(colon.stdout) == json.loads(equals.stdout)
    assert {h["label"] for h in json.loads(colon.stdout)} == {"animals"}
