"""Shared fixtures: one Workday emulator per test module (ephemeral port) and an in-process tap runner returning
the Singer messages the tap wrote. Retry waits are recorded, never slept."""

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
from xlr8_sandbox.products.workday import (
    CLIENT_ID,
    CLIENT_SECRET,
    ISU_PASSWORD,
    ISU_USER,
    REFRESH_TOKEN,
    REPORT_OWNER,
    TENANT,
    WorkdayEmulator,
)
from xlr8_tap_workday.tap import TapWorkday

SCALE = 100


def report_url(url: str, report: str) -> str:
    return f"{url}/ccx/service/customreport2/{TENANT}/{REPORT_OWNER}/{report}"


def base_config(url: str, **extra: t.Any) -> dict[str, t.Any]:
    return {
        "base_url": url,
        "tenant": TENANT,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        "username": ISU_USER,
        "password": ISU_PASSWORD,
        **extra,
    }


class RecordingTap(TapWorkday):
    """The real tap with a session whose waits are recorded instead of slept."""

    sleeps: t.ClassVar[list[float]] = []

    def make_session(self, policy: HttpPolicy, *, config: dict[str, t.Any], redactor: Redactor) -> ResilientSession:
        return ResilientSession(policy, product=self.product_id, redactor=redactor, sleep=RecordingTap.sleeps.append)


@dataclass
class SyncResult:
    messages: list[dict[str, t.Any]] = field(default_factory=list)

    def records(self, stream: str) -> list[dict[str, t.Any]]:
        return [m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream]

    @property
    def state(self) -> dict[str, t.Any]:
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        return states[-1] if states else {}

    def schema(self, stream: str) -> dict[str, t.Any]:
        return next(m for m in self.messages if m["type"] == "SCHEMA" and m["stream"] == stream)


def run_tap(config: dict[str, t.Any], state: dict[str, t.Any] | None = None) -> SyncResult:
    """Run a full sync in-process over real HTTP and parse what the tap wrote to stdout."""
    buffer = io.StringIO()
    tap = RecordingTap(config=config, state=state, parse_env_config=False)
    with contextlib.redirect_stdout(buffer):
        tap.sync_all()
    return SyncResult(
        [json.loads(line, parse_float=Decimal) for line in buffer.getvalue().splitlines() if line.strip()]
    )


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with run_sandbox(["workday"], scale=SCALE) as running:
        yield running


@pytest.fixture
def emulator(sandbox: Sandbox) -> Iterator[WorkdayEmulator]:
    """The emulator, reset after each test (faults, clock, inserted people, refresh tokens)."""
    emulator = t.cast("WorkdayEmulator", sandbox.emulator("workday"))
    RecordingTap.sleeps.clear()
    yield emulator
    emulator.reset()
    sandbox.reset()


@pytest.fixture
def url(sandbox: Sandbox) -> str:
    return sandbox.url("workday")
