"""One relevance for every hit: cosines of different (query, item) modality pairs live on different scales.

A text query scores other texts higher than any image (texts share the text tower's space), so
a ranking by raw cosine puts every text first. The model folder records, for each (query
modality, item modality) pair, the mean and spread of the cosine between *related* items (the
same concept, never an item with itself) on validation splits (``Manifest.calibration``).

A hit's relevance is how many of its pair's spreads its cosine stands above a typical related
item, ``z = (cosine - mean) / std``, divided by the largest ``z`` any pair can reach (at cosine
1), so that every non-identical hit scores below 1. An identical item (cosine 1, within
:data:`IDENTICAL`) scores 1, whatever its modality. So:

- 1: the query itself, or an identical copy; it leads any weaker match;
- 0: as close as a typical true match of its kind; negative: less close.

The scale is linear in the cosine within a pair and never saturates, so a one-modality search
orders as the cosine does and a stronger hit always scores more. ``Hit.relevance`` carries it
(what orders, and what is shown); ``Hit.score`` stays the cosine. The choice is measured by
``benchmarks/research/mixed_ranking.py`` on the validation galleries.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

MODALITIES = ("image", "text")
PAIRS = tuple(f"{q}:{m}" for q in MODALITIES for m in MODALITIES)
"""The keys of a calibration: ``query modality:item modality``."""

MIN_STD = 0.05
"""Floor of a pair's spread: related texts are mostly the same text (cosine 1.0, spread near 0),
which would otherwise make every other text score minus infinity."""

IDENTICAL = 1.0 - 1e-4
"""A cosine at least this high is an identical item (the same file or text embedded again)."""


def check_calibration(calibration: Mapping[str, Sequence[float]]) -> dict[str, tuple[float, float]]:
    """A calibration normalised to ``{pair: (mean, std)}``, or a ValueError naming the bad entry."""
    out = {}
    for key, value in calibration.items():
        if key not in PAIRS:
            raise ValueError(f"calibration key {key!r}: choose among {', '.join(PAIRS)}")
        try:
            mean, std = (float(v) for v in value)
        except (TypeError, ValueError) as e:
            raise ValueError(f"calibration {key}={value!r}: give [mean, std]") from e
        if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
            raise ValueError(f"calibration {key}={value!r}: the mean must be finite and the std positive")
        out[key] = (mean, std)
    if out and set(out) != set(PAIRS):
        raise ValueError(f"calibration: give all of {', '.join(PAIRS)} (has {', '.join(sorted(out))})")
    return out


class Relevance:
    """The relevance of hits for one calibration (see the module docs); the cosine without one."""

    def __init__(self, calibration: Mapping[str, tuple[float, float]]) -> None:
        self._pairs = {key: (mean, max(std, MIN_STD)) for key, (mean, std) in calibration.items()}
        self._top = max(((1.0 - mean) / std for mean, std in self._pairs.values()), default=1.0)

    def __call__(self, cosine: np.ndarray | float, query: str, item: str) -> np.ndarray | float:
        """The relevance of cosines (a float or an array) of hits of modality ``item`` for a
        ``query`` of that modality."""
        pair = self._pairs.get(f"{query}:{item}")
        if pair is None:  # no calibration (or an item of no known modality): the cosine
            return cosine
        mean, std = pair
        c = np.asarray(cosine, dtype=np.float64)
        out = np.where(c >= IDENTICAL, 1.0, (c - mean) / std / self._top)
        return float(out) if out.ndim == 0 else out


def related_stats(queries: np.ndarray, items: np.ndarray, related: np.ndarray) -> tuple[float, float]:
    """Mean and std of the cosine between unit-vector queries ``[q, d]`` and items ``[n, d]`` over
    the related pairs (``related[q, n]`` True)."""
    scores = (queries @ items.T)[related]
    if scores.size < 2:
        raise ValueError("calibration needs at least two related (query, item) pairs")
    return float(scores.mean()), float(scores.std())


def pooled(stats: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Mean and std of an equal mixture of several (mean, std) measurements: each validation set
    (drawings, photographs) counts the same, whatever its size."""
    if not stats:
        raise ValueError("pooled: no measurements")
    means = np.array([m for m, _ in stats], dtype=np.float64)
    var = np.array([s * s for _, s in stats], dtype=np.float64)
    mean = float(means.mean())
    return mean, float(np.sqrt((var + (means - mean) ** 2).mean()))
