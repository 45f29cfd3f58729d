"""Finding what to ingest under a folder: images, texts, the pairs between them, labels from ``pairs.jsonl``.

Rules (documented in docs/ingest.md):
- images: png, jpg, jpeg, webp, gif, bmp, tif, tiff, and svg/svgz (rendered when resvg-py is installed);
- texts: ``.txt`` and ``.md`` files, one item each;
- an image and a ``.txt`` of the same stem in the same folder are a pair;
- a ``pairs.jsonl`` (the corpus format) adds one text item per line, paired with its image, and
  gives that image its label;
- hidden files and folders (a leading ``.``) and other file types are ignored, and counted;
- a symbolic link is followed only when its target lies inside the ingested root (or, with
  ``follow_links_outside``, anywhere); loops are reported once and not entered;
- special files (devices, FIFOs, sockets) and anything under /proc, /sys or /dev are never read,
  whatever the links say.
Each refusal is one :class:`Skipped` reason.
"""

from __future__ import annotations

import base64
import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

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
    path_bytes: str | None = None
    """The name's bytes (base64) when they are not UTF-8: ``path`` is then their printable form
    (each bad byte ``\\xNN``), and these bytes find the file again."""
    identity: tuple[int, int] | None = None
    """The file's (device, inode) at the walk: a later read opens only that file (:func:`open_walked`)."""


def shown_path(rel: str) -> tuple[str, str | None]:
    """A relative path as stored and printed, and its bytes (base64) when it is not UTF-8: a name
    from an old archive (Latin-1, random bytes) becomes valid text, each bad byte ``\\xNN``."""
    raw = rel.encode("utf-8", "surrogateescape")
    shown = raw.decode("utf-8", "backslashreplace")
    return (shown, None) if shown == rel else (shown, base64.b64encode(raw).decode("ascii"))


def stored_name(shown: str, path_bytes: str | None) -> str:
    """The relative path of a stored item as the file system names it (the inverse of :func:`shown_path`).

    Raises:
        ValueError: When ``path_bytes`` is not base64.
    """
    return shown if path_bytes is None else os.fsdecode(base64.b64decode(path_bytes, validate=True))


def open_nofollow(path: str | os.PathLike[str], identity: tuple[int, int] | None = None) -> BinaryIO:
    """Open a file for reading bytes, never through a symbolic link at its place (``O_NOFOLLOW``),
    and, given ``identity`` (device, inode), only when it is still that file.

    Raises:
        OSError: When it cannot be opened, or is a link or another file now (the message says which).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "replaced by a symbolic link after the walk; not followed") from e
        raise
    st = os.fstat(fd)
    if identity is not None and (st.st_dev, st.st_ino) != identity:
        os.close(fd)
        raise OSError(errno.ESTALE, "replaced by another file after the walk; not read")
    return os.fdopen(fd, "rb")


def open_walked(item: Item) -> BinaryIO:
    """Open an item's file as the walk found it (see :func:`open_nofollow`).

    Raises:
        OSError: When it cannot be opened, or is no longer the file the walk found.
    """
    assert item.file is not None
    return open_nofollow(item.file, item.identity)


@dataclass
class Found:
    """The result of a walk: items in a stable order, inputs skipped, files ignored, and warnings
    about inputs taken not wholly as given."""

    items: list[Item]
    skipped: list[Skipped]
    ignored: int
    warnings: list[Skipped] = field(default_factory=list)


def reason_of(error: Exception, *paths: object) -> str:
    """An error's message without the path it starts with (the summary names the item already);
    compared whole, so a ``": "`` inside a file name never cuts the reason."""
    message = str(error)
    for path in paths:
        prefix = f"{path}: "
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


def _rel(root: Path, path: Path) -> str:
    return PurePosixPath(*path.relative_to(root).parts).as_posix()


SYSTEM_TREES = ("/proc", "/sys", "/dev")
"""Trees of the kernel's own files: never read, even through a link the user allowed."""

_KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISSOCK, "a socket"))


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _refusal(real: str, root: str, follow_outside: bool, linked: bool) -> str | None:
    """Why the (resolved) path ``real`` is not walked, or None when it may be."""
    if any(_inside(real, t) and not _inside(root, t) for t in SYSTEM_TREES):
        return "a system file (under /proc, /sys or /dev); never read"
    if linked and not follow_outside and not _inside(real, root):
        return "symbolic link to outside the ingested folder; not followed (--follow-links-outside follows it)"
    return None


