"""Rows inserted or deleted by another user while a window of offset pages is in flight (RELIABILITY E7).

Framework 1 pages ``workers`` by ``offset`` (no keyset ``q``), so the tap asks for several pages at once. Page 2
is held back by the emulator until the pages asked for beside it were answered (not for a fixed time: a loaded
machine may send them later than any hold); when page 2 is finally served,
a row is inserted (or deleted) before it is read. Read one page after another, an insert repeats a row and never
hides one; a window must not do worse. Every page of a window asks for ``totalResults`` and must report the
count of the page before the window: page 2's moved count drops pages 3 and 4 and asks for them again."""

from __future__ import annotations

import typing as t

from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.products.oracle_fusion.hcm import OracleHcmEmulator, person_id

from .conftest import hcm_config, run_tap, unstamped

PATH = "/hcmRestApi/resources/*/workers"
NEW_PERSON_ID = person_id(9_000_000)


def config(url: str, window: int) -> dict[str, t.Any]:
    """The shipped ``full_read_every_days``: STATEs are compared ``unstamped`` (review24f #2)."""
    return hcm_config(url, resources=["workers"], page_size=10, rest_framework_version="1",
                      max_concurrent_requests=window)  # fmt: skip


def read_ids(url: str, window: int) -> list[int]:
    return [r["PersonId"] for r in run_tap(config(url, window), streams={"workers"}).records("workers")]


def index_of(emulator: OracleHcmEmulator, person: int) -> int:
    return next(i for i in range(emulator.resources["workers"].count()) if person_id(i) == person)


def when_page_2_is_served(
    emulator: OracleHcmEmulator, sandbox: t.Any, change: t.Callable[[], None], answered: int
) -> int:
    """``change`` runs when page 2 (offset 10) is served, held back until ``answered`` pages were answered (page 1
    and those a window asks for beside page 2: ``answered`` = the window; 30 s at most), so pages 3.. are answered
    before it whatever the load. Returns where this run's collection requests start in
    ``emulator.collection_queries``."""
    done = False

    def before(served: int) -> None:
        nonlocal done
        if not done and emulator.collection_queries[-1].get("offset") == "10":
            done = True
            change()

    emulator.before_collection = before
    held = FaultSpec("stall", seconds=30.0, until_answered=answered, times=1, query={"offset": "10"})
    sandbox.faults.add("oracle_hcm", PATH, held)
    return len(emulator.collection_queries)


def served_offsets(emulator: OracleHcmEmulator, start: int) -> list[str]:
    return [q.get("offset", "0") for q in emulator.collection_queries[start:] if q.get("limit")]


def test_insert_inside_a_page_answered_late_loses_no_row(url: str, sandbox: t.Any, emulator: OracleHcmEmulator) -> None:
    before = read_ids(url, 1)
    # A person whose LastUpdateDate sorts right after the 15th row: inside page 2, after its first row, so page 2
    # (answered late) ends one row earlier than page 3 (answered early) begins, and no row repeats.
    copied = emulator.resources["workers"].source_row(index_of(emulator, before[14]))
    row = {**copied, "PersonId": NEW_PERSON_ID, "PersonNumber": "E-NEW-1"}
    start = when_page_2_is_served(emulator, sandbox, lambda: emulator.insert_row("workers", row), 4)
    read = read_ids(url, 4)
    offsets = served_offsets(emulator, start)
    assert offsets.index("20") < offsets.index("10"), f"page 3 was not answered before page 2: {offsets}"
    assert set(before) <= set(read), f"lost {sorted(set(before) - set(read))}"
    assert NEW_PERSON_ID in read
    assert offsets.count("20") == 2, "pages asked for before page 2's count moved are asked for again"
    windowed = [q for q in emulator.collection_queries[start:] if q.get("limit")]
    assert all(q.get("totalResults") == "true" for q in windowed), "every page of a window asks for the count"


def test_insert_in_turn_with_window_1_loses_no_row_either(
    url: str, sandbox: t.Any, emulator: OracleHcmEmulator
) -> None:
    """The control: the same insert read one page after another (the kit's default where there is no count)."""
    before = read_ids(url, 1)
    copied = emulator.resources["workers"].source_row(index_of(emulator, before[14]))
    row = {**copied, "PersonId": NEW_PERSON_ID, "PersonNumber": "E-NEW-1"}
    start = when_page_2_is_served(emulator, sandbox, lambda: emulator.insert_row("workers", row), 1)
    read = read_ids(url, 1)
    assert set(before) <= set(read)
    assert "totalResults" not in emulator.collection_queries[start + 1]  # window 1: the count on page 1 only


