"""Shared fixtures: one Workday emulator per test module (ephemeral port) and an in-process tap runner returning
the Singer messages the tap wrote. Retry waits are recorded in ``SLEEPS``, never slept."""

from __future__ import annotations

import typing as t

import pytest

from xlr8_kit.testing.fake_time import with_session_time
from xlr8_kit.testing.singer_cli import SingerOutput, sync_in_process
from xlr8_sandbox.products.workday import (
    CLIENT_ID,
    CLIENT_SECRET,
    ISU_PASSWORD,
    ISU_USER,
    REFRESH_TOKEN,
    REPORT_OWNER,
    TENANT,
)
from xlr8_sandbox.testing import emulator_fixtures
from xlr8_tap_workday.tap import TapWorkday

SCALE = 100

sandbox, emulator, url = emulator_fixtures("workday", scale=SCALE)

#: The waits the session asked for (Retry-After, backoff), in order; emptied before each test.
SLEEPS: list[float] = []
#: The real tap with a session whose waits are recorded instead of slept.
RecordingTap = with_session_time(TapWorkday, sleep=SLEEPS.append)


@pytest.fixture(autouse=True)
def _no_recorded_sleeps() -> None:
    SLEEPS.clear()


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


def run_tap(config: dict[str, t.Any], state: dict[str, t.Any] | None = None) -> SingerOutput:
    """Run a full sync in-process over real HTTP and parse what the tap wrote to stdout."""
    return sync_in_process(RecordingTap(config=config, state=state, parse_env_config=False), exact_decimals=True)
