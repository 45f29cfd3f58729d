"""Mixed-modality ranking: cosines of different (query, item) modality pairs live on different scales.

A text query scores other texts higher than any image (texts share the text tower's space), so a
ranking by raw cosine puts every text first. The model folder records, for each (query modality,
item modality) pair, the mean and spread of the cosine between *related* items (the same concept)
on a validation split (``Manifest.calibration``). A mixed search ranks each hit by how typical its
cosine is of a true match of that pair: ``log Phi((cosine - mean) / std)``, the log-probability
that a match scores at most this much. It is monotone in the cosine within a pair, so a one-modality
search orders exactly as before; ``Hit.score`` stays the cosine.
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


def log_phi(z: float) -> float:
    """``log Phi(z)`` of the standard normal, finite far into the lower tail."""
    if z > 0.0:  # 1 - upper tail, kept apart from 0 as long as the tail is representable
        return math.log1p(-0.5 * math.erfc(z / math.sqrt(2.0)))
    if z > -5.0:
        return math.log(0.5 * math.erfc(-z / math.sqrt(2.0)))
    # Mills-ratio expansion: Phi(z) ~ phi(z) / -z * (1 - 1/z^2 + 3/z^4)
    return -0.5 * z * z - math.log(-z) - 0.5 * math.log(2.0 * math.pi) + math.log1p(-1.0 / (z * z) + 3.0 / z**4)


def rank_score(cosine: float, query: str, item: str, calibration: Mapping[str, tuple[float, float]]) -> float:
    """What orders a mixed search (see the module docs); the cosine itself without a calibration."""
    if not calibration:
        return cosine
    mean, std = calibration[f"{query}:{item}"]
    return log_phi((cosine - mean) / max(std, MIN_STD))


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
