"""Pages of several ranges read side by side, held per range and emitted strictly in range order (issue 14 goal 5).

A ranged read (Oracle Fusion keyset ranges, ``xlr8_kit.oracle.ranges``; Salesforce REST ranges,
``xlr8_tap_salesforce.ranges``) splits one ordered read into contiguous ranges, reads several at once on worker
threads and emits them in order, so the records (and the bookmarks after them) are those of the read page after
page. Planning the ranges and querying them differ per vendor; this is what they share:

- Each range has a bounded queue of what its reader found: a page (``PAGE``), its end (``END``), or an error
  (``ERROR``, raised by the emitter when it is due: every page before it is emitted first, nothing after it is).
- One page budget across the ranges not yet being emitted: at most ``room`` pages are read (or being read) ahead
  of the range being emitted (``take`` before each request, ``release`` once the page was emitted), so memory is
  bounded whatever the read's size. The range being emitted (``due``) takes none, since it is what frees the
  budget, and keeps at most ``min(room, keep)`` of its own pages waiting.
- With ``room_bytes`` (and ``weigh``: a page's size, e.g. its response body's bytes), the budget is in bytes too:
  beyond ``floor`` pages (one per range read at once), a page is read ahead only once a page was weighed and while
  the pages ahead, a page in flight counted as the largest page weighed so far, stay within ``room_bytes``. A page
  count sized for narrow rows would let a much wider object hold several times the memory. The emitter then
  releases a page with its range (``release(rng)``), which knows its pages' sizes in order.
- Each range is read page after page into its queue (``read_into``: take, stop check, request, put); what a
  request is and what a range's end carries are the vendor's.
- ``room`` may change while the read goes on (``set_room``: Oracle grows it once the emitter mostly waits).
"""

from __future__ import annotations

import queue
import threading
import typing as t
from collections import deque

#: What a range's queue carries: a page, its end, or an error (each with the reader's value).
PAGE, END, ERROR = "page", "end", "error"

Item = tuple[str, t.Any]


class RangeQueue:
    """One range's pages, in order, and whether every range before it was emitted (``due``)."""

    __slots__ = ("due", "index", "pages", "rank", "reserved", "weights")

    def __init__(self, index: int, keep: int, rank: tuple[int, ...] | None = None) -> None:
        self.index = index
        #: Its place in emission order: ``(index,)`` for a range added in order; a part added right after another
        #: (an Oracle split's upper half) ranks after it and before all that followed it (``RangedPages.add``).
        self.rank = (index,) if rank is None else rank
        self.pages: queue.Queue[Item] = queue.Queue(maxsize=keep + 1)
        #: Set when every range before this one was emitted: its reader then takes no budget.
        self.due = threading.Event()
        #: Bytes its page in flight counts for (taken from the budget), and its held pages' sizes, in order.
        self.reserved = 0
        self.weights: deque[int] = deque()


