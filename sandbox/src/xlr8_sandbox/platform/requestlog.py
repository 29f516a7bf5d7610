"""What each product was asked, for humans (a logger) and for tests (a bounded in-memory log)."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LoggedRequest:
    product: str
    method: str
    path: str  # never the query string: it can carry filters with personal data or keys
    status: int  # 0 when the connection was closed without a response
    ms: float
    fault: str | None
    at: float = field(default_factory=time.time)  # wall clock when the answer was logged

    @property
    def arrived_at(self) -> float:
        """Wall clock when the request arrived: what a rate limit is measured on."""
        return self.at - self.ms / 1000


class RequestLog:
    """The last ``capacity`` requests of every product of one sandbox (bounded, so benches stay flat)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._entries: deque[LoggedRequest] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self, product: str | None = None, path_prefix: str = "") -> list[LoggedRequest]:
        with self._lock:
            return [
                e for e in self._entries if (product is None or e.product == product) and e.path.startswith(path_prefix)
            ]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
