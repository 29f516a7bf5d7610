"""``abort.terminate_requests()``, what a tap ended by a signal calls first (``KitTap._handle_termination``), over
real sockets in a child process (it gives up every request of the process for good): a request stalled on a worker
thread raises ``RequestAbortedError`` at once, and nothing is sent after; a token request beside it still gets its
answer (a rotated refresh token is never cut); a request waiting for a spent rate-limit window to reset (with or
without the session's own limiter) is given up too, unsent; and a signal handler's ``SystemExit`` raised while the
main thread is inside a request stays that exit (143), never turned into ``RequestAbortedError``."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import typing as t
import weakref

import pytest

from xlr8_kit.testing.faultserver import FaultServer, Reply

STALL = 60.0


def _seen(server: FaultServer, path: str) -> None:
    deadline = time.monotonic() + 30
    while server.count(path) < 1:
        assert time.monotonic() < deadline, f"{path} never asked"
        time.sleep(0.01)


WORKERS = textwrap.dedent(
    """
    import contextvars, json, sys, threading, time
    from xlr8_kit.http.abort import terminate_requests
    from xlr8_kit.http.session import HttpPolicy, ResilientSession

    url = sys.argv[1]
    session = ResilientSession(HttpPolicy(max_attempts=5, backoff_base=0), product="test")
    out = {}

    def call(name, method, path, **options):
        began = time.monotonic()
        try:
            answer = session.request(method, url + path, **options).json()
        except BaseException as exc:
            answer = type(exc).__name__
        out[name] = [answer, round(time.monotonic() - began, 1)]

    threads = [
        threading.Thread(target=contextvars.copy_context().run, args=(call, "page", "GET", "/page")),
        threading.Thread(target=contextvars.copy_context().run, args=(call, "token", "POST", "/token"),
                         kwargs={"kind": "token"}),
    ]
    for thread in threads:
        thread.start()
    while len(sys.stdin.readline()) == 0:  # the parent says both requests are in flight
        pass
    terminate_requests()
    for thread in threads:
        thread.join()
    call("after", "GET", "/after")
    print(json.dumps(out))
    """
)

WINDOW = textwrap.dedent(
    """
    import contextvars, json, sys, threading, time
    from xlr8_kit.http.abort import terminate_requests
    from xlr8_kit.http.session import HttpPolicy, ResilientSession

    from xlr8_kit.http.ratelimit import TokenBucket

    url, per_second, external = sys.argv[1], float(sys.argv[2]) or None, sys.argv[3] == "external"
    if external:  # a limiter built outside the session (shared by several), with its own default sleep
        session = ResilientSession(HttpPolicy(), product="test", rate_limiter=TokenBucket(per_second))
    else:
        session = ResilientSession(HttpPolicy(requests_per_second=per_second), product="test")
    session.get(url + "/spent")  # remaining 0, the window resets in 40 s
    out = {}

    def call():
        began = time.monotonic()
        try:
            out["next"] = [session.get(url + "/next").json(), 0]
        except BaseException as exc:
            out["next"] = [type(exc).__name__, 0]
        out["next"][1] = round(time.monotonic() - began, 1)

    waiting = threading.Thread(target=contextvars.copy_context().run, args=(call,))
    waiting.start()
    time.sleep(1.0)  # waiting for the window
    terminate_requests()
    waiting.join()
    print(json.dumps(out))
    """
)

MAIN_THREAD = textwrap.dedent(
    """
    import os, signal, sys
    from xlr8_kit.http.abort import terminate_requests
    from xlr8_kit.http.session import HttpPolicy, ResilientSession

    def handler(signum, frame):  # what KitTap._handle_termination does, in short
        terminate_requests()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    session = ResilientSession(HttpPolicy(), product="test")
    print("sending", flush=True)
    session.get(sys.argv[1] + "/page")
    """
)


def test_terminate_requests_gives_up_requests_in_flight_but_a_token_request() -> None:
    with FaultServer() as server:
        server.script("/page", Reply(200, body={"records": [1]}, delay=STALL))
        server.script("/token", Reply(200, body={"access_token": "a2", "refresh_token": "r2"}, delay=2.0))
        server.script("/after", Reply(200, body={}), repeat_last=True)
        child = subprocess.Popen(
            [sys.executable, "-c", WORKERS, server.url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        try:
            _seen(server, "/page")
            _seen(server, "/token")
            out, _ = child.communicate("go\n", timeout=STALL / 2)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        assert child.returncode == 0
        sent = json.loads(out)
        assert sent["page"][0] == "RequestAbortedError"
        assert sent["page"][1] < STALL / 4  # given up, not answered
        assert sent["token"][0] == {"access_token": "a2", "refresh_token": "r2"}  # answered, never cut
        assert sent["after"][0] == "RequestAbortedError"
        assert server.count("/after") == 0  # nothing sent once the process is ending
        assert server.count("/page") == 1  # and the stalled page not asked again


@pytest.mark.parametrize(
    ("per_second", "limiter"),
    [(0.0, "session"), (50.0, "session"), (50.0, "external")],
    ids=["window", "limiter", "external-limiter"],
)
def test_terminate_requests_ends_a_wait_for_a_spent_rate_limit_window(per_second: float, limiter: str) -> None:
    with FaultServer() as server:
        spent = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "40"}
        server.script("/spent", Reply(200, body={}, headers=spent))
        server.script("/next", Reply(200, body={}), repeat_last=True)
        done = subprocess.run(
            [sys.executable, "-c", WINDOW, server.url, str(per_second), limiter],
            capture_output=True,
            text=True,
            timeout=STALL / 2,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        outcome, took = json.loads(done.stdout)["next"]
        assert outcome == "RequestAbortedError"
        assert took < 10  # not the window's 40 s
        assert server.count("/next") == 0


def test_a_signal_raised_inside_a_request_on_the_main_thread_keeps_its_exit_code() -> None:
    with FaultServer() as server:
        server.script("/page", Reply(200, body={}, delay=STALL))
        child = subprocess.Popen(
            [sys.executable, "-c", MAIN_THREAD, server.url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            _seen(server, "/page")
            child.send_signal(signal.SIGTERM)
            _, err = child.communicate(timeout=STALL / 2)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        assert child.returncode == 143, err[-2000:]
        assert "RequestAbortedError" not in err


def _terminated_child(script: str, server: FaultServer, path: str) -> dict[str, t.Any]:
    """``script`` in a child process against ``server``: told to terminate its requests once ``path`` was asked,
    then what it printed."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, server.url],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdin is not None
    _seen(server, path)
    child.stdin.write("go\n")
    child.stdin.flush()
    out, err = child.communicate(timeout=STALL / 2)
    assert child.returncode == 0, err
    return t.cast("dict[str, t.Any]", json.loads(out))


