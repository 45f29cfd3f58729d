"""Ingest: deterministic ids, re-runs that change nothing, edits, pruning, and bad input that costs nothing else."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

import ccl_embed.ingest.pipeline as pipeline
from ccl_embed.ingest import ingest
from ccl_embed.runtime.embedder import Embedder
from ccl_embed.sdk import model_meta
from ccl_embed.store.edge import EdgeCollection
from tests.conftest import draw, make_folder


@pytest.fixture(scope="module")
def embedder(tiny_model):
    return Embedder(tiny_model, device="cpu")


@pytest.fixture()
def coll(tmp_path, embedder):
    c = EdgeCollection(tmp_path / "store", "t", model_meta(embedder.model))
    yield c
    c.close()


def _state(coll):
    return {pid: (payload, vec) for pid, payload, vec in coll.scan(fields=("path", "sha256", "modality"), with_vectors=True)}


def test_ingest_then_rerun_changes_nothing(tmp_path, coll, embedder):
    root = make_folder(tmp_path / "f")
    first = ingest(root, coll, embedder, batch_size=4)
    assert (first.added, first.unchanged, first.ignored, first.complete) == (19, 0, 1, True)
    before = _state(coll)
    assert len(before) == 19
    again = ingest(root, coll, embedder, batch_size=4)
    assert (again.added, again.unchanged, again.replaced) == (0, 19, 0)
    assert _state(coll).keys() == before.keys()
    payload = next(p for _, p, _ in coll.scan(fields=("path", "modality", "text", "pairs", "label", "model_version"))
                   if p["path"] == "labelled/pairs.jsonl:1")
    image_id = next(pid for pid, p, _ in coll.scan(fields=("path",)) if p["path"] == "labelled/circle.png")
    assert payload["text"] == "a circle in green" and payload["label"] == "green" and payload["pairs"] == [image_id]
    assert payload["model_version"] == embedder.model.version


def test_stored_vectors_equal_the_embedders(tmp_path, coll, embedder):
    root = make_folder(tmp_path / "f")
    ingest(root, coll, embedder)
    state = {p["path"]: np.asarray(v) for p, v in ((p, v) for _, p, v in coll.scan(fields=("path",), with_vectors=True))}
    direct = next(embedder.embed_images([root / "blue-circle.png"])).vector
    np.testing.assert_allclose(state["blue-circle.png"], direct, atol=1e-5)
    text = next(embedder.embed_texts(["a blue circle"])).vector
    np.testing.assert_allclose(state["blue-circle.txt"], text, atol=1e-5)


def test_edit_replaces_and_prune_removes(tmp_path, coll, embedder):
    root = make_folder(tmp_path / "f")
    ingest(root, coll, embedder)
    (root / "red-square.txt").write_text("a crimson square")
    (root / "green-bar.png").unlink()
    edited = ingest(root, coll, embedder)
    assert (edited.added, edited.replaced, edited.pruned) == (1, 1, 0)
    assert coll.count() == 19  # the removed file's point stays until --prune
    pruned = ingest(root, coll, embedder, prune=True)
    assert (pruned.added, pruned.pruned) == (0, 1) and coll.count() == 18
    texts = [p.get("text") for _, p, _ in coll.scan(fields=("text",))]
    assert "a crimson square" in texts and "a red square" not in texts


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (a decompression bomb's signature)."""
    buf = io.BytesIO()
    draw("red", "dot", 8).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    ihdr = data[12:29]  # type + 13 bytes of IHDR data
    ihdr[4:12] = struct.pack(">II", width, height)
    data[16:24] = ihdr[4:12]
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    return bytes(data)


