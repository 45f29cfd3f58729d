"""Cutting a stream into batches, keeping each item's position (shared by the runtime and training),
and loading a stream of batches on a pool of threads while the caller works on the one before."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
B = TypeVar("B", bound=Sequence[Any])
R = TypeVar("R")


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


def _attempt(load: Callable[[T], R], item: T) -> R | Exception:
    try:
        return load(item)
    except Exception as e:  # handed to the caller in the item's place
        return e


def loaded_ahead(batches: Iterable[B], load: Callable[[T], R], workers: int) -> Iterator[tuple[B, list[R | Exception]]]:
    """Each batch with its items loaded by ``load``, in order: an item whose load raised holds the
    exception instead, so one bad item never costs its batch.

    With ``workers`` above 1 the items load on a pool of that many threads (decoding and resizing
    release the GIL), and the next batch loads while the caller works on this one, so decoding
    overlaps inference; at most two batches are loaded at a time. With 1, each item loads in the
    caller's thread when its batch is reached. The results are the same either way.
    """
    if workers <= 1:
        for batch in batches:
            yield batch, [_attempt(load, item) for item in batch]
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix="ccl-embed-load")
    try:
        waiting: tuple[B, list[Future[R | Exception]]] | None = None
        for batch in batches:
            started = (batch, [pool.submit(_attempt, load, item) for item in batch])
            if waiting is not None:
                yield waiting[0], [f.result() for f in waiting[1]]
            waiting = started
        if waiting is not None:
            yield waiting[0], [f.result() for f in waiting[1]]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
