"""Keyset reads split by range of (LastUpdateDate, PersonId) and read side by side (``xlr8_kit.oracle.ranges``),
over real HTTP against the emulator: the same records and STATE as the read page after page when nothing changes;
a row updated during the read is not lost; a failure in a later range (or its page from its bound failing to
parse) stops the read after the rows before it; skewed timestamps; resume from a bookmark.

100 workers, 3 rows a page: page 1, then 8 ranges (``range_rows``: 33 pages left, two rounds of 4 ranges of at most 8
pages each, within a page of each other: one of 5 pages, seven of 4, each after the first one row short of its pages:
15 rows, then 11 each; bounds at offsets 17, 28, 39, 50, 61, 72, 83, each the first row of the page there, whose
other rows are the next range's first), 4 read at once.

A read goes page after page until the round trips show latency (``xlr8_kit.oracle.ranges.latency_shows``); the
tests of the ranges themselves start them after page 1 whatever the round trips (``RANGES_AT`` 0, as every read did
before session 20), those of the switch say when it comes."""

from __future__ import annotations

import itertools
import re
import time
import typing as t
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from xlr8_kit.oracle import ranges
from xlr8_kit.oracle.protocol import Keyset, join_q, keyset_q, upto_q
from xlr8_kit.oracle.ranges import range_rows
from xlr8_kit.oracle.stream import FusionStream
from xlr8_kit.oracle.testing import ScriptedStopwatch
from xlr8_kit.testing.fake_time import FakeTime
from xlr8_kit.testing.singer_cli import select_streams
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.products.oracle_fusion.hcm import OracleHcmEmulator, person_id
from xlr8_sandbox.read_ahead_checks import sync_until_error
from xlr8_tap_oracle_hcm.tap import TapOracleHcm

from .conftest import hcm_config, run_tap, unstamped

PATH = "/hcmRestApi/resources/*/workers"


@pytest.fixture(autouse=True)
def ranges_from_page_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every read at a window past 1 ranges its rows after page 1, whatever the round trips (on a loaded machine a
    page at 0 ms can look like latency, or not)."""
    monkeypatch.setattr("xlr8_kit.oracle.ranges.RANGES_AT", 0.0)


def config(url: str, window: int, **extra: t.Any) -> dict[str, t.Any]:
    """``window`` ranges at once whatever the round trips (``latency_concurrent_requests`` the same, unless given)."""
    extra.setdefault("latency_concurrent_requests", window)
    return hcm_config(url, resources=["workers"], page_size=3, max_concurrent_requests=window, **extra)


def ranged(emulator: OracleHcmEmulator, start: int) -> list[dict[str, str]]:
    """The range requests (an upper bound in ``q``) since ``start``."""
    return [q for q in emulator.collection_queries[start:] if "<=" in q.get("q", "")]


def bound(record: dict[str, t.Any]) -> Keyset:
    return Keyset(record["LastUpdateDate"], record["PersonId"])


def range_q(after: dict[str, t.Any], upto: dict[str, t.Any]) -> str:
    """The ``q`` of a range's first request, as the tap writes it (bounds from the rows read in turn)."""
    parts = [upto_q("LastUpdateDate", "PersonId", True, bound(upto)), keyset_q("LastUpdateDate", "PersonId", True,
                                                                               bound(after))]  # fmt: skip
    return str(join_q(parts, "4"))


