"""Cutting a stream into batches, keeping each item's position (shared by the runtime and training)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[list[tuple[int, T]]]:
    """``(position, item)`` lists of at most ``size`` items, in order; works on any iterable, lazily.

    Raises:
        ValueError: When ``size`` is not positive.
    """
    if size < 1:
        raise ValueError(f"batch size {size!r}: give a positive number")
    batch: list[tuple[int, T]] = []
    for i, item in enumerate(items):
        batch.append((i, item))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
