"""Resolve a tap's config: when ``credential_id`` is set, merge the credential's secrets in at run time."""

from __future__ import annotations

from typing import Any


def resolve_config(config: dict[str, Any], *, product_id: str) -> dict[str, Any]:
    """Return the config with stored secrets merged in. Placeholder until the credential store lands."""
    del product_id
    return dict(config)