def test_nothing_changes_same_records_and_state_as_page_after_page(
    url: str, emulator: OracleHcmEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The plan's own requests: no range split by a free reader (a loaded machine can look like latency).
    monkeypatch.setattr("xlr8_kit.oracle.ranges.MIN_SPLIT_PAGES", 10**9)
    one = run_tap(config(url, 1), streams={"workers"})
    start = len(emulator.collection_queries)
    four = run_tap(config(url, 4), streams={"workers"})
    asked = emulator.collection_queries[start:]
    assert len(one.records("workers")) == 100
    assert four.records("workers") == one.records("workers")
    assert unstamped(four.of_type("STATE")) == unstamped(one.of_type("STATE"))
    assert sorted(int(q["offset"]) for q in asked if int(q.get("offset", 0))) == [17, 28, 39, 50, 61, 72, 83]
    assert not any(q.get("limit") == "1" for q in asked)
    assert len(ranged(emulator, start)) >= 7 * 3, "seven bounded ranges were read on by keyset"
    # No request places a bound alone: page 1, range 0's 5 pages, ranges 1-6 4 each (the page from the bound,
    # then 3 by keyset), range 7's page from its bound and 5 by keyset (14 rows), and at most the final request
    # after the last row (the read ended before everything ahead of it was emitted). With a request of its own
    # per bound (``limit=1``), 41 or 42.
    assert len(asked) in (36, 37), [(q.get("offset"), q.get("q")) for q in asked]


def test_throttled_ranges_wait_retry_after_and_land_everything(url: str, emulator: OracleHcmEmulator) -> None:
    """At the default width (8) the tenant throttles (503 with Retry-After: 7) the eight requests after the first
    range request, ranges' and bounds' while several are in flight: each waits 7 s and is asked again; the records
    and STATE are those of the read page after page. Eight is more than the circuit breaker's five failures in a
    row: a 5xx that says when to come back is pacing, not a host failure, so it must not open the circuit."""
    one = run_tap(config(url, 1), streams={"workers"})
    start = len(emulator.collection_queries)

    def throttle(served: int) -> None:
        if ranged(emulator, start):
            emulator.before_collection = None
            emulator.throttle(8, retry_after=7)

    emulator.before_collection = throttle
    fake = FakeTime()
    tap_config = hcm_config(url, resources=["workers"], page_size=3)
    assert "max_concurrent_requests" not in tap_config
    # Enough attempts that no one request gives up, whichever of them the eight 503s fall on.
    tap_config["http"] = {**tap_config.get("http", {}), "max_attempts": 10}
    output = run_tap(tap_config, streams={"workers"}, fake=fake)
    assert emulator.before_collection is None, "the ranges were read"
    assert fake.sleeps.count(7) == 8
    assert output.records("workers") == one.records("workers")
    assert unstamped(output.of_type("STATE")) == unstamped(one.of_type("STATE"))


def test_requests_in_turn_at_window_1_are_unchanged(url: str, emulator: OracleHcmEmulator) -> None:
    """``max_concurrent_requests: 1``: no bound asked for, no range read (today's keyset read)."""
    start = len(emulator.collection_queries)
    run_tap(config(url, 1), streams={"workers"})
    asked = emulator.collection_queries[start:]
    assert len(asked) == 34  # 100 rows, 3 a page: 34 pages, the last one short
    assert not ranged(emulator, start)
    assert all(q["limit"] == "3" for q in asked)


def test_skewed_timestamps_same_records_and_state(url: str, emulator: OracleHcmEmulator) -> None:
    """Most rows share one LastUpdateDate (a mass update): bounds fall on ties of it, the key splits them, and
    every row is read once, in the same order as in turn."""
    emulator.change_rows("workers", lambda i, row: {**row, "LastUpdateDate": "2024-06-01T00:00:00+00:00"}
                         if i % 10 else row)  # fmt: skip
    one = run_tap(config(url, 1), streams={"workers"})
    start = len(emulator.collection_queries)
    four = run_tap(config(url, 4), streams={"workers"})
    assert sum(r["LastUpdateDate"] == "2024-06-01T00:00:00+00:00" for r in one.records("workers")) == 90
    assert four.records("workers") == one.records("workers")
    assert unstamped(four.of_type("STATE")) == unstamped(one.of_type("STATE"))
    tied = [q for q in ranged(emulator, start) if q["q"].count("2024-06-01T00:00:00+00:00") == 4]
    assert tied, "a range both starts and ends inside the tie"


def test_resume_from_a_bookmark_same_records_and_state(url: str, emulator: OracleHcmEmulator) -> None:
    every = run_tap(config(url, 1), streams={"workers"}).records("workers")
    bookmark = every[20]["LastUpdateDate"]
    fresh = datetime.now(UTC).replace(microsecond=0).isoformat()  # a whole read 0 days ago: none due, it resumes
    state = {"bookmarks": {"workers": {"replication_key": "LastUpdateDate", "replication_key_value": bookmark,
                                       "xlr8_full_read_at": fresh}}}  # fmt: skip
    exact = {"lookback_seconds": 0}  # from the bookmark exactly (the lookback: tap-oracle-erp test_lookback)
    one = run_tap({**config(url, 1), **exact}, streams={"workers"}, state=state)
    start = len(emulator.collection_queries)
    four = run_tap({**config(url, 4), **exact}, streams={"workers"}, state=state)
    assert one.records("workers") == every[20:]
    assert four.records("workers") == one.records("workers")
    assert unstamped(four.of_type("STATE")) == unstamped(one.of_type("STATE"))
    assert ranged(emulator, start)
    assert all(bookmark in q["q"] for q in ranged(emulator, start))


def open_ended(query: dict[str, str]) -> bool:
    """A request of the last range (after a row, no upper bound)."""
    return "PersonId >" in query.get("q", "") and "<=" not in query.get("q", "")


@pytest.mark.parametrize("which", ["later range", "page 1", "after the last range"])
def test_a_row_updated_during_the_read_is_read(url: str, emulator: OracleHcmEmulator, which: str) -> None:
    """Another user updates a row (its LastUpdateDate moves past every row) when the second range request is
    served (a row of a later range not read yet, or a row of page 1 already emitted), or once a request of the
    last range was answered (a row of range 1). Its new version is read in the same run (the last range has no
    upper bound, and the read ends page after page after the last row emitted, once everything before the last
    range was emitted), after every other row, and the bookmark ends on it."""
    before = run_tap(config(url, 1), streams={"workers"}).records("workers")
    moved = {"later range": before[80], "page 1": before[1], "after the last range": before[20]}[which]
    index = moved["PersonId"] - person_id(0)
    updated = "2099-01-01T00:00:00+00:00"
    start = len(emulator.collection_queries)

    def due() -> bool:
        if which == "after the last range":
            return any(open_ended(q) for q in emulator.collection_queries[start:-1])
        return len(ranged(emulator, start)) == 2

    def update(served: int) -> None:
        if due() and emulator.before_collection is not None:
            emulator.before_collection = None
            emulator.update_row("workers", index, {"LastUpdateDate": updated})

    emulator.before_collection = update
    output = run_tap(config(url, 4), streams={"workers"})
    read = output.records("workers")
    assert emulator.before_collection is None, "the update happened during the read"
    assert {r["PersonId"] for r in read} == {r["PersonId"] for r in before}
    assert read[-1]["PersonId"] == moved["PersonId"]
    assert read[-1]["LastUpdateDate"] == updated
    stamps = [r["LastUpdateDate"] for r in read]
    assert stamps == sorted(stamps), "records stay in LastUpdateDate order (the bookmark never goes back)"
    final = output.of_type("STATE")[-1]["value"]["bookmarks"]["workers"]
    assert final["replication_key_value"] == updated


def test_a_failure_in_a_later_range_stops_after_the_rows_before_it(
    url: str, sandbox: t.Any, emulator: OracleHcmEmulator
) -> None:
    """The first keyset request of range 2 (rows 29-39; the page from its bound held rows 29 and 30) answers 400
    while ranges 1-3 are in flight: page 1, ranges 0 and 1 and range 2's first rows are emitted, nothing after them;
    no bookmark past the rows emitted."""
    before = run_tap(config(url, 1), streams={"workers"}).records("workers")
    failing = range_q(after=before[30], upto=before[39])
    sandbox.faults.add("oracle_hcm", PATH, FaultSpec("status", status=400, times=1, query={"q": failing}))
    tap_config = config(url, 4)
    catalog = select_streams(TapOracleHcm(config=tap_config, parse_env_config=False).catalog_dict, {"workers"})
    start = len(emulator.collection_queries)
    output, error = sync_until_error(TapOracleHcm(config=tap_config, catalog=catalog, parse_env_config=False))
    assert error is not None
    assert "400" in str(error), error
    assert [q.get("q") for q in emulator.collection_queries[start:]].count(failing) == 0  # refused before serving
    assert output.records("workers") == before[:31]
    for message in output.of_type("STATE"):
        value = (message["value"].get("bookmarks") or {}).get("workers", {}).get("replication_key_value")
        assert value is None or value <= before[30]["LastUpdateDate"]


def test_a_page_from_a_bound_that_fails_to_parse_stops_after_the_range_before_it(
    url: str, emulator: OracleHcmEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page at bound 3's offset (39: bound 3, the last row of range 2, then range 3's first rows) fails to parse
    (a row the stream cannot shape): bound 3 is still placed from it, so ranges 0-2 are emitted whole, rows 0-39, as
    page after page would emit them before failing on that page; then the error; no bookmark past row 39."""
    from xlr8_kit.oracle.stream import FusionStream

    before = run_tap(config(url, 1), streams={"workers"}).records("workers")
    parse = FusionStream.parse_response

    def failing(self: FusionStream, response: t.Any) -> t.Any:
        if "offset=39&" in str(response.request.url):
            raise ValueError("cannot shape a row of the page at offset 39")
        return parse(self, response)

    monkeypatch.setattr(FusionStream, "parse_response", failing)
    tap_config = config(url, 4)
    catalog = select_streams(TapOracleHcm(config=tap_config, parse_env_config=False).catalog_dict, {"workers"})
    output, error = sync_until_error(TapOracleHcm(config=tap_config, catalog=catalog, parse_env_config=False))
    assert isinstance(error, ValueError), error
    assert output.records("workers") == before[:40]
    for message in output.of_type("STATE"):
        value = (message["value"].get("bookmarks") or {}).get("workers", {}).get("replication_key_value")
        assert value is None or value <= before[39]["LastUpdateDate"]


def test_the_emulator_serves_a_range_as_its_query_says(url: str, emulator: OracleHcmEmulator) -> None:
    """The emulator's seek on a range's bounds (``_UPTO``) serves what evaluating the whole ``q`` serves (a
    condition after the keyset part turns the seek off)."""
    import requests

    emulator.change_rows("workers", lambda i, row: {**row, "LastUpdateDate": "2024-06-01T00:00:00+00:00"}
                         if i % 3 else row)  # fmt: skip
    rows = run_tap(config(url, 1), streams={"workers"}).records("workers")
    base = f"{url}/hcmRestApi/resources/11.13.18.05/workers"
    auth = (hcm_config(url)["username"], hcm_config(url)["password"])
    for low, high in [(5, 40), (30, 31), (40, 90), (0, 99)]:
        q = range_q(after=rows[low], upto=rows[high])
        params = {"onlyData": "true", "limit": "500", "orderBy": "LastUpdateDate:asc,PersonId:asc",
                  "fields": "PersonId", "q": q}  # fmt: skip
        sought = requests.get(base, params=params, auth=auth, headers={"REST-Framework-Version": "4"}, timeout=10)
        params["q"] = f"{q} and (PersonId > 0)"
        scanned = requests.get(base, params=params, auth=auth, headers={"REST-Framework-Version": "4"}, timeout=10)
        assert sought.status_code == scanned.status_code == 200
        expected = [r["PersonId"] for r in rows[low + 1 : high + 1]]
        assert [r["PersonId"] for r in sought.json()["items"]] == expected
        assert [r["PersonId"] for r in scanned.json()["items"]] == expected


#: Requests of the split test's read answered before its stalled one: page 1, range 0's 5 pages, ranges 1-6's 4 each,
#: range 7's page from its bound, and the split's two (the page at offset 94, then rows 97-99 by keyset).
ANSWERED_BEFORE_THE_STALLED = 1 + 5 + 6 * 4 + 1 + 2


def test_a_free_reader_splits_the_last_range_same_records_and_state(
    url: str, sandbox: t.Any, emulator: OracleHcmEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """100 ms a request, on the wire and by the read's stopwatch (``ScriptedStopwatch``: the first answers show
    latency whatever the load, so a free reader may split), and the last range's first request by keyset (after
    row 85, its page from bound 7 held rows 84 and 85) is held until every other request of the read was answered
    (``until_answered``; a fixed 3 s once ran out first at load 20): the readers done with the other ranges split it
    at the page at offset 94 (4 pages not asked for after the stalled one, by the count: about half each), so the
    range reads up to row 94 and the upper half from it. The records and STATE are those of the read page after
    page."""
    one = run_tap(config(url, 1), streams={"workers"})
    before = one.records("workers")
    stalled = str(join_q([keyset_q("LastUpdateDate", "PersonId", True, bound(before[85]))], "4"))
    hold = FaultSpec("stall", seconds=30, until_answered=ANSWERED_BEFORE_THE_STALLED, times=1, query={"q": stalled})
    sandbox.faults.add("oracle_hcm", PATH, hold)
    sandbox.faults.set_latency("oracle_hcm", 100, PATH)
    monkeypatch.setattr(FusionStream, "stopwatch", ScriptedStopwatch(0.1))
    start = len(emulator.collection_queries)
    try:
        four = run_tap(config(url, 4), streams={"workers"})
    finally:
        sandbox.faults.clear("oracle_hcm")
    asked = emulator.collection_queries[start:]
    assert [q.get("q") for q in asked].count(stalled) == 1
    assert sorted(int(q["offset"]) for q in asked if int(q.get("offset", 0))) == [17, 28, 39, 50, 61, 72, 83, 94]
    assert range_q(after=before[88], upto=before[94]) in [q.get("q") for q in asked], "range 7 read up to row 94"
    assert four.records("workers") == before
    assert unstamped(four.of_type("STATE")) == unstamped(one.of_type("STATE"))


def plain(asked: list[dict[str, str]]) -> list[dict[str, str]]:
    """Requests a read page after page sends: none at an offset past 0, none with an upper bound."""
    return [q for q in asked if not int(q.get("offset", 0)) and "<=" not in q.get("q", "")]


def test_pages_that_come_back_fast_are_read_by_one_cursor(
    url: str, emulator: OracleHcmEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Round trips that never show latency (``RANGES_AT`` out of reach): the default window (8) reads by one cursor,
    the very requests of ``max_concurrent_requests: 1``, no bound asked (at 0 ms the ranges cost HCM workers 1.4-1.7
    times one cursor's CPU, session 20); the same records and STATE."""
    monkeypatch.setattr("xlr8_kit.oracle.ranges.RANGES_AT", float("inf"))
    start = len(emulator.collection_queries)
    one = run_tap(config(url, 1), streams={"workers"})
    middle = len(emulator.collection_queries)
    eight = run_tap(hcm_config(url, resources=["workers"], page_size=3), streams={"workers"})
    assert len(one.records("workers")) == 100
    assert emulator.collection_queries[middle:] == emulator.collection_queries[start:middle]
    assert eight.records("workers") == one.records("workers")
    assert unstamped(eight.of_type("STATE")) == unstamped(one.of_type("STATE"))


