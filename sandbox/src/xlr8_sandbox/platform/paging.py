"""Paging helpers every emulator needs: offset windows with vendor-style limits, and server-side cursors.

Server cursors (query locators, skip tokens, scroll ids) live in a ``CursorStore`` whose time-to-live runs on the
sandbox clock, so a test can make a cursor expire mid-run (RELIABILITY E8) by advancing the clock or calling
``expire_all()``, without waiting.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from xlr8_sandbox.platform.clock import SandboxClock

T = TypeVar("T")


@dataclass(frozen=True)
class Window:
    """Rows ``start:stop`` of the result; ``next_offset`` is None on the last page."""

    start: int
    stop: int
    next_offset: int | None


def offset_window(
    total: int, offset: int | str | None, limit: int | str | None, *, default_limit: int = 100, max_limit: int = 1000
) -> Window:
    """The page an offset/limit request asks for; bad values raise ValueError naming the parameter."""
    start = _non_negative("offset", offset, 0)
    size = _non_negative("limit", limit, default_limit)
    if size == 0 or size > max_limit:
        raise ValueError(f"parameter 'limit' must be between 1 and {max_limit}, got {size}")
    stop = min(start + size, total)
    return Window(min(start, total), stop, stop if stop < total else None)


def _non_negative(name: str, value: int | str | None, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"parameter '{name}' must be an integer, got {value!r}") from None
    if number < 0:
        raise ValueError(f"parameter '{name}' must be >= 0, got {number}")
    return number


@dataclass
class _Cursor(Generic[T]):
    state: T
    expires_at: datetime


class CursorStore(Generic[T]):
    """Opaque server-side cursors with a TTL on sandbox time (thread-safe)."""

    def __init__(self, clock: SandboxClock, ttl: timedelta = timedelta(minutes=15), prefix: str = "") -> None:
        self.clock = clock
        self.ttl = ttl
        self.prefix = prefix
        self._cursors: dict[str, _Cursor[T]] = {}
        self._lock = threading.Lock()

    def open(self, state: T) -> str:
        token = f"{self.prefix}{secrets.token_hex(8)}"
        with self._lock:
            self._prune()
            self._cursors[token] = _Cursor(state, self.clock.now() + self.ttl)
        return token

    def get(self, token: str) -> T | None:
        """The cursor's state, or None when unknown or expired (the vendor's "invalid cursor" answer)."""
        with self._lock:
            cursor = self._cursors.get(token)
            if cursor is None or cursor.expires_at <= self.clock.now():
                self._cursors.pop(token, None)
                return None
            return cursor.state

    def update(self, token: str, state: T) -> None:
        """Move a live cursor on; each use extends its life, as vendors do."""
        with self._lock:
            if token in self._cursors:
                self._cursors[token] = _Cursor(state, self.clock.now() + self.ttl)

    def close(self, token: str) -> None:
        with self._lock:
            self._cursors.pop(token, None)

    def expire_all(self) -> int:
        """Forget every open cursor now; returns how many there were."""
        with self._lock:
            count = len(self._cursors)
            self._cursors.clear()
        return count

    def __len__(self) -> int:
        with self._lock:
            self._prune()
            return len(self._cursors)

    def _prune(self) -> None:
        now = self.clock.now()
        for token in [t for t, c in self._cursors.items() if c.expires_at <= now]:
            del self._cursors[token]