#: The end of a child script: ``call`` on a thread, told by the parent when its request is out, then the process's
#: termination, then the thread's end.
_THEN_TERMINATE = textwrap.dedent(
    """
    thread = threading.Thread(target=contextvars.copy_context().run, args=(call,))
    thread.start()
    while len(sys.stdin.readline()) == 0:
        pass
    terminate_requests()
    thread.join()
    """
)

OWN_ABORT = (
    textwrap.dedent(
        """
    import contextvars, json, sys, threading, time
    from xlr8_kit.http.abort import Abort, terminate_requests
    from xlr8_kit.http.session import HttpPolicy, ResilientSession

    url = sys.argv[1]
    session = ResilientSession(HttpPolicy(max_attempts=4, backoff_base=0.5), product="test")
    plan = Abort()  # a ranged read's plan, or a query sent early: under an Abort of its own
    out = {}

    def call():
        began = time.monotonic()
        try:
            with plan.applied():
                out["plan"] = session.get(url + "/plan").json()
        except BaseException as exc:
            out["plan"] = type(exc).__name__
        out["took"] = round(time.monotonic() - began, 1)

    """
    )
    + _THEN_TERMINATE
    + "out['later'] = Abort().aborted.is_set()\nprint(json.dumps(out))\n"
)


def test_terminate_requests_gives_up_a_request_under_an_abort_of_its_own() -> None:
    """A request under its own ``Abort`` is given up at termination as at that abort: one attempt, no retry over
    the cut connection (it was retried with back-off, 4 attempts in 5.75 s, each a breaker failure: review 20c);
    an ``Abort`` made afterwards starts aborted."""
    with FaultServer() as server:
        server.script("/plan", Reply(200, body={"n": 1}, delay=STALL), repeat_last=True)
        result = _terminated_child(OWN_ABORT, server, "/plan")
        assert result["plan"] == "RequestAbortedError"
        assert result["took"] < 5
        assert result["later"] is True
        assert server.count("/plan") == 1