class RangedPages:
    """The ranges' queues and the page budget of one ranged read (see the module). Readers call ``take`` and
    ``put``; the emitter calls ``make_due``, ``get`` and ``release``; ``close`` stops every reader."""

    def __init__(
        self,
        *,
        keep: int,
        room: int,
        room_bytes: int | None = None,
        floor: int = 1,
        weigh: t.Callable[[t.Any], int] | None = None,
    ) -> None:
        #: Pages a range keeps waiting at most (its queue holds one more: an end or error after them).
        self.keep = keep
        #: Pages read ahead of the range being emitted, at most.
        self.room = room
        #: Bytes of the pages read ahead (as ``weigh`` sizes them), at most, beyond ``floor`` pages.
        self.room_bytes = room_bytes
        self.floor = floor
        self.weigh = weigh
        self.stop = threading.Event()
        self.ranges: list[RangeQueue] = []
        self._budget = threading.Condition()
        #: Ranges whose reader waits for a page of the budget: the first of them (in emission order) takes it first.
        self._waiting: set[int] = set()
        self._ahead = 0
        self._ahead_bytes = 0
        #: The largest page weighed so far: what a page in flight counts for.
        self._largest = 0

    def add(self, after: RangeQueue | None = None) -> RangeQueue:
        """The next range's queue (ranges are added in order, on the emitter's thread), or with ``after`` one emitted
        right after that range and before everything that followed it: an Oracle read adds the upper half of a range
        it splits from the reader that splits it. Its rank extends ``after``'s with a step that falls with every
        range added, so a later split of the same range ranks before the earlier one's upper half, as emitted."""
        index = len(self.ranges)
        rng = RangeQueue(index, self.keep, None if after is None else (*after.rank, -index))
        self.ranges.append(rng)
        return rng

    # -- readers (worker threads) -----------------------------------------------------------------------------

    def take(self, rng: RangeQueue) -> bool:
        """Wait for room to read one more page of ``rng`` (True: a page of the budget taken, to be released once
        emitted; False for the range being emitted, or once stopped). Room goes to the waiting range emitted first:
        a page freed by the emitter taken by a range far ahead left the next range's page 2 unasked until that
        range was being emitted, a round trip the emitter then waited for (0.04-0.24 s at 100 ms)."""
        with self._budget:
            self._waiting.add(rng.index)
            try:
                while not self.stop.is_set():
                    if rng.due.is_set():
                        if rng.pages.qsize() < min(self.room, self.keep):
                            return False
                    elif (
                        self._ahead < self.room
                        and (
                            self._ahead < self.floor
                            or self.room_bytes is None
                            or (self._largest > 0 and self._ahead_bytes + self._largest <= self.room_bytes)
                        )
                        and self._first_waiting() == rng.index
                    ):
                        self._ahead += 1
                        rng.reserved = self._largest
                        self._ahead_bytes += rng.reserved
                        return True
                    self._budget.wait(timeout=0.05)
                return False
            finally:
                self._waiting.discard(rng.index)
                self._budget.notify_all()  # the next range waiting may take room now

    def _first_waiting(self) -> int:
        """The first range, in emission order (``rank``, not the order ranges were added), whose reader waits for
        room (the range being emitted takes none)."""
        waiting = [self.ranges[index] for index in self._waiting if not self.ranges[index].due.is_set()]
        return min(waiting, key=lambda rng: rng.rank).index

    def read_into(self, rng: RangeQueue, next_page: t.Callable[[], tuple[t.Any, bool]]) -> None:
        """Read ``rng`` page after page into its queue: before each request a page of the budget is taken (waiting
        for room), none once stopped; ``next_page`` sends it and answers ``(page, more)``: the page (None: none,
        its budget is given back) and whether another request follows. The caller queues the range's end (or an
        error it raises) after, dropped once stopped."""
        while True:
            held = self.take(rng)
            if self.stop.is_set():  # closed while waiting for room: no request more (a request may be slow)
                return
            page, more = next_page()
            if page is None:
                if held:
                    self._give_back(rng)
            else:
                if held and self.weigh is not None:  # unweighed pages count for nothing: no size to keep
                    self._weighed(rng, page)
                self.put(rng, (PAGE, (page, held)))
            if not more:
                return

    def _weighed(self, rng: RangeQueue, page: t.Any) -> None:
        """``rng``'s page, read under a page of the budget, counts for its own size from now on."""
        assert self.weigh is not None
        size = self.weigh(page)
        with self._budget:
            self._ahead_bytes += size - rng.reserved
            rng.reserved = 0
            rng.weights.append(size)
            self._largest = max(self._largest, size)
            self._budget.notify_all()

    def _give_back(self, rng: RangeQueue) -> None:
        """A page of the budget taken for ``rng`` found no page."""
        with self._budget:
            self._ahead -= 1
            self._ahead_bytes -= rng.reserved
            rng.reserved = 0
            self._budget.notify_all()

    def put(self, rng: RangeQueue, item: Item) -> None:
        """Queue ``item`` for the emitter (dropped once stopped)."""
        while not self.stop.is_set():
            try:
                rng.pages.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    # -- the emitter ------------------------------------------------------------------------------------------

    def make_due(self, rng: RangeQueue) -> None:
        """Every range before ``rng`` was emitted: its reader reads on within its own pages from now on."""
        with self._budget:
            rng.due.set()
            self._budget.notify_all()

    def get(self, rng: RangeQueue) -> Item:
        """The next item of ``rng`` (waiting for it); its reader may then read on."""
        item = rng.pages.get()
        with self._budget:
            self._budget.notify_all()
        return item

    def release(self, rng: RangeQueue | None = None) -> None:
        """A page of the budget was emitted (of ``rng``: its size is given back too; needed with ``weigh``)."""
        with self._budget:
            self._ahead -= 1
            if rng is not None and rng.weights:
                self._ahead_bytes -= rng.weights.popleft()
            self._budget.notify_all()

    def has_room(self) -> bool:
        """Fewer pages are read ahead than the allowance: a reader with a page to ask for would ask for it now."""
        with self._budget:
            return self._ahead < self.room

    def set_room(self, room: int) -> None:
        with self._budget:
            self.room = room
            self._budget.notify_all()

    def close(self) -> None:
        """Stop every reader: what they hold is dropped, ``take`` and ``put`` return at once."""
        self.stop.set()
        for rng in self.ranges:
            while True:
                try:
                    rng.pages.get_nowait()
                except queue.Empty:
                    break
