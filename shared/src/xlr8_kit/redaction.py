"""Secret masking for logs, exception texts, audit lines and anything else a human or a file may see.

CONTRACT: ``Redactor.add(secret)`` registers a secret (and its derived forms: base64, URL-encoded, JSON-escaped)
the moment it is known; ``Redactor.add_pair(user, secret)`` also registers base64 of ``user:secret`` (HTTP Basic);
``Redactor.redact(text)`` masks longest-first. ``Redactor.install_logging_filter()`` masks every log record of
the process.

Secrets shorter than ``MIN_SECRET_LENGTH`` are not registered: masking ``"a"`` would destroy every log line
while protecting nothing a brute force would not find (RELIABILITY D4).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
import threading
import traceback
from types import TracebackType
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_SECRET_LENGTH = 4

#: Loggers that may install their own handlers after ours: the filter goes on them and their handlers too.
SDK_LOGGER_NAMES = ("singer_sdk", "singer_sdk.metrics", "urllib3", "requests", "xlr8_kit")


def derived_forms(secret: str) -> set[str]:
    """The ways a secret can show up in a log line, a URL, a JSON document or an Authorization header."""
    raw = secret.encode()
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret),  # as a path segment ("/" kept)
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(json.dumps(secret)[1:-1])[1:-1],  # a JSON document echoed inside another one
        repr(secret)[1:-1],  # tracebacks and %r
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
    }
    # A base64 form also leaks when the encoder dropped the padding (JWT style).
    forms |= {form.rstrip("=") for form in list(forms) if form.endswith("=")}
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


class Redactor:
    """Process-wide by default (``Redactor.default()``) so tokens obtained anywhere are masked everywhere."""

    _default: Redactor | None = None
    _default_lock = threading.Lock()

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

    @classmethod
    def default(cls) -> Redactor:
        with cls._default_lock:
            if cls._default is None:
                cls._default = Redactor()
            return cls._default

    def add(self, secret: str | None) -> None:
        """Register a secret and its derived forms; too-short or empty values are ignored (see module doc)."""
        if not secret or len(secret) < MIN_SECRET_LENGTH:
            return
        self._register(derived_forms(secret))

    def add_pair(self, user: str | None, secret: str | None) -> None:
        """Register ``secret`` and the base64 of ``user:secret`` that HTTP Basic puts on the wire."""
        self.add(secret)
        if user and secret and len(secret) >= MIN_SECRET_LENGTH:
            self._register(derived_forms(f"{user}:{secret}"))

    def _register(self, forms: set[str]) -> None:
        with self._lock:
            if forms <= self._secrets:
                return
            self._secrets |= forms
            # Compiled at the next ``redact``: a run registers every secret of its config (and their derived
            # forms) before its first log line, and each compile of the alternation costs 1-5 ms.
            self._pattern = None

    def _compiled(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._secrets:
                ordered = sorted(self._secrets, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(s) for s in ordered))
            return self._pattern

    def __contains__(self, value: object) -> bool:
        return value in self._secrets

    def __len__(self) -> int:
        return len(self._secrets)

    def redact(self, text: str) -> str:
        """Mask every registered form; the alternation is ordered longest-first so no fragment survives."""
        if not text:
            return text
        pattern = self._pattern or self._compiled()
        if pattern is None:
            return text
        return pattern.sub(MASK, text)

    def redact_value(self, value: object) -> object:
        """Redact strings inside nested dicts/lists (audit records, STATE-like payloads)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {k: self.redact_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_value(v) for v in value]
        return value

    def install_logging_filter(self) -> RedactingFilter:
        """Mask every log record of the process: record factory, root logger, SDK loggers and their handlers."""
        flt = RedactingFilter(self)
        _install_record_factory(self)
        _install_excepthook(self)
        targets: list[logging.Logger] = [logging.getLogger(), *(logging.getLogger(n) for n in SDK_LOGGER_NAMES)]
        for logger in targets:
            if not any(isinstance(f, RedactingFilter) and f.redactor is self for f in logger.filters):
                logger.addFilter(flt)
            for handler in logger.handlers:
                if not any(isinstance(f, RedactingFilter) and f.redactor is self for f in handler.filters):
                    handler.addFilter(flt)
        return flt


class RedactingFilter(logging.Filter):
    """Rewrites a record in place so any formatter downstream only ever sees masked text."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record, self.redactor)
        return True


def redact_record(record: logging.LogRecord, redactor: Redactor) -> None:
    """Freeze the message (args applied) and the exception text, masked; idempotent."""
    if getattr(record, "_xlr8_redacted", None) is redactor and not record.args:
        return
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a logging call must never raise, and the raw args must not escape unmasked
        message = f"{record.msg!s} {record.args!r}"
    record.msg = redactor.redact(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redactor.redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redactor.redact(record.stack_info)
    record._xlr8_redacted = redactor


_factory_lock = threading.Lock()
_factory_redactors: list[Redactor] = []


def _install_record_factory(redactor: Redactor) -> None:
    """Records are masked at creation, so handlers added later (SDK dictConfig, Meltano) cannot bypass us."""
    with _factory_lock:
        if any(r is redactor for r in _factory_redactors):
            return
        _factory_redactors.append(redactor)
        previous = logging.getLogRecordFactory()

        def factory(*args: object, **kwargs: object) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            redact_record(record, redactor)
            return record

        logging.setLogRecordFactory(factory)


_hook_redactors: list[Redactor] = []


def _install_excepthook(redactor: Redactor) -> None:
    """An uncaught exception is printed by ``sys.excepthook``, outside logging: mask that traceback too."""
    with _factory_lock:
        if any(r is redactor for r in _hook_redactors):
            return
        _hook_redactors.append(redactor)
        previous = sys.excepthook

        def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
            text = "".join(traceback.format_exception(kind, value, tb))
            try:
                sys.stderr.write(redactor.redact(text))
                sys.stderr.flush()
            except (OSError, ValueError):
                previous(kind, value, tb)

        sys.excepthook = hook