NEVER_CUT = (
    textwrap.dedent(
        """
    import contextvars, json, sys, threading, time
    from xlr8_kit.http.abort import never_given_up, terminate_requests
    from xlr8_kit.http.session import HttpPolicy, ResilientSession

    url = sys.argv[1]
    session = ResilientSession(HttpPolicy(max_attempts=5), product="test")
    out = {}

    def call():
        began = time.monotonic()
        try:
            with never_given_up():  # a job's create: the attempt in flight is never cut
                out["create"] = session.post(url + "/jobs").json()
        except BaseException as exc:
            out["create"] = type(exc).__name__
        out["took"] = round(time.monotonic() - began, 1)

    """
    )
    + _THEN_TERMINATE
    + "print(json.dumps(out))\n"
)


def test_a_request_never_given_up_makes_no_attempt_after_a_termination() -> None:
    """A request never given up (a Bulk job's create, a token) waiting to retry a 429 sends no attempt more once a
    signal ends the process: it gives up at once (review 20e: the exit was held 12.4 s and 4 POSTs went out after
    the signal, each a job the org made)."""
    with FaultServer() as server:
        server.script("/jobs", Reply(429, headers={"Retry-After": "10"}), repeat_last=True)
        result = _terminated_child(NEVER_CUT, server, "/jobs")
        assert result["create"] == "RateLimitedError"
        assert result["took"] < 5
        assert server.count("/jobs") == 1


#: NEVER_CUT with the kit's grace (15 s) shortened for the test.
GRACE = "from xlr8_kit.http import abort\nabort.EXEMPT_GRACE_SECONDS = 2.0\n" + NEVER_CUT


def test_a_request_never_given_up_still_unanswered_at_the_grace_s_end_is_cut() -> None:
    """A request never given up (a token: a rotated refresh token in its answer must be stored; a Bulk job's create)
    is not cut at the signal, but one still unanswered ``EXEMPT_GRACE_SECONDS`` after it is: the thread waiting on it
    (a refresh read ahead on a worker) no longer holds the exit for the whole read timeout (ends21: exit 58.7 s after
    SIGTERM on a 60 s stalled token refresh). No attempt follows."""
    with FaultServer() as server:
        server.script("/jobs", Reply(200, body={"id": "750x"}, delay=STALL))
        result = _terminated_child(GRACE, server, "/jobs")
        assert result["create"] == "ServerUnavailableError"
        assert 1.5 <= result["took"] < 10  # the grace (2 s), not the stall
        assert server.count("/jobs") == 1


def test_terminate_requests_from_a_handler_on_a_thread_holding_the_abort_locks() -> None:
    """The signal handler runs on the main thread, which may be inside ``Abort()`` or a connection's ``_opened``
    when the signal comes, holding their locks: ``terminate_requests`` still returns (plain locks hung it until
    SIGKILL in 3-12 runs of 20: review 20e)."""
    script = textwrap.dedent(
        """
        from xlr8_kit.http import abort
        with abort._LIVE_LOCK, abort.TERMINATION._lock:  # where the signal found the main thread
            abort.terminate_requests()
        print("returned")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "returned"


def test_the_grace_cut_copies_the_exempt_sockets_under_the_lock_they_are_added_under() -> None:
    """Review 21c Low 4: a token or abort connection opened on another thread (added under ``_LIVE_LOCK``) while the
    grace's timer copies the set made the copy raise "Set changed size during iteration": nothing was cut. Here a
    connection is added part way through the copy; under the lock it waits for the copy to end."""
    from xlr8_kit.http import abort

    added = socket.socket()

    class Mutated(weakref.WeakSet):  # type: ignore[type-arg]
        def __iter__(self) -> t.Iterator[t.Any]:
            iterator = super().__iter__()
            yield next(iterator)

            def connect() -> None:  # as ``_ExemptTracked.connect`` registers its socket
                with abort._LIVE_LOCK:
                    self.add(added)

            thread = threading.Thread(target=connect)
            threads.append(thread)
            thread.start()
            thread.join(0.5)  # under the lock it cannot add now (the copy holds it)
            yield from iterator

    threads: list[threading.Thread] = []
    first = socket.socket()
    sockets = Mutated([first])
    saved = abort._EXEMPT_SOCKETS
    abort._EXEMPT_SOCKETS = sockets
    try:
        abort._cut_exempt()
    finally:
        abort._EXEMPT_SOCKETS = saved
        for thread in threads:
            thread.join(5)
        first.close()
        added.close()
    assert added in sockets  # added once the copy was done