def test_bad_input_is_skipped_with_reasons_and_the_rest_is_stored(tmp_path, coll, embedder, monkeypatch):
    root = tmp_path / "f"
    root.mkdir()
    good = ["ok1.png", "ok2.png", "ok3.png"]
    for name in good:
        draw("blue", "ring").save(root / name)
    (root / "zero.png").write_bytes(b"")
    full = io.BytesIO()
    draw("red", "square", 64).save(full, format="PNG")
    (root / "truncated.png").write_bytes(full.getvalue()[:60])
    (root / "words.png").write_text("I am a text file, not a picture")
    (root / "bomb.png").write_bytes(_png_claiming(30000, 30000))
    (root / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (root / "empty.txt").write_text("   \n")
    (root / "huge.txt").write_text("a long line of words. " * 200_000)  # 4.4 MB: read bounded
    (root / "gone.txt").write_text("this file vanishes before it is embedded")
    (root / "locked.txt").write_text("unreadable")
    real_hash = pipeline._hash

    def hash_then_vanish(item):
        sha = real_hash(item)
        if item.path == "gone.txt":
            os.remove(item.file)
        if item.path == "locked.txt":
            raise PermissionError(13, "Permission denied")
        return sha

    monkeypatch.setattr(pipeline, "_hash", hash_then_vanish)
    summary = ingest(root, coll, embedder, batch_size=4)
    reasons = {s.path: s.reason for s in summary.skipped}
    assert set(reasons) == {"zero.png", "truncated.png", "words.png", "bomb.png", "latin1.txt", "empty.txt",
                            "gone.txt", "locked.txt"}
    assert "pixels" in reasons["bomb.png"] and "bomb" in reasons["bomb.png"]
    assert reasons["zero.png"] == "empty file (0 bytes)"
    assert "does not recognise" in reasons["words.png"] and "not a readable image" in reasons["truncated.png"]
    assert reasons["latin1.txt"].startswith("not UTF-8 text")
    assert reasons["empty.txt"] == "empty text"
    assert reasons["gone.txt"] == "vanished during the ingest"
    assert reasons["locked.txt"] == "cannot be read (Permission denied)"
    assert summary.added == 4 and not summary.complete and not summary.failed
    stored = {p["path"]: p for _, p, _ in coll.scan(fields=("path", "text"))}
    assert set(stored) == set(good) | {"huge.txt"}
    assert len(stored["huge.txt"]["text"]) == pipeline.PAYLOAD_TEXT_CHARS


def test_a_file_changed_between_hash_and_read_is_not_stored_stale(tmp_path, coll, embedder, monkeypatch):
    root = tmp_path / "f"
    root.mkdir()
    (root / "a.txt").write_text("first words")
    real_hash = pipeline._hash

    def hash_then_edit(item):
        sha = real_hash(item)
        Path(item.file).write_text("other words")
        return sha

    monkeypatch.setattr(pipeline, "_hash", hash_then_edit)
    summary = ingest(root, coll, embedder)
    assert summary.skipped[0].reason.startswith("changed during the ingest") and coll.count() == 0


def test_two_roots_share_a_collection_without_pruning_each_other(tmp_path, coll, embedder):
    a, b = make_folder(tmp_path / "a"), make_folder(tmp_path / "b")
    ingest(a, coll, embedder)
    ingest(b, coll, embedder, prune=True)
    assert coll.count() == 38


def test_links_follow_a_partner_that_changed_or_left(tmp_path, coll, embedder):
    root = make_folder(tmp_path / "f")
    ingest(root, coll, embedder)
    (root / "red-square.txt").write_text("a crimson square")
    (root / "blue-circle.txt").unlink()
    ingest(root, coll, embedder, prune=True)
    payloads = {p["path"]: (pid, p) for pid, p, _ in coll.scan(fields=("path", "pairs"))}
    assert payloads["red-square.png"][1]["pairs"] == [payloads["red-square.txt"][0]]
    assert "pairs" not in payloads["blue-circle.png"][1]


def test_loading_on_a_pool_stores_what_loading_one_by_one_stores(tmp_path, embedder, monkeypatch):
    folder = make_folder(tmp_path / "f")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    states, skipped = [], []
    for workers in (1, 4):
        monkeypatch.setattr(pipeline, "available_cores", lambda: workers)
        c = EdgeCollection(tmp_path / f"store-{workers}", "t", model_meta(embedder.model))
        summary = ingest(folder, c, embedder, batch_size=4)
        states.append(_state(c))
        skipped.append([(s.path, s.reason) for s in summary.skipped])
        c.close()
    assert states[0].keys() == states[1].keys() and len(states[0]) == 19
    for pid, (payload, vector) in states[0].items():
        assert states[1][pid][0] == payload
        np.testing.assert_array_equal(states[1][pid][1], vector)
    assert skipped[0] == skipped[1] and skipped[0][0][0] == "broken.png"
