"""The corpus format: a folder of files plus ``pairs.jsonl``.

Each line of ``pairs.jsonl`` is one image-text pair::

    {"image": "img/cat.png", "text": "a cat on a sofa", "label": "animals"}

``image`` (a path relative to the folder) and ``text`` are required; ``label`` is optional.
The corpus builders also write ``concept`` (the pair's identity: pairs sharing a concept show
the same thing, so they never straddle a split), ``style`` (the art style) and ``split``.
Users' own corpora may leave all of these out.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePosixPath

from ccl_embed.errors import CorpusError

PAIRS_FILE = "pairs.jsonl"
MAX_TEXT_CHARS = 4096
"""Longer texts are cut to this many characters when read (and reported as cut)."""

_KNOWN_KEYS = ("image", "text", "label", "concept", "style", "split")


@dataclass(frozen=True)
class Pair:
    """One image-text pair of a corpus.

    Attributes:
        image: The image path relative to the corpus root, POSIX style.
        text: The text describing the image.
        label: The category, if known (used for category relevance in evaluation).
        concept: What the pair shows; pairs with the same concept are the same instance.
        style: The art style or source of the image, if known.
        split: ``train``, ``val``, ``test`` or ``style`` when the builder assigned one.
        line: The 1-based line of ``pairs.jsonl`` it came from (0 when built in memory).
    """

    image: str
    text: str
    label: str | None = None
    concept: str | None = None
    style: str | None = None
    split: str | None = None
    line: int = 0

    @property
    def key(self) -> str:
        """The instance identity: the concept when given, else the text itself."""
        return self.concept if self.concept is not None else self.text

    def to_json(self) -> str:
        """One ``pairs.jsonl`` line (without the newline); empty optional fields are left out."""
        record = {k: v for k, v in asdict(self).items() if k != "line" and v is not None}
        return json.dumps(record, ensure_ascii=False, sort_keys=False)


@dataclass(frozen=True)
class Problem:
    """A line of ``pairs.jsonl`` that was skipped, and why."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class Corpus:
    """A validated corpus: its root folder, its pairs and the lines that were skipped."""

    root: Path
    pairs: tuple[Pair, ...]
    skipped: tuple[Problem, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.pairs)

    def image_path(self, pair: Pair) -> Path:
        """The absolute path of a pair's image."""
        return self.root / pair.image

    @property
    def splits(self) -> dict[str, int]:
        """How many pairs each split has (``None`` counted as ``"unsplit"``)."""
        counts: dict[str, int] = {}
        for p in self.pairs:
            counts[p.split or "unsplit"] = counts.get(p.split or "unsplit", 0) + 1
        return counts

    def split(self, name: str) -> Corpus:
        """The pairs of one split.

        Raises:
            CorpusError: When the corpus has no pair in that split.
        """
        pairs = tuple(p for p in self.pairs if p.split == name)
        if not pairs:
            have = ", ".join(sorted(self.splits)) or "none"
            raise CorpusError(
                f"{self.root / PAIRS_FILE}: no pair is in split {name!r} (splits here: {have}); "
                "build the corpus with `ccl-embed data build` or add a \"split\" field to each line"
            )
        return replace(self, pairs=pairs)


def _problem(path: Path, line: int, reason: str, strict: bool, out: list[Problem]) -> None:
    problem = Problem(str(path), line, reason)
    if strict:
        raise CorpusError(str(problem))
    out.append(problem)


def _parse_line(raw: str, path: Path, lineno: int) -> Pair | str:
    """A Pair, or the reason the line is unusable."""
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as e:
        return f"not valid JSON ({e.msg} at column {e.colno})"
    if not isinstance(record, dict):
        return f"expected a JSON object, got {type(record).__name__}"
    for key in ("image", "text"):
        if key not in record:
            return f"missing required key {key!r} (a line needs \"image\" and \"text\")"
    for key in _KNOWN_KEYS:
        value = record.get(key)
        if value is not None and not isinstance(value, str):
            return f"{key!r} must be a string, got {type(value).__name__} {value!r}"
    text = record["text"].strip()
    if not text:
        return "empty text"
    image = record["image"]
    rel = PurePosixPath(image.replace("\\", "/"))
    if not image or rel.is_absolute() or ".." in rel.parts:
        return f"image path {image!r} must be relative to the corpus folder and stay inside it"
    return Pair(
        image=str(rel),
        text=text[:MAX_TEXT_CHARS],
        label=record.get("label") or None,
        concept=record.get("concept") or None,
        style=record.get("style") or None,
        split=record.get("split") or None,
        line=lineno,
    )


def read_corpus(root: str | os.PathLike[str], *, strict: bool = False, check_files: bool = True) -> Corpus:
    """Read and validate a corpus folder.

    Args:
        root: The folder holding ``pairs.jsonl`` and the images.
        strict: Raise on the first bad line instead of skipping it and reporting it.
        check_files: Check that every image exists, is a readable file and is not empty.

    Returns:
        The corpus; ``corpus.skipped`` lists every skipped line with file, line and reason.

    Raises:
        CorpusError: When the folder or ``pairs.jsonl`` is missing or unreadable, when no
            usable pair is left, or (with ``strict``) on the first bad line.
    """
    root = Path(root)
    path = root / PAIRS_FILE
    if not root.is_dir():
        raise CorpusError(f"{root}: not a folder; a corpus is a folder with {PAIRS_FILE} and its images")
    if not path.is_file():
        raise CorpusError(
            f"{path}: not found; a corpus folder needs a {PAIRS_FILE} with one "
            '{"image": ..., "text": ...} object per line'
        )
    pairs: list[Pair] = []
    problems: list[Problem] = []
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CorpusError(f"{path}: cannot be read ({e.strerror})") from e
    for lineno, raw_bytes in enumerate(data.splitlines(), start=1):
        try:
            raw = raw_bytes.decode("utf-8")
        except UnicodeDecodeError:
            _problem(path, lineno, "not UTF-8 text", strict, problems)
            continue
        if not raw.strip():
            continue
        parsed = _parse_line(raw, path, lineno)
        if isinstance(parsed, str):
            _problem(path, lineno, parsed, strict, problems)
            continue
        if check_files:
            reason = _check_image(root / parsed.image, parsed.image)
            if reason:
                _problem(path, lineno, reason, strict, problems)
                continue
        pairs.append(parsed)
    if not pairs:
        detail = f"; first problem: {problems[0]}" if problems else ""
        raise CorpusError(f"{path}: no usable pair{detail}")
    return Corpus(root=root, pairs=tuple(pairs), skipped=tuple(problems))


def _check_image(path: Path, rel: str) -> str | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return f"image {rel!r} not found"
    except OSError as e:
        return f"image {rel!r} cannot be read ({e.strerror})"
    if not path.is_file():
        return f"image {rel!r} is not a file"
    if st.st_size == 0:
        return f"image {rel!r} is empty (0 bytes)"
    if not os.access(path, os.R_OK):
        return f"image {rel!r} is not readable (permissions)"
    return None


def write_pairs(root: str | os.PathLike[str], pairs: Iterable[Pair]) -> Path:
    """Write ``pairs.jsonl`` atomically (a temporary file, then a rename)."""
    path = Path(root) / PAIRS_FILE
    tmp = path.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for p in pairs:
            f.write(p.to_json() + "\n")
    tmp.replace(path)
    return path

