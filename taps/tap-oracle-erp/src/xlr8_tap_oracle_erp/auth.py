"""ERP credentials: the kit's Fusion authenticators (Basic integration user, OAuth client credentials, JWT user
assertion); ERP adds no quirk of its own."""

from __future__ import annotations

from xlr8_kit.oracle.settings import build_authenticator

__all__ = ["build_authenticator"]
