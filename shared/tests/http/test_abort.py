"""Requests given up from another thread (``xlr8_kit.http.abort``), over real sockets: a request blocked on a stalled
answer raises ``RequestAbortedError`` once aborted (plain and TLS), is not retried nor counted against the host's
breaker, a backoff wait ends too, and requests not sent under the ``Abort`` go on untouched."""

from __future__ import annotations

import contextvars
import socket
import threading
import time
import typing as t
from pathlib import Path

import pytest
import requests

from xlr8_kit.http.abort import Abort, RequestAbortedError
from xlr8_kit.http.session import HttpPolicy, ResilientSession, origin_of
from xlr8_kit.testing.faultserver import FaultServer, Reply, make_certificate, server_tls_context

STALL = 60.0


class _Sent:
    """``session.get(url)`` under ``abort`` on its own thread: what it answered or raised."""

    def __init__(self, session: ResilientSession, url: str, abort: Abort | None) -> None:
        self.outcome: requests.Response | BaseException | None = None

        def send() -> None:
            try:
                if abort is None:
                    self.outcome = session.get(url)
                else:
                    with abort.applied():
                        self.outcome = session.get(url)
            except BaseException as exc:  # the test reads it
                self.outcome = exc

        self.thread = threading.Thread(target=contextvars.copy_context().run, args=(send,))
        self.thread.start()

    def result(self) -> requests.Response | BaseException | None:
        self.thread.join(timeout=STALL / 2)  # well before the stall ends
        assert not self.thread.is_alive(), "the request was not given up"
        return self.outcome


def _seen(server: FaultServer, path: str, n: int) -> None:
    deadline = time.monotonic() + 30
    while server.count(path) < n:
        assert time.monotonic() < deadline
        time.sleep(0.01)


@pytest.mark.parametrize("tls", [False, True])
def test_a_stalled_request_is_given_up_at_abort_not_retried_nor_held_against_the_host(
    tmp_path: Path, tls: bool
) -> None:
    ca: str | None = None
    context = None
    if tls:
        cert, key = make_certificate(tmp_path)
        ca, context = str(cert), server_tls_context(cert, key)
    with FaultServer(tls=context) as server:
        server.script("/count", Reply(200, body={"totalSize": 1}, delay=STALL))
        server.script("/other", Reply(200, body={"ok": True}, delay=5.0))
        session = ResilientSession(HttpPolicy(max_attempts=5, backoff_base=0, ca_bundle=ca), product="test")
        abort = Abort()
        try:
            given_up = _Sent(session, server.url + "/count", abort)
            _seen(server, "/count", 1)
            other = _Sent(session, server.url + "/other", None)  # the session's own connections: untouched
            _seen(server, "/other", 1)
            abort.abort()
            outcome = given_up.result()
            assert isinstance(outcome, RequestAbortedError), outcome
            # read before the other request's success would reset it
            breaker = session.breakers.get(origin_of(server.url)).snapshot()
            answered = other.result()
            assert isinstance(answered, requests.Response), answered
            assert answered.json() == {"ok": True}
        finally:
            abort.close()
            session.close()
        assert server.count("/count") == 1  # not retried
        assert (breaker.state, breaker.failures) == ("closed", 0)


def test_a_request_waiting_to_retry_is_given_up_without_another_attempt() -> None:
    with FaultServer() as server:
        server.script("/count", Reply(503, headers={"Retry-After": "50"}), repeat_last=True)
        session = ResilientSession(HttpPolicy(max_attempts=5), product="test")
        abort = Abort()
        try:
            waiting = _Sent(session, server.url + "/count", abort)
            _seen(server, "/count", 1)
            abort.abort()
            assert isinstance(waiting.result(), RequestAbortedError)
        finally:
            abort.close()
            session.close()
        assert server.count("/count") == 1


