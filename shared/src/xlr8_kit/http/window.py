"""A bounded window of page requests in flight at once, answers taken strictly in the order they were asked.

One page of read-ahead (``readahead.py``) takes max(L, P) per page for request latency L and per-page work P: at
100 ms of latency and 10-30 ms of work the read is latency bound. When the request for page k+1 is known before
page k's answer arrives (offset/limit, ``$skip``/``$top``, page numbers), several pages can be in flight at once.

``OrderedFetches`` runs ``fetch(key)`` on at most ``size`` worker threads (each in a copy of the submitting
thread's context, so a test's fake clock carries over) and hands results back in submission order: the caller
decides from page k's answer whether page k+1 is wanted at all, so pages asked for past the end are discarded,
never handed out. A fetch that raises stops the window: later submissions are refused, fetches queued behind the
failed one are never sent, and the error reaches the caller when it takes that page, after every earlier page.
Retries, Retry-After waits, the rate limiter and the circuit breaker are the resilient session's, applied to each
request on its own thread (the session, its limiter, breaker and authenticators are thread-safe).

Paginators that can say their next token before the answer implement ``predict_next``; ``UNKNOWN`` means "not
before the answer" (the window then waits for it, as a cursor would).
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import operator
import threading
import typing as t
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

K = t.TypeVar("K")
R = t.TypeVar("R")

#: ``predict_next``'s answer when the next token depends on the answer not yet seen (or there is none to ask).
UNKNOWN: t.Any = type("Unknown", (), {"__repr__": lambda self: "UNKNOWN"})()

#: The largest window a tap accepts.
MAX_WINDOW = 10

#: The most requests one read may keep in flight when its round trips dwarf what a page costs (Oracle's ranged keyset
#: reads, ``latency_concurrent_requests``), and the connections per host the kit's HTTP adapters keep (``abort.py``):
#: urllib3 keeps 10 by default, and a request past them opened a connection of its own and dropped it after (a TLS
#: handshake each on a real tenant). Idle connections are only kept once opened, so a read at 8 keeps 8.
MAX_LATENCY_WINDOW = 32


@t.runtime_checkable
class PredictsNextPage(t.Protocol):
    """A paginator whose next token follows from the current one alone when the page is full."""

    def predict_next(self, token: t.Any) -> t.Any:
        """The token of the page after ``token``'s, assuming that page is full; ``UNKNOWN`` when it cannot say."""


#: Moved counts one read answers by asking again for the pages in flight; past this, the rest is read one page
#: after another (a collection that changes all the time would cost up to a window of wasted requests per page).
MAX_RECOUNTS = 3


@t.runtime_checkable
class CountsPages(t.Protocol):
    """A paginator whose answers can each carry the collection's size (Oracle Fusion ``totalResults``, OData
    ``$inlinecount``/``$count``, Workday ``total``), asked for on every page of a window.

    The count is what makes a window safe on offset pages without a snapshot. Every page after the anchor (the
    page answered before the pages in flight were asked for) must report the anchor's count: equal counts mean no
    row was inserted or deleted between the anchor's answer and theirs, so they read one state of the collection
    and cannot miss a row between them. A page with another count was answered later than the anchor and the
    pages before it that matched it, so reading up to it is what reading one page after another would have read;
    the pages asked for after it may have been answered before or after it, so they are dropped, and it becomes
    the anchor the next pages are checked against. (Counts cannot see an insert and a delete that cancel out
    while the same pages are in flight.)"""

    def page_count(self, response: t.Any) -> int | None:
        """The collection's size this answer reports; None when it reports none (or one that cannot be right)."""


class Verdict(enum.Enum):
    """What a counted page means for the pages asked for after it (``CountAnchor.check``)."""

    KEEP = "keep"  # it reports the anchor's count: the pages in flight read the same collection
    REASK = "reask"  # the count moved: drop the pages in flight unseen, ask for them again after this page
    SERIAL = "serial"  # no usable count, or it keeps moving: drop them and read the rest one page after another


class CountAnchor:
    """The ``CountsPages`` rule for one read, shared by every window that checks counts (``KitRESTStream``'s page
    window, ``xlr8_kit.odata.paging``'s ``$skip`` windows).

    ``planned`` is the anchor's count. The first page is the first anchor; a later page whose count moved, or
    whose first row repeats the page before (``moved``), becomes the next one. Moved counts answered while pages
    were in flight are counted: past ``MAX_RECOUNTS`` the read goes on one page after another, as does a page with
    no count to check against."""

    def __init__(self) -> None:
        self.planned: int | None = None
        self.recounts = 0

    def check(self, count: int | None, *, first: bool, moved: bool = False, in_flight: bool = True) -> Verdict:
        """The verdict on the next page in order: ``count`` is what it reported, ``in_flight`` whether pages were
        asked for after it."""
        if first:
            self.planned = count
            return Verdict.SERIAL if count is None else Verdict.KEEP
        if count is None:
            return Verdict.SERIAL
        if count == self.planned and not moved:
            return Verdict.KEEP
        self.planned = count  # this page was answered after the anchor: the pages after it are checked against it
        if not in_flight:
            return Verdict.KEEP
        self.recounts += 1
        return Verdict.SERIAL if self.recounts > MAX_RECOUNTS else Verdict.REASK


