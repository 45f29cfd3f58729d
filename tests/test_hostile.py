"""Hostile input and faults, on tiny generated files: links out of the corpus, special files, names
that try to drive the terminal, a full disk, interrupts, bad arguments, and the collection
lifecycle. Each test runs the real CLI (in-process, or as a child process where a signal or a
crash is the point) and checks the one-line message, the exit code and that nothing was lost."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import ccl_embed
from ccl_embed.cli import app, printable, to_json
from ccl_embed.errors import CCLEmbedError, one_line
from ccl_embed.store.base import StoreError
from ccl_embed.store.client import _grpc_port, redact_url
from tests.conftest import draw, make_folder
from tests.ingest.test_reliability import _assert_same, _corpus, _run, _state

runner = CliRunner()


@pytest.fixture(autouse=True)
def _embedded_only(monkeypatch):
    """These cases use the embedded store; a QDRANT_URL set for the server tests must not redirect them."""
    monkeypatch.delenv("QDRANT_URL", raising=False)
    monkeypatch.delenv("QDRANT_API_KEY", raising=False)


def _ingest(folder: Path, store: Path, model: Path, *extra: str):
    return runner.invoke(app, ["ingest", str(folder), "--store", str(store), "--model", str(model), *extra])


def _reasons(result) -> dict[str, str]:
    out = {}
    for line in result.stderr.splitlines():
        if line.startswith("skipped "):
            path, _, reason = line[len("skipped "):].partition(": ")
            out[path] = reason
    return out


# ---- links and special files ------------------------------------------------------------------
def test_links_out_of_the_folder_and_special_files_are_never_read(tmp_path, tiny_model):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("the secret outside")
    root = tmp_path / "corpus"
    root.mkdir()
    draw("red", "square").save(root / "red.png")
    (root / "inner").mkdir()
    (root / "inner" / "note.txt").write_text("a note inside")
    os.symlink(outside / "secret.txt", root / "passwd.txt")
    os.symlink("/proc/self/environ", root / "env.txt")
    os.symlink(outside, root / "etc")
    os.symlink("/dev/urandom", root / "random.png")
    os.symlink(root / "inner" / "note.txt", root / "inside-link.txt")  # inside the root: followed
    os.mkfifo(root / "pipe.txt")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "sock.png"))
    store = tmp_path / "store"
    try:
        result = _ingest(root, store, tiny_model)
    finally:
        sock.close()
    assert result.exit_code == 1, result.output
    reasons = _reasons(result)
    assert "outside the ingested folder" in reasons["passwd.txt"] and "--follow-links-outside" in reasons["passwd.txt"]
    assert "outside the ingested folder" in reasons["etc"]
    assert "system file" in reasons["env.txt"] and "system file" in reasons["random.png"]
    assert reasons["pipe.txt"] == "a FIFO; special files are never read"
    assert reasons["sock.png"] == "a socket; special files are never read"
    assert "broken or looping" not in result.stderr
    with ccl_embed.open(store=store, model=tiny_model) as index:
        texts = [h.text for h in index.search("secret", limit=20, modality="text")]
    assert sorted(texts) == ["a note inside", "a note inside"]  # the note and its link; nothing from outside
    assert not any("secret" in (t or "") or "PATH=" in (t or "") for t in texts)

    allowed = _ingest(root, tmp_path / "store2", tiny_model, "--follow-links-outside", "--json")
    summary = json.loads(allowed.stdout.strip().splitlines()[-1])
    skipped = {s["path"]: s["reason"] for s in summary["skipped"]}
    assert "passwd.txt" not in skipped and "etc" not in skipped  # followed when asked
    assert "system file" in skipped["env.txt"] and "system file" in skipped["random.png"]  # never, even then
    with ccl_embed.open(store=tmp_path / "store2", model=tiny_model) as index:
        found = {h.path for h in index.search("secret", limit=20, modality="text")}
    assert {"passwd.txt", "etc/secret.txt"} <= found


# ---- names that reach the terminal ---------------------------------------------------------------
def test_names_cannot_split_forge_or_drive_the_report(tmp_path, tiny_model):
    root = tmp_path / "corpus"
    root.mkdir()
    forged = "evil\nfailed other.png: forged"
    for name in (f"{forged}.txt", "title\x1b]0;pwned\x07.txt", "clear\x1b[2J.txt", "csi\x9b31m.txt"):
        (root / name).write_text("")  # empty texts: each is reported
    Image.new("RGB", (4, 4)).save(root / "ok.png")
    (root / "a: b.png").write_bytes(b"not an image at all")
    result = _ingest(root, tmp_path / "store", tiny_model)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert not any(line.startswith("failed ") for line in lines)  # no forged line
    assert not any(c in result.stderr for c in "\x1b\x07\x9b")
    assert "skipped evil\\nfailed other.png: forged.txt: empty text" in lines
    assert "skipped title\\x1b]0;pwned\\x07.txt: empty text" in lines
    assert "skipped csi\\x9b31m.txt: empty text" in lines
    # a ": " in a name never cuts the reason: the path is printed once, whole
    bad = [line for line in lines if line.startswith("skipped a: b.png")]
    assert len(bad) == 1 and bad[0].count("a: b.png") == 1 and "not a readable image" in bad[0]

    as_json = _ingest(root, tmp_path / "store", tiny_model, "--json")
    raw = as_json.stdout.strip().splitlines()[-1]
    assert "\n" not in raw and not any(c in raw for c in "\x1b\x07\x9b")
    paths = {s["path"] for s in json.loads(raw)["skipped"]}
    assert f"{forged}.txt" in paths and "csi\x9b31m.txt" in paths  # JSON keeps the real name, escaped


def test_printable_and_json_escape_every_control_character():
    assert printable("a\nb\tc\x00\x7f\x85\u2028\u202e") == "a\\nb\\tc\\x00\\x7f\\x85\\u2028\\u202e"
    assert printable("café 名前") == "café 名前"
    assert json.loads(to_json({"p": "x\x9by\u2029"})) == {"p": "x\x9by\u2029"}
    assert "\x9b" not in to_json("x\x9by") and "\u2029" not in to_json("\u2029")


# ---- credentials, gRPC, one line -----------------------------------------------------------------
def test_credentials_are_redacted_and_grpc_errors_are_one_line(tmp_path, tiny_model):
    assert redact_url("https://user:pa55@host:6333/x") == "https://***@host:6333/x"
    assert redact_url("http://host:6333") == "http://host:6333"
    assert _grpc_port("http://host:7334") == 7334 and _grpc_port("http://host") is None
    for extra in ([], ["--grpc"]):
        result = runner.invoke(app, ["search", "x", "--url", "http://user:pa55@127.0.0.1:9", "--model",
                                     str(tiny_model), *extra])
        assert result.exit_code == 2
        assert "pa55" not in result.output and "user:" not in result.output
        assert len(result.stderr.strip().splitlines()) == 1 and "***@127.0.0.1:9" in result.stderr
    assert one_line("word " * 100, 40).endswith("...") and len(one_line("word " * 100, 40)) <= 40
    assert not one_line("word " * 100, 40)[:-3].endswith("wor")  # cut at a word boundary


def test_usage_errors_and_warnings_are_one_line(tmp_path, tiny_model):
    root = make_folder(tmp_path / "f")
    store = tmp_path / "store"
    assert _ingest(root, store, tiny_model, "-q").exit_code == 0
    cases = {("--limit", "0"): "--limit", ("--limit", "abc"): "--limit", ("--filter", "label==red"): "one separator",
             ("--filter", "colour=red"): "filter field 'colour'"}
    for args, expected in cases.items():
        out = _run(["search", "a red square", "--store", str(store), "--model", str(tiny_model), *args])
        assert out.returncode == 2, out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], out.stderr
        assert "╭" not in out.stderr and "Traceback" not in out.stderr
    keyed = _run(["search", "a red square", "--store", str(store), "--model", str(tiny_model), "-k", "1"],
                 {"QDRANT_API_KEY": "not-printed"})
    assert keyed.returncode == 0 and keyed.stdout.strip()  # the embedded store works
    assert keyed.stderr.strip().splitlines() == [
        "warning: QDRANT_API_KEY is set but no --url is given; the embedded store needs no key, so it is ignored"]
    insecure = _run(["search", "x", "--url", "http://127.0.0.1:9", "--qdrant-api-key", "not-printed", "--model", str(tiny_model)])
    assert insecure.returncode == 2 and "not-printed" not in insecure.stderr
    assert all(line.startswith(("warning: ", "error: ")) for line in insecure.stderr.strip().splitlines())


def test_a_second_label_for_one_image_is_reported(tmp_path, tiny_model):
    root = tmp_path / "c"
    root.mkdir()
    draw("red", "square").save(root / "sq.png")
    (root / "pairs.jsonl").write_text(json.dumps({"image": "sq.png", "text": "a red square", "label": "red"}) + "\n"
                                      + json.dumps({"image": "sq.png", "text": "a square", "label": "shapes"}) + "\n")
    result = _ingest(root, tmp_path / "store", tiny_model, "--json")
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["added"] == 3 and result.exit_code == 0
    [warning] = summary["warnings"]
    assert warning["path"] == "pairs.jsonl:2" and "'shapes'" in warning["reason"] and "pairs.jsonl:1" in warning["reason"]
    with ccl_embed.open(store=tmp_path / "store", model=tiny_model) as index:
        labels = {h.path: h.label for h in index.search("square", limit=5)}
    assert labels == {"sq.png": "red", "pairs.jsonl:1": "red", "pairs.jsonl:2": "shapes"}  # nothing lost


# ---- faults ----------------------------------------------------------------------------------------
def test_a_failed_ingest_creates_no_collection(tmp_path, tiny_model):
    store = tmp_path / "store"
    missing = _ingest(tmp_path / "nowhere", store, tiny_model)
    assert missing.exit_code == 2 and "not a folder" in missing.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "bad.png").write_bytes(b"junk")
    assert _ingest(empty, store, tiny_model).exit_code == 1
    assert not (store / "ccl-embed").exists()
    search = runner.invoke(app, ["search", "x", "--store", str(store), "--model", str(tiny_model)])
    assert search.exit_code == 2 and "does not exist; ingest something into it first" in search.stderr


@pytest.fixture()
def small_disk(tmp_path):
    """A 400 MiB tmpfs (root only; skipped elsewhere): room for the engine's mapped files."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip() or 'not root'})")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _wait_for(marker: Path, child: subprocess.Popen) -> None:
    deadline = time.time() + 120
    while not marker.exists():
        assert time.time() < deadline and child.poll() is None, "the child never reached its first stored batch"
        time.sleep(0.05)


