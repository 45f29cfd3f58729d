"""Batches of a stream, and loading them on a pool ahead of the caller."""

from __future__ import annotations

import threading

import pytest

from ccl_embed.runtime.batches import batched, loaded_ahead


def test_batched_keeps_positions_and_a_short_tail():
    assert list(batched("abcde", 2)) == [[(0, "a"), (1, "b")], [(2, "c"), (3, "d")], [(4, "e")]]
    with pytest.raises(ValueError, match="positive"):
        list(batched("ab", 0))


def _square(x: int) -> int:
    if x == 3:
        raise ValueError("three is bad")
    return x * x


@pytest.mark.parametrize("workers", [1, 4])
def test_loaded_ahead_keeps_order_and_puts_an_error_in_its_items_place(workers):
    batches = [[0, 1], [2, 3, 4], [5]]
    out = list(loaded_ahead(batches, _square, workers))
    assert [b for b, _ in out] == batches
    assert [r for _, rs in out for r in rs if not isinstance(r, Exception)] == [0, 1, 4, 16, 25]
    errors = [r for _, rs in out for r in rs if isinstance(r, Exception)]
    assert len(errors) == 1 and str(errors[0]) == "three is bad" and out[1][1][1] is errors[0]


def test_the_next_batch_loads_while_the_caller_works_on_this_one():
    second_started = threading.Event()

    def load(x: int) -> int:
        if x == 2:
            second_started.set()
        return x

    stream = loaded_ahead([[0, 1], [2, 3]], load, workers=2)
    first, _ = next(stream)
    assert first == [0, 1]
    assert second_started.wait(10)  # batch two is loading before the caller asked for it
    assert next(stream) == ([2, 3], [2, 3])


def test_one_worker_loads_in_the_callers_thread_only_when_asked():
    seen: list[str] = []

    def load(x: int) -> int:
        seen.append(threading.current_thread().name)
        return x

    stream = loaded_ahead([[0], [1]], load, workers=1)
    next(stream)
    assert seen == [threading.current_thread().name]  # the second batch waits for its turn


def test_a_caller_that_stops_early_leaves_no_thread_behind():
    before = {t.name for t in threading.enumerate()}
    stream = loaded_ahead([[i] for i in range(50)], lambda x: x, workers=3)
    next(stream)
    stream.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("ccl-embed-load") and t.name not in before]
