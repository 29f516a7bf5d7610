"""Shared fixtures: one UKG Pro emulator per test module (ephemeral port), an in-process tap runner that returns
what the tap wrote, and a fake clock so polling, Retry-After and backoff waits are checked without sleeping."""

from __future__ import annotations

import contextlib
import io
import json
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from xlr8_kit.http.session import HttpPolicy, ResilientSession
from xlr8_kit.redaction import Redactor
from xlr8_sandbox.platform.server import Sandbox, run_sandbox
from xlr8_sandbox.products.ukg_pro import (
    CUSTOMER_API_KEY,
    PASSWORD,
    USER_ACCESS_KEY,
    USERNAME,
    UkgProEmulator,
)
from xlr8_tap_ukg_pro.tap import TapUkgPro

SCALE = 100


def ukg_config(url: str, **extra: t.Any) -> dict[str, t.Any]:
    return {
        "base_url": url,
        "username": USERNAME,
        "password": PASSWORD,
        "customer_api_key": CUSTOMER_API_KEY,
        "user_access_key": USER_ACCESS_KEY,
        "raas_poll_interval": 2,
        "start_date": "2026-01-05T00:00:00Z",
        "end_date": "2026-01-06T00:00:00Z",
        **extra,
    }


class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def tap_with_time(fake: FakeTime) -> type[TapUkgPro]:
    """The tap with its session's clock and sleep replaced (everything else unchanged)."""

    class TimedTap(TapUkgPro):
        def make_session(self, policy: HttpPolicy, *, config: dict[str, t.Any], redactor: Redactor) -> ResilientSession:
            return ResilientSession(
                policy, product=self.product_id, redactor=redactor, clock=fake.clock, sleep=fake.sleep, rng=lambda: 0.0
            )

    return TimedTap


@dataclass
class SyncResult:
    tap: TapUkgPro
    messages: list[dict[str, t.Any]] = field(default_factory=list)

    def records(self, stream: str) -> list[dict[str, t.Any]]:
        return [m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream]

    @property
    def state(self) -> dict[str, t.Any]:
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        return states[-1] if states else {}

    def schema(self, stream: str) -> dict[str, t.Any]:
        return next(m for m in self.messages if m["type"] == "SCHEMA" and m["stream"] == stream)


def run_tap(
    config: dict[str, t.Any],
    *,
    streams: set[str] | None = None,
    state: dict[str, t.Any] | None = None,
    fake: FakeTime | None = None,
) -> SyncResult:
    """A sync in-process over real HTTP (only ``streams`` selected when given); parsed stdout."""
    cls = tap_with_time(fake) if fake is not None else TapUkgPro
    catalog = None
    if streams is not None:
        probe = tap_with_time(FakeTime())  # discovery's own report runs do not count against ``fake``
        catalog = probe(config=config, parse_env_config=False).catalog_dict
        unknown = streams - {s["tap_stream_id"] for s in catalog["streams"]}
        assert not unknown, f"no such streams: {unknown}"
        for entry in catalog["streams"]:
            for meta in entry["metadata"]:
                if meta["breadcrumb"] == []:
                    meta["metadata"]["selected"] = entry["tap_stream_id"] in streams
    tap = cls(config=config, catalog=catalog, state=state, parse_env_config=False)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        tap.sync_all()
    lines = [json.loads(line, parse_float=Decimal) for line in buffer.getvalue().splitlines() if line.strip()]
    return SyncResult(tap, lines)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with run_sandbox(["ukg_pro"], scale=SCALE) as running:
        yield running


@pytest.fixture
def emulator(sandbox: Sandbox) -> Iterator[UkgProEmulator]:
    """The emulator, reset after each test (switches, faults, clock and request log)."""
    emulator = t.cast("UkgProEmulator", sandbox.emulator("ukg_pro"))
    yield emulator
    emulator.reset()
    sandbox.reset()


@pytest.fixture
def url(sandbox: Sandbox) -> str:
    return sandbox.url("ukg_pro")