def _fill(disk: Path, leave: int) -> Path:
    filler = disk / f"filler-{len(list(disk.glob('filler-*')))}"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    subprocess.run(["fallocate", "-l", str(max(4096, free - leave)), str(filler)], check=True)
    return filler


def test_a_full_disk_stops_with_one_line_and_a_rerun_equals_a_clean_run(tmp_path, small_disk, tiny_model):
    root = _corpus(tmp_path / "corpus")
    store = small_disk / "store"
    args = ["ingest", str(root), "--store", str(store), "-c", "c", "--model", str(tiny_model), "-q", "--batch-size", "3"]
    filler = _fill(small_disk, 100 << 20)  # below what a new collection needs: refused before anything is created
    first = _run(args)
    assert first.returncode == 2, first.stderr
    [line] = first.stderr.strip().splitlines()
    assert line.startswith("error: collection 'c' of the embedded store") and "MiB free" in line and "needs about" in line
    assert not (store / "c").exists()
    filler.unlink()

    go = tmp_path / "go"
    running = _run(args, {"CCL_TEST_WAIT": str(go)}, wait=False)  # waits after its first stored batch
    _wait_for(Path(f"{go}.waiting"), running)
    filler = _fill(small_disk, 165 << 20)  # the disk fills up while the ingest runs: too full to write, not to read
    go.write_text("go")
    _, err = running.communicate(timeout=300)
    assert running.returncode == 2, err
    [line] = err.strip().splitlines()
    assert "MiB free" in line and "items of this run are stored; the same command resumes" in line

    found = _run(["search", "a red square", "--store", str(store), "-c", "c", "--model", str(tiny_model), "-k", "2"])
    assert found.returncode == 0 and len(found.stdout.strip().splitlines()) == 2, found.stderr  # a full store is readable
    _fill(small_disk, 0)
    full = _run(["search", "a red square", "--store", str(store), "-c", "c", "--model", str(tiny_model)])
    assert full.returncode == 2 and len(full.stderr.strip().splitlines()) == 1 and "MiB free" in full.stderr

    for f in small_disk.glob("filler-*"):
        f.unlink()
    assert _run(args).returncode == 0
    clean = tmp_path / "clean"
    assert _run([*args[:3], str(clean), *args[4:]]).returncode == 0
    _assert_same(_state(store), _state(clean))


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_says_what_was_stored_and_a_rerun_resumes(tmp_path, tiny_model, sig, code):
    root = _corpus(tmp_path / "corpus")
    store = tmp_path / "store"
    args = ["ingest", str(root), "--store", str(store), "-c", "c", "--model", str(tiny_model), "-q", "--batch-size", "3"]
    running = _run(args, {"CCL_TEST_WAIT": str(tmp_path / "never")}, wait=False)
    _wait_for(tmp_path / "never.waiting", running)
    running.send_signal(sig)
    _, err = running.communicate(timeout=120)
    assert running.returncode == code
    assert err.strip().splitlines() == [
        f"interrupted: 3 items of this run are stored in collection 'c' of the embedded store {store}; "
        "run the same command again to resume"]
    assert len(_state(store)) == 3
    assert _run(args).returncode == 0 and len(_state(store)) == 32


