"""A clock the tests can advance: the fictional company changes over sandbox time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

#: Sandbox time starts here for every seed, so data and tests are deterministic.
EPOCH = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)


class SandboxClock:
    """Stands still unless advanced, so what a test sees depends only on what it did."""

    def __init__(self, start: datetime = EPOCH) -> None:
        self.start = start
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def timestamp(self) -> float:
        """Seconds since the Unix epoch in sandbox time (pass as ``TokenStore(now=clock.timestamp)``)."""
        return self.now().timestamp()

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError(f"the sandbox clock only moves forward; got {delta}")
        with self._lock:
            self._now += delta
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment

    def reset(self) -> None:
        self.set(self.start)
