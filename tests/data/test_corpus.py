import json
import os
from pathlib import Path

import pytest

from ccl_embed import CorpusError
from ccl_embed.data.corpus import read_corpus
from ccl_embed.data.corpus import Pair, write_pairs


def _write(root: Path, lines: list[str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pairs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_reads_a_valid_corpus(tiny_corpus):
    corpus = read_corpus(tiny_corpus)
    assert len(corpus) == 48 and not corpus.skipped
    assert corpus.splits == {"test": 4, "val": 4, "train": 16, "style": 24}
    p = corpus.pairs[0]
    assert corpus.image_path(p).exists() and p.label == "red" and p.line == 1


def test_bad_lines_are_skipped_with_file_and_line(tmp_path):
    root = tmp_path / "c"
    root.mkdir()
    (root / "ok.png").write_bytes(b"\x89PNG not really but not empty")
    (root / "empty.png").write_bytes(b"")
    (root / "dir.png").mkdir()
    _write(root, [
        json.dumps({"image": "ok.png", "text": "fine"}),
        "{not json",
        json.dumps({"image": "missing.png", "text": "x"}),
        json.dumps({"image": "ok.png", "text": "   "}),
        json.dumps({"image": "empty.png", "text": "x"}),
        json.dumps({"text": "no image"}),
        json.dumps({"image": "../outside.png", "text": "x"}),
        json.dumps({"image": "ok.png", "text": 3}),
        json.dumps([1, 2]),
        json.dumps({"image": "dir.png", "text": "x"}),
    ])
    corpus = read_corpus(root)
    assert len(corpus) == 1
    reasons = {p.line: p.reason for p in corpus.skipped}
    assert "not valid JSON" in reasons[2]
    assert "'missing.png' not found" in reasons[3]
    assert reasons[4] == "empty text"
    assert "empty (0 bytes)" in reasons[5]
    assert "missing required key 'image'" in reasons[6]
    assert "stay inside it" in reasons[7]
    assert "'text' must be a string" in reasons[8]
    assert "expected a JSON object" in reasons[9]
    assert "'dir.png' is not a file" in reasons[10]
    assert str(corpus.skipped[0]).startswith(f"{root / 'pairs.jsonl'}:2: ")


def test_strict_mode_raises_on_first_bad_line(tmp_path):
    root = tmp_path / "c"
    _write(root, [json.dumps({"image": "a.png", "text": "x"})])
    with pytest.raises(CorpusError, match=r"pairs.jsonl:1: image 'a.png' not found"):
        read_corpus(root, strict=True)


def test_non_utf8_line_is_reported(tmp_path):
    root = tmp_path / "c"
    root.mkdir()
    (root / "a.png").write_bytes(b"x")
    (root / "pairs.jsonl").write_bytes(b'{"image": "a.png", "text": "ok"}\n\xff\xfe bad\n')
    corpus = read_corpus(root)
    assert len(corpus) == 1 and corpus.skipped[0].line == 2 and "UTF-8" in corpus.skipped[0].reason


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_image_is_reported(tmp_path):
    root = tmp_path / "c"
    root.mkdir()
    (root / "a.png").write_bytes(b"x")
    (root / "a.png").chmod(0)
    _write(root, [json.dumps({"image": "a.png", "text": "x"}), json.dumps({"image": "a.png", "text": "y"})])
    with pytest.raises(CorpusError, match="not readable"):
        read_corpus(root)


def test_missing_folder_file_and_empty_corpus_are_clear_errors(tmp_path):
    with pytest.raises(CorpusError, match="not a folder"):
        read_corpus(tmp_path / "nope")
    with pytest.raises(CorpusError, match=r"pairs.jsonl: not found; a corpus folder needs"):
        read_corpus(tmp_path)
    _write(tmp_path / "e", ["{bad"])
    with pytest.raises(CorpusError, match="no usable pair; first problem: .*not valid JSON"):
        read_corpus(tmp_path / "e")


def test_split_selects_and_explains_missing_split(tiny_corpus):
    corpus = read_corpus(tiny_corpus)
    assert len(corpus.split("train")) == 16
    with pytest.raises(CorpusError, match=r"no pair is in split 'holdout' \(splits here: style, test, train, val\)"):
        corpus.split("holdout")


def test_long_text_is_cut(tmp_path):
    root = tmp_path / "c"
    root.mkdir()
    (root / "a.png").write_bytes(b"x")
    _write(root, [json.dumps({"image": "a.png", "text": "word " * 5000})])
    assert len(read_corpus(root).pairs[0].text) == 4096


def test_write_then_read_round_trips(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    pairs = [Pair("a.png", "un chat", label="animaux", concept="c1", style="s", split="train"), Pair("a.png", "no label")]
    write_pairs(tmp_path, pairs)
    back = read_corpus(tmp_path).pairs
    assert [(p.image, p.text, p.label, p.concept, p.style, p.split) for p in back] == [
        ("a.png", "un chat", "animaux", "c1", "s", "train"), ("a.png", "no label", None, None, None, None)]
    assert back[1].key == "no label" and back[0].key == "c1"
