"""A small token store the emulators' auth endpoints share: issue, expire, revoke, check."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class IssuedToken:
    token: str
    product: str
    subject: str
    expires_at: float | None
    revoked: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class TokenStore:
    """``now`` is injectable so expiry can follow a test's clock instead of the wall clock."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._tokens: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()
        self._now = now

    def issue(self, product: str, subject: str, ttl: float | None = 3600.0, **extra: Any) -> IssuedToken:
        token = IssuedToken(
            token=secrets.token_urlsafe(24),
            product=product,
            subject=subject,
            expires_at=None if ttl is None else self._now() + ttl,
            extra=dict(extra),
        )
        with self._lock:
            self._tokens[token.token] = token
        return token

    def check(self, product: str, token: str | None) -> IssuedToken | None:
        """The live token, or None when unknown, for another product, expired or revoked."""
        if not token:
            return None
        with self._lock:
            found = self._tokens.get(token)
        if found is None or found.product != product or found.revoked:
            return None
        if found.expires_at is not None and found.expires_at <= self._now():
            return None
        return found

    def revoke(self, token: str) -> None:
        with self._lock:
            if token in self._tokens:
                self._tokens[token].revoked = True

    def revoke_all(self, product: str) -> int:
        """Revoke every token of a product; returns how many were still live."""
        return len(self._end_all(product, revoke=True))

    def expire_all(self, product: str) -> int:
        """Make every live token of a product expired now (as if its TTL had run out mid-run)."""
        return len(self._end_all(product, revoke=False))

    def _end_all(self, product: str, *, revoke: bool) -> list[IssuedToken]:
        now = self._now()
        with self._lock:
            live = [
                t
                for t in self._tokens.values()
                if t.product == product and not t.revoked and (t.expires_at is None or t.expires_at > now)
            ]
            for t in live:
                if revoke:
                    t.revoked = True
                else:
                    t.expires_at = now - 1
        return live
