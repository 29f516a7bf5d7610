"""A tenant whose answers come with their headers at once and their bodies late (far away, or streaming rows as its
database reads them: the emulator's ``slow_body`` fault) is latency, not a dear page: the kit's judges (the
cursor's ``latency_shows``, the ranges' ``Growth``) must count the body's time as the page's round trip, never as
what the page cost the tap, or such a tenant is read with the fewest pages ahead (issue 14 goal 5; nodelay26 #4).

The emulator holds a body ``HOLD`` seconds after its headers; what a 3-row page costs the tap besides is a few
milliseconds (parsed and emitted), so the margins are a third of ``HOLD`` either way and cannot flip under load."""

from __future__ import annotations

import itertools
import typing as t

import pytest

from xlr8_kit.oracle import ranges
from xlr8_kit.oracle.ranges import range_rows
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.oracle_fusion.hcm import OracleHcmEmulator

from .conftest import hcm_config, run_tap, unstamped

PATH = "/hcmRestApi/resources/*/workers"

#: Seconds each slow answer's body comes after its headers.
HOLD = 1.0


class SpiedGrowth(ranges.Growth):
    """The ranges' ``Growth`` as it is, its inputs kept: what page 1 cost, and each request's time it judged."""

    made: t.ClassVar[list[SpiedGrowth]] = []

    def __init__(self, most: int, cost: float | None = None) -> None:
        super().__init__(most, cost)
        self.cost = cost
        self.took: list[float] = []
        SpiedGrowth.made.append(self)

    def answered(self, took: float) -> bool:
        self.took.append(took)
        return super().answered(took)


def config(url: str) -> dict[str, t.Any]:
    """100 workers, 3 a page, 4 ranges at once."""
    return hcm_config(url, resources=["workers"], page_size=3, max_concurrent_requests=4)


#: The offsets of the pages that place bounds 1.. (``PageAt``): page 1 holds 3 rows, 97 are left.
BOUNDS = [start - 1 for start in itertools.accumulate(range_rows(97, 3, 4), initial=3)][1:-1]


def judged_read(
    url: str, monkeypatch: pytest.MonkeyPatch, arrange: t.Callable[[], None], splits: bool = True
) -> tuple[SpiedGrowth, list[float]]:
    """The ranges' judge alone (ranges after page 1, the emitter's ``WAITED`` set aside; free readers' splits off
    unless ``splits``): the read as ``arrange`` set it up, its records and STATE those of page after page; its
    ``Growth`` and the round trips it judged (page 1's, then the first two bounds answered)."""
    monkeypatch.setattr("xlr8_kit.oracle.ranges.RANGES_AT", 0.0)
    monkeypatch.setattr("xlr8_kit.oracle.ranges.WAITED", float("inf"))
    if not splits:
        monkeypatch.setattr("xlr8_kit.oracle.ranges.MIN_SPLIT_PAGES", 10**9)
    one = run_tap({**config(url), "max_concurrent_requests": 1}, streams={"workers"})
    SpiedGrowth.made.clear()
    monkeypatch.setattr("xlr8_kit.oracle.ranges.Growth", SpiedGrowth)
    arrange()
    output = run_tap(config(url), streams={"workers"})
    assert output.records("workers") == one.records("workers")
    assert unstamped(output.of_type("STATE")) == unstamped(one.of_type("STATE"))
    [growth] = SpiedGrowth.made
    judged = growth.took[: ranges.FIRST_ANSWERS]
    assert len(judged) == ranges.FIRST_ANSWERS
    return growth, judged


#: The queries of the bounds' pages.
BOUND_PAGES = [{"offset": str(offset)} for offset in BOUNDS]


def slow_bodies(sandbox: Sandbox, *queries: dict[str, str], fault: str = "slow_body") -> None:
    """Each request with one of ``queries`` answered ``HOLD`` late once: its body (``slow_body``) or all (``stall``)."""
    for query in queries:
        sandbox.faults.add("oracle_hcm", PATH, FaultSpec(t.cast("t.Any", fault), seconds=HOLD, query=query, times=1))


