"""A REST query split by range of the replication key, ranges read side by side, emitted in order (issue 14 goal 5).

A REST query is one cursor (``nextRecordsUrl``): one request in flight at a time whatever the read-ahead, so at
100 ms per request the read waits for the network most of the time. A ranged read splits the rest of the query,
after its first page, into contiguous ranges of its order (replication key, Id), each its own query and cursor, and
reads up to ``width`` of them at once:

- Page 1 is read as today. The last page (the cursor has no more: ``done``), or a page ending in a row without a
  replication key value, and the read goes on page after page as before (a small read pays nothing for planning
  but a plan asked early, given up at once).
  Whether more follow is the cursor's ``more``, not the page's length: Salesforce may answer fewer rows than the
  batch size asked for (200 when a query selects two or more custom long text fields).
- Else two small queries plan the rest, while page 2 is fetched (both asked for before page 1 is handed on; with
  page 1 itself when the caller expects more than a page, ``plan_early``: an object's first read, or a window that
  ``api_type: auto`` counted at more than a page, whose page of one then paid for them):
  ``COUNT()`` of the query's rows and the newest replication key value (``ORDER BY <key> DESC, Id DESC LIMIT 1``);
  SOQL ``OFFSET`` stops at 2,000, so bounds are placed by time: whole seconds spaced evenly between page 1's last
  value and the newest, one range per ``RANGE_PAGES`` pages of page 1's size left, range 0 ``FIRST_RANGE`` of one
  (it is one cursor; the ranges after it are read side by side). An uneven spread only makes
  ranges uneven, never wrong. Fewer than two ranges' worth of rows left, or a planning query refused (logged), and
  the read goes on page after page.
- Range 0 is the first query's own cursor, read on until its first row at or past bound 1 (that page is cut
  there; its cursor is left to expire). A plan asked with page 1 it waits for before its page 2, as long as page 1
  took, so the ranges after it go out with page 2 (range 0's reader starts them as it takes the plan, the emitter
  when it next looks, whichever is first); page 1 is then handed on only up to the whole second of its last row,
  and that second is bound 1: range 0 ends with page 1 (no page 2 is asked), and range 1 reads the few rows of that
  second again (a page more than half in one second is handed on whole, range 0 reading on as before). Else it
  waits for the plan after its page 2 as long as page 2 took, at most
  ``PLAN_WAIT`` seconds (a ``COUNT()`` of a huge object can be slow), then reads on as a plain cursor; a plan
  coming later is taken with only its bounds past the last row range 0 has read (none left: range 0 reads to the
  end). The plan runs on its own thread, over its own connections (``xlr8_kit.http.abort``): a plan still out when
  the read ends is given up, its connections cut so its thread ends at once, with no answer to drop (waiting for it
  would hold the stream's end, and the process's exit, thus the target's end of input, up to the org's 2-minute
  query limit; the org may still finish the ``COUNT()``).
- The ``SHORT_RANGES`` ranges after range 0 are planned under a page each (``SHORT_RANGE``): every range's first
  page goes out at once, but a range's page 2 only a round trip after its page 1, which the emitter would reach
  first.
- Range k (k >= 1) is ``<key> >= bound k AND <key> < bound k+1`` with the query's other terms, the last range
  bounded only by the query's own upper bound: rows updated during the read (their new value is past every bound)
  are read there. Bounds are whole-second literals, so the rows sharing a value are never split between ranges,
  and each row is in exactly one range.
- Ranges are emitted strictly in order, each page in order, so the records (and the bookmark after each of them)
  are those of the read page after page when nothing changes. At most ``width`` ranges besides the first query's
  are read at once (``width`` threads, each range one open cursor while it is read; the first query's cursor, cut
  at bound 1, stays open until it expires: up to ``width + 2`` open cursors, and before API version 56.0
  Salesforce kept 10 per user and released the oldest past that), on the next ``RANGES_AHEAD * width`` ranges;
  at most ``width * RANGE_PAGES`` pages
  are read ahead of the range being emitted (which keeps at most ``RANGE_PAGES`` of its own), so memory is bounded
  by ``width`` whatever the object's size; and at most ``RANGE_BYTES`` of response bodies beyond one page per range
  read at once, so an object much wider than Account (whose 12 pages at width 6 fit) holds fewer pages, not more
  memory.
- A failed request raises when its page is due: every page before it is emitted first, nothing after it is, so
  state never moves past rows that did not land (an expired cursor, INVALID_QUERY_LOCATOR, then re-issues the
  query from the last record emitted, as for a single cursor). A range query answering QUERY_TIMEOUT before its
  first row is split in half and its halves read in order, as one cursor's window is (``open_range`` in the tap);
  one splitting cannot clear (down to ``min_window_seconds``, or after its first rows) and the stream re-reads
  from its last record emitted as one cursor, whose query ran where the range's did not.
- A row updated during the read is read by the last range if its query goes out after the update, else by the
  next run: the bookmark stays below its new value. The first query's cursor reads a snapshot, as page after page
  would; a row it holds that was updated before the last range's query is read twice (at least once, never lost).

Oracle's ranged reads (``xlr8_kit.oracle.ranges``) place bounds by offset (``PageAt``) and split ties by key; SOQL
has neither a deep offset nor a cheap (value, Id) seek here, so the planning and the range queries differ: only the
ranges' page queues and page budget are shared (``xlr8_kit.http.ranged``).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import threading
import time
import typing as t
from bisect import bisect_left
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from xlr8_kit.http.abort import Abort
from xlr8_kit.http.ranged import END as _END
from xlr8_kit.http.ranged import ERROR as _ERROR
from xlr8_kit.http.ranged import PAGE as _PAGE
from xlr8_kit.http.ranged import RangedPages, RangeQueue
from xlr8_kit.http.readahead import read_ahead
from xlr8_kit.http.session import optional_requests

logger = logging.getLogger(__name__)

#: Batches of rows a range is planned to hold, and the pages it may keep read ahead of the emitter.
RANGE_PAGES = 2

#: Range 0's share of a range's rows past page 1: range 0 is one cursor, its pages one round trip after another
#: while the ranges after it are read side by side, so it is planned short (half a page past page 1 with Account's
#: 2-page ranges: its page 2 is cut about the middle, not a page 3 read for the few rows before bound 1).
FIRST_RANGE = 0.25

#: Ranges after range 0 planned short, ``SHORT_RANGE`` of a range each (under a page: one request). Every range's
#: first page goes out at once, but a range asks its page 2 only once its page 1 is in, a round trip later: the
#: emitter, at 40,000-50,000 Accounts a second, reached range 1's page 2 one page after its page 1 and waited for it
#: (0.07-0.10 s at 100 ms); past three single pages it reaches a range's page 2 after that page came.
SHORT_RANGES = 3
SHORT_RANGE = 0.4

#: Ranges started ahead of the one being emitted, per range read at once (queued for ``width`` readers): ranges
#: after it are often read to their end already, and the readers then still have ranges to read.
RANGES_AHEAD = 2

#: Bytes of response bodies read ahead of the range being emitted, at most, beyond one page per range read at once:
#: Account's 2,000-row pages (43 fields, about 3.3 MB each) all fit at width 6 (12 pages, 40 MB), a wider object's
#: fewer (goal 4 is under 300 MB a process; with Account's 12 the tap peaks at 230-250 MB).
RANGE_BYTES = 48 * 2**20

#: Seconds range 0 waits for the plan once its page 2 is read, at most: it waits as long as page 2 took (the plan
#: was asked with it), then reads on as a plain cursor; a late plan is still taken, past what range 0 has read, at
#: its next page. Waiting longer idles the read for longer than taking the plan a page later costs.
PLAN_WAIT = 1.0

#: A REST page: its records and whether they are plain (``singer_io.loads_marked``).
Page = tuple[list[dict[str, t.Any]], bool]


class Cursor(t.Protocol):
    """The first query's pages, and whether it has pages after the last one read."""

    more: bool

    def __iter__(self) -> t.Iterator[Page]: ...

    def __next__(self) -> Page: ...


