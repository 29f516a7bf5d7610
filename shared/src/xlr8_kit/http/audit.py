"""The audit trail: exactly one JSON line per HTTP attempt (retries, redirects, token and secrets-manager calls
included) so an operator can answer "what did this connector send where, and what came back".

Never recorded: query strings (keys hide there), header values other than the rate-limit ones, bodies, tokens.
Every string goes through the redactor before it is written.

Failure policy: fail closed. If the file cannot be opened at start or a line cannot be written, ``AuditLogError``
(naming the setting ``audit_log_path``) stops the run: a connector must not keep calling a customer's API while
its audit trail is silently lost.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from xlr8_kit.http.errors import AuditLogError
from xlr8_kit.redaction import Redactor

#: Response headers worth keeping: they explain waits and quota stops.
RATE_LIMIT_HEADERS = ("retry-after", "sforce-limit-info")
RATE_LIMIT_PREFIXES = ("x-ratelimit-", "ratelimit-", "x-rate-limit-")


def rate_limit_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    if not headers:
        return {}
    kept = {}
    for name, value in headers.items():
        low = name.lower()
        if low in RATE_LIMIT_HEADERS or low.startswith(RATE_LIMIT_PREFIXES):
            kept[low] = value
    return kept


class AuditLog:
    """Append-only JSON-lines file; thread-safe; one ``write`` + ``flush`` per line."""

    def __init__(
        self,
        path: str | Path,
        *,
        run_id: str,
        product: str,
        credential_id: str | None,
        redactor: Redactor | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.run_id = run_id
        self.product = product
        self.credential_id = credential_id
        self.redactor = redactor if redactor is not None else Redactor.default()
        self.wall = wall
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._failure: str | None = None
        self._open()

    def _open(self) -> None:
        try:
            self._file = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise AuditLogError(
                f"audit_log_path {str(self.path)!r} cannot be opened for appending ({exc.strerror or exc}); "
                "fix the path or its permissions, or unset audit_log_path"
            ) from None

    def record(
        self,
        *,
        method: str,
        path: str,
        status: int | None,
        attempt: int,
        duration_ms: float,
        bytes_received: int | None,
        headers: Mapping[str, str] | None = None,
        error: str | None = None,
        kind: str = "api",
        host: str | None = None,
    ) -> None:
        """Write one line; raises ``AuditLogError`` when it cannot (fail closed)."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(self.wall(), tz=UTC).isoformat(timespec="milliseconds"),
            "run_id": self.run_id,
            "product": self.product,
            "credential_id": self.credential_id,
            "kind": kind,
            "method": method,
            "host": host,
            "path": path,
            "status": status,
            "attempt": attempt,
            "duration_ms": round(duration_ms, 1),
            "bytes": bytes_received,
            "rate_limit": rate_limit_headers(headers),
            "error": error,
        }
        text = json.dumps(self.redactor.redact_value(line), sort_keys=True) + "\n"
        with self._lock:
            self._check_locked()
            assert self._file is not None
            try:
                self._file.write(text)
                self._file.flush()
            except (OSError, ValueError) as exc:
                self._failure = str(exc)
                with contextlib.suppress(OSError, ValueError):
                    self._file.close()
                self._file = None
                raise AuditLogError(
                    f"audit_log_path {str(self.path)!r} could not be written ({exc}); "
                    "stopping before making unaudited calls"
                ) from None

    def check(self) -> None:
        """Raise before a call goes out if the trail is already broken or closed (fail closed)."""
        with self._lock:
            self._check_locked()

    def _check_locked(self) -> None:
        if self._failure is not None:
            raise AuditLogError(
                f"audit_log_path {str(self.path)!r} failed earlier ({self._failure}); no further HTTP calls allowed"
            )
        if self._file is None:
            raise AuditLogError(f"audit_log_path {str(self.path)!r} is closed; no further HTTP calls allowed")

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                with contextlib.suppress(OSError, ValueError):  # a failed flush was already reported
                    self._file.close()
                self._file = None
