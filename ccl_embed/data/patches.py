"""The fine-grained patch schemes, shared by training and the runtime.

Images: regions pooled from the backbone's final 7x7 feature map (one backbone pass gives the
whole-image instance vector and every region). Five regions: the four overlapping 4x4
quadrants and the 3x3 centre. Pooling regions from the feature map costs a few microseconds;
cropping and re-encoding each region costs a full backbone pass per region.

Texts: fragments. A text is cut into sentences and clauses (``. ; : ! ?`` and line breaks);
keyword lists (comma-separated) are cut into their phrases. The first ``MAX_FRAGMENTS`` are kept.
"""

from __future__ import annotations

import re

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
