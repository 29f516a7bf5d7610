"""``OrderedFetches`` (a window of page requests) and the resilient session under concurrent requests."""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from xlr8_kit.http.errors import InsecureTransportError, QuotaExhaustedError
from xlr8_kit.http.session import optional_requests
from xlr8_kit.http.window import (
    MAX_RECOUNTS,
    CountAnchor,
    OrderedFetches,
    ShiftWatch,
    SkippedFetch,
    Verdict,
    row_key,
)
from xlr8_kit.testing.faultserver import RecordedRequest, Reply

WAIT = 10.0  # seconds a test waits for a worker before failing (a hang guard, not a timing assertion)


class Pages:
    """``fetch(n)`` for pages 1..n; records what was fetched and how many fetches ran at once."""

    def __init__(self, fail_at: int | None = None, gate: threading.Event | None = None) -> None:
        self.fail_at = fail_at
        self.gate = gate
        self.fetched: list[int] = []
        self.lock = threading.Lock()
        self.running = 0
        self.most_running = 0

    def __call__(self, n: int) -> list[int]:
        with self.lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            self.fetched.append(n)
        try:
            if self.gate is not None:
                assert self.gate.wait(WAIT)
            if n == self.fail_at:
                raise RuntimeError(f"page {n} failed")
            return [n * 10, n * 10 + 1]
        finally:
            with self.lock:
                self.running -= 1


def test_answers_come_back_in_the_order_asked_with_several_in_flight():
    gate = threading.Event()
    pages = Pages(gate=gate)
    with OrderedFetches(pages, 4, name="xlr8-test") as window:
        for n in range(1, 6):
            window.submit(n)  # the fifth is refused: the window is full
        assert len(window) == 4
        deadline = time.monotonic() + WAIT
        while pages.running < 4 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert pages.most_running == 4  # four requests in flight at once, none queued behind another
        gate.set()
        assert [window.take() for _ in range(4)] == [(n, [n * 10, n * 10 + 1]) for n in range(1, 5)]
    assert sorted(pages.fetched) == [1, 2, 3, 4]


def test_a_failed_page_raises_in_order_and_stops_the_window():
    pages = Pages(fail_at=2)
    with OrderedFetches(pages, 3) as window:
        for n in (1, 2, 3):
            window.submit(n)
        assert window.take() == (1, [10, 11])
        with pytest.raises(RuntimeError, match="page 2 failed"):
            window.take()
        assert len(window) == 0  # page 3's answer was thrown away, never handed out
        assert not window.submit(4)  # nothing is asked for after the failure is seen
    assert 4 not in pages.fetched


def test_a_page_queued_behind_a_failed_one_is_never_sent():
    window: OrderedFetches[int, int] = OrderedFetches(lambda n: n, 1)
    window._failed_at = 0  # page 0 failed (as its worker would record it)
    with pytest.raises(SkippedFetch):
        window._call(5, 1)
    assert window._call(7, 0) == 7  # the failed page itself, and earlier ones, still go out
    window.close()


def test_discard_waits_for_requests_in_flight_and_drops_their_answers():
    gate = threading.Event()
    pages = Pages(gate=gate)
    window = OrderedFetches(pages, 2)
    window.submit(1)
    window.submit(2)
    threading.Timer(0.05, gate.set).start()
    window.close()  # returns only once both requests ended: none outlives the read
    assert pages.running == 0
    assert len(window) == 0
    assert not window.submit(3)


def test_workers_see_the_callers_context_variables():
    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="unset")
    marker.set("caller")
    with OrderedFetches(lambda _n: marker.get(), 2) as window:
        window.submit(1)
        window.submit(2)
        assert [window.take()[1], window.take()[1]] == ["caller", "caller"]


def test_window_size_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        OrderedFetches(lambda n: n, 0)


# -- the session's shared pieces under concurrent requests ---------------------------------------------------------


def test_an_older_quota_reading_never_replaces_a_newer_one(server, make_session):
    """Answers to concurrent requests arrive in any order: the quota guard keeps the highest usage it saw."""
    server.script("/a", Reply(200, body={"records": []}, headers={"Sforce-Limit-Info": "api-usage=4600/5000"}))
    server.script("/b", Reply(200, body={"records": []}, headers={"Sforce-Limit-Info": "api-usage=4500/5000"}))
    session = make_session(max_quota_share=0.99)
    session.get(server.url + "/a")
    session.get(server.url + "/b")  # answered later, read earlier by the vendor
    assert session.quota_usage == (4600, 5000)


