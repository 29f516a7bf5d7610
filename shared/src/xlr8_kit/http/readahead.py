"""One page of read-ahead: fetch page n+1 on a background thread while the caller emits page n's records.

With request latency L and per-page processing time P, a sequential reader takes L + P per page; with one page
read ahead it takes max(L, P). The source iterator is advanced by one worker thread only, one item at a time (never
more than one page in flight, so memory stays bounded at two pages), through the same resilient session: retries,
Retry-After waits, rate limits and the circuit breaker apply to each request exactly as before. Items and errors
reach the caller in source order: an error fetching page 3 is raised only when the caller asks for page 3, after
pages 1 and 2 were handed over, so state never moves past records that were not emitted.

Only for sources whose next request depends on the previous response alone (a next-page URL, a locator, an
offset), never on what the caller does with the records.
"""

from __future__ import annotations

import contextlib
import contextvars
import typing as t
from concurrent.futures import Future, ThreadPoolExecutor

T = t.TypeVar("T")

_END = object()


def _advance(source: t.Iterator[T]) -> object:
    return next(source, _END)


def read_ahead(source: t.Iterable[T], *, name: str = "xlr8-read-ahead") -> t.Iterator[T]:
    """Yield ``source``'s items in order while the next one is being fetched on a worker thread.

    The worker runs in a copy of the caller's context (context variables such as a test's fake clock carry over).
    When the caller stops early (``close()``, an exception), the fetch in flight is awaited and discarded and the
    source is closed, so no request outlives the read."""
    iterator = iter(source)
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def fetch() -> Future[object]:
        return executor.submit(contextvars.copy_context().run, _advance, iterator)

    pending: Future[object] | None = fetch()
    try:
        while pending is not None:
            item = pending.result()  # the source's own exception, re-raised here in order
            if item is _END:
                pending = None
                return
            pending = fetch()
            yield t.cast("T", item)
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(Exception):  # the caller stopped reading: a late failure is not theirs
                pending.result()
        executor.shutdown(wait=True)
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
