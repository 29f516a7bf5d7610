"""Shared fixtures: one Common emulator per test module (ephemeral port) and an in-process tap runner that returns
what the tap wrote."""

from __future__ import annotations

import json
import sqlite3
import typing as t
from functools import partial
from pathlib import Path

from xlr8_kit.testing.singer_cli import sync_tap
from xlr8_sandbox.products.common import CLIENT_ID, CLIENT_SECRET, EMAIL, PASSWORD
from xlr8_sandbox.testing import emulator_fixtures
from xlr8_tap_common.tap import TapCommon
from xlr8_tap_common.webhooks import EventStore

SCALE = 100

sandbox, emulator, url = emulator_fixtures("common", scale=SCALE)


def common_config(url: str, **extra: t.Any) -> dict[str, t.Any]:
    return {"api_base_url": url, "email": EMAIL, "password": PASSWORD, **extra}


def oauth_config(url: str, company_id: str, **extra: t.Any) -> dict[str, t.Any]:
    return {
        "api_base_url": url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "company_id": company_id,
        **extra,
    }


#: ``run_tap(config, streams=..., state=..., fake=...)``: a sync in-process over real HTTP; what the tap wrote.
run_tap = partial(sync_tap, TapCommon)


def stored_events(path: Path, numbers: t.Iterable[int]) -> None:
    """Events ``evt-<n>`` for ``numbers`` in the receiver's store (its schema, one transaction rather than one per
    delivery); a store that exists keeps its events, and ``seq`` goes on from them."""
    EventStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO webhook_events (event_id, event_type, signed_at, received_at, payload) VALUES (?, ?, ?, ?, ?)",
            (
                (f"evt-{n:06d}", "purchase_order.updated", 1_767_600_000 + n, f"2026-01-05T10:{n // 6000 % 60:02d}:00Z",
                 json.dumps({"type": "purchase_order.updated", "data": {"id": f"po-{n}", "quantity": n % 97}}))
                for n in numbers
            ),
        )  # fmt: skip
