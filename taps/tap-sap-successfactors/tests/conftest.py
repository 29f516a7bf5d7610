"""Shared fixtures: one SuccessFactors emulator per test module (ephemeral port) and an in-process tap runner that
returns the Singer messages the tap wrote."""

from __future__ import annotations

import contextlib
import io
import json
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from xlr8_sandbox.platform.server import Sandbox, run_sandbox
from xlr8_sandbox.products.successfactors import API_PASSWORD, API_USER, COMPANY_ID, SuccessFactorsEmulator
from xlr8_tap_sap_successfactors.tap import TapSapSuccessFactors

SCALE = 100


def basic_config(url: str, **extra: t.Any) -> dict[str, t.Any]:
    return {
        "api_url": url,
        "company_id": COMPANY_ID,
        "auth": {"type": "basic", "username": API_USER, "password": API_PASSWORD},
        **extra,
    }


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
    tap = TapSapSuccessFactors(config=config, state=state, parse_env_config=False)
    with contextlib.redirect_stdout(buffer):
        tap.sync_all()
    return SyncResult(
        [json.loads(line, parse_float=Decimal) for line in buffer.getvalue().splitlines() if line.strip()]
    )


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with run_sandbox(["successfactors"], scale=SCALE) as running:
        yield running


@pytest.fixture
def emulator(sandbox: Sandbox) -> Iterator[SuccessFactorsEmulator]:
    """The emulator, reset after each test (inserted rows and faults removed)."""
    emulator = t.cast("SuccessFactorsEmulator", sandbox.emulator("successfactors"))
    yield emulator
    emulator.reset()
    sandbox.faults.clear()


@pytest.fixture
def url(sandbox: Sandbox) -> str:
    return sandbox.url("successfactors")
