"""Encoded rows kept per data version, so an emulator renders each row once instead of once per request.

Rows are pure functions of (seed, index, sandbox time and the company's inserted records), so an emulator can
keep a row's wire bytes keyed by (namespace, index) where the namespace names the request shape that decides the
bytes (object, selected fields, API version, format). ``RowCache.rows(namespace, version)`` hands out the map for
the current data version; when the version differs from the last one seen, everything cached is dropped first, so
a clock advance or an insert can never be answered from stale rows. Rows an emulator changes at run time
(overlays: touched, deleted, inserted rows) are never cached here: they are served from the overlay as before.

Switches: ``XLR8_SANDBOX_CACHE=0`` (or ``cache.enabled = False``) turns caching off, for A/B benchmarks and for
tests that compare cached and uncached bodies; ``XLR8_SANDBOX_CACHE_MB`` bounds the bytes kept (default 2048):
past it, rows are still served, just no longer kept.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Hashable
from typing import Any

from xlr8_sandbox.platform.wirejson import content_bytes

DEFAULT_BUDGET_MB = 2048


#: ``json.dumps`` with these options builds a new encoder on every call; one instance writes the same bytes.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))


def json_bytes(content: Any) -> bytes:
    """Exactly what Starlette's ``JSONResponse`` writes for ``content`` (so cached parts splice into the same body):
    msgspec's bytes where they are the same (``wirejson``), else the stdlib encoder's."""
    fast = content_bytes(content)
    return fast if fast is not None else _ENCODER.encode(content).encode()


def cache_enabled_by_default() -> bool:
    return os.environ.get("XLR8_SANDBOX_CACHE", "1").strip().lower() not in ("0", "false", "no", "off")


class RowCache:
    """Row bytes (or strings) by namespace and index, for one data version at a time, within a byte budget."""

    def __init__(self, budget_bytes: int | None = None, enabled: bool | None = None) -> None:
        self.enabled = cache_enabled_by_default() if enabled is None else enabled
        if budget_bytes is None:
            budget_bytes = int(os.environ.get("XLR8_SANDBOX_CACHE_MB", DEFAULT_BUDGET_MB)) * 2**20
        self.budget_bytes = budget_bytes
        self.used_bytes = 0
        self._version: Hashable = None
        self._spaces: dict[Hashable, dict[int, Any]] = {}
        self._lock = threading.Lock()

    def rows(self, namespace: Hashable, version: Hashable) -> dict[int, Any] | None:
        """The cached rows of ``namespace`` at ``version`` (to read and fill), or None when caching is off."""
        if not self.enabled:
            return None
        with self._lock:
            if version != self._version:
                self._spaces.clear()
                self.used_bytes = 0
                self._version = version
            return self._spaces.setdefault(namespace, {})

    def shared(self, namespace: Hashable, version: Hashable, make: Callable[[], Any]) -> Any:
        """One object per (namespace, version), made on first use (e.g. a resumable scan of matching rows);
        None when caching is off."""
        rows = self.rows(("shared", namespace), version)
        if rows is None:
            return None
        found = rows.get(0)
        if found is None:
            found = rows[0] = make()
        return found

    def room_for(self, size: int) -> bool:
        """Whether ``size`` more bytes fit the budget; counts them if so (callers then store the row)."""
        if self.used_bytes + size > self.budget_bytes:
            return False
        self.used_bytes += size
        return True

    def clear(self) -> None:
        with self._lock:
            self._spaces.clear()
            self.used_bytes = 0
            self._version = None