# ---- memory ------------------------------------------------------------------------------------------
def test_huge_images_are_decoded_reduced(tmp_path):
    from ccl_embed.runtime.images import REDUCE_PIXELS, load_image

    big = tmp_path / "big.png"
    Image.new("RGB", (5000, 4000), (200, 30, 30)).save(big)
    img = load_image(big)
    assert img.width * img.height <= REDUCE_PIXELS and img.size == (2500, 2000)
    assert img.getpixel((10, 10)) == (200, 30, 30)
    small = tmp_path / "small.png"
    Image.new("RGB", (300, 200), (1, 2, 3)).save(small)
    assert load_image(small).size == (300, 200)  # exact below the limit


# ---- the SDK's arguments ------------------------------------------------------------------------------
def test_sdk_arguments_fail_with_one_sentence(tmp_path, tiny_model):
    make_folder(tmp_path / "f")
    with pytest.raises(CCLEmbedError, match="device='bogus': choose one of auto, cpu, cuda"):
        ccl_embed.open(store=tmp_path / "s", model=tiny_model, device="bogus")
    index = ccl_embed.open(store=tmp_path / "s", model=tiny_model)
    for bad in (-5, 0, 2.5, "8"):
        with pytest.raises(CCLEmbedError, match=f"batch_size={bad!r}: give a positive whole number"):
            index.ingest(tmp_path / "f", batch_size=bad)  # type: ignore[arg-type]
    assert index.count() == 0
    with pytest.raises(CCLEmbedError, match="0x0 pixels"):
        index.search(Image.new("RGB", (0, 0)))
    with pytest.raises(CCLEmbedError, match="where='label=x'"):
        index.search("x", where="label=x")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="filter field 'colour'"):
        index.search("x", where={"colour": "red"})
    index.close()
    index.close()  # twice is harmless
    with pytest.raises(CCLEmbedError, match="is closed; open it again"):
        index.search("x")
    with pytest.raises(CCLEmbedError, match="is closed"):
        index.count()


