"""Open Clip Art Library (Debian ``openclipart-svg``, public domain) with cleaned metadata.

Text: the work's title and keywords from the SVG's RDF metadata. Label: the top-level folder
(``animals``, ``food``, ``transportation``...). The metadata is noisy; cleaning:

- only the ``cc:Work`` title and ``dc:subject`` keywords are read, never the titles of the
  author, publisher or licence agents;
- keywords naming the author, the folder-less bucket ``unsorted``, or generic words of the
  archive itself (``clip art``, ``svg``, ``public domain``, ``openclipart``...) are dropped, as are
  numbers, single characters and duplicates;
- file-name suffixes (``_01``, ``_02``) mark variants of one work: they share a concept, so a
  work never straddles a split; byte-identical files are kept once;
- works left with no descriptive text, and the ``unsorted`` and ``special`` folders (no usable
  category), are skipped and counted in the build report.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from pathlib import Path

from ccl_embed.data.corpus import Pair
from ccl_embed.data.fetch import Package
from ccl_embed.data.sources import BuildLog, ImageJob, Source, SourceOptions
from ccl_embed.data.sources.sampling import take

PACKAGES = {
    "svg": Package("debian", "openclipart-svg", "1:0.18+dfsg-19", "CC0-1.0", "https://openclipart.org (public domain dedication)", "clip-art images with titles and keywords"),
}

SKIPPED_FOLDERS = frozenset({"unsorted", "special"})
GENERIC_WORDS = frozenset({
    "clip art", "clipart", "clip-art", "openclipart", "open clip art", "open clip art library", "svg", "png",
    "image", "images", "media", "public domain", "publicdomain", "unsorted", "remix", "drawing", "draw",
    "icon", "icons", "inkscape", "vector", "illustration", "picture", "graphic", "graphics", "art",
    "externalsource", "ocal", "symbol", "color", "colour", "black and white", "line art", "lineart",
    "untitled", "new", "other", "misc", "stuff", "test",
})
NS = {
    "cc": "http://web.resource.org/cc/",
    "cc2": "http://creativecommons.org/ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
}
_VARIANT = re.compile(r"_\d+$")
_MAX_BYTES = 2_000_000


_DATED = re.compile(r"\([^)]*\d[^)]*\)")
_BOILERPLATE_TITLE = re.compile(r"^(part of|clip ?art by|created by|drawn by|made by)\b")


def _clean(text: str) -> str:
    text = _DATED.sub(" ", text.replace("_", " ").replace("-", " "))
    return " ".join(text.split()).strip(" .,;:").lower()


def read_metadata(path: Path) -> tuple[str, list[str], set[str]] | None:
    """(title, keywords, agent names) from an SVG's RDF metadata, or None when it has none."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return None
    work = root.find(".//cc:Work", NS) or root.find(".//cc2:Work", NS)
    if work is None:
        return None
    title_el = work.find("dc:title", NS)
    title = _clean(title_el.text or "") if title_el is not None else ""
    keywords = [_clean(li.text or "") for li in work.findall("dc:subject//rdf:li", NS)]
    agents = {_clean(t.text or "") for t in work.findall(".//cc:Agent/dc:title", NS) + work.findall(".//cc2:Agent/dc:title", NS)}
    return title, keywords, agents


def clip_text(title: str, keywords: list[str], agents: set[str], folder_words: set[str]) -> str | None:
    """The cleaned text of a work, or None when nothing descriptive is left."""
    def useful(word: str) -> bool:
        return (len(word) > 1 and not word.isdigit() and word not in GENERIC_WORDS
                and word not in agents and word not in folder_words - {title})
    kept: list[str] = []
    for k in keywords:
        if useful(k) and k != title and k not in kept:
            kept.append(k)
    if not useful(title) or _BOILERPLATE_TITLE.match(title):
        title = ""
    if not title and not kept:
        return None
    if not title:
        return ", ".join(kept)
    return f"{title}. {', '.join(kept)}" if kept else title


def build(dirs: Mapping[str, Path], options: SourceOptions, log: BuildLog) -> Iterator[tuple[Pair, ImageJob]]:
    """Pairs (one per work, variants merged into one concept) and the jobs that render them."""
    root = dirs["svg"] / "usr" / "share" / "openclipart" / "svg"
    by_label: dict[str, list[str]] = {}
    works: dict[str, tuple[Path, str, str]] = {}
    seen_hashes: set[str] = set()
    for svg in sorted(root.rglob("*.svg")):
        rel = svg.relative_to(root)
        label = rel.parts[0]
        if label in SKIPPED_FOLDERS or len(rel.parts) < 2:
            log.skip(f"folder {label!r} has no usable category")
            continue
        if svg.stat().st_size > _MAX_BYTES:
            log.skip("SVG over 2 MB")
            continue
        digest = hashlib.sha256(svg.read_bytes()).hexdigest()
        if digest in seen_hashes:
            log.skip("byte-identical duplicate")
            continue
        seen_hashes.add(digest)
        meta = read_metadata(svg)
        if meta is None:
            log.skip("no RDF metadata")
            continue
        text = clip_text(*meta, folder_words={_clean(p) for p in rel.parts[:-1]} | {"unsorted"})
        if text is None:
            log.skip("no descriptive title or keyword")
            continue
        key = str(rel.with_suffix(""))
        works[key] = (svg, text, _VARIANT.sub("", key))
        by_label.setdefault(label, []).append(key)
    chosen = take(by_label, options)
    for key in sorted(chosen):
        svg, text, concept = works[key]
        dest = f"images/openclipart/{key}.png"
        label = Path(key).parts[0]
        yield Pair(image=dest, text=text, label=label, concept=f"openclipart:{concept}", style="openclipart"), ImageJob("svg_file", str(svg), dest)


OPENCLIPART = Source(
    name="openclipart",
    description="Open Clip Art Library SVGs (public domain) with cleaned titles and keywords, folders as categories",
    packages=PACKAGES,
    build=build,
)
