"""Requests given up from another thread: a request whose answer is no longer wanted must not hold the run.

A ranged read's plan (a ``COUNT()`` that may take the org's 2-minute query limit) can still be out when the read
ends. Its thread is not a daemon (one logging while the interpreter shuts down can abort the process), so the
process, and the target reading its output, would wait for the answer. Instead:

- ``with abort.applied():`` on a thread (and in threads started from a copy of its context) makes a
  ``ResilientSession`` send over ``abort``'s own connections (its adapter), with the whole policy as usual: rate
  limiter, breaker, redaction, audit.
- ``abort.abort()`` (from any thread) shuts those sockets down, so a read blocked on one raises at once; the
  session then gives the request up with ``RequestAbortedError``, never retried, never counted against the host's
  breaker, and sends nothing more under it (a backoff wait ends too). An answer already read is returned as usual.
- ``abort.close()`` closes its connections once nothing is sent under it any more.
- Token requests (``kind="token"``) are never given up (``never_given_up``): a refresh cut after the vendor
  rotated the refresh token would leave the connection with a spent one.

The vendor may still finish the work a given-up request asked for (a query runs on the org until it ends): only
the client stops waiting.

``TERMINATION`` is the process's own: every ``ResilientSession`` request but token requests goes over connections it
tracks, whatever thread sends it. A tap ended by a signal (``KitTap._handle_termination``) calls
``terminate_requests()``: the requests read ahead or ranged on worker threads, whose records will never be emitted,
end at once instead of holding the exit until their answers come (rel19: 37.5 s of a 40 s stall). Requests never
given up get ``EXEMPT_GRACE_SECONDS`` after the signal, then their connections are cut too (``exempt_adapter``).
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
import threading
import time
import typing as t
import weakref

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from xlr8_kit.http.clientcert import KeyPasswordAdapter
from xlr8_kit.http.errors import RequestAbortedError
from xlr8_kit.http.window import MAX_LATENCY_WINDOW

__all__ = [
    "TERMINATION",
    "Abort",
    "RequestAbortedError",
    "applied_abort",
    "exempt_adapter",
    "grace_left",
    "nap",
    "never_given_up",
    "new_process_run",
    "terminate_requests",
]

#: Every ``Abort`` alive (``terminate_requests`` aborts them all).
_LIVE: weakref.WeakSet[Abort] = weakref.WeakSet()
#: Re-entrant, as ``Abort._lock``: the signal handler (``terminate_requests``) runs on the main thread, which may hold
#: them when the signal comes (a plain lock hung the handler: review 20e).
_LIVE_LOCK = threading.RLock()
_APPLIED: contextvars.ContextVar[Abort | None] = contextvars.ContextVar("xlr8_kit_abort", default=None)
#: Inside ``never_given_up`` (a token request): sent over connections no ``Abort`` tracks, ``TERMINATION``'s included.
_EXEMPT: contextvars.ContextVar[bool] = contextvars.ContextVar("xlr8_kit_never_given_up", default=False)


def applied_abort() -> Abort | None:
    """The ``Abort`` the current thread sends under, if any."""
    return _APPLIED.get()


@contextlib.contextmanager
def never_given_up() -> t.Iterator[None]:
    """Requests sent inside go on whatever an applied ``Abort`` does: a token request must end, because the vendor
    may rotate the refresh token as it answers (cutting it would lose the new token with the old one spent)."""
    token = _APPLIED.set(None)
    exempt = _EXEMPT.set(True)
    try:
        yield
    finally:
        _EXEMPT.reset(exempt)
        _APPLIED.reset(token)


def is_exempt() -> bool:
    """Inside ``never_given_up``: nothing gives this thread's request up."""
    return _EXEMPT.get()


