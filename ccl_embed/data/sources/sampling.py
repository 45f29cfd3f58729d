"""Deterministic sampling of concepts, per label and overall."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from ccl_embed.data.sources import SourceOptions


def _rank(seed: int, key: str) -> bytes:
    return hashlib.sha256(f"{seed}\x01{key}".encode()).digest()


def take(by_label: Mapping[str, Sequence[str]], options: SourceOptions) -> set[str]:
    """Keep at most ``options.per_label`` keys per label, then at most ``options.limit`` overall.

    The draw ranks keys by a salted hash, so it does not depend on input order.
    """
    kept: list[str] = []
    for keys in by_label.values():
        ranked = sorted(set(keys), key=lambda k: _rank(options.seed, k))
        kept.extend(ranked[: options.per_label] if options.per_label else ranked)
    if options.limit is not None:
        kept = sorted(kept, key=lambda k: _rank(options.seed, k))[: options.limit]
    return set(kept)
