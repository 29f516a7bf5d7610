"""RELIABILITY section G: the resilience mechanisms themselves (breaker, rate limiter, backoff schedule)."""

from __future__ import annotations

import bisect
import threading

import pytest

from xlr8_kit.http.breaker import CLOSED, HALF_OPEN, OPEN, BreakerRegistry, CircuitBreaker
from xlr8_kit.http.errors import CircuitOpenError, KitHTTPError, ServerUnavailableError
from xlr8_kit.http.ratelimit import TokenBucket
from xlr8_kit.http.retry import Backoff
from xlr8_kit.http.session import HttpPolicy, ResilientSession
from xlr8_kit.testing.faultserver import Reply


def test_g1_breaker_transitions(fake_time):
    breaker = CircuitBreaker(fail_max=3, reset_timeout=30, success_threshold=2, clock=fake_time.clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state == CLOSED
    breaker.record_success()  # a success resets the consecutive count
    for _ in range(3):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state == OPEN
    assert not breaker.allow()
    fake_time.advance(29.9)
    assert not breaker.allow()
    fake_time.advance(0.2)
    assert breaker.state == HALF_OPEN
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one probe at a time
    breaker.record_success()
    assert breaker.state == HALF_OPEN  # success_threshold=2
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == CLOSED


def test_g1_half_open_failure_reopens(fake_time):
    breaker = CircuitBreaker(fail_max=1, reset_timeout=10, clock=fake_time.clock)
    breaker.record_failure()
    fake_time.advance(10)
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == OPEN
    assert breaker.retry_in() == pytest.approx(10)


def test_g1_half_open_probe_answered_429_does_not_wedge_the_breaker(server, make_session, fake_time):
    server.script("/x", Reply(500), Reply(429, headers={"Retry-After": "1"}), Reply(200, body={"ok": True}))
    session = make_session(max_attempts=1, breaker_fail_max=1, breaker_reset_timeout=10)
    with pytest.raises(ServerUnavailableError):
        session.get(server.url + "/x")
    fake_time.advance(10)
    with pytest.raises(KitHTTPError):
        session.get(server.url + "/x")  # the probe is rate limited: neither healthy nor failed
    assert session.get(server.url + "/x").json() == {"ok": True}  # a new probe is allowed and closes it
    assert session.breakers.get(f"http://127.0.0.1:{server.port}").state == CLOSED


def test_g1_client_errors_do_not_open_the_circuit(server, make_session):
    server.script("/missing", Reply(404), repeat_last=True)
    session = make_session(breaker_fail_max=2)
    for _ in range(5):
        assert session.get(server.url + "/missing").status_code == 404
    assert server.count() == 5
    assert session.breakers.get(f"http://127.0.0.1:{server.port}").state == CLOSED


def test_g1_throttling_5xx_with_retry_after_does_not_open_the_circuit(server, make_session, fake_time):
    """A burst of 503s that say when to come back (8 requests in flight against a throttling Fusion pod) is
    pacing, not failure: the breaker stays closed and the page lands; the same 503s without Retry-After open it."""
    throttled = [Reply(503, headers={"Retry-After": "2"}) for _ in range(6)]
    server.script("/paced", *throttled, Reply(200, body={"ok": True}))
    session = make_session(max_attempts=10, breaker_fail_max=2)
    assert session.get(server.url + "/paced").json() == {"ok": True}
    assert server.count() == 7
    assert session.breakers.get(f"http://127.0.0.1:{server.port}").state == CLOSED

    server.script("/down", Reply(503), repeat_last=True)
    for _ in range(2):  # each request that gives up is one failure (audit25d F8: not each attempt)
        with pytest.raises(ServerUnavailableError):
            session.get(server.url + "/down")
    assert server.count("/down") == 20
    with pytest.raises(CircuitOpenError):
        session.get(server.url + "/down")
    assert server.count("/down") == 20


def test_g1_a_host_that_only_paces_still_opens_the_circuit(server, make_session, fake_time):
    """A 503 with Retry-After on every request (a maintenance page) releases the breaker attempt by attempt, but
    each request that gives up on it counts one failure: after ``fail_max`` such requests the circuit opens and
    the next fails fast. A 500 with Retry-After, or a Retry-After of 0, counts the same way: once per request that
    gives up, never per attempt (audit25d F8)."""
    server.script("/maintenance", Reply(503, headers={"Retry-After": "1"}), repeat_last=True)
    session = make_session(max_attempts=3, breaker_fail_max=2)
    for _ in range(2):
        with pytest.raises(ServerUnavailableError):
            session.get(server.url + "/maintenance")
    assert server.count("/maintenance") == 6
    with pytest.raises(CircuitOpenError):
        session.get(server.url + "/maintenance")
    assert server.count("/maintenance") == 6

    for path, reply in (
        ("/err", Reply(500, headers={"Retry-After": "1"})),
        ("/zero", Reply(503, headers={"Retry-After": "0"})),
    ):
        fresh = make_session(max_attempts=5, breaker_fail_max=2)
        server.script(path, reply, repeat_last=True)
        for _ in range(2):
            with pytest.raises(ServerUnavailableError):
                fresh.get(server.url + path)
        with pytest.raises(CircuitOpenError):
            fresh.get(server.url + path)
        assert server.count(path) == 10


def test_g1_open_circuit_fails_fast_over_http(server, make_session):
    server.script("/flaky", Reply(500), repeat_last=True)
    session = make_session(max_attempts=1, breaker_fail_max=2)
    for _ in range(2):
        with pytest.raises(ServerUnavailableError):
            session.get(server.url + "/flaky")
    with pytest.raises(CircuitOpenError):
        session.get(server.url + "/flaky")
    assert server.count() == 2


def test_g1_state_persists_across_runs_per_vendor_and_tenant(tmp_path, fake_time):
    state = tmp_path / "breakers.json"
    first = BreakerRegistry(
        fail_max=2, reset_timeout=60, clock=fake_time.clock, wall=fake_time.wall, state_path=state, scope="sf:t1"
    )
    for _ in range(2):
        first.get("https://api.example:443").record_failure()
    first.save()
    fake_time.advance(20)  # the next run starts 20 s later
    second = BreakerRegistry(
        fail_max=2, reset_timeout=60, clock=fake_time.clock, wall=fake_time.wall, state_path=state, scope="sf:t1"
    )
    restored = second.get("https://api.example:443")
    assert restored.state == OPEN
    assert restored.retry_in() == pytest.approx(40)
    other_tenant = BreakerRegistry(
        fail_max=2, reset_timeout=60, clock=fake_time.clock, wall=fake_time.wall, state_path=state, scope="sf:t2"
    )
    assert other_tenant.get("https://api.example:443").state == CLOSED
    fake_time.advance(41)
    assert restored.state == HALF_OPEN


def test_g1_session_persists_breaker_on_close(tmp_path, fake_time):
    state = tmp_path / "breakers.json"
    policy = HttpPolicy(breaker_fail_max=1, breaker_reset_timeout=300, max_attempts=1, breaker_state_path=str(state))
    session = ResilientSession(policy, product="p", credential_id="c", clock=fake_time.clock, wall=fake_time.wall)
    with pytest.raises(ServerUnavailableError):
        session.get("http://127.0.0.1:9/x")  # port 9 (discard): refused
    session.close()
    again = ResilientSession(policy, product="p", credential_id="c", clock=fake_time.clock, wall=fake_time.wall)
    with pytest.raises(CircuitOpenError):
        again.get("http://127.0.0.1:9/x")
    again.close()


def _max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max(bisect.bisect_left(times, t + window) - i for i, t in enumerate(times))


def test_g2_rate_limiter_under_burst_never_exceeds_limit(fake_time):
    bucket = TokenBucket(50, burst=10, clock=fake_time.clock, sleep=fake_time.sleep)
    sent = []
    for _ in range(10_000):
        bucket.acquire()
        sent.append(fake_time.clock())
    assert _max_in_window(sent, 1.0) <= 50 + 10
    assert _max_in_window(sent, 10.0) <= 500 + 10
    assert sent[-1] - sent[0] >= (10_000 - 10) / 50 - 1e-6


def test_g2_concurrent_streams_share_one_budget(fake_time):
    """Eight threads reserving at once get distinct slots: the schedule still respects the rate."""
    bucket = TokenBucket(100, burst=5, clock=fake_time.clock, sleep=fake_time.sleep)
    slots: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(500):
            wait = bucket.reserve()
            with lock:
                slots.append(fake_time.clock() + wait)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(slots) == 4000
    assert _max_in_window(slots, 1.0) <= 100 + 5
    assert max(slots) - min(slots) >= (4000 - 5) / 100 - 1e-6


def test_g2_session_applies_limit_per_credential(server, make_session, fake_time):
    server.script("/items", Reply(200, body={"items": []}), repeat_last=True)
    session = make_session(requests_per_second=2, rate_burst=1)
    for _ in range(5):
        session.get(server.url + "/items")
    assert server.count() == 5
    assert sum(fake_time.sleeps) == pytest.approx(2.0)  # 4 waits of 0.5 s


def test_g2_limits_adapt_to_vendor_headers(server, make_session, fake_time):
    server.script(
        "/items",
        Reply(200, body={"items": []}, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "20"}),
        Reply(200, body={"items": []}),
    )
    session = make_session()
    session.get(server.url + "/items")
    assert fake_time.sleeps == []
    session.get(server.url + "/items")
    assert fake_time.sleeps == [pytest.approx(20)]
    limited = make_session(requests_per_second=100, rate_burst=1)
    server.script("/other", Reply(200, headers={"RateLimit-Remaining": "0", "RateLimit-Reset": "7"}), Reply(200))
    limited.get(server.url + "/other")
    limited.get(server.url + "/other")
    assert fake_time.sleeps[-1] >= 7


