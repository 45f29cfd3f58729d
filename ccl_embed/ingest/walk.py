"""Finding what to ingest under a folder: images, texts, the pairs between them, labels from ``pairs.jsonl``.

Rules (documented in docs/ingest.md):
- images: png, jpg, jpeg, webp, gif, bmp, tif, tiff, and svg/svgz (rendered when resvg-py is installed);
- texts: ``.txt`` and ``.md`` files, one item each;
- an image and a ``.txt`` of the same stem in the same folder are a pair;
- a ``pairs.jsonl`` (the corpus format) adds one text item per line, paired with its image, and
  gives that image its label;
- hidden files and folders (a leading ``.``) and other file types are ignored, and counted;
- symbolic links are followed, loops are reported once and not entered.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ccl_embed.data.corpus import PAIRS_FILE, read_corpus
from ccl_embed.runtime.images import IMAGE_SUFFIXES, SVG_SUFFIXES
from ccl_embed.errors import CorpusError

TEXT_SUFFIXES = (".txt", ".md")


@dataclass(frozen=True)
class Skipped:
    """An input that was not ingested, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class Item:
    """One thing to embed.

    Attributes:
        modality: ``image`` or ``text``.
        path: Where it came from, relative to the ingested root, POSIX style; a text from
            ``pairs.jsonl`` is ``DIR/pairs.jsonl:LINE``.
        file: The file to read, or None for a text given inline (``text``).
        text: The inline text of a ``pairs.jsonl`` line.
        label: The category, when ``pairs.jsonl`` gives one.
        partners: The paths of the items paired with it.
    """

    modality: str
    path: str
    file: Path | None = None
    text: str | None = None
    label: str | None = None
    partners: list[str] = field(default_factory=list)


@dataclass
class Found:
    """The result of a walk: items in a stable order, inputs skipped, files ignored."""

    items: list[Item]
    skipped: list[Skipped]
    ignored: int


def _rel(root: Path, path: Path) -> str:
    return PurePosixPath(*path.relative_to(root).parts).as_posix()


def _files(root: Path, skipped: list[Skipped], exclude: set[str]) -> Iterator[Path]:
    """Every visible file under root, sorted, following links without looping."""
    seen: set[str] = set()
    for top, dirs, files in os.walk(root, followlinks=True, onerror=lambda e: skipped.append(
            Skipped(_rel(root, Path(e.filename)) if e.filename else ".", f"folder cannot be read ({e.strerror})"))):
        real = os.path.realpath(top)
        if real in seen or real in exclude:
            if real in seen:
                skipped.append(Skipped(_rel(root, Path(top)), "symbolic link loop (already walked); not entered"))
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(top) / name


def find_items(root: str | os.PathLike[str], exclude: tuple[str | os.PathLike[str], ...] = ()) -> Found:
    """Walk ``root`` and list what to ingest (nothing is read but ``pairs.jsonl`` files).

    Args:
        root: The folder to ingest.
        exclude: Folders never to enter (the embedded store, when it lies inside root).

    Raises:
        CorpusError: When root is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"{root}: not a folder; pass the folder of images and texts to ingest")
    skipped: list[Skipped] = []
    items: dict[str, Item] = {}
    ignored = 0
    jsonl: list[Path] = []
    for path in _files(root, skipped, {os.path.realpath(e) for e in exclude}):
        rel = _rel(root, path)
        suffix = path.suffix.lower()
        if path.name == PAIRS_FILE:
            jsonl.append(path)
            continue
        if suffix not in IMAGE_SUFFIXES + SVG_SUFFIXES + TEXT_SUFFIXES:
            ignored += 1
            continue
        if not path.is_file():  # broken link, link loop, socket...
            reason = "broken or looping symbolic link" if path.is_symlink() else "not a regular file"
            skipped.append(Skipped(rel, reason))
            continue
        items[rel] = Item("text" if suffix in TEXT_SUFFIXES else "image", rel, file=path)
    _pair_by_stem(items)
    extra = [t for j in jsonl for t in _from_pairs_file(root, j, items, skipped)]
    return Found(list(items.values()) + extra, skipped, ignored)


def _pair_by_stem(items: dict[str, Item]) -> None:
    texts = {str(PurePosixPath(rel).with_suffix("")): t for rel, t in items.items()
             if t.modality == "text" and rel.lower().endswith(".txt")}
    for rel, item in items.items():
        if item.modality == "image":
            text = texts.get(str(PurePosixPath(rel).with_suffix("")))
            if text is not None:
                item.partners.append(text.path)
                text.partners.append(item.path)


def _from_pairs_file(root: Path, path: Path, items: dict[str, Item], skipped: list[Skipped]) -> list[Item]:
    rel_file = _rel(root, path)
    folder = PurePosixPath(rel_file).parent
    try:
        corpus = read_corpus(path.parent, check_files=False)
    except CorpusError as e:
        skipped.append(Skipped(rel_file, str(e).split(": ", 1)[-1]))
        return []
    skipped.extend(Skipped(f"{rel_file}:{p.line}", p.reason) for p in corpus.skipped)
    out = []
    for pair in corpus.pairs:
        image_rel = (folder / pair.image).as_posix() if folder.as_posix() != "." else pair.image
        image = items.get(image_rel)
        where = f"{rel_file}:{pair.line}"
        if image is None or image.modality != "image":
            skipped.append(Skipped(where, f"image {pair.image!r} is not among the images found"))
            continue
        text = Item("text", where, text=pair.text, label=pair.label, partners=[image.path])
        image.partners.append(where)
        if image.label is None:
            image.label = pair.label
        out.append(text)
    return out