# ---- collection lifecycle -------------------------------------------------------------------------------
def test_collections_drop_forget_and_stable_roots(tmp_path, tiny_model, monkeypatch):
    root = make_folder(tmp_path / "photos")
    store = tmp_path / "store"
    assert _ingest(root, store, tiny_model, "-q", "--root", "photos").exit_code == 0
    other = make_folder(tmp_path / "other")
    assert _ingest(other, store, tiny_model, "-q", "-c", "second").exit_code == 0

    listed = runner.invoke(app, ["collections", "--store", str(store), "--json"])
    by_name = {c["name"]: c for c in json.loads(listed.stdout)}
    assert set(by_name) == {"ccl-embed", "second"}
    assert by_name["ccl-embed"]["roots"] == {"photos": 19} and by_name["ccl-embed"]["count"] == 19
    assert by_name["second"]["roots"] == {other.resolve().as_posix(): 19} and by_name["second"]["dim"] > 0
    human = runner.invoke(app, ["collections", "--store", str(store)])
    assert "ccl-embed  19 points  model" in human.stdout and "root photos: 19 points" in human.stdout

    moved = tmp_path / "moved"
    root.rename(moved)  # the same name after a move: nothing is embedded again, nothing duplicated
    again = _ingest(moved, store, tiny_model, "-q", "--root", "photos", "--prune")
    assert again.exit_code == 0 and "0 added, 19 unchanged" in again.stdout and "19 points" in again.stdout
    hit = json.loads(runner.invoke(app, ["search", "a red square", "--store", str(store), "--model", str(tiny_model),
                                         "--json", "-k", "1"]).stdout)[0]
    assert hit["root"] == "photos"

    # forget a root whose folder is gone, by its path
    import shutil

    shutil.rmtree(other)
    gone = runner.invoke(app, ["forget", str(other), "-c", "second", "--store", str(store)])
    assert gone.exit_code == 0 and "removed 19 points" in gone.stdout
    unknown = runner.invoke(app, ["forget", "nothing", "--store", str(store)])
    assert unknown.exit_code == 2 and "no points of root 'nothing'; its roots: 'photos'" in unknown.stderr

    unasked = runner.invoke(app, ["drop", "ccl-embed", "--store", str(store)])  # no terminal to ask on
    assert unasked.exit_code == 2 and "confirm with --yes" in unasked.stderr and (store / "ccl-embed").is_dir()
    monkeypatch.setattr("ccl_embed.cli.store._can_ask", lambda: True)
    refused = runner.invoke(app, ["drop", "ccl-embed", "--store", str(store)], input="n\n")
    assert refused.exit_code == 1 and "not dropped" in refused.stderr and (store / "ccl-embed").is_dir()
    dropped = runner.invoke(app, ["drop", "ccl-embed", "--store", str(store)], input="y\n")
    assert dropped.exit_code == 0 and not (store / "ccl-embed").exists()
    assert [c.name for c in ccl_embed.sdk.collections(store=store)] == ["second"]
    missing = runner.invoke(app, ["drop", "ccl-embed", "--store", str(store), "--yes"])
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


