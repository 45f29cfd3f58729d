"""What a walk finds: pairs by stem, pairs.jsonl lines with labels, ignored and skipped files."""

from __future__ import annotations

import os

import pytest

from ccl_embed.errors import CorpusError
from ccl_embed.ingest.walk import find_items
from tests.conftest import draw, make_folder


def test_pairs_labels_and_ignored(tmp_path):
    found = find_items(make_folder(tmp_path / "f"))
    by_path = {i.path: i for i in found.items}
    assert len(found.items) == 19 and found.ignored == 1 and not found.skipped
    assert by_path["red-square.png"].partners == ["red-square.txt"]
    assert by_path["red-square.txt"].partners == ["red-square.png"]
    assert by_path["notes.md"].modality == "text" and not by_path["notes.md"].partners
    line = by_path["labelled/pairs.jsonl:2"]
    assert (line.modality, line.text, line.label, line.file) == ("text", "a square in yellow", "yellow", None)
    assert line.partners == ["labelled/square.png"] and by_path["labelled/square.png"].label == "yellow"
    assert by_path["labelled/square.png"].partners == ["labelled/pairs.jsonl:2"]


def test_hidden_links_loops_and_bad_pairs_lines(tmp_path):
    root = tmp_path / "f"
    (root / "sub").mkdir(parents=True)
    (root / ".hidden").mkdir()
    draw("red", "dot").save(root / ".hidden" / "x.png")
    draw("red", "dot").save(root / "sub" / "a.png")
    os.symlink(root, root / "sub" / "loop")  # a folder link back to the root
    os.symlink(root / "missing.png", root / "broken.png")
    os.symlink("self.png", root / "self.png")  # a file link to itself
    (root / "pairs.jsonl").write_text('{"image": "sub/a.png", "text": "a dot"}\nnot json\n{"image": "nope.png", "text": "x"}\n')
    found = find_items(root)
    assert [i.path for i in found.items] == ["sub/a.png", "pairs.jsonl:1"]
    reasons = {s.path: s.reason for s in found.skipped}
    assert "symbolic link loop" in reasons["sub/loop"]
    assert reasons["broken.png"] == reasons["self.png"] == "broken or looping symbolic link"
    assert reasons["pairs.jsonl:2"].startswith("not valid JSON")
    assert "'nope.png' is not among the images found" in reasons["pairs.jsonl:3"]


def test_not_a_folder(tmp_path):
    with pytest.raises(CorpusError, match="not a folder"):
        find_items(tmp_path / "absent")