def _files(root: Path, skipped: list[Skipped], exclude: set[str],
           follow_outside: bool) -> Iterator[tuple[Path, Path, os.stat_result]]:
    """Every visible regular file under root, sorted, following allowed links without looping:
    its path under root, the file it is (a link resolved) and its status."""
    real_root = os.path.realpath(root)
    seen: set[str] = set()

    def refuse(path: Path, reason: str) -> None:
        skipped.append(Skipped(shown_path(_rel(root, path))[0], reason))

    def walk(folder: Path, real: str) -> Iterator[tuple[Path, Path, os.stat_result]]:
        if real in seen:
            refuse(folder, "symbolic link loop (already walked); not entered")
            return
        seen.add(real)
        try:
            with os.scandir(folder) as it:
                entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
        except OSError as e:
            refuse(folder, f"folder cannot be read ({e.strerror})")
            return
        for entry in entries:
            path = Path(entry.path)
            linked = entry.is_symlink()
            target = os.path.realpath(path) if linked else os.path.join(real, entry.name)
            if target in exclude:
                continue
            reason = _refusal(target, real_root, follow_outside, linked)
            if reason is not None:
                refuse(path, reason)
                continue
            try:
                st = os.stat(path)
            except OSError:
                refuse(path, "broken or looping symbolic link" if linked else "vanished during the walk")
                continue
            if stat.S_ISDIR(st.st_mode):
                yield from walk(path, target)
            elif stat.S_ISREG(st.st_mode):
                yield path, Path(target), st
            else:
                kind = next((k for test, k in _KINDS if test(st.st_mode)), "not a regular file")
                refuse(path, f"{kind}; special files are never read")

    yield from walk(root, real_root)


def find_items(root: str | os.PathLike[str], exclude: tuple[str | os.PathLike[str], ...] = (), *,
               follow_links_outside: bool = False) -> Found:
    """Walk ``root`` and list what to ingest (nothing is read but ``pairs.jsonl`` files).

    Args:
        root: The folder to ingest.
        exclude: Folders never to enter (the embedded store, when it lies inside root).
        follow_links_outside: Follow symbolic links whose target is outside ``root`` (never into
            /proc, /sys or /dev).

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
    for path, real, st in _files(root, skipped, {os.path.realpath(e) for e in exclude}, follow_links_outside):
        rel, path_bytes = shown_path(_rel(root, path))
        suffix = path.suffix.lower()
        if path.name == PAIRS_FILE:
            jsonl.append(path)
            continue
        if suffix not in IMAGE_SUFFIXES + SVG_SUFFIXES + TEXT_SUFFIXES:
            ignored += 1
            continue
        items[rel] = Item("text" if suffix in TEXT_SUFFIXES else "image", rel, file=real, path_bytes=path_bytes,
                          identity=(st.st_dev, st.st_ino))
    _pair_by_stem(items)
    warnings: list[Skipped] = []
    extra = [t for j in jsonl for t in _from_pairs_file(root, j, items, skipped, warnings)]
    return Found(list(items.values()) + extra, skipped, ignored, warnings)


def _pair_by_stem(items: dict[str, Item]) -> None:
    texts = {str(PurePosixPath(rel).with_suffix("")): t for rel, t in items.items()
             if t.modality == "text" and rel.lower().endswith(".txt")}
    for rel, item in items.items():
        if item.modality == "image":
            text = texts.get(str(PurePosixPath(rel).with_suffix("")))
            if text is not None:
                item.partners.append(text.path)
                text.partners.append(item.path)


def _from_pairs_file(root: Path, path: Path, items: dict[str, Item], skipped: list[Skipped],
                     warnings: list[Skipped]) -> list[Item]:
    rel_file = shown_path(_rel(root, path))[0]
    folder = PurePosixPath(rel_file).parent
    try:
        corpus = read_corpus(path.parent, check_files=False)
    except CorpusError as e:
        skipped.append(Skipped(rel_file, reason_of(e, path, path.parent)))
        return []
    skipped.extend(Skipped(f"{rel_file}:{p.line}", p.reason) for p in corpus.skipped)
    out = []
    labelled_at: dict[str, str] = {}
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
            image.label, labelled_at[image.path] = pair.label, where
        elif pair.label is not None and pair.label != image.label:
            warnings.append(Skipped(where, f"label {pair.label!r} not given to {image.path}: it keeps label "
                                           f"{image.label!r} from {labelled_at.get(image.path, 'an earlier line')} "
                                           "(an image has one label; this line's text keeps its own)"))
        out.append(text)
    return out