@dataclass(frozen=True)
class Plan:
    """What the planning queries found: the rows the query matches and its newest replication key value."""

    rows: int
    newest: datetime | None


def bounds(after: datetime, newest: datetime, ranges: int, first: float = 1.0, short: int = 0) -> list[datetime]:
    """Bounds 1..ranges-1: whole seconds evenly spaced in time after ``after`` up to ``newest``, range 0 ``first``
    of the others' span and the ``short`` ranges after it ``SHORT_RANGE`` of it, increasing, each past ``after`` (a
    bound equal to the one before would make an empty range, so it is dropped)."""
    found: list[datetime] = []
    span = newest - after
    shares = [first] + [SHORT_RANGE] * short + [1.0] * (ranges - 1 - short)
    total = sum(shares[:ranges])
    at = 0.0
    for k in range(1, ranges):
        at += shares[k - 1]
        moment = after + span * (at / total)
        whole = moment.replace(microsecond=0)
        if whole < moment:
            whole += timedelta(seconds=1)
        if whole <= after or (found and whole <= found[-1]) or whole > newest:
            continue
        found.append(whole)
    return found


class RangedQuery:
    """One REST query read as ranges side by side (see the module). ``pages()`` gives its pages in order."""

    def __init__(
        self,
        cursor: Cursor,
        *,
        open_range: t.Callable[[datetime, datetime | None], t.Iterator[Page]],
        plan: t.Callable[[], Plan],
        value_of: t.Callable[[dict[str, t.Any]], datetime | None],
        width: int,
        name: str,
        on_plan: t.Callable[[Plan | Exception, list[datetime]], None] | None = None,
        page_bytes: t.Callable[[Page], int] | None = None,
        plan_early: bool = False,
        asked: Future[Plan] | None = None,
        sent: float | None = None,
        abort: Abort | None = None,
    ) -> None:
        self.cursor = cursor
        self.open_range = open_range
        self.plan = plan
        self.value_of = value_of
        self.width = width
        self.name = name
        self.on_plan = on_plan
        #: Ask the plan with page 1, not once page 1 says more follow: the read is expected to be longer than a page
        #: (the caller knows: e.g. an object's first read); a read of one page then paid two small queries.
        self.plan_early = plan_early
        #: The plan asked already, with page 1 before the read began (``early.py``), under ``abort`` (this read's
        #: to give up); ``sent``: when page 1 was asked (``time.monotonic``), if before the read began.
        self._asked = asked
        self._sent = sent
        self._executor: ThreadPoolExecutor | None = None
        #: The plan's own thread and connections: the read's end gives up a slow COUNT() instead of waiting.
        self._planner: ThreadPoolExecutor | None = None
        self._abort = abort if abort is not None else Abort()
        #: Ranges are started by the emitter or by range 0's reader as it takes the plan, whichever comes first.
        self._starting = threading.Lock()
        self._closed = False
        self._upper: datetime | None = None
        #: Bound 1.. of the plan (empty: one range, the cursor read to its end), set once planned.
        self._bounds: Future[list[datetime]] = Future()
        #: The bounds range 0 reads up to (the plan's past what it had read when the plan came; empty: none),
        #: set by range 0's reader: the emitter starts the ranges after range 0 from these.
        self._accepted: Future[list[datetime]] = Future()
        #: Pages read (or being read) ahead of the range being emitted: at most ``width * RANGE_PAGES``, and at most
        #: ``RANGE_BYTES`` beyond ``width`` pages (``page_bytes``: a page's size); the range being emitted keeps at
        #: most ``RANGE_PAGES`` of its own waiting.
        self._pages = RangedPages(
            keep=RANGE_PAGES, room=width * RANGE_PAGES, room_bytes=RANGE_BYTES, floor=width, weigh=page_bytes
        )

    def _submit(self, fn: t.Callable[..., t.Any], *args: t.Any) -> Future[t.Any]:
        assert self._executor is not None
        return self._executor.submit(contextvars.copy_context().run, fn, *args)

    # -- worker threads ---------------------------------------------------------------------------------------

    def _ask_plan(self) -> Plan:
        with self._abort.applied(), optional_requests():  # near the quota share, page 1 and the ranges come first
            return self.plan()

    def _planned(
        self,
        after: datetime,
        page_rows: int,
        asked: Future[Plan] | None = None,
        start: datetime | None = None,
        handed: int | None = None,
    ) -> list[datetime]:
        """Bounds 1.. for the rows after page 1 (empty: too few to split, or the plan could not be made), ranges
        of about ``RANGE_PAGES`` pages of page 1's size (``page_rows``), the first ``SHORT_RANGES`` short;
        ``asked``: the plan asked with page 1. ``start``: page 1 was handed on up to that whole second (its first
        ``handed`` rows), so bound 1 is ``start`` and range 0 ends with page 1 (no page 2 to wait for)."""
        try:
            plan = asked.result() if asked is not None else self._ask_plan()
        except Exception as exc:  # noqa: BLE001 - planning only speeds the read: page after page reads the same rows
            if self.on_plan is not None and not self._pages.stop.is_set():
                self.on_plan(exc, [])
            return []
        if self._pages.stop.is_set():  # the read ended without it: nothing to plan any more
            logger.debug("%s: the plan came after the read ended; dropped", self.name)
            return []
        if plan.newest is None or plan.newest <= after:
            return []
        left = plan.rows - (page_rows if handed is None else handed)
        most = RANGE_PAGES * page_rows  # rows a range holds at most (a range past it asks a page more)
        found: list[datetime] = []
        if left > most:
            units = left / most - (FIRST_RANGE if start is None else 0.0)  # ranges' worth of rows past range 0
            short = min(SHORT_RANGES, math.ceil(units / SHORT_RANGE))
            ranges = short + math.ceil(max(0.0, units - short * SHORT_RANGE))  # after range 0
            if start is None:
                found = bounds(after, plan.newest, 1 + ranges, FIRST_RANGE, short)
            elif rest := bounds(start, plan.newest, ranges, SHORT_RANGE, short - 1):  # range 1 the first short one
                found = [start, *rest]  # (one range from ``start``: none, range 0 reads on instead)
        if self.on_plan is not None:
            self.on_plan(plan, found)
        return found

    def _read_first(
        self, rng: RangeQueue, read: datetime, early: float | None = None, held: Page | None = None
    ) -> None:
        """Range 0: the first query's cursor (``read``: the last value handed on), each page cut at bound 1 once the
        plan is known and taken; ``early``: the plan was asked with page 1, which took that long: it is waited
        for as long before page 2, so the ranges after range 0 go out with page 2, not after it. ``held``: page 1's
        rows past those handed on, its first page (dropped when bound 1 is where they start)."""
        found: list[datetime] | None = None
        wait: float | None = None
        try:
            if early is not None:
                found = self._accept(read, min(PLAN_WAIT, early))
                wait = 0.0  # waited once: from now on the plan is taken only if it is back
            while not self._pages.stop.is_set():
                if held is not None:
                    item, held = held, None
                else:
                    self._pages.take(rng)
                    if self._pages.stop.is_set():  # closed while waiting for room: no request more
                        break
                    asked = time.monotonic()
                    got = next(self.cursor, None)
                    if got is None:
                        break
                    item = got
                records, plain = item
                if found is None:
                    if wait is None:  # page 2: the plan, asked with it, may take as long again
                        wait = min(PLAN_WAIT, time.monotonic() - asked)
                    found = self._accept(read, wait)
                    wait = 0.0  # waited once: from now on the plan is taken only if it is back
                if found and records and (last := self.value_of(records[-1])) is not None and last >= found[0]:
                    values = [self.value_of(record) for record in records]
                    cut = bisect_left(values, found[0], key=_comparable)
                    if cut:
                        self._pages.put(rng, (_PAGE, ((records[:cut], plain), False)))
                    break
                self._pages.put(rng, (_PAGE, (item, False)))
                if records and (last := self.value_of(records[-1])) is not None:
                    read = last
            self._settle_accepted([])  # the cursor read to its end without the plan: no range after it
            self._pages.put(rng, (_END, None))
        except BaseException as exc:  # noqa: BLE001 - raised by the emitter, in order
            self._settle_accepted([])
            self._pages.put(rng, (_ERROR, exc))
        finally:
            close = getattr(self.cursor, "close", None)
            if close is not None:
                close()

    def _accept(self, read: datetime, wait: float) -> list[datetime] | None:
        """The plan's bounds past ``read`` (the last value range 0 has read: a bound at or below it would read
        rows again), taken as the bounds of the read; None: the plan is not back within ``wait`` seconds."""
        try:
            found = self._bounds.result(timeout=wait)
        except TimeoutError:
            return None
        kept = [bound for bound in found if bound > read]
        if len(kept) < len(found):
            logger.info(
                "%s: the plan came after range 0 read past %d of its %d bounds; %d ranges after it",
                self.name,
                len(found) - len(kept),
                len(found),
                len(kept),
            )
        self._settle_accepted(kept)
        found = self._accepted.result()
        self._start(min(RANGES_AHEAD * self.width, len(found)), found)  # not when the emitter next looks
        return found

    def _settle_accepted(self, found: list[datetime]) -> None:
        with contextlib.suppress(InvalidStateError):  # close() or an earlier call may have settled it first
            self._accepted.set_result(found)

    def _read(self, rng: RangeQueue, lower: datetime, upper: datetime | None) -> None:
        """Range k >= 1: its own query, page after page, into its queue."""
        pages: t.Iterator[Page] | None = None
        try:
            pages = opened = self.open_range(lower, upper)  # inside: an error opening it reaches the emitter

            def next_page() -> tuple[Page | None, bool]:
                item = next(opened, None)
                return item, item is not None

            # no request more once closed: a range's query may split on QUERY_TIMEOUT into several slow ones, all
            # awaited at close
            self._pages.read_into(rng, next_page)
            self._pages.put(rng, (_END, None))
        except BaseException as exc:  # noqa: BLE001 - raised by the emitter, in order
            self._pages.put(rng, (_ERROR, exc))
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()

    # -- the stream's thread ----------------------------------------------------------------------------------

    def pages(self, upper: datetime | None) -> t.Iterator[Page]:
        """Every page in order; ``upper``: the query's own upper bound (the last range's)."""
        self._executor = ThreadPoolExecutor(max_workers=self.width + 1, thread_name_prefix=self.name)
        self._upper = upper
        try:
            asked = self._asked
            if asked is None and self.plan_early:  # side by side with page 1 (its answer and decode: a round trip
                # and more at 100 ms)
                self._planner = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self.name}-plan")
                asked = self._planner.submit(contextvars.copy_context().run, self._ask_plan)
            sent = time.monotonic() if self._sent is None else self._sent
            page = self._submit(next, self.cursor, None).result()  # off this thread, as read_ahead does
            took = time.monotonic() - sent
            if page is None:
                return
            records = page[0]
            after = self.value_of(records[-1]) if records else None
            if not self.cursor.more or after is None:
                if asked is not None:
                    self._abort.abort()  # the plan asked with page 1 is not needed: given up at once
                yield page
                yield from read_ahead(self.cursor, name=self.name)  # nothing to split: page after page
                return
            # The plan and page 2 go out before page 1 is handed on: emitting page 1 (2,000 Accounts, the first
            # records' one-off costs included) took 0.17-0.21 s at load 8 with no request in flight.
            if self._planner is None:
                self._planner = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self.name}-plan")
            start, handed, held = self._head(page, after) if asked is not None else (None, len(records), None)
            read = after if held is None else self.value_of(records[handed - 1]) or after
            planning = self._planner.submit(
                contextvars.copy_context().run, self._planned, after, len(records), asked, start, handed
            )
            planning.add_done_callback(self._settle)
            head = self._pages.add()
            head.due.set()
            self._submit(self._read_first, head, read, took if asked is not None else None, held)
            yield page if held is None else (records[:handed], page[1])
            started = False
            j = 0
            while True:
                rng = self._pages.ranges[j]
                self._pages.make_due(rng)  # its reader reads on within its own pages from now on
                while True:
                    kind, value = self._pages.get(rng)  # the due range's reader may read on
                    if not started and self._accepted.done():  # range 0 takes the plan after its page 2
                        started = True
                        found = self._accepted.result()
                        self._start(min(RANGES_AHEAD * self.width, len(found)), found)
                    if kind == _PAGE:
                        item, held = value
                        yield item
                        if held:
                            self._pages.release(rng)
                        continue
                    if kind == _ERROR:
                        raise value
                    break
                j += 1
                found = self._accepted.result()
                if j > len(found):
                    return
                started = True
                self._start(min(j + RANGES_AHEAD * self.width, len(found)), found)
        finally:
            self.close()

    def _head(self, page: Page, after: datetime) -> tuple[datetime | None, int, Page | None]:
        """Page 1 cut at the start of the whole second of its last row (``start``): the rows before it are handed
        on, the rest (``held``) kept for range 0, so a plan putting bound 1 at ``start`` ends range 0 there and the
        emitter waits for range 1's first page, which went out with the plan, not for range 0's page 2, a round trip
        after page 1 behind every range's first page (0.18-0.35 s at 100 ms). The few rows in that second are read
        again by range 1. A page more than half in one second is not cut (None: range 0 reads on as before)."""
        records, plain = page
        start = after.replace(microsecond=0)
        cut = len(records)
        while cut and _comparable(self.value_of(records[cut - 1])) >= start:
            cut -= 1
        if cut * 2 < len(records):
            return None, len(records), None
        return start, cut, (records[cut:], plain)

    def _settle(self, planning: Future[list[datetime]]) -> None:
        try:
            found = planning.result()
        except BaseException:  # noqa: BLE001 - no plan (cancelled at close): one range
            found = []
        with contextlib.suppress(InvalidStateError):  # close() may have settled it first
            self._bounds.set_result(found)

    def _start(self, k: int, found: list[datetime]) -> None:
        """Start the ranges up to k not started yet (range i: bound i up to bound i+1, the last up to the query's
        own upper bound); none once closed."""
        with self._starting:
            while not self._closed and len(self._pages.ranges) <= k:
                rng = self._pages.add()
                index = rng.index
                last = index == len(found)
                self._submit(self._read, rng, found[index - 1], self._upper if last else found[index])

    def close(self) -> None:
        """Stop every range: the ranges' requests in flight are awaited, their answers dropped; the plan's are given
        up (a slow COUNT() would hold the stream's end and the process's exit): their connections are cut."""
        self._pages.close()
        with self._starting:  # range 0's reader starts no range from now on
            self._closed = True
        with contextlib.suppress(InvalidStateError):  # a reader waiting for the plan goes on, then stops
            self._bounds.set_result([])
        self._settle_accepted([])
        if self._planner is not None or self._asked is not None:
            self._abort.abort()
            if self._planner is not None:
                self._planner.shutdown(wait=True, cancel_futures=True)
            self._abort.close()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)


_EARLIEST = datetime.min.replace(tzinfo=UTC)


def _comparable(value: datetime | None) -> datetime:
    """Rows without a value sort first (SOQL ``ASC`` puts nulls first)."""
    return value if value is not None else _EARLIEST
