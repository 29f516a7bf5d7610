"""``xlr8_kit.http.ranged.RangedPages``: the page budget shared by the ranges not yet due, the due range's own
limit, ``set_room`` and ``close`` (the ranged reads built on it: shared/tests/oracle/test_ranges.py,
taps/tap-salesforce/tests/test_ranged_reads.py)."""

from __future__ import annotations

import threading
import typing as t

from xlr8_kit.http.ranged import END, PAGE, RangedPages, RangeQueue

#: Long enough for a reader that is free to go on to have done so; the assertions never depend on it being short.
SETTLE = 0.3


def taking(pages: RangedPages, rng: RangeQueue) -> tuple[threading.Thread, list[bool]]:
    """``take`` on a thread (the result lands in the list once it returns)."""
    got: list[bool] = []
    thread = threading.Thread(target=lambda: got.append(pages.take(rng)), daemon=True)
    thread.start()
    return thread, got


def test_ranges_not_due_share_room_pages_and_wait_for_a_release() -> None:
    pages = RangedPages(keep=2, room=3)
    due, later, last = pages.add(), pages.add(), pages.add()
    pages.make_due(due)
    assert [pages.take(later), pages.take(last), pages.take(later)] == [True, True, True]
    thread, got = taking(pages, last)
    thread.join(SETTLE)
    assert got == []  # a fourth page ahead of the range being emitted waits
    pages.release()
    thread.join(5)
    assert got == [True]


def test_room_is_left_while_fewer_pages_than_room_are_read_ahead() -> None:
    """``has_room``: what a free reader asks before it splits a range (``xlr8_kit.oracle.ranges``): with every page
    of the budget taken, another reader would only wait for the emitter."""
    pages = RangedPages(keep=2, room=2)
    due, later = pages.add(), pages.add()
    pages.make_due(due)
    assert pages.has_room()
    assert pages.take(due) is False  # the due range takes none
    assert pages.take(later) is True
    assert pages.has_room()
    assert pages.take(later) is True
    assert not pages.has_room()
    pages.release()
    assert pages.has_room()
    pages.set_room(1)
    assert not pages.has_room()


def test_the_due_range_takes_no_budget_and_keeps_at_most_keep_pages() -> None:
    pages = RangedPages(keep=2, room=8)
    due = pages.add()
    pages.make_due(due)
    for n in range(2):
        assert pages.take(due) is False
        pages.put(due, (PAGE, n))
    thread, got = taking(pages, due)
    thread.join(SETTLE)
    assert got == []  # two pages waiting: the reader waits for the emitter
    assert pages.get(due) == (PAGE, 0)
    thread.join(5)
    assert got == [False]


def test_the_due_range_keeps_no_more_than_room_pages_either() -> None:
    pages = RangedPages(keep=8, room=1)
    due = pages.add()
    pages.make_due(due)
    pages.take(due)
    pages.put(due, (PAGE, 0))
    thread, got = taking(pages, due)
    thread.join(SETTLE)
    assert got == []
    pages.set_room(4)  # more room: the reader goes on without a page being taken
    thread.join(5)
    assert got == [False]


def test_more_room_lets_waiting_readers_go_on() -> None:
    pages = RangedPages(keep=2, room=1)
    pages.make_due(pages.add())
    later = pages.add()
    assert pages.take(later) is True
    thread, got = taking(pages, later)
    thread.join(SETTLE)
    assert got == []
    pages.set_room(2)
    thread.join(5)
    assert got == [True]


def test_items_come_out_in_order_and_close_frees_every_reader() -> None:
    pages = RangedPages(keep=2, room=1)
    first, second = pages.add(), pages.add()
    assert (first.index, second.index) == (0, 1)
    items: list[tuple[str, t.Any]] = [(PAGE, "a"), (PAGE, "b"), (END, None)]
    for item in items:
        pages.put(first, item)
    assert [pages.get(first) for _ in items] == items
    assert pages.take(second) is True
    waiting, got = taking(pages, second)
    full = threading.Thread(target=lambda: [pages.put(second, (PAGE, n)) for n in range(5)], daemon=True)
    full.start()
    waiting.join(SETTLE)
    full.join(SETTLE)
    assert got == []
    assert full.is_alive()
    pages.close()
    waiting.join(5)
    full.join(5)
    assert got == [False]
    assert not full.is_alive()


def test_read_into_queues_each_page_with_its_budget_and_gives_back_a_request_without_one() -> None:
    """A range not due reads within the budget: each page carries whether it holds a page of it; a request that
    finds no page (the range's query ran out) gives its page back, so another range may read it."""
    pages = RangedPages(keep=4, room=3)
    pages.make_due(pages.add())
    rng, other = pages.add(), pages.add()
    answers = iter([("a", True), ("b", True), (None, False)])
    pages.read_into(rng, lambda: next(answers))
    assert [rng.pages.get_nowait() for _ in range(2)] == [(PAGE, ("a", True)), (PAGE, ("b", True))]
    assert rng.pages.empty()
    thread, got = taking(pages, other)  # two pages of the budget held ("a", "b"), the third given back
    thread.join(5)
    assert got == [True]


