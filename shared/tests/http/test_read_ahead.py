"""``read_ahead``: pages in source order, one fetch in flight, errors where they happened, early stops clean."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator

import pytest

from xlr8_kit.http.readahead import read_ahead

WAIT = 10.0  # seconds a test waits for the worker before failing (a hang guard, not a timing assertion)


class Source:
    """Pages 1..n; records which pages were fetched, on which thread, and whether it was closed."""

    def __init__(self, pages: int, fail_at: int | None = None) -> None:
        self.pages = pages
        self.fail_at = fail_at
        self.fetched: list[int] = []
        self.fetched_event = {n: threading.Event() for n in range(1, pages + 2)}
        self.threads: set[str] = set()
        self.closed = False

    def __iter__(self) -> Iterator[list[int]]:
        try:
            for n in range(1, self.pages + 1):
                self.threads.add(threading.current_thread().name)
                if n == self.fail_at:
                    raise RuntimeError(f"page {n} failed")
                self.fetched.append(n)
                self.fetched_event[n].set()
                yield [n * 10, n * 10 + 1]
        finally:
            self.closed = True


def test_pages_arrive_in_order_with_one_fetch_in_flight():
    source = Source(5)
    seen: list[list[int]] = []
    for page in read_ahead(source):
        n = len(seen) + 1
        seen.append(page)
        if n < 5:
            # While page n is being handled, page n+1 is fetched in the background, and nothing beyond it.
            assert source.fetched_event[n + 1].wait(WAIT)
            assert source.fetched == list(range(1, n + 2))
    assert seen == [[10, 11], [20, 21], [30, 31], [40, 41], [50, 51]]
    assert threading.current_thread().name not in source.threads
    assert source.closed


def test_error_on_page_3_surfaces_after_pages_1_and_2():
    source = Source(5, fail_at=3)
    seen: list[list[int]] = []
    with pytest.raises(RuntimeError, match="page 3 failed"):
        seen.extend(read_ahead(source))
    assert seen == [[10, 11], [20, 21]]
    assert source.fetched == [1, 2]


def test_an_early_stop_waits_for_the_fetch_in_flight_and_closes_the_source():
    source = Source(5)
    pages = read_ahead(source)
    assert next(iter(pages)) == [10, 11]
    pages.close()  # type: ignore[attr-defined]
    assert source.closed
    # Page 2 was queued or in flight when the reader stopped (cancelled if it had not started); page 3 never was.
    assert source.fetched in ([1], [1, 2])


def test_the_worker_sees_the_callers_context_variables():
    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="unset")
    marker.set("caller")

    def source() -> Iterator[str]:
        yield marker.get()
        yield marker.get()

    assert list(read_ahead(source())) == ["caller", "caller"]


def test_an_empty_source_yields_nothing():
    assert list(read_ahead(iter(()))) == []