def test_a_held_collection_cannot_be_dropped(tmp_path, tiny_model):
    make_folder(tmp_path / "f")
    with ccl_embed.open(store=tmp_path / "s", model=tiny_model) as index:
        index.ingest(tmp_path / "f")
        with pytest.raises(StoreError, match="in use by another ccl-embed process"):
            ccl_embed.sdk.drop("ccl-embed", store=tmp_path / "s")
        assert index.count() == 19


# ---- names that are not UTF-8, files swapped after the walk -----------------------------------
def test_names_that_are_not_utf8_are_stored_printed_and_found_again(tmp_path, tiny_model):
    from ccl_embed.serve.service import Service
    from ccl_embed.store import StoreOptions

    root = tmp_path / "archive"
    root.mkdir()
    draw("red", "square").save(root / "plain.png")
    (root / "plain.txt").write_text("a red square")
    raw = os.fsencode(root)
    odd = {b"caf\xe9.png": ("green", "bar"), b"bad\xff\xfe.png": ("blue", "ring"), b"\x80\x81.png": ("yellow", "dot")}
    for name, (colour, shape) in odd.items():
        draw(colour, shape).save(tmp_path / "x.png")
        os.rename(tmp_path / "x.png", raw + b"/" + name)
    with open(raw + b"/caf\xe9.txt", "wb") as f:
        f.write("a green bar in a café".encode())
    with open(raw + b"/broken\xff.png", "wb") as f:
        f.write(b"not an image")
    result = _ingest(root, tmp_path / "store", tiny_model, "--json", "-c", "t")
    assert result.exit_code == 1, result.output  # the broken image is skipped; nothing stops the run
    summary = json.loads(result.stdout.strip().splitlines()[-1])  # valid JSON
    assert summary["added"] == 6 and [s["path"] for s in summary["skipped"]] == ["broken\\xff.png"]
    assert "not a readable image" in summary["skipped"][0]["reason"]
    again = _ingest(root, tmp_path / "store", tiny_model, "--json", "-c", "t")
    assert json.loads(again.stdout.strip().splitlines()[-1])["unchanged"] == 6  # the same ids: nothing re-added
    with Service(StoreOptions(store=tmp_path / "store"), model=str(tiny_model), device="cpu", collection="t") as s:
        hits = {h.path: h for h in s.search("a shape", limit=20)}
        assert {"caf\\xe9.png", "bad\\xff\\xfe.png", "\\x80\\x81.png", "caf\\xe9.txt", "plain.png"} <= set(hits)
        assert hits["caf\\xe9.txt"].text == "a green bar in a café"
        for shown in ("caf\\xe9.png", "bad\\xff\\xfe.png", "\\x80\\x81.png"):  # the bytes find the file again
            assert s.thumbnail(hits[shown].id)[:2] == b"\xff\xd8"
    shown = runner.invoke(app, ["search", "a shape", "--store", str(tmp_path / "store"), "--model", str(tiny_model),
                                "-c", "t", "-k", "20"])
    assert shown.exit_code == 0 and "bad\\xff\\xfe.png" in shown.stdout


def test_a_file_swapped_after_the_walk_is_not_read(tmp_path):
    from ccl_embed.ingest.pipeline import _hash
    from ccl_embed.ingest.walk import find_items

    root = tmp_path / "corpus"
    root.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the folder")
    for name in ("a.txt", "b.txt"):
        (root / name).write_text("a note")
    found = {i.path: i for i in find_items(root).items}
    (root / "a.txt").unlink()
    (root / "a.txt").symlink_to(secret)  # swapped for a link out of the folder between the walk and the read
    (tmp_path / "other.txt").write_text("another file under the same name")
    os.replace(tmp_path / "other.txt", root / "b.txt")  # or for another file
    with pytest.raises(OSError, match="replaced by a symbolic link after the walk; not followed"):
        _hash(found["a.txt"])
    with pytest.raises(OSError, match="replaced by another file after the walk"):
        _hash(found["b.txt"])