def test_read_into_stops_at_the_last_page_and_sends_nothing_once_closed() -> None:
    """``more`` False ends the read after its page; closed while waiting for room: no request more."""
    pages = RangedPages(keep=4, room=1)
    pages.make_due(pages.add())
    rng = pages.add()
    asked: list[int] = []

    def next_page() -> tuple[int, bool]:
        asked.append(len(asked))
        return len(asked), len(asked) < 3

    reader = threading.Thread(target=pages.read_into, args=(rng, next_page), daemon=True)
    reader.start()
    reader.join(SETTLE)
    assert asked == [0]  # room for one page ahead: the second request waits for it to be emitted
    assert reader.is_alive()
    pages.release()
    reader.join(SETTLE)
    assert asked == [0, 1]
    pages.close()
    reader.join(5)
    assert not reader.is_alive()
    assert asked == [0, 1]  # closed while waiting for room: no third request

    due = RangedPages(keep=8, room=8)
    last = due.add()
    due.make_due(last)
    asked.clear()
    due.read_into(last, next_page)
    assert asked == [0, 1, 2]  # the third answer says no more follow
    assert [last.pages.get_nowait()[1] for _ in range(3)] == [(1, False), (2, False), (3, False)]


def test_a_byte_budget_reads_ahead_only_what_fits_beyond_floor_pages() -> None:
    """``room_bytes``: past ``floor`` pages (one here), a page is read ahead only while the pages ahead, the one
    asked for counted as the largest page weighed so far, fit; a page emitted (``release(rng)``) gives its bytes
    back. The page count alone (``room``) would let the reader take all five."""
    pages = RangedPages(keep=8, room=8, room_bytes=10, floor=1, weigh=len)
    pages.make_due(pages.add())
    rng = pages.add()
    asked: list[int] = []

    def next_page() -> tuple[str, bool]:
        asked.append(len(asked))
        return "abcd", len(asked) < 5  # 4 bytes each

    reader = threading.Thread(target=pages.read_into, args=(rng, next_page), daemon=True)
    reader.start()
    reader.join(SETTLE)
    assert len(asked) == 2  # two pages (8 bytes): a third would make 12
    pages.release(rng)
    reader.join(SETTLE)
    assert len(asked) == 3  # 4 bytes given back: one more fits, not two
    pages.close()
    reader.join(5)
    assert not reader.is_alive()


def test_floor_pages_are_read_ahead_whatever_their_size() -> None:
    """One page per range read at once is always allowed: a budget smaller than a page never stops the read."""
    pages = RangedPages(keep=8, room=8, room_bytes=0, floor=2, weigh=len)
    pages.make_due(pages.add())
    first, second = pages.add(), pages.add()
    answers = iter([("x" * 100, True), ("y" * 100, False)])
    pages.read_into(second, lambda: next(answers))  # two pages of the floor, the range's end after them
    assert [second.pages.get_nowait() for _ in range(2)] == [(PAGE, ("x" * 100, True)), (PAGE, ("y" * 100, True))]
    thread, got = taking(pages, first)
    thread.join(SETTLE)
    assert got == []  # a third page waits: past the floor, nothing fits in 0 bytes
    pages.release(second)
    thread.join(5)
    assert got == [True]


def test_room_goes_to_the_waiting_range_emitted_first() -> None:
    """Four ranges far ahead wait for room before the range after the one being emitted does: each page released
    goes to the waiting range emitted first (the near one, then the first far one), not to whichever reader wakes
    first (the near range's next page was then asked only once it was being emitted, a round trip waited for)."""
    pages = RangedPages(keep=2, room=1)
    pages.make_due(pages.add())
    near = pages.add()
    far = [pages.add() for _ in range(4)]
    assert pages.take(far[0]) is True  # the budget is full
    waiting = [taking(pages, rng) for rng in far]
    for thread, _ in waiting:
        thread.join(SETTLE / 4)
    near_thread, near_got = taking(pages, near)
    near_thread.join(SETTLE)
    assert near_got == []
    assert all(got == [] for _, got in waiting)
    pages.release()
    near_thread.join(5)
    assert near_got == [True]
    assert all(got == [] for _, got in waiting)  # the far ranges still wait
    pages.release()
    waiting[0][0].join(5)
    assert waiting[0][1] == [True]
    assert all(got == [] for _, got in waiting[1:])
    pages.close()
    for thread, got in waiting[1:]:
        thread.join(5)
        assert got == [False]  # stopped: no page taken


def test_room_goes_to_a_split_part_before_the_ranges_added_before_it_but_emitted_after() -> None:
    """An Oracle split adds its upper half last, but it is emitted right after the part it was split from: freed room
    goes to it before the ranges after that part (review 18b: by the order added, the split half got room last), and
    a second split of the same part ranks before the first's upper half, as it is emitted."""
    pages = RangedPages(keep=2, room=1)
    pages.make_due(pages.add())
    victim = pages.add()
    later = [pages.add() for _ in range(2)]
    upper = pages.add(after=victim)
    second = pages.add(after=victim)  # the part split again: its new upper half comes between it and ``upper``
    nested = pages.add(after=upper)
    assert sorted([victim, *later, upper, second, nested], key=lambda rng: rng.rank) == [
        victim,
        second,
        upper,
        nested,
        *later,
    ]
    assert pages.take(victim) is True  # the budget is full
    waiting = [taking(pages, rng) for rng in [*later, nested, upper]]
    for thread, _ in waiting:
        thread.join(SETTLE / 4)
    pages.release()
    waiting[-1][0].join(5)
    assert waiting[-1][1] == [True]  # ``upper``, emitted before the later ranges though added after them
    assert all(got == [] for _, got in waiting[:-1])
    pages.close()
    for thread, got in waiting[:-1]:
        thread.join(5)
        assert got == [False]