def test_the_quota_guard_counts_the_requests_in_flight(server, make_session):
    """Requests sent side by side (a ranged read's cursors and planning queries) must not all pass the guard on the
    usage answered before them: each one that passes holds a slot until its answer is noted. At 1 of 10 used and a
    share of 0.5, four may be in flight; the others are refused without touching the network."""
    usage = {"Sforce-Limit-Info": "api-usage=1/10"}
    server.script("/q", Reply(200, body={"records": []}, headers=usage))
    release = threading.Event()

    def held(_request: RecordedRequest) -> Reply:
        release.wait(WAIT)  # every answer is held until the test has seen who reached the server
        return Reply(200, body={"records": []}, headers={"Sforce-Limit-Info": f"api-usage={server.count()}/10"})

    server.route("/q", held)
    session = make_session(max_quota_share=0.5)
    session.get(server.url + "/q")  # the reading: 1 of 10
    answered: list[int] = []
    refused: list[QuotaExhaustedError] = []

    def one() -> None:
        try:
            answered.append(session.get(server.url + "/q").status_code)
        except QuotaExhaustedError as exc:
            refused.append(exc)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + WAIT
    while server.count() - 1 + len(refused) < len(threads) and time.monotonic() < deadline:
        time.sleep(0.01)  # until each request reached the server or was refused, its answer held
    release.set()
    for thread in threads:
        thread.join(WAIT)
    assert server.count() == 5  # 1 answered + 4 in flight: 5 of 10 is the share
    assert answered == [200] * 4
    assert len(refused) == 4
    assert "1/10 with 4 more request(s) in flight" in str(refused[0])
    with pytest.raises(QuotaExhaustedError, match="5/10 reached"):  # the answers are noted: 5 of 10 used
        session.get(server.url + "/q")
    assert server.count() == 5


def test_a_token_refresh_inside_a_request_on_the_last_quota_slot_goes_through(server, make_session):
    """A token expiring mid-run is fetched from inside the request it serves (``kind="token"``, through the same
    session) while that request holds the last slot the share allows (review 17d F2): the refresh is judged on the
    reading alone and takes no slot, so the run does not stop a request early; at the share it is still refused."""
    four = Reply(200, body={"records": []}, headers={"Sforce-Limit-Info": "api-usage=4/10"})
    server.script("/q", four, four)
    server.script("/token", Reply(200, body={"access_token": "t"}))
    session = make_session(max_quota_share=0.5)
    session.get(server.url + "/q")  # the reading: 4 of 10, one slot left under the share of 0.5

    def refreshing(prepared):
        session.post(server.url + "/token", kind="token")
        return prepared

    assert session.get(server.url + "/q", authenticate=refreshing).status_code == 200
    assert [r.path for r in server.requests][-2:] == ["/token", "/q"]
    server.script("/q", Reply(200, body={"records": []}, headers={"Sforce-Limit-Info": "api-usage=5/10"}))
    session.get(server.url + "/q")
    with pytest.raises(QuotaExhaustedError, match="5/10 reached"):  # at the share, a token request is refused too
        session.post(server.url + "/token", kind="token")


def test_optional_requests_leave_the_last_quota_slot_to_a_needed_one(server, make_session):
    """A ranged read's plan goes out side by side with page 1: near the share, the plan's requests (optional) must not
    take the slot page 1 needs. At 1 of 10 used and a share of 0.5 (four slots), optional requests get three."""
    server.script("/q", Reply(200, body={"records": []}, headers={"Sforce-Limit-Info": "api-usage=1/10"}))
    release = threading.Event()

    def held(_request: RecordedRequest) -> Reply:
        release.wait(WAIT)
        return Reply(200, body={"records": []}, headers={"Sforce-Limit-Info": f"api-usage={server.count()}/10"})

    server.route("/q", held)
    server.route("/page", held)
    session = make_session(max_quota_share=0.5)
    session.get(server.url + "/q")
    refused: list[QuotaExhaustedError] = []

    def one(path: str, optional: bool) -> None:
        try:
            with optional_requests() if optional else contextlib.nullcontext():
                session.get(server.url + path)
        except QuotaExhaustedError as exc:
            refused.append(exc)

    threads = [threading.Thread(target=one, args=("/q", True)) for _ in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + WAIT
    while server.count() - 1 + len(refused) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (server.count("/q"), len(refused)) == (1 + 3, 1)  # the fourth optional one would take the last slot
    needed = threading.Thread(target=one, args=("/page", False))
    needed.start()
    while server.count("/page") + len(refused) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    for thread in [*threads, needed]:
        thread.join(WAIT)
    assert server.count("/page") == 1  # the needed request got the slot the optional ones left
    assert len(refused) == 1


def test_the_quota_guard_gives_each_slot_back_on_every_way_out(server, make_session):
    """A request's slot is given back whether its attempt was answered, failed without an answer (and was retried)
    or raised: four slots leaked here would refuse the last request at 1 of 10 used with a share of 0.5."""
    usage = {"Sforce-Limit-Info": "api-usage=1/10"}
    server.script("/q", Reply(200, body={"records": []}, headers=usage))
    server.script("/reset", Reply(reset=True), Reply(reset=True), Reply(reset=True), Reply(200, body={}))
    server.script("/away", Reply(302, headers={"Location": "http://192.0.2.1/x"}))
    server.script("/last", Reply(200, body={}))
    session = make_session(max_quota_share=0.5, max_attempts=5)
    session.get(server.url + "/q")
    assert session.get(server.url + "/reset").status_code == 200  # three attempts without an answer, then one
    with pytest.raises(InsecureTransportError):  # raised inside the attempt
        session.get(server.url + "/away")
    assert session.get(server.url + "/last").status_code == 200
    assert server.count("/last") == 1


def test_concurrent_requests_share_one_rate_limit_breaker_and_retry_budget(server, make_session, fake_time):
    """Sixteen requests from eight threads through one session: each 503 is retried on its own thread, the token
    bucket hands out one slot per attempt, the breaker counts consecutive failures across threads."""
    server.script("/flaky", Reply(503), Reply(503), Reply(200, body={"ok": 1}), repeat_last=True)
    server.script("/ok", Reply(200, body={"ok": 1}), repeat_last=True)
    session = make_session(requests_per_second=1000, rate_burst=1, breaker_fail_max=50)
    reserved: list[float] = []
    bucket = session.rate_limiter
    assert bucket is not None
    original = bucket.reserve

    def counting_reserve() -> float:
        wait = original()
        reserved.append(wait)
        return wait

    bucket.reserve = counting_reserve  # type: ignore[method-assign]
    urls = [server.url + "/flaky"] * 2 + [server.url + "/ok"] * 14
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda url: session.get(url).status_code, urls))
    assert statuses == [200] * 16
    assert server.count() == 18  # two 503s retried once each, nothing lost or repeated
    assert len(reserved) == 18  # one rate-limit slot per attempt
    assert session.breakers.get(next(iter(session.breakers._breakers))).state == "closed"


