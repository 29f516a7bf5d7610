"""audit25d F8 / F16: the breaker counts failed requests, not attempts, with the shipped defaults
(``breaker_fail_max`` 5 = ``max_attempts`` 5). Real HTTP, real time, the concurrency the taps use by default."""

from __future__ import annotations

import dataclasses
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from xlr8_kit.http.breaker import CLOSED, OPEN
from xlr8_kit.http.errors import CircuitOpenError, ServerUnavailableError
from xlr8_kit.http.session import HttpPolicy, ResilientSession


class _Blip(ThreadingHTTPServer):
    """Answers the first ``failing`` requests 502 (each held 0.2 s, so they are in flight together), then 200."""

    daemon_threads = True

    def __init__(self, failing: int) -> None:
        self.failing = failing
        self.seen = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


class _Handler(BaseHTTPRequestHandler):
    server: _Blip

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self) -> None:
        with self.server.lock:
            self.server.seen += 1
            n = self.server.seen
        time.sleep(0.2)
        code = 502 if n <= self.server.failing else 200
        body = b'{"ok": true}' if code == 200 else b'{"error": "bad gateway"}'
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PATCH = _answer


@pytest.mark.parametrize("in_flight", [6, 8])  # tap-salesforce rest_concurrent_queries 6; Oracle ranged reads 8
def test_one_round_of_502s_on_requests_in_flight_is_retried(in_flight):
    """F8: each request's first attempt met the blip; five of them opened the circuit and every request failed on
    its first retry with CircuitOpenError, none retried."""
    server = _Blip(failing=in_flight)
    session = ResilientSession(HttpPolicy(backoff_base=0.2), product="demo")
    out: dict[int, object] = {}

    def one(i: int) -> None:
        try:
            out[i] = session.get(f"{server.url}/page/{i}").status_code
        except Exception as exc:
            out[i] = f"{type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=one, args=(i,)) for i in range(in_flight)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    server.shutdown()
    assert out == dict.fromkeys(range(in_flight), 200)
    assert server.seen == 2 * in_flight
    assert session.breakers.get(server.url).state == CLOSED


def test_a_request_that_gives_up_leaves_the_circuit_closed_for_its_clean_up():
    """F16: with the defaults one request's five failed attempts were the five consecutive failures, so the clean-up
    call after it (aborting the job it polled) was refused without reaching the host."""
    server = _Blip(failing=5)
    session = ResilientSession(HttpPolicy(backoff_base=0.01, backoff_max=0.02), product="demo")
    with pytest.raises(ServerUnavailableError, match="gave up after 5 attempts"):
        session.get(f"{server.url}/jobs/query/750")
    assert session.breakers.get(f"http://127.0.0.1:{server.server_port}").state == CLOSED
    assert session.patch(f"{server.url}/jobs/query/750", json={"state": "Aborted"}).status_code == 200
    assert server.seen == 6
    server.shutdown()


def test_requests_that_give_up_still_open_the_circuit_and_a_clean_up_passes_it():
    """Fail-fast is kept for a host that answers nothing: ``fail_max`` requests that give up open the circuit; a
    clean-up call (``bypass_breaker``) still goes out."""
    server = _Blip(failing=10_000)
    policy = HttpPolicy(max_attempts=2, backoff_base=0.01, backoff_max=0.02, breaker_fail_max=3)
    session = ResilientSession(policy, product="demo")
    for _ in range(3):
        with pytest.raises(ServerUnavailableError):
            session.get(f"{server.url}/x")
    assert session.breakers.get(f"http://127.0.0.1:{server.server_port}").state == OPEN
    with pytest.raises(CircuitOpenError):
        session.get(f"{server.url}/x")
    assert server.seen == 6
    once = dataclasses.replace(policy, max_attempts=1, bypass_breaker=True)
    abort = session.prepare_request(requests.Request("PATCH", f"{server.url}/jobs/query/750", json={}))
    with pytest.raises(ServerUnavailableError):
        session.send(abort, policy=once)
    assert server.seen == 7
    server.shutdown()