def test_latency_after_some_pages_plans_ranges_after_the_last_row_read(
    url: str, emulator: OracleHcmEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The round trips show latency from page 5 on (the verdict, ``latency_shows``, says so at its fifth call): pages
    1-5 (rows 0-14) are read by one cursor, then the ranges are planned for the 85 rows left, after row 14: bounds at
    row 14 plus each range's rows, range 0 read from row 14 up to its bound. The records and STATE are those of the
    read page after page.

    The plan's own requests only: no range split by a free reader. The split waits on ``Growth.answered``, which
    weighs the first answers' round trips against what page 5 cost the tap, here a 3-row page at 0 ms whose ratio
    the machine's load decides (the emulator's sockets without TCP_NODELAY put a 40 ms delayed-ACK stall into that
    cost and hid it: no split ever; with it, a ratio of 18 split a range on a loaded machine, offsets [35, 38, 58,
    78]). Splits are tested at 100 ms (``test_a_free_reader_splits_the_last_range_same_records_and_state``)."""
    calls: list[int] = []

    def shows(ratios: t.Sequence[float]) -> bool:
        calls.append(len(ratios))
        return len(calls) >= 5

    monkeypatch.setattr("xlr8_kit.oracle.ranges.latency_shows", shows)
    monkeypatch.setattr("xlr8_kit.oracle.ranges.MIN_SPLIT_PAGES", 10**9)
    one = run_tap(config(url, 1), streams={"workers"})
    before = one.records("workers")
    start = len(emulator.collection_queries)
    four = run_tap(config(url, 4), streams={"workers"})
    asked = emulator.collection_queries[start:]
    sizes = range_rows(100 - 15, 3, 4)
    bounds = [15 + sum(sizes[: j + 1]) - 1 for j in range(len(sizes) - 1)]
    assert len(calls) == 5
    assert plain(asked[:5]) == asked[:5] == emulator.collection_queries[start - 34 : start - 29]
    assert sorted(int(q["offset"]) for q in asked if int(q.get("offset", 0))) == bounds
    assert range_q(after=before[14], upto=before[bounds[0]]) in [q.get("q") for q in asked], "range 0 after row 14"
    assert four.records("workers") == before
    assert unstamped(four.of_type("STATE")) == unstamped(one.of_type("STATE"))


def test_ordering_values_finer_than_microseconds_are_read_by_one_cursor(url: str, emulator: OracleHcmEmulator) -> None:
    """``LastUpdateDate`` spelled with 7 fractional digits: no bound could be placed against page 1's last row
    (``compare``), so the read goes on by one cursor at any latency: no bound asked (review 19b: every planned
    bound was asked, then thrown away); the requests, records and STATE of ``max_concurrent_requests: 1``."""
    emulator.change_rows("workers", lambda i, row: {**row, "LastUpdateDate": re.sub(
        r"(T\d\d:\d\d:\d\d)(\.\d+)?", r"\g<1>.1000000", row["LastUpdateDate"])})  # fmt: skip
    start = len(emulator.collection_queries)
    one = run_tap(config(url, 1), streams={"workers"})
    middle = len(emulator.collection_queries)
    four = run_tap(config(url, 4), streams={"workers"})
    assert ".1000000" in one.records("workers")[0]["LastUpdateDate"]
    assert emulator.collection_queries[middle:] == emulator.collection_queries[start:middle]
    assert four.records("workers") == one.records("workers")
    assert unstamped(four.of_type("STATE")) == unstamped(one.of_type("STATE"))


def in_flight(requests: t.Sequence[t.Any], since: float = 0.0) -> int:
    """The most requests the emulator was answering at once (from each request's arrival to its answer), counting
    only what was in flight from ``since`` (wall clock) on."""
    events = sorted([(max(r.arrived_at, since), 1) for r in requests if r.at > since] + [(r.at, -1) for r in requests
                                                                                        if r.at > since])  # fmt: skip
    busy = peak = 0
    for _, step in events:  # an answer before an arrival at the same instant
        busy += step
        peak = max(peak, busy)
    return peak


#: The slots a widened read holds at most (``latency_concurrent_requests``).
WIDENED = 16


def sent_after(requests: t.Sequence[t.Any], narrowed: float) -> list[t.Any]:
    """The requests that arrived after the read narrowed (``narrowed``: when it first saw the session's retry,
    ``Decision.at``), in order of arrival, less the first ``WIDENED``: those may hold slots taken before the
    narrowing (at most ``WIDENED`` were held then), sent late by a starved thread. Any later one arrived after the
    read took a slot narrowed (more than ``WIDENED`` arrivals, so one of them was such a slot), and from that take
    on it held no more than 8. Counted by events (the decision, then arrivals in the emulator's log), not by a
    window of wall-clock time after the fault: 0.4 s before session 27, which a slot taken before the narrowing
    and sent later by a starved thread could outlast."""
    return sorted((r for r in requests if r.arrived_at > narrowed), key=lambda r: r.arrived_at)[WIDENED:]


def in_flight_at_arrivals(requests: t.Sequence[t.Any], narrowed: float) -> int:
    """The most requests in flight (all of them, stragglers from before included) at the arrival of any request of
    ``sent_after(requests, narrowed)``. A narrowed read sends nothing while 8 are held, so stragglers count only when
    a new request lands on top of them (review23f Low 1: counting only the requests sent after the fault missed a
    read that narrowed late; counting every request in flight then caught stragglers while nothing was sent). A
    request the emulator has in flight holds its slot in the tap, so a read holding 8 shows no more than 8."""
    return max(
        (sum(1 for q in requests if q.arrived_at <= r.arrived_at < q.at) for r in sent_after(requests, narrowed)),
        default=0,
    )


@dataclass(frozen=True)
class Decision:
    """One look of a read's ``InFlight`` at its limit (the slot's, under its lock): a slot taken if busy < limit."""

    busy: int
    limit: int
    #: The session had retried an answer (429, 5xx) since the read began, read before the limit was.
    throttled: bool
    #: Wall clock when it was read (the emulator's log's clock): the first throttled one is when the read narrowed.
    at: float


@pytest.fixture
def decisions(monkeypatch: pytest.MonkeyPatch) -> list[Decision]:
    """What the tap decided, in process (review23f Low 2: the wire alone depends on the load, and a read that never
    widened under load passed as narrowed). Wraps whatever ``InFlight.limit`` is, a mutant's included."""
    log: list[Decision] = []
    decide = ranges.InFlight.limit.fget
    assert decide is not None

    def limit(self: ranges.InFlight) -> int:
        throttled = self._throttled is not None and self._throttled() > self._seen  # first: it only grows
        value = decide(self)
        log.append(Decision(self._busy, value, throttled, time.time()))
        return value

    monkeypatch.setattr(ranges.InFlight, "limit", property(limit))
    return log


def assert_narrowed(decisions: list[Decision], asked: list[t.Any], fault: float) -> float:
    """Widened to 16 before the fault, 8 from the moment the read saw the session retry, never again a slot taken
    with 8 held; on the wire, no more than 8 in flight at the arrival of any request after the narrowing but the first
    ``WIDENED`` (``sent_after``). Returns when the read narrowed."""
    before = [d for d in decisions if not d.throttled]
    after = [d for d in decisions if d.throttled]
    assert before, "the read looked at its limit before the fault"
    assert {d.limit for d in before} == {16}, "widened before the fault"
    assert {d.limit for d in after} == {8}, "narrowed as soon as the session retried"
    taken = [d for d in after if d.busy < d.limit]
    assert len(taken) > 30, "most of the read came after the fault"
    assert max(d.busy for d in taken) < 8
    narrowed = after[0].at
    assert in_flight_at_arrivals(asked, narrowed) <= 8
    peak = in_flight([r for r in asked if r.arrived_at < fault])
    if peak <= 8:  # the load, not the tap (the emitter kept few pages ahead: ``Growth``); its decisions are above
        warnings.warn(f"the wire showed {peak} in flight before the fault, not more than 8", UserWarning, stacklevel=2)
    return narrowed


def collection(sandbox: t.Any, start: int) -> list[t.Any]:
    """The workers collection's requests the emulator logged since ``start`` (its log's length then)."""
    return [r for r in sandbox.requests("oracle_hcm")[start:] if r.path.endswith("/workers")]


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> t.Callable[[float], None]:
    """Sets the round trip the reads' stopwatch reports from now on (``ScriptedStopwatch``): whether a read widens
    (``latency_width``) and how far it reads ahead (``Growth``) then follow it, not the machine's load (on the wall
    clock, at load 15 beside two busy loops, a 1-row page at 300 ms cost the tap more than a sixteenth of its round
    trip in 7 of 30 narrowing runs: the read kept 8, "widened before the fault" failed; session 27)."""

    def stopwatch(seconds: float) -> None:
        monkeypatch.setattr(FusionStream, "stopwatch", ScriptedStopwatch(seconds))

    return stopwatch


def run_slow(
    sandbox: t.Any,
    round_trips: t.Callable[[float], None],
    config: dict[str, t.Any],
    streams: set[str],
    *faults: tuple[str, FaultSpec],
) -> t.Any:
    """The tap at 300 ms a request, on the wire and by its stopwatch (``faults`` added on top): page 1's round trip
    dwarfs its cost on any machine."""
    round_trips(0.3)
    sandbox.faults.set_latency("oracle_hcm", 300, PATH)
    for path, spec in faults:
        sandbox.faults.add("oracle_hcm", path, spec)
    try:
        return run_tap(config, streams=streams)
    finally:
        sandbox.faults.clear("oracle_hcm")


def planned(width: int, page: int) -> set[int]:
    """The offsets of the bounds of the ranges planned after page 1 for ``width`` (100 rows, ``page`` a page): each
    bound the row before its range's first (``RangedRead._place``)."""
    return {page - 1 + rows for rows in itertools.accumulate(range_rows(100 - page, page, width)[:-1])}


@pytest.mark.filterwarnings("default:the wire showed:UserWarning")
def test_round_trips_long_against_a_page_widen_the_read_past_max_concurrent_requests(
    url: str,
    sandbox: t.Any,
    emulator: OracleHcmEmulator,
    round_trips: t.Callable[[float], None],
    decisions: list[Decision],
) -> None:
    """300 ms a request, 2 rows a page (50 pages): page 1's round trip is ~200 times what the page costs the tap
    (``latency_width``), so the read keeps more than ``max_concurrent_requests`` (8, the default) in flight, up to
    ``latency_concurrent_requests`` (16), its ranges planned for 16 (``range_rows``: 12 ranges, against 8 at 8); the
    records and STATE are those of the read page after page (at 100 ms the ratio was 60-66 at load 13, once 19, and
    the in-process emulator's CPU weighs on a test's page more). At 0 ms the same settings keep 8 at most and the
    plan of 8. The read's stopwatch says 300 ms, then 0 ms (``round_trips``), so its verdicts do not move with the
    load. Whether it widened is asked of its decisions (``decisions``: its ``InFlight`` allowed 16 at every look);
    the wire only bounds it (no more than 16 in flight), since 9 requests at the emulator within one 300 ms round trip
    take 9 reader threads scheduled within it, which a loaded machine may not give (review27d L1): fewer is warned."""
    settings = {"resources": ["workers"], "page_size": 2, "latency_concurrent_requests": 16}
    one = run_tap(hcm_config(url, **{**settings, "max_concurrent_requests": 1}), streams={"workers"})
    start, asked = len(sandbox.requests()), len(emulator.collection_queries)
    wide = run_slow(sandbox, round_trips, hcm_config(url, **settings), {"workers"})
    offsets = {int(q["offset"]) for q in emulator.collection_queries[asked:] if int(q.get("offset", 0))}
    assert decisions, "the read looked at its limit"
    assert {d.limit for d in decisions} == {16}, "widened to latency_concurrent_requests"
    peak = in_flight(collection(sandbox, start))
    assert peak <= 16
    if peak <= 8:  # the load, not the tap: its decisions are above
        warnings.warn(f"the wire showed {peak} in flight, not more than 8", UserWarning, stacklevel=1)
    assert planned(16, 2) <= offsets, offsets  # a free reader may split a range too
    assert not planned(8, 2) <= offsets, offsets
    assert wide.records("workers") == one.records("workers")
    assert unstamped(wide.of_type("STATE")) == unstamped(one.of_type("STATE"))

    round_trips(0.0)  # a round trip of nothing: a page costs the tap more than its round trip, whatever the load
    start, asked = len(sandbox.requests()), len(emulator.collection_queries)
    decisions.clear()
    narrow = run_tap(hcm_config(url, **settings), streams={"workers"})
    offsets = {int(q["offset"]) for q in emulator.collection_queries[asked:] if int(q.get("offset", 0))}
    assert {d.limit for d in decisions} == {8}
    assert in_flight(collection(sandbox, start)) <= 8
    assert planned(8, 2) <= offsets, offsets
    assert not planned(16, 2) <= offsets, offsets
    assert narrow.records("workers") == one.records("workers")
    assert unstamped(narrow.of_type("STATE")) == unstamped(one.of_type("STATE"))


#: Requests of a widened read (1 row a page, 300 ms) let through before a fault: past its ramp (``Growth``), so it has
#: more than ``max_concurrent_requests`` in flight before the fault whatever the load (15 at load 15, against 9-11 at
#: the 10th request), and 70 of its ~100 requests left to show the narrowing.
WIDENED_AT = 29


@pytest.mark.filterwarnings("default:the wire showed:UserWarning")
def test_a_429_narrows_a_widened_read_back_to_max_concurrent_requests(
    url: str,
    sandbox: t.Any,
    emulator: OracleHcmEmulator,
    decisions: list[Decision],
    round_trips: t.Callable[[float], None],
) -> None:
    """Widened at 300 ms (as above; 1 row a page: 16 ranges of 6 pages), the tenant answers the 30th request 429
    (Retry-After: 0): the session asks it again, and from then on the read keeps no more than
    ``max_concurrent_requests`` (8) in flight (``InFlight``); the records and STATE are those of the read page
    after page. The 30th, not the 10th: the widened read's pages ahead grow from one (``Growth``), so its first
    round had 9-11 in flight at the 10th request at load 15 (7-8 when its requests went out slowly: "widened
    before" failed, ends23), and 15 by the 30th (``WIDENED_AT``). Checked by what the tap decided (``decisions``)
    and on the wire (``assert_narrowed``)."""
    settings = {"resources": ["workers"], "page_size": 1, "latency_concurrent_requests": 16}
    one = run_tap(hcm_config(url, **{**settings, "max_concurrent_requests": 1}), streams={"workers"})
    start = len(sandbox.requests())
    decisions.clear()  # the widened read's only
    throttled = run_slow(
        sandbox,
        round_trips,
        hcm_config(url, **settings),
        {"workers"},
        (PATH, FaultSpec("rate_limit", retry_after=0, after=WIDENED_AT, times=1)),
    )
    asked = collection(sandbox, start)
    limited = [r for r in asked if r.status == 429]
    assert len(limited) == 1
    narrowed = assert_narrowed(decisions, asked, limited[0].at)
    assert len(sent_after(asked, narrowed)) > 30, "most of the read came after it"
    assert throttled.records("workers") == one.records("workers")
    assert unstamped(throttled.of_type("STATE")) == unstamped(one.of_type("STATE"))


def test_widening_is_opt_in_max_concurrent_requests_caps_a_read_at_any_latency(
    url: str, sandbox: t.Any, emulator: OracleHcmEmulator, round_trips: t.Callable[[float], None]
) -> None:
    """review 21b: with ``latency_concurrent_requests`` unset, a read at 300 ms a request (2 rows a page: page 1's
    round trip ~200 times its cost, which widened to 12-16 before) keeps ``max_concurrent_requests`` in flight at
    most, the default (8, its plan of 8) and an explicit 2 (a tenant held to 2); records and STATE those of the read
    page after page."""
    settings = {"resources": ["workers"], "page_size": 2}
    one = run_tap(hcm_config(url, **{**settings, "max_concurrent_requests": 1}), streams={"workers"})
    for window in (None, 2):
        chosen = settings if window is None else {**settings, "max_concurrent_requests": window}
        start, asked = len(sandbox.requests()), len(emulator.collection_queries)
        out = run_slow(sandbox, round_trips, hcm_config(url, **chosen), {"workers"})
        peak = in_flight(collection(sandbox, start))
        assert peak <= (window or 8), f"max_concurrent_requests {window or 'default 8'}: {peak} in flight at once"
        offsets = {int(q["offset"]) for q in emulator.collection_queries[asked:] if int(q.get("offset", 0))}
        assert planned(window or 8, 2) <= offsets, offsets
        assert out.records("workers") == one.records("workers")
        assert unstamped(out.of_type("STATE")) == unstamped(one.of_type("STATE"))


@pytest.mark.filterwarnings("default:the wire showed:UserWarning")
@pytest.mark.parametrize("status", [503, 504])
def test_a_5xx_without_retry_after_narrows_a_widened_read(
    url: str,
    sandbox: t.Any,
    emulator: OracleHcmEmulator,
    status: int,
    decisions: list[Decision],
    round_trips: t.Callable[[float], None],
) -> None:
    """review 21b: Oracle's guidance is to back off on 500/502/503/504, with no Retry-After; an overloaded pod's
    503 or its gateway's 504 at the 30th request of a widened read (as the 429 test, and why the 30th) narrows it
    to ``max_concurrent_requests`` (8) as a 429 does; records and STATE those of the read page after page."""
    settings = {"resources": ["workers"], "page_size": 1, "latency_concurrent_requests": 16}
    one = run_tap(hcm_config(url, **{**settings, "max_concurrent_requests": 1}), streams={"workers"})
    start = len(sandbox.requests())
    decisions.clear()  # the widened read's only
    out = run_slow(
        sandbox,
        round_trips,
        hcm_config(url, **settings),
        {"workers"},
        (PATH, FaultSpec("status", status=status, after=WIDENED_AT, times=1)),
    )
    asked = collection(sandbox, start)
    failed = [r for r in asked if r.status == status]
    assert len(failed) == 1
    assert_narrowed(decisions, asked, failed[0].at)
    assert out.records("workers") == one.records("workers")
    assert unstamped(out.of_type("STATE")) == unstamped(one.of_type("STATE"))


def test_a_read_after_a_throttled_stream_of_the_run_does_not_widen(
    url: str, sandbox: t.Any, emulator: OracleHcmEmulator, round_trips: t.Callable[[float], None]
) -> None:
    """review 21b: jobs (synced first) is answered one 429; workers, later in the same run at 300 ms a request, starts
    at ``max_concurrent_requests`` (8) and stays there though ``latency_concurrent_requests`` is 16: the tenant
    throttled once this run."""
    settings = {"resources": ["jobs", "workers"], "page_size": 2, "latency_concurrent_requests": 16}
    one = run_tap(hcm_config(url, **{**settings, "max_concurrent_requests": 1}), streams={"jobs", "workers"})
    start = len(sandbox.requests())
    jobs_429 = ("/hcmRestApi/resources/*/jobs", FaultSpec("rate_limit", retry_after=0, times=1))
    out = run_slow(sandbox, round_trips, hcm_config(url, **settings), {"jobs", "workers"}, jobs_429)
    limited = [r for r in sandbox.requests("oracle_hcm")[start:] if r.status == 429]
    workers = collection(sandbox, start)
    assert len(limited) == 1
    assert limited[0].path.endswith("/jobs")
    assert limited[0].at <= min(r.arrived_at for r in workers), "jobs throttled before workers began"
    assert in_flight(workers) <= 8
    assert out.records("jobs") == one.records("jobs")
    assert out.records("workers") == one.records("workers")
    assert unstamped(out.of_type("STATE")) == unstamped(one.of_type("STATE"))