def test_shift_watch_sees_a_page_that_starts_with_a_row_of_the_page_before():
    """Rows inserted before the read position push the rest on: a page answered after the insert repeats the last
    rows of a page answered before it, which is the sign that pages answered out of order may have lost a row."""
    watch = ShiftWatch(lambda row: row["id"])
    assert not watch.moved([{"id": 1}, {"id": 2}, {"id": 3}])
    assert not watch.moved([{"id": 4}, {"id": 5}, {"id": 6}])  # the next rows: nothing moved
    assert watch.moved([{"id": 5}, {"id": 6}, {"id": 7}])  # two rows pushed on by an insert
    assert not watch.moved([])
    watch.remember([{"id": 8}])
    assert watch.moved([{"id": 8}, {"id": 9}])


def test_row_key_reads_the_key_values_and_treats_a_missing_one_as_none():
    single, double = row_key(["id"]), row_key(["order", "item"])
    assert single({"id": 7, "x": 1}) == 7
    assert double({"order": "4500", "item": "10"}) == ("4500", "10")
    assert double({"order": "4500"}) == ("4500", None)


def test_a_failure_among_discarded_pages_does_not_refuse_the_pages_asked_again():
    """A read that drops the pages asked ahead (a page's count moved) asks for them again: a failure of one of the
    dropped requests concerned only that request, so the window takes the new ones (it refused them before, and
    ``_request_pages_windowed`` then looked for a page in an empty window)."""
    pages = Pages(fail_at=3)
    with OrderedFetches(pages, 3) as window:
        for n in (1, 2, 3):
            window.submit(n)
        assert window.take() == (1, [10, 11])
        window.discard()  # pages 2 and 3 dropped unseen; page 3 had failed
        assert window.submit(2)
        assert window.take() == (2, [20, 21])


def test_count_anchor_keeps_equal_counts_and_reanchors_on_a_moved_one():
    anchor = CountAnchor()
    assert anchor.check(100, first=True) is Verdict.KEEP
    assert anchor.check(100, first=False) is Verdict.KEEP
    assert anchor.check(101, first=False) is Verdict.REASK  # a row was inserted: the pages in flight are asked again
    assert anchor.planned == 101
    assert anchor.check(101, first=False) is Verdict.KEEP  # checked against the new anchor
    assert anchor.check(101, first=False, moved=True) is Verdict.REASK  # same count, but rows moved
    assert anchor.recounts == 2


def test_count_anchor_goes_serial_without_a_count_or_past_the_recount_cap():
    assert CountAnchor().check(None, first=True) is Verdict.SERIAL
    anchor = CountAnchor()
    anchor.check(10, first=True)
    assert anchor.check(None, first=False) is Verdict.SERIAL
    assert anchor.planned == 10  # a page without a count does not become the anchor
    anchor = CountAnchor()
    anchor.check(10, first=True)
    verdicts = [anchor.check(11 + n, first=False) for n in range(MAX_RECOUNTS + 1)]
    assert verdicts == [Verdict.REASK] * MAX_RECOUNTS + [Verdict.SERIAL]


def test_count_anchor_counts_only_moves_that_dropped_pages_in_flight():
    anchor = CountAnchor()
    anchor.check(10, first=True)
    for n in range(MAX_RECOUNTS + 2):  # nothing was asked ahead: the page simply becomes the anchor
        assert anchor.check(11 + n, first=False, in_flight=False) is Verdict.KEEP
    assert (anchor.recounts, anchor.planned) == (0, 11 + MAX_RECOUNTS + 1)