def row_key(names: t.Sequence[str]) -> t.Callable[[t.Mapping[str, t.Any]], t.Hashable]:
    """The values of ``names`` in a row (a missing one as None), for ``ShiftWatch``; an ``itemgetter`` in the
    common case, since it runs once per row."""
    getter = operator.itemgetter(*names)

    def key(row: t.Mapping[str, t.Any]) -> t.Hashable:
        try:
            return t.cast("t.Hashable", getter(row))
        except KeyError:
            return tuple(map(row.get, names))

    return key


class ShiftWatch:
    """Tells when rows moved between pages asked for at once (offset or page-number paging with no snapshot).

    Read one after another, offset pages never lose a row to an insert: a row inserted before the read position
    pushes the rest one place on, and the next page repeats a row (the target upserts it). Asked for at once, page
    k may be answered after the insert and page k+1 before it, and the row pushed out of page k is on neither.
    Page 1 is always answered alone first, so such an inversion needs an earlier pair answered the other way round,
    whose later page then starts with a row of the page before it: ``moved(rows)`` says so, and the caller reads
    the rest one page at a time. (An insert inside the very page answered late shows no repeated row: the window
    cannot see that case; ``max_concurrent_requests`` 1 reads strictly one page after another.)"""

    def __init__(self, key: t.Callable[[t.Any], t.Hashable]) -> None:
        self.key = key
        self._previous: set[t.Hashable] = set()

    def moved(self, rows: t.Sequence[t.Any]) -> bool:
        """Whether ``rows`` (the next page, in order) starts with a row of the page before; remembers this page."""
        repeated = bool(rows) and self.key(rows[0]) in self._previous
        self.remember(rows)
        return repeated

    def remember(self, rows: t.Sequence[t.Any]) -> None:
        """``rows`` is the page the next one follows."""
        key = self.key
        self._previous = {key(row) for row in rows}


class SkippedFetch(RuntimeError):
    """A fetch queued behind a failed one, never sent (the caller raises the earlier failure first)."""


class OrderedFetches(t.Generic[K, R]):
    """Up to ``size`` calls of ``fetch`` in flight; ``take()`` returns them in submission order."""

    def __init__(self, fetch: t.Callable[[K], R], size: int, *, name: str = "xlr8-window") -> None:
        if size < 1:
            raise ValueError(f"window size must be at least 1, not {size}")
        self.fetch = fetch
        self.size = size
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix=name)
        self._pending: deque[tuple[K, int, Future[R]]] = deque()
        self._lock = threading.Lock()
        self._failed_at: int | None = None  # sequence number of the earliest fetch that raised
        self._sequence = 0
        self._closed = False

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def full(self) -> bool:
        return len(self._pending) >= self.size

    @property
    def failed(self) -> bool:
        with self._lock:
            return self._failed_at is not None

    def first_key(self) -> K:
        """The key of the request ``take()`` returns next."""
        return self._pending[0][0]

    def last_key(self) -> K:
        """The key of the request submitted last."""
        return self._pending[-1][0]

    def submit(self, key: K) -> bool:
        """Ask for ``key`` on a worker thread; False (nothing sent) once a fetch failed or the window is full."""
        if self._closed or self.full or self.failed:
            return False
        number = self._sequence
        self._sequence += 1
        future = self._executor.submit(contextvars.copy_context().run, self._call, key, number)
        self._pending.append((key, number, future))
        return True

    def _call(self, key: K, number: int) -> R:
        with self._lock:
            if self._failed_at is not None and self._failed_at < number:
                raise SkippedFetch("an earlier page failed")
        try:
            return self.fetch(key)
        except BaseException:
            with self._lock:
                if self._failed_at is None or number < self._failed_at:
                    self._failed_at = number
            raise

    def take(self) -> tuple[K, R]:
        """The oldest request's key and answer (waiting for it); its error is raised here, after the window is
        emptied (nothing after a failed page is kept or sent)."""
        key, _, future = self._pending.popleft()
        try:
            return key, future.result()
        except BaseException:
            self._drop_pending()  # the failure stands: nothing more is asked for in this read
            raise

    def discard(self) -> None:
        """Drop every request still pending: each is awaited and its answer (or error) thrown away, so no request
        outlives the read. A request once submitted is always sent (unless an earlier one failed), so the requests
        a read makes do not depend on thread timing. A failure among the dropped requests concerned only them:
        the window takes new requests again (a read that drops the pages asked ahead and asks for them again)."""
        self._drop_pending()
        with self._lock:
            self._failed_at = None

    def _drop_pending(self) -> None:
        while self._pending:
            _, _, future = self._pending.popleft()
            with contextlib.suppress(BaseException):  # past the end or after a failure: not the caller's
                future.result()

    def close(self) -> None:
        self._closed = True
        self.discard()
        self._executor.shutdown(wait=True)

    def __enter__(self) -> OrderedFetches[K, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
