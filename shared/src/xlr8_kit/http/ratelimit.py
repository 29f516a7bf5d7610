"""Client-side token bucket per credential, so several streams of one tap share the tenant's budget.

``acquire()`` reserves the next slot under a lock and sleeps outside it, so concurrent callers queue in order
and the observed rate never exceeds ``rate`` per second plus the ``burst`` allowance. Vendor headers can push
the next slot out (``pause_until``) when the server says the window is spent. Its wait ends when a signal ends the
process (``abort.nap``), whoever built it: the session then sends nothing more.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from xlr8_kit.http.abort import nap


class TokenBucket:
    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = nap,
    ) -> None:
        if rate <= 0:
            raise ValueError("http.requests_per_second must be greater than 0")
        self.rate = float(rate)
        self.capacity = max(1.0, float(burst) if burst is not None else 1.0)
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.capacity
        self._updated = clock()
        self._paused_until = 0.0

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now

    def reserve(self) -> float:
        """Take one token; return how long the caller must wait before using it.

        ``_tokens`` is the bucket level at virtual time ``_updated`` (which a server pause may push into the
        future, so nothing accrues during the pause); a negative level is a queue of reservations.
        """
        with self._lock:
            now = self.clock()
            self._refill(now)
            if self._paused_until > now:
                self._tokens = min(self._tokens, 0.0)
                self._updated = max(self._updated, self._paused_until)
            self._tokens -= 1.0
            debt = -self._tokens / self.rate if self._tokens < 0 else 0.0
            return max(0.0, self._updated - now) + debt

    def acquire(self) -> float:
        """Block until a request may go out; returns the time waited."""
        wait = self.reserve()
        if wait > 0:
            self.sleep(wait)
        return wait

    def pause_until(self, moment: float) -> None:
        """No request before ``moment`` (monotonic clock): the vendor said the current window is exhausted."""
        with self._lock:
            self._paused_until = max(self._paused_until, moment)