class Abort:
    """Requests that can be given up (see the module)."""

    def __init__(self) -> None:
        self.aborted = threading.Event()
        #: ``time.monotonic()`` when a signal ended the process (``TERMINATION``'s only).
        self.ended_at: float | None = None
        self._lock = threading.RLock()
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()  # a closed connection's goes with it
        self.adapter = _AbortableAdapter(max_retries=0, pool_maxsize=MAX_LATENCY_WINDOW)
        with _LIVE_LOCK:  # a signal ending the process gives its requests up too (``terminate_requests``)
            _LIVE.add(self)
            ended = "TERMINATION" in globals() and TERMINATION.aborted.is_set()
        if ended:
            self.aborted.set()

    @contextlib.contextmanager
    def applied(self) -> t.Iterator[Abort]:
        token = _APPLIED.set(self)
        try:
            yield self
        finally:
            _APPLIED.reset(token)

    def abort(self) -> None:
        """Give up every request sent under it: sockets shut down (a blocked read raises), nothing sent after."""
        with self._lock:
            self.aborted.set()
            sockets, self._sockets = list(self._sockets), weakref.WeakSet()
        for sock in sockets:
            _shut(sock)

    def close(self) -> None:
        self.adapter.close()

    def _opened(self, sock: socket.socket | None) -> None:
        """A connection made under it: shut down at ``abort`` (at once if it came after)."""
        if sock is None:
            return
        with self._lock:
            if not self.aborted.is_set():
                self._sockets.add(sock)
                return
        _shut(sock)


def _shut(sock: t.Any) -> None:
    # The plain socket's shutdown, also for a TLS socket (its own would drop its TLS state under a reading thread):
    # the reader's recv sees the end at once. TLS inside TLS (an https:// proxy) is urllib3's SSLTransport, which
    # holds the outer socket (``socket.socket.shutdown`` refused it with TypeError, out of the signal handler before
    # its STATE and exit code: review 20c).
    raw = sock if isinstance(sock, socket.socket) else getattr(sock, "socket", None)
    if isinstance(raw, socket.socket):
        with contextlib.suppress(OSError):
            socket.socket.shutdown(raw, socket.SHUT_RDWR)


class _Tracked:
    """Connections that register their socket with the ``Abort`` applied on the thread that opens them, and with
    ``TERMINATION``."""

    sock: socket.socket | None

    def connect(self) -> None:
        handle = _APPLIED.get()
        super().connect()  # type: ignore[misc]
        if handle is not None:
            handle._opened(self.sock)
        TERMINATION._opened(self.sock)


def _pools(tracked: type) -> dict[str, type[HTTPConnectionPool]]:
    """urllib3 pool classes by scheme whose connections are ``tracked``'s."""
    name = tracked.__name__
    return {
        scheme: type(
            f"{name}{pool.__name__}", (pool,), {"ConnectionCls": type(f"{name}{conn.__name__}", (tracked, conn), {})}
        )
        for scheme, pool, conn in (
            ("http", HTTPConnectionPool, HTTPConnection),
            ("https", HTTPSConnectionPool, HTTPSConnection),
        )
    }


class _AbortableAdapter(KeyPasswordAdapter):
    """An adapter whose connections (direct or through a proxy) are tracked by the ``Abort`` they were made under
    (an encrypted client key's passphrase passed on: ``KeyPasswordAdapter``)."""

    def init_poolmanager(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self.pools

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: t.Any) -> t.Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS pools make their own connections: not shut at abort
            manager.pool_classes_by_scheme = self.pools
        return manager

    pools = _pools(_Tracked)


#: The process's own ``Abort`` (module doc): given up only when a signal ends the process.
TERMINATION = Abort()

#: After a signal, how long a request never given up (a token, a Bulk job's create or abort) may still take: then
#: its connection is cut too. A token answer may carry a rotated refresh token, so it is waited for, but not for the
#: whole read timeout (120 s: ends21 measured 58.7 s of a 60 s stalled refresh); an orchestrator's kill commonly
#: follows its SIGTERM in 30 s.
EXEMPT_GRACE_SECONDS = 15.0
#: The sockets of requests never given up (``exempt_adapter``), cut ``EXEMPT_GRACE_SECONDS`` after the signal.
_EXEMPT_SOCKETS: weakref.WeakSet[socket.socket] = weakref.WeakSet()
_EXEMPT_TIMER: list[threading.Timer] = []
#: The process is a tap's own CLI run (set by ``KitTap``'s CLI): only there does a signal give up every request of the
#: process (``KitTap._handle_termination``) and arm the grace, so only there may a main-thread token refresh hold the
#: signal (``TokenAuthenticator``). A connector's caller (a notebook, a service, the gatherer) goes on after a Ctrl-C:
#: its later requests must still be sent (review 20c), and nothing would bound the hold (review 21c: 25 s).
PROCESS_RUN = False