def test_nothing_is_sent_under_an_abort_once_aborted() -> None:
    with FaultServer() as server:
        server.script("/count", Reply(200, body={"totalSize": 1}), repeat_last=True)
        session = ResilientSession(HttpPolicy(), product="test")
        abort = Abort()
        try:
            with abort.applied():
                assert session.get(server.url + "/count").json() == {"totalSize": 1}
                abort.abort()
                with pytest.raises(RequestAbortedError):
                    session.get(server.url + "/count")
            assert session.get(server.url + "/count").json() == {"totalSize": 1}  # outside it: as usual
        finally:
            abort.close()
            session.close()
        assert server.count("/count") == 2


def test_a_token_request_under_an_abort_is_never_given_up() -> None:
    """A refresh the vendor answers by rotating the refresh token must end: cut at abort, the new token would be
    lost with the old one spent (every later run: invalid_grant). Its answer arrives; the api request beside it
    under the same ``Abort`` is given up."""
    with FaultServer() as server:
        server.script("/token", Reply(200, body={"access_token": "a2", "refresh_token": "r2"}, delay=1.5))
        server.script("/count", Reply(200, body={"totalSize": 1}, delay=STALL))
        session = ResilientSession(HttpPolicy(max_attempts=5, backoff_base=0), product="test")
        abort = Abort()
        outcome: list[requests.Response | BaseException] = []

        def refresh() -> None:
            try:
                with abort.applied():
                    outcome.append(session.post(server.url + "/token", data={"grant_type": "refresh_token"},
                                                kind="token"))  # fmt: skip
            except BaseException as exc:  # the test reads it
                outcome.append(exc)

        try:
            refreshing = threading.Thread(target=contextvars.copy_context().run, args=(refresh,))
            refreshing.start()
            counting = _Sent(session, server.url + "/count", abort)
            _seen(server, "/token", 1)
            _seen(server, "/count", 1)
            abort.abort()
            assert isinstance(counting.result(), RequestAbortedError)
            refreshing.join(timeout=STALL / 2)
            assert not refreshing.is_alive()
            assert len(outcome) == 1
            assert isinstance(outcome[0], requests.Response), outcome
            assert outcome[0].json() == {"access_token": "a2", "refresh_token": "r2"}
        finally:
            abort.close()
            session.close()
        assert server.count("/token") == 1


def test_requests_under_an_abort_use_its_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its adapter is the one sending (so ``abort()`` can cut what it opened), never the session's pool (itself
    abortable, by ``TERMINATION`` only)."""
    with FaultServer() as server:
        server.script("/count", Reply(200, body={}), repeat_last=True)
        session = ResilientSession(HttpPolicy(), product="test")
        abort = Abort()
        sent: list[t.Any] = []
        original = type(abort.adapter).send

        def spy(adapter: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
            sent.append(adapter)
            return original(adapter, *args, **kwargs)

        monkeypatch.setattr(type(abort.adapter), "send", spy)
        try:
            session.get(server.url + "/count")
            with abort.applied():
                session.get(server.url + "/count")
        finally:
            abort.close()
            session.close()
        assert sent == [session.adapters["http://"], abort.adapter]
        assert session.adapters["http://"] is not abort.adapter


def test_an_abort_shuts_the_outer_socket_of_tls_inside_tls() -> None:
    """Through an https:// proxy urllib3 wraps the origin's TLS in the proxy's (``SSLTransport``, which holds the
    outer socket as ``.socket``): the abort shuts that socket; it raised TypeError (review 20c), which in a tap's
    signal handler came before its STATE and exit code."""

    class Transport:  # urllib3.util.ssltransport.SSLTransport's shape: not a socket, its socket inside
        def __init__(self, sock: socket.socket) -> None:
            self.socket = sock

    ours, theirs = socket.socketpair()
    with ours, theirs:
        abort = Abort()
        transport = Transport(ours)  # its connection holds it (the Abort only weakly)
        abort._opened(t.cast("socket.socket", transport))
        abort.abort()
        theirs.settimeout(5)
        assert theirs.recv(1) == b""  # the end, at once
        abort._opened(t.cast("socket.socket", object()))  # nothing to shut: no error either
