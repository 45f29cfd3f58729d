"""A training folder: any folder ``ingest`` reads, as image-text pairs split by concept.

``train`` and ``evaluate`` both read a folder here, so they split it the same way.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

from ccl_embed.data.corpus import MAX_TEXT_CHARS, PAIRS_FILE, Corpus, Pair, Problem, read_corpus
from ccl_embed.data.splits import SplitConfig, assign_splits
from ccl_embed.errors import CorpusError

MIN_PAIRS = 20
"""The fewest pairs a folder without splits needs: train, val and test each get some concepts."""


def read_training_folder(folder: str | Path) -> Corpus:
    """The image-text pairs of any folder ``ingest`` reads: its ``pairs.jsonl`` (labels and splits
    optional), or images with a same-stem ``.txt`` caption, in any subfolder. Pairs without a
    split are split by concept.

    Raises:
        CorpusError: When the folder holds no pair, or too few to split (the message names the minimum).
    """
    root = Path(folder)
    corpus = read_corpus(root) if (root / PAIRS_FILE).is_file() else _captioned(root)
    if all(p.split is None for p in corpus.pairs):
        if len(corpus.pairs) < MIN_PAIRS:
            raise CorpusError(f"{root}: {len(corpus.pairs)} pairs are too few to split by concept into train, val and "
                              f"test; a folder needs at least {MIN_PAIRS} (or a 'split' on each {PAIRS_FILE} line)")
        corpus = replace(corpus, pairs=tuple(assign_splits(corpus.pairs, SplitConfig())))
        missing = [s for s in ("train", "val", "test") if not corpus.splits.get(s)]
        if missing:
            raise CorpusError(f"{root}: no pair fell in the {', '.join(missing)} split ({len(corpus.pairs)} pairs); add "
                              f"pairs of different concepts, or give each {PAIRS_FILE} line a 'split'")
    return corpus


def _captioned(root: Path) -> Corpus:
    """The pairs ``ingest`` finds in a folder without a top-level ``pairs.jsonl``: each image with
    its captions (a same-name ``.txt``, or lines of a nested ``pairs.jsonl``)."""
    from ccl_embed.ingest.walk import find_items

    found = find_items(root)
    by_path = {item.path: item for item in found.items}
    pairs: list[Pair] = []
    problems = [Problem(s.path, 0, s.reason) for s in found.skipped]
    for item in (i for i in found.items if i.modality == "image"):
        captions = [by_path[p] for p in item.partners if p in by_path]
        if not captions:
            problems.append(Problem(item.path, 0, "no caption: add a .txt of the same name, or a pairs.jsonl line"))
        for caption in captions:
            try:
                text = caption.text if caption.file is None else caption.file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                problems.append(Problem(caption.path, 0, f"caption cannot be read ({e})"))
                continue
            text = (text or "").strip()[:MAX_TEXT_CHARS]
            if not text:
                problems.append(Problem(caption.path, 0, "empty caption"))
                continue
            pairs.append(Pair(image=item.path, text=text, label=caption.label or item.label))
    if not pairs:
        raise CorpusError(f"{root}: no image with a caption; a training folder holds images with a .txt of the same "
                          f"name, or a {PAIRS_FILE}")
    return Corpus(root=root, pairs=tuple(pairs), skipped=tuple(problems))


def with_replay(corpus: Corpus, replay: str | Path, seed: int = 0) -> Corpus:
    """The folder's pairs plus a replay sample: as many pairs of another corpus's ``train`` split
    (say the base model's own training corpus) as the folder has training pairs, drawn with
    ``seed``. They join the ``train`` split only, so the folder's val and test stay its own, and
    the other corpus's held-out pairs stay unseen.

    Raises:
        CorpusError: When the other corpus cannot be read or has no training pairs.
    """
    other = read_training_folder(replay)
    pool = [p for p in other.pairs if p.split == "train"]
    wanted = corpus.splits.get("train", 0)
    if not pool:
        raise CorpusError(f"{replay}: no training pair to replay (its splits: {', '.join(sorted(other.splits))})")
    picked = random.Random(seed).sample(pool, min(wanted, len(pool)))
    extra = tuple(replace(p, image=str(other.image_path(p)), concept=f"replay:{p.key}", split="train") for p in picked)
    return replace(corpus, pairs=corpus.pairs + extra)