def test_delete_while_a_window_is_in_flight_loses_no_more_than_in_turn(
    url: str, sandbox: t.Any, emulator: OracleHcmEmulator
) -> None:
    """A row of page 1 deleted when page 2 is served: every row after it moves up one place, so the row that
    moves from page 2 into page 1 is skipped by any offset read, in turn or not. The window skips nothing more."""
    before = read_ids(url, 1)
    gone = before[4]

    def lost_with(window: int) -> set[int]:
        emulator.reset()
        delete = index_of(emulator, gone)
        when_page_2_is_served(emulator, sandbox, lambda: emulator.delete_row("workers", delete), window)
        read = read_ids(url, window)
        sandbox.faults.clear("oracle_hcm")
        return set(before) - {gone} - set(read)

    in_turn, windowed = lost_with(1), lost_with(4)
    assert in_turn == {before[10]}  # offset paging's own E7 loss: why incremental resources page by keyset
    assert windowed <= in_turn


def test_nothing_changes_same_records_and_state_as_window_1(url: str, emulator: OracleHcmEmulator) -> None:
    one = run_tap(config(url, 1), streams={"workers"})
    four = run_tap(config(url, 4), streams={"workers"})
    assert four.records("workers") == one.records("workers")
    assert unstamped(four.state) == unstamped(one.state)


def test_a_failed_page_among_those_asked_again_does_not_stop_the_read(
    url: str, sandbox: t.Any, emulator: OracleHcmEmulator
) -> None:
    """Page 4 fails once while page 2 is held back; page 2's moved count drops pages 3 and 4 (the failed one
    unseen) and asks for them again, so the failure never reaches the read and every row is read."""
    before = read_ids(url, 1)
    copied = emulator.resources["workers"].source_row(index_of(emulator, before[14]))
    row = {**copied, "PersonId": NEW_PERSON_ID, "PersonNumber": "E-NEW-1"}
    # pages 1, 3 and 4 (its 400): page 5 is not sent when page 4 failed before its worker started
    start = when_page_2_is_served(emulator, sandbox, lambda: emulator.insert_row("workers", row), 3)
    sandbox.faults.add("oracle_hcm", PATH, FaultSpec("status", status=400, times=1, query={"offset": "30"}))
    read = read_ids(url, 4)
    assert set(before) | {NEW_PERSON_ID} == set(read)
    assert [r.status for r in sandbox.requests("oracle_hcm")].count(400) == 1  # page 4's first answer
    assert "30" in served_offsets(emulator, start)  # asked for again (the 400 came from before the emulator)


def test_a_count_that_keeps_moving_ends_the_window(url: str, sandbox: t.Any, emulator: OracleHcmEmulator) -> None:
    """Someone creates a person before every page is served: every count moves. After ``MAX_RECOUNTS`` pages
    asked again the rest is read in turn, so the window wastes at most that many windows of requests."""
    from xlr8_kit.http.window import MAX_RECOUNTS

    before = read_ids(url, 1)
    last = emulator.resources["workers"].source_row(index_of(emulator, before[-1]))

    def requests_with(window: int) -> tuple[int, set[int]]:
        emulator.reset()
        made = 0

        def create(served: int) -> None:
            nonlocal made
            made += 1
            emulator.insert_row("workers", {**last, "PersonId": NEW_PERSON_ID + made, "PersonNumber": f"E-NEW-{made}"})

        emulator.before_collection = create
        read = set(read_ids(url, window))
        return len([q for q in emulator.collection_queries if q.get("limit")]), read

    in_turn, read_in_turn = requests_with(1)
    windowed, read_windowed = requests_with(4)
    assert set(before) <= read_windowed
    assert set(before) <= read_in_turn
    assert in_turn == len(read_in_turn) // 10 + 1  # one request per page of 10
    # Every request creates a person, so the windowed read (more requests) has more rows to read: the requests
    # beyond one per page of its own rows are the pages asked for again, at most a window's worth per moved count.
    assert len(read_windowed) // 10 + 1 < windowed <= len(read_windowed) // 10 + 1 + (MAX_RECOUNTS + 1) * (4 - 1)
