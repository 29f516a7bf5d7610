"""Shared fixtures: one UKG Ready emulator per test module (ephemeral port) and an in-process tap runner."""

from __future__ import annotations

import threading
import typing as t
from collections.abc import Iterator
from functools import partial

import pytest

from xlr8_kit.testing.singer_cli import sync_tap
from xlr8_sandbox.products.ukg_ready import API_KEY, COMPANY_SHORT_NAME, PASSWORD, USERNAME
from xlr8_sandbox.testing import emulator_fixtures
from xlr8_tap_ukg_ready.tap import TapUkgReady

from .fake_ready import FakeReady

SCALE = 60

sandbox, emulator, url = emulator_fixtures("ukg_ready", scale=SCALE)

#: The payroll, time and accrual reports the emulator's tenant has saved, and its global roster report.
REPORTS: list[dict[str, t.Any]] = [
    {"id": 1001, "name": "pay_statements", "primary_keys": ["PayStatementId"]},
    {"id": 1002, "name": "timesheets", "primary_keys": ["TimesheetEntryId"]},
    {"id": 1003, "name": "accruals", "primary_keys": ["EmployeeId", "AccrualCode"]},
    {"id": 2001, "kind": "global", "primary_keys": ["EmployeeId"], "entity": "employee"},
]


def ready_config(url: str, **extra: t.Any) -> dict[str, t.Any]:
    return {
        "base_url": url,
        "api_key": API_KEY,
        "username": USERNAME,
        "password": PASSWORD,
        "company_short_name": COMPANY_SHORT_NAME,
        "page_size": 25,
        **extra,
    }


#: ``run_tap(config, streams=..., state=..., fake=...)``: a sync in-process over real HTTP; what the tap wrote.
run_tap = partial(sync_tap, TapUkgReady)


@pytest.fixture
def ready() -> Iterator[FakeReady]:
    """A small UKG Ready whose saved report 1002 the test rewrites between runs (``fake_ready``)."""
    fake = FakeReady()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()
