"""Builders of the training corpora from registry packages.

Each source is a :class:`Source`: the pinned packages it needs and a function that turns their
unpacked folders into corpus pairs, writing PNG images under the corpus folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ccl_embed.data.corpus import Pair
from ccl_embed.data.fetch import Package


@dataclass
class BuildLog:
    """What a source builder skipped and why, for the build report."""

    skipped: dict[str, int] | None = None

    def skip(self, reason: str) -> None:
        if self.skipped is None:
            self.skipped = {}
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


@dataclass(frozen=True)
class ImageJob:
    """How to produce one corpus image.

    Attributes:
        kind: ``raster`` (decode a raster file), ``svg_file`` or ``svg_markup`` (render an SVG).
        source: The file path, or the SVG markup.
        dest: The PNG path relative to the corpus folder.
    """

    kind: str
    source: str
    dest: str


BuildFn = Callable[[Mapping[str, Path], "SourceOptions", BuildLog], Iterator[tuple[Pair, ImageJob]]]


@dataclass(frozen=True)
class SourceOptions:
    """Options every builder takes.

    Attributes:
        limit: Keep at most this many concepts from the source (None: all), drawn deterministically.
        per_label: Keep at most this many concepts per label (None: all), to balance categories.
        seed: Seed of the deterministic draws.
        image_size: Longer side of the rendered PNGs.
    """

    limit: int | None = None
    per_label: int | None = None
    seed: int = 0
    image_size: int = 256


@dataclass(frozen=True)
class Source:
    """A corpus source: its packages (keyed by a short role name) and its builder."""

    name: str
    description: str
    packages: Mapping[str, Package]
    build: BuildFn


def registry() -> dict[str, Source]:
    """Every known source by name (imported lazily; building needs no import-time work)."""
    from ccl_embed.data.sources.emoji import EMOJI
    from ccl_embed.data.sources.icons import ICONS
    from ccl_embed.data.sources.openclipart import OPENCLIPART
    from ccl_embed.data.sources.photos import PHOTOS

    return {s.name: s for s in (EMOJI, OPENCLIPART, ICONS, PHOTOS)}
