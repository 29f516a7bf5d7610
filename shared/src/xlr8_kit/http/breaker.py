"""A circuit breaker per host: after ``fail_max`` consecutive failed requests, calls fail fast without touching
the network for ``reset_timeout`` seconds; then one probe is let through (half-open) and ``success_threshold``
successes close the circuit again. Client errors (4xx) say nothing about the host's health and are not counted.

A failure is a request that gave up, not an attempt (``record_failure`` at the give-up, ``record_attempt_failure``
for an attempt that will be retried): the retry budget is per request, so counting attempts let one round of 502s
on a few requests in flight open the circuit before any was retried, and one request's own ``max_attempts`` open it
for every other request, its clean-up included (audit25d F8, F16). A failed probe still re-opens at once.

State can be persisted to a small JSON file so a new run does not hammer a host the previous run saw down.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("xlr8_kit.http")

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


@dataclass
class BreakerSnapshot:
    state: str
    failures: int
    opened_at: float | None


class CircuitBreaker:
    """Thread-safe; time comes from the injected monotonic ``clock``."""

    def __init__(
        self,
        *,
        fail_max: int = 5,
        reset_timeout: float = 30.0,
        success_threshold: int = 1,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        if fail_max < 1:
            raise ValueError("http.breaker_fail_max must be at least 1")
        self.fail_max = fail_max
        self.reset_timeout = reset_timeout
        self.success_threshold = max(1, success_threshold)
        self.clock = clock
        self.on_change = on_change
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._successes = 0
        self._opened_at: float | None = None
        self._probe_in_flight = False

    @property
    def state(self) -> str:
        with self._lock:
            self._maybe_half_open()
            return self._state

    def _maybe_half_open(self) -> None:
        if self._state == OPEN and self._opened_at is not None and self.clock() - self._opened_at >= self.reset_timeout:
            self._state = HALF_OPEN
            self._successes = 0
            self._probe_in_flight = False

    def allow(self) -> bool:
        """May a call go out now? In half-open state only one probe at a time."""
        with self._lock:
            self._maybe_half_open()
            if self._state == CLOSED:
                return True
            if self._state == HALF_OPEN and not self._probe_in_flight:
                self._probe_in_flight = True
                return True
            return False

    def retry_in(self) -> float:
        """Seconds until the breaker lets a probe through (0 when it would now)."""
        with self._lock:
            if self._state != OPEN or self._opened_at is None:
                return 0.0
            return max(0.0, self.reset_timeout - (self.clock() - self._opened_at))

    def record_success(self) -> None:
        with self._lock:
            before = self._state
            self._failures = 0
            if self._state == HALF_OPEN:
                self._probe_in_flight = False
                self._successes += 1
                if self._successes >= self.success_threshold:
                    self._state = CLOSED
                    self._opened_at = None
        self._changed(before)

    def release(self) -> None:
        """The call ended without saying anything about the host (429, a refused redirect): free the probe slot."""
        with self._lock:
            self._probe_in_flight = False

    def record_attempt_failure(self) -> None:
        """An attempt failed and its request will try again: counted when the request gives up, except for a
        probe (half-open), whose failure re-opens the circuit now."""
        with self._lock:
            before = self._state
            self._probe_in_flight = False
            if self._state == HALF_OPEN:
                self._trip()
        self._changed(before)

    def record_failure(self) -> None:
        with self._lock:
            before = self._state
            self._probe_in_flight = False
            self._failures += 1
            if self._state == HALF_OPEN or self._failures >= self.fail_max:
                self._trip()
        self._changed(before)

    def _changed(self, before: str) -> None:
        """Persist transitions as they happen, so a crashed run still tells the next one the host was down."""
        if self.on_change is not None and self._state != before:
            self.on_change()

    def _trip(self) -> None:
        self._state = OPEN
        self._opened_at = self.clock()
        self._successes = 0

    def snapshot(self) -> BreakerSnapshot:
        with self._lock:
            return BreakerSnapshot(self._state, self._failures, self._opened_at)

    def restore(self, state: str, failures: int, open_for: float | None) -> None:
        """Re-create a persisted state; ``open_for`` is how long the circuit had already been open."""
        with self._lock:
            self._state = state if state in {CLOSED, OPEN, HALF_OPEN} else CLOSED
            self._failures = max(0, int(failures))
            if self._state == HALF_OPEN:
                self._state = OPEN
                open_for = self.reset_timeout
            self._opened_at = None if self._state == CLOSED else self.clock() - float(open_for or 0.0)


class BreakerRegistry:
    """One breaker per host (``scheme://host:port``), optionally persisted across runs per vendor and tenant.

    Persistence uses wall time (``wall``) because monotonic clocks do not survive a process.
    """

    def __init__(
        self,
        *,
        fail_max: int = 5,
        reset_timeout: float = 30.0,
        success_threshold: int = 1,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        state_path: str | os.PathLike[str] | None = None,
        scope: str = "",
    ) -> None:
        self._kwargs = {"fail_max": fail_max, "reset_timeout": reset_timeout, "success_threshold": success_threshold}
        self.clock = clock
        self.wall = wall
        self.state_path = Path(state_path) if state_path else None
        self.scope = scope
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}
        self._loaded: dict[str, dict[str, object]] = self._load()

    def _key(self, host: str) -> str:
        return f"{self.scope}|{host}" if self.scope else host

    def _load(self) -> dict[str, dict[str, object]]:
        if self.state_path is None or not self.state_path.exists():
            return {}
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # a lost breaker state only costs a few probes; never block a run on it
        return data if isinstance(data, dict) else {}

    def get(self, host: str) -> CircuitBreaker:
        with self._lock:
            breaker = self._breakers.get(host)
            if breaker is None:
                breaker = CircuitBreaker(
                    clock=self.clock,
                    on_change=self.save if self.state_path is not None else None,
                    **self._kwargs,  # type: ignore[arg-type]
                )
                saved = self._loaded.get(self._key(host))
                if isinstance(saved, dict):
                    opened_wall = saved.get("opened_at_wall")
                    open_for = self.wall() - float(opened_wall) if isinstance(opened_wall, int | float) else None
                    breaker.restore(str(saved.get("state", CLOSED)), int(saved.get("failures", 0) or 0), open_for)  # type: ignore[call-overload]
                self._breakers[host] = breaker
            return breaker

    def save(self) -> None:
        """Write every breaker's state (merged with other scopes already in the file); atomic rename."""
        if self.state_path is None:
            return
        with self._lock:
            data = dict(self._load())
            now_mono, now_wall = self.clock(), self.wall()
            for host, breaker in self._breakers.items():
                snap = breaker.snapshot()
                opened_wall = None if snap.opened_at is None else now_wall - (now_mono - snap.opened_at)
                data[self._key(host)] = {"state": snap.state, "failures": snap.failures, "opened_at_wall": opened_wall}
            tmp = self.state_path.with_suffix(f"{self.state_path.suffix}.{os.getpid()}.tmp")
            try:
                tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
                os.replace(tmp, self.state_path)
            except OSError as exc:  # losing breaker memory costs a few probes; failing the run would cost more
                logger.warning("http.breaker_state_path %s could not be written: %s", self.state_path, exc)