@pytest.mark.parametrize("retry", [1, 2, 3, 4, 5, 6, 7, 8])
def test_g3_backoff_bounds(retry):
    low = Backoff(base=1.0, maximum=30.0, rng=lambda: 0.0).delay(retry)
    high = Backoff(base=1.0, maximum=30.0, rng=lambda: 1.0).delay(retry)
    cap = min(30.0, 2.0 ** (retry - 1))
    assert low == pytest.approx(cap / 2)
    assert high == pytest.approx(cap)


def test_g3_jitter_spreads_parallel_retries():
    first, second = Backoff(base=2.0, maximum=60.0), Backoff(base=2.0, maximum=60.0)
    schedule_a = [first.delay(n) for n in range(1, 9)]
    schedule_b = [second.delay(n) for n in range(1, 9)]
    assert schedule_a != schedule_b  # independent random sources: no lockstep retries
    samples = [first.delay(3) for _ in range(2000)]
    assert all(4.0 <= s <= 8.0 for s in samples)
    assert max(samples) - min(samples) > 3.0  # actually spread over the interval


def test_g3_schedule_with_mocked_time_stays_within_max_elapsed(server, make_session, fake_time):
    server.script("/items", Reply(503), repeat_last=True)
    session = make_session(max_attempts=20, backoff_base=1.0, backoff_max=8.0, max_elapsed=40.0, breaker_fail_max=100)
    with pytest.raises(ServerUnavailableError):
        session.get(server.url + "/items")
    for n, delay in enumerate(fake_time.sleeps, start=1):
        cap = min(8.0, 2.0 ** (n - 1))
        assert cap / 2 <= delay <= cap
    assert sum(fake_time.sleeps) <= 40.0
    assert len(fake_time.sleeps) >= 5


def test_g1_every_retried_answer_counts_as_distress(server, make_session, fake_time):
    """review 21b: ``throttled`` (what narrows a widened Oracle read) counts every retried answer, not only 429 and
    503 with Retry-After: Oracle asks clients to back off on 500/502/503/504, which come without Retry-After."""
    server.script(
        "/strained",
        Reply(500),
        Reply(502),
        Reply(503),
        Reply(504),
        Reply(429, headers={"Retry-After": "1"}),
        Reply(200, body={"ok": True}),
    )
    server.script("/missing", Reply(404))
    session = make_session(max_attempts=10, breaker_fail_max=10)
    assert session.get(server.url + "/strained").json() == {"ok": True}
    assert session.get(server.url + "/missing").status_code == 404  # the client's error: no distress
    assert session.throttled == 5
