"""Backoff schedule and Retry-After parsing: pure functions of their inputs, so tests control time and chance."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, *, now: float, server_date: str | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or HTTP-date).

    An HTTP-date is a moment on the server's clock, so it is counted from the answer's own ``Date`` header
    (``server_date``, RFC 9110 10.2.3 and 6.6.1) when that is valid, else from wall time ``now``: read against our
    clock, a server minutes ahead made us wait minutes too long (or give up past ``max_retry_after``), one behind
    not at all (audit25d F5). Returns None when the header is absent, malformed or negative: the caller falls back
    to exponential backoff. A date in the past means "retry now" (0).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds < 0 or seconds == float("inf"):  # NaN, negative or infinite
            return None
        return seconds
    moment = http_date(text)
    if moment is None:
        return None
    return max(0.0, moment - server_now(server_date, now))


def http_date(text: str | None) -> float | None:
    """An HTTP-date (``Sun, 06 Nov 1994 08:49:37 GMT``, or the obsolete forms) as a Unix timestamp; None if it is
    not one. A date without a zone is taken as UTC, as HTTP dates are."""
    if not text:
        return None
    try:
        moment = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def server_now(server_date: str | None, now: float) -> float:
    """The server's clock when it answered: its ``Date`` header if valid, else our wall time ``now``. What a moment
    the server names (a Retry-After date, a rate-limit window's reset as an epoch) is measured against."""
    moment = http_date(server_date)
    return now if moment is None else moment


def format_until(now: float, wait: float) -> str:
    """ISO-8601 UTC moment ``wait`` seconds after wall time ``now`` (for "rate limited until ..." errors)."""
    return datetime.fromtimestamp(now + wait, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Backoff:
    """Exponential backoff with equal jitter: the n-th wait lies in ``[cap_n / 2, cap_n]`` where
    ``cap_n = min(maximum, base * 2**(n-1))``. The random half keeps parallel streams from retrying in lockstep;
    the fixed half guarantees the server a real pause.
    """

    base: float = 1.0
    maximum: float = 60.0
    rng: Callable[[], float] = field(default_factory=lambda: random.Random().random)

    def ceiling(self, retry_number: int) -> float:
        return min(self.maximum, self.base * (2 ** max(0, retry_number - 1)))

    def delay(self, retry_number: int) -> float:
        """Wait before retry ``retry_number`` (1 for the first retry)."""
        cap = self.ceiling(retry_number)
        return cap / 2 + self.rng() * cap / 2

    def after_retry_after(self, seconds: float) -> float:
        """Honour the server's wait in full; jitter only goes on top (at most one ``base``)."""
        return seconds + self.rng() * min(self.base, self.maximum)
