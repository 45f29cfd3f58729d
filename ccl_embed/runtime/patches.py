"""The fine-grained patch schemes, owned by the runtime and shared with training and export.

Images: regions pooled from the backbone's final 7x7 feature map (one backbone pass gives the
whole-image instance vector and every region). The scheme is a training choice
(``CCLConfig.image_regions``, one of :data:`REGION_SCHEMES`), and the model folder's manifest
records its regions. The default, ``quadrants``, has five: the four overlapping 4x4 quadrants and
the 3x3 centre. ``grid`` has nine cells that do not overlap, nearer the paper's separate regions,
and ``quadrants+grid`` both scales. Pooling regions from the feature map costs a few
microseconds; cropping and re-encoding each region would cost a full backbone pass per region.

Texts: fragments. A text is cut into sentences and clauses (``. ; : ! ?`` and line breaks);
keyword lists (comma-separated) are cut into their phrases. The first ``MAX_FRAGMENTS`` are kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

FEATURE_GRID = 7
"""The side of the backbone's final feature map at 224 px input."""

IMAGE_REGIONS: tuple[tuple[int, int, int, int], ...] = (
    (0, 4, 0, 4),  # top-left quadrant: rows 0-3, columns 0-3
    (0, 4, 3, 7),  # top-right
    (3, 7, 0, 4),  # bottom-left
    (3, 7, 3, 7),  # bottom-right
    (2, 5, 2, 5),  # centre 3x3
)
"""Regions as (row_start, row_stop, col_start, col_stop) on the 7x7 grid, stops exclusive."""

_BANDS = ((0, 2), (2, 5), (5, 7))
GRID_REGIONS: tuple[tuple[int, int, int, int], ...] = tuple((r0, r1, c0, c1) for r0, r1 in _BANDS for c0, c1 in _BANDS)
"""Nine cells that do not overlap: the 7x7 grid cut into row and column bands of 2, 3 and 2."""

REGION_SCHEMES: dict[str, tuple[tuple[int, int, int, int], ...]] = {
    "quadrants": IMAGE_REGIONS,
    "grid": GRID_REGIONS,
    "quadrants+grid": IMAGE_REGIONS + GRID_REGIONS,
}
"""The image region schemes a model can be trained with, by name."""


def image_regions(scheme: str) -> tuple[tuple[int, int, int, int], ...]:
    """The regions of a scheme of :data:`REGION_SCHEMES`.

    Raises:
        ValueError: For an unknown scheme, naming the known ones.
    """
    if scheme not in REGION_SCHEMES:
        raise ValueError(f"image_regions={scheme!r}: choose one of {', '.join(REGION_SCHEMES)}")
    return REGION_SCHEMES[scheme]

MAX_FRAGMENTS = 8
"""At most this many text fragments are kept per text."""

_CLAUSE = re.compile(r"[.;:!?\n]+")
_WORDS = re.compile(r"\w", re.UNICODE)


def text_fragments(text: str, max_fragments: int = MAX_FRAGMENTS) -> list[str]:
    """Cut a text into its fragments (sentences, clauses, or the phrases of a keyword list).

    Args:
        text: The text.
        max_fragments: How many fragments to keep at most.

    Returns:
        The fragments in order, without duplicates; the whole text when it has no cut.
    """
    out: list[str] = []
    seen: set[str] = set()
    for clause in _CLAUSE.split(text):
        parts = clause.split(",") if clause.count(",") >= 2 else [clause]
        for part in parts:
            frag = " ".join(part.split())
            key = frag.lower()
            if frag and _WORDS.search(frag) and key not in seen:
                seen.add(key)
                out.append(frag)
                if len(out) == max_fragments:
                    return out
    return out or [" ".join(text.split())]


def pack_fragments(fragments: Sequence[Sequence[str]], vector: Callable[[str], np.ndarray], dim: int,
                   max_fragments: int = MAX_FRAGMENTS) -> tuple[np.ndarray, np.ndarray]:
    """The text head's ``fragments [n, max_fragments, dim]`` and ``fragment_mask [n, max_fragments]``.

    Args:
        fragments: Each text's fragments (from :func:`text_fragments`).
        vector: The backbone vector of one fragment.
        dim: The backbone's width.
        max_fragments: The head's fragment slots; extra fragments are dropped.
    """
    out = np.zeros((len(fragments), max_fragments, dim), dtype=np.float32)
    mask = np.zeros((len(fragments), max_fragments), dtype=np.float32)
    for i, frags in enumerate(fragments):
        for j, frag in enumerate(frags[:max_fragments]):
            out[i, j] = vector(frag)
            mask[i, j] = 1.0
    return out, mask


@dataclass(frozen=True)
class Patches:
    """The patch schemes a model was trained with; recorded in every model folder's manifest.

    Attributes:
        image_regions: Regions of the backbone's feature map, as in :data:`IMAGE_REGIONS`
            (they are pooled inside the exported image head).
        feature_grid: The side of the feature map they index.
        max_fragments: The text head's fragment slots (see :func:`text_fragments`).
    """

    image_regions: tuple[tuple[int, int, int, int], ...] = IMAGE_REGIONS
    feature_grid: int = FEATURE_GRID
    max_fragments: int = MAX_FRAGMENTS

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_regions", tuple(tuple(int(v) for v in r) for r in self.image_regions))
        for r in self.image_regions:
            if len(r) != 4 or not (0 <= r[0] < r[1] <= self.feature_grid and 0 <= r[2] < r[3] <= self.feature_grid):
                raise ValueError(f"patches.image_regions: {list(r)} is not (row_start, row_stop, col_start, col_stop) "
                                 f"inside a {self.feature_grid}x{self.feature_grid} grid")
        if not isinstance(self.max_fragments, int) or self.max_fragments < 1:
            raise ValueError(f"patches.max_fragments={self.max_fragments!r}: give a positive whole number")