def test_slow_bodies_are_round_trips_so_the_ranges_read_the_most_ahead(
    sandbox: Sandbox, url: str, emulator: OracleHcmEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Page 1 and every bound's page (the requests ``Growth.answered`` judges: page 1 and the first two bounds
    answered, whichever they are) answer their headers at once and their bodies ``HOLD`` later: the three round
    trips are judged at ``HOLD`` or more and page 1's cost well under it, so the most pages are read ahead at once
    (``Growth.latency``; the emitter's own verdict, ``WAITED``, set aside so that only this one can open them).
    Before, page 1's body counted as its cost and the bounds were judged on their headers alone: no latency seen.
    Records and STATE are the page-after-page read's."""
    assert BOUNDS == [17, 28, 39, 50, 61, 72, 83]
    growth, judged = judged_read(url, monkeypatch, lambda: slow_bodies(sandbox, {"totalResults": "true"}, *BOUND_PAGES))
    assert [rule.fired for rule in sandbox.faults.rules("oracle_hcm")] == [1] * (1 + len(BOUNDS))
    assert growth.cost is not None
    assert growth.cost < HOLD / 3, "page 1's body is its round trip, not its cost"
    assert min(judged) >= HOLD * 2 / 3, "each judged answer's round trip holds its body"
    assert growth.latency
    assert growth.room == growth.most


def test_a_slow_body_on_page_1_starts_the_ranges_after_it(
    sandbox: Sandbox, url: str, emulator: OracleHcmEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ranges only once latency shows (``RANGES_AT`` 3, as ``ANSWERED``), page 1 whose body comes ``HOLD``
    after its headers is judged by its round trip over its cost: latency, so the rest is planned in ranges right
    after it: the bounds' pages are those planned from page 1's 3 rows (``BOUNDS``), whatever order they arrive in
    (one cursor would ask for none; ranges after page k > 1 for others). Free readers' splits are off (their pages
    would add offsets)."""
    monkeypatch.setattr("xlr8_kit.oracle.ranges.RANGES_AT", 3.0)
    monkeypatch.setattr("xlr8_kit.oracle.ranges.MIN_SPLIT_PAGES", 10**9)
    one = run_tap({**config(url), "max_concurrent_requests": 1}, streams={"workers"})
    start = len(emulator.collection_queries)
    slow_bodies(sandbox, {"totalResults": "true"})
    output = run_tap(config(url), streams={"workers"})
    asked = emulator.collection_queries[start:]
    assert [rule.fired for rule in sandbox.faults.rules("oracle_hcm")] == [1]
    assert output.records("workers") == one.records("workers")
    assert unstamped(output.of_type("STATE")) == unstamped(one.of_type("STATE"))
    assert sorted(int(q["offset"]) for q in asked if int(q.get("offset", 0))) == BOUNDS, "ranges right after page 1"


def test_the_taps_own_decode_of_a_page_is_its_cost_not_its_round_trip(
    sandbox: Sandbox, url: str, emulator: OracleHcmEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session's classifier decodes a 2xx JSON page (``FusionClassifier.parse_body``) after its body is read: that
    is the tap's work, so a decode ``HOLD`` slower is page 1's cost and not its round trip (review27d H1: the body's
    time was taken after the decode, so a tap slow to decode looked far away and opened the most pages ahead)."""
    from xlr8_kit.oracle.protocol import FusionClassifier

    decode = FusionClassifier.parse_body

    def slow_decode(self: FusionClassifier, response: t.Any) -> t.Any:
        if "totalResults=true" in (response.request.url or ""):  # page 1's decode only
            import time

            time.sleep(HOLD)
        return decode(self, response)

    monkeypatch.setattr("xlr8_kit.oracle.ranges.RANGES_AT", 0.0)
    monkeypatch.setattr("xlr8_kit.oracle.ranges.MIN_SPLIT_PAGES", 10**9)
    one = run_tap({**config(url), "max_concurrent_requests": 1}, streams={"workers"})
    SpiedGrowth.made.clear()
    monkeypatch.setattr("xlr8_kit.oracle.ranges.Growth", SpiedGrowth)
    monkeypatch.setattr(FusionClassifier, "parse_body", slow_decode)
    output = run_tap(config(url), streams={"workers"})
    assert output.records("workers") == one.records("workers")
    assert unstamped(output.of_type("STATE")) == unstamped(one.of_type("STATE"))
    [growth] = SpiedGrowth.made
    assert growth.cost is not None
    assert growth.cost >= HOLD * 2 / 3, "the tap's decode is page 1's cost"
    assert growth.took[0] < HOLD / 3, "page 1's round trip is its headers and body on the wire, not the decode"


#: How each page's body read spends ``HOLD`` by the read's stopwatch (``starved`` fixture).
READS = ["starved", "on-the-wire", "trickled", "starved-untold"]

#: The parts a trickled body arrives in.
PARTS = 10


@pytest.fixture
def starved(monkeypatch: pytest.MonkeyPatch) -> t.Callable[[str], None]:
    """Every page's body read takes ``HOLD`` by the read's stopwatch (``ScriptedStopwatch``, answers' headers at
    once): ``starved``, spent on our own machine (the reading thread on a CPU or runnable and waiting for one, as a
    starved tap on a loaded box reads a body that is all there, never sleeping); ``on-the-wire``, waiting for the
    tenant; ``trickled``, the body read in ``PARTS`` parts, the thread sleeping for each and then waiting for a CPU
    while the rest comes in (a body the tenant streams, read by a starved tap: busy the whole time, yet all of it
    overlapping the wire, review28c M1); ``starved-untold``, starved but the thread's busy time could not be read
    after the body (``busy`` None: a schedstat read that failed mid-run), so nothing is taken out (review28c L1)."""
    from xlr8_kit.oracle import stream
    from xlr8_kit.oracle.stream import FusionStream
    from xlr8_kit.oracle.testing import ScriptedStopwatch

    class Untold(ScriptedStopwatch):
        def busy(self) -> float | None:  # type: ignore[override]
            held = super().busy()
            return None if held else held

    def hold(how: str) -> None:
        watch = Untold(0.0) if how == "starved-untold" else ScriptedStopwatch(0.0)
        read = stream.read_whole_body

        def held_read(response: t.Any) -> bytes:
            if how == "trickled":
                for _ in range(PARTS):
                    watch.hold(HOLD / PARTS, busy=True, slept=True)
            else:
                watch.hold(HOLD, busy=how.startswith("starved"))
            return read(response)

        monkeypatch.setattr(FusionStream, "stopwatch", watch)
        monkeypatch.setattr(stream, "read_whole_body", held_read)

    return hold


@pytest.mark.parametrize("how", READS)
def test_a_starved_body_read_is_near_one_on_the_wire_is_far(
    emulator: OracleHcmEmulator,
    url: str,
    monkeypatch: pytest.MonkeyPatch,
    starved: t.Callable[[str], None],
    how: str,
) -> None:
    """The cursor's judge (``latency_shows``, ``RANGES_AT`` 3 as ``ANSWERED``): every body read takes ``HOLD``. When
    that time was the reading thread's on our own machine (``starved``), the round trips judged leave it out: page after
    page, the very requests of one cursor, no bound asked (ora27/review27d M1: at 0 ms on a loaded box a starved
    thread's body read counted as round trip and the read took ranges, 1-4 more requests). When it was a wait for the
    tenant (``on-the-wire``), or the body trickled in while the thread was starved (``trickled``), or the thread's busy
    time was not told (``starved-untold``), it is latency: ranges right after page 1, bounds at ``BOUNDS``. Records and
    STATE are the page-after-page read's."""
    monkeypatch.setattr("xlr8_kit.oracle.ranges.RANGES_AT", 3.0)
    monkeypatch.setattr("xlr8_kit.oracle.ranges.MIN_SPLIT_PAGES", 10**9)
    first = len(emulator.collection_queries)
    one = run_tap({**config(url), "max_concurrent_requests": 1}, streams={"workers"})
    start = len(emulator.collection_queries)
    starved(how)
    output = run_tap(config(url), streams={"workers"})
    asked = emulator.collection_queries[start:]
    assert output.records("workers") == one.records("workers")
    assert unstamped(output.of_type("STATE")) == unstamped(one.of_type("STATE"))
    if how == "starved":
        assert asked == emulator.collection_queries[first:start], "one cursor: the requests of page after page"
    else:
        assert sorted(int(q["offset"]) for q in asked if int(q.get("offset", 0))) == BOUNDS, "ranges after page 1"


@pytest.mark.parametrize("how", READS)
def test_the_ranges_judge_a_starved_body_read_near_one_on_the_wire_far(
    url: str, monkeypatch: pytest.MonkeyPatch, starved: t.Callable[[str], None], how: str
) -> None:
    """The ranges' judge (``Growth.answered``, ranges after page 1 as by default): every body read takes ``HOLD``; on
    our own machine (``starved``) page 1's and the bounds' judged round trips leave it out (it is page 1's cost): no
    latency, so no room opened at once nor splits by free readers (ora27's 0 ms verdict under load); waiting for the
    tenant (``on-the-wire``), or trickling in to a starved thread (``trickled``, review28c M1), or not told
    (``starved-untold``, review28c L1), it is their round trip: latency, the most pages ahead. The emitter's own verdict
    (``WAITED``) is set aside so that only this one can open room."""
    growth, judged = judged_read(url, monkeypatch, lambda: starved(how))
    assert growth.cost is not None
    if how == "starved":
        assert growth.cost >= HOLD, "a starved body read is page 1's cost"
        assert max(judged) < HOLD / 100, "and no part of the judged round trips"
        assert not growth.latency
        assert growth.room < growth.most
    else:
        assert growth.cost < HOLD / 100
        assert min(judged) >= HOLD
        assert growth.latency
        assert growth.room == growth.most


def test_latency_before_the_headers_is_still_judged_far(
    sandbox: Sandbox, url: str, emulator: OracleHcmEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the machine's own clocks (``WALL``, with ``busy``: the reading thread's CPU and run-queue delay left out
    of every round trip): page 1 and every bound's page answered ``HOLD`` late (the emulator's ``stall``, the
    answer's headers and body together, as a tenant far away) are judged far: the thread slept on its socket, so
    nothing of that wait is taken out, and the most pages are read ahead at once (``Growth.latency``)."""
    growth, judged = judged_read(
        url, monkeypatch, lambda: slow_bodies(sandbox, {"totalResults": "true"}, *BOUND_PAGES, fault="stall"), False
    )
    assert [rule.fired for rule in sandbox.faults.rules("oracle_hcm")] == [1] * (1 + len(BOUNDS))
    assert growth.cost is not None
    assert growth.cost < HOLD / 3
    assert min(judged) >= HOLD * 2 / 3, "a wait for the tenant is round trip"
    assert growth.latency
    assert growth.room == growth.most


def test_the_kits_work_before_the_send_is_not_taken_out_of_the_round_trip(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every attempt's busy time is marked from before the kit's own work ahead of the send (quota guard, limiter,
    a token fetched or refreshed). When that work holds the thread ``HOLD`` on our own machine and the answer then
    takes ``HOLD`` on the wire (``ScriptedStopwatch``), the judged round trips keep the wire's ``HOLD`` (review28c
    L3: the pre-send busy time was taken out of the round trip, which judged it 0). The pre-send work is page 1's
    cost, so the verdict itself is not asserted."""
    from xlr8_kit.http.session import ResilientSession
    from xlr8_kit.oracle.stream import FusionStream
    from xlr8_kit.oracle.testing import ScriptedStopwatch

    watch = ScriptedStopwatch(HOLD)
    send_once = ResilientSession._send_once

    def starved_before_the_send(self: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        watch.hold(HOLD, busy=True)
        watch.hold(HOLD, busy=False)  # the answer's time on the wire (its scripted round trip) on the thread's clock
        return send_once(self, *args, **kwargs)

    def arrange() -> None:
        monkeypatch.setattr(FusionStream, "stopwatch", watch)
        monkeypatch.setattr(ResilientSession, "_send_once", starved_before_the_send)

    _, judged = judged_read(url, monkeypatch, arrange)
    assert min(judged) >= HOLD * 0.99, "the wire's round trip, none of it taken out"


def test_busy_time_inside_requests_clock_after_an_idle_wait_before_the_send_is_taken_out(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other order (review29c L3): before the send the thread waits ``HOLD`` idle (a token fetched on the wire,
    the limiter, a 429 window, a backoff), then inside requests' clock (its ``elapsed``, scripted ``HOLD``) it is
    ``HOLD`` on our own machine (starved after the headers came). The busy time is read where requests' clock starts
    (``at_each_send``), so all of it is taken out: the judged round trips are ~0. Before, the mark was taken before
    the idle wait and only the busy time less the wall before the send could go: none, and each was judged ``HOLD``
    (far, the ora27 symptom)."""
    import requests

    from xlr8_kit.http.session import ResilientSession
    from xlr8_kit.oracle.stream import FusionStream
    from xlr8_kit.oracle.testing import ScriptedStopwatch

    watch = ScriptedStopwatch(HOLD)
    send_once, send = ResilientSession._send_once, requests.Session.send

    def idle_before_the_send(self: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        watch.hold(HOLD, busy=False)
        return send_once(self, *args, **kwargs)

    def starved_in_requests_clock(self: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        watch.hold(HOLD, busy=True)
        return send(self, *args, **kwargs)

    def arrange() -> None:
        monkeypatch.setattr(FusionStream, "stopwatch", watch)
        monkeypatch.setattr(ResilientSession, "_send_once", idle_before_the_send)
        monkeypatch.setattr(requests.Session, "send", starved_in_requests_clock)

    _, judged = judged_read(url, monkeypatch, arrange)
    assert max(judged) < HOLD / 100, "the busy time within requests' clock is the tap's, not the round trip"