def terminate_requests() -> None:
    """A signal ends the process: every request in flight but token requests is given up, and none is sent after;
    those under an ``Abort`` of their own too (given up as at its abort, not retried over cut connections: review
    20c), and an ``Abort`` made afterwards starts aborted. Requests never given up get ``EXEMPT_GRACE_SECONDS``."""
    with _LIVE_LOCK:
        TERMINATION.aborted.set()
        others = [abort for abort in _LIVE if abort is not TERMINATION]
        if not _EXEMPT_TIMER:
            TERMINATION.ended_at = time.monotonic()
            _EXEMPT_TIMER.append(threading.Timer(EXEMPT_GRACE_SECONDS, _cut_exempt))
            _EXEMPT_TIMER[0].daemon = True
            _EXEMPT_TIMER[0].start()
    TERMINATION.abort()
    for abort in others:
        abort.abort()


def new_process_run() -> None:
    """A tap's CLI run starts (``KitTap``'s CLI): what a signal ended in an earlier run invoked in-process (a test's
    runner) is undone, so this run's requests are sent and its signals handled, as in a process of its own (review
    21f: every later run ignored every signal, and gave up every request). Undone at the start, not at the end: a
    run a signal ended still joins its worker threads after the CLI returns, and they must find it set."""
    with _LIVE_LOCK:
        for timer in _EXEMPT_TIMER:
            timer.cancel()  # the earlier run's grace would cut this run's token requests
        _EXEMPT_TIMER.clear()
        TERMINATION.ended_at = None
        TERMINATION.aborted.clear()


def _cut_exempt() -> None:
    """The grace is over: the connections of requests never given up still open are shut (one still in flight
    fails at once); a connection made later is not (an abort PATCH sent after is still sent). Copied under the
    lock they are added under: one opened meanwhile made the copy raise, and nothing was cut (review 21c)."""
    with _LIVE_LOCK:
        sockets = list(_EXEMPT_SOCKETS)
    for sock in sockets:
        _shut(sock)


def grace_left(grace: float | None = None) -> float | None:
    """Seconds left of ``grace`` (``EXEMPT_GRACE_SECONDS``) counted from the signal that ends the process; None
    while none did."""
    ended_at = TERMINATION.ended_at
    if ended_at is None:
        return None
    return max(0.0, ended_at + (EXEMPT_GRACE_SECONDS if grace is None else grace) - time.monotonic())


class _ExemptTracked:
    """Connections of requests never given up: registered to be cut at the grace's end (``_cut_exempt``)."""

    sock: socket.socket | None

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        if self.sock is not None:
            with _LIVE_LOCK:
                _EXEMPT_SOCKETS.add(self.sock)


class _ExemptAdapter(_AbortableAdapter):
    """The adapter of requests never given up (a session's token requests, ``never_given_up``)."""

    pools = _pools(_ExemptTracked)


def exempt_adapter() -> HTTPAdapter:
    """An adapter without urllib3 retries for requests never given up: cut only at the grace's end after a signal."""
    return _ExemptAdapter(max_retries=0)


def abortable_adapter() -> HTTPAdapter:
    """An adapter without urllib3 retries whose connections ``TERMINATION`` (and the ``Abort`` applied where each
    is made) can cut: a ``ResilientSession``'s own."""
    return _AbortableAdapter(max_retries=0, pool_maxsize=MAX_LATENCY_WINDOW)


def nap(seconds: float) -> None:
    """``time.sleep``, cut short when a signal ends the process (``TERMINATION``): a wait before a request (a
    rate-limit window, a job's next poll) that no one will send then. Inside ``never_given_up`` (a token request) it
    sleeps as told."""
    if is_exempt():
        time.sleep(seconds)
    else:
        TERMINATION.aborted.wait(seconds)
