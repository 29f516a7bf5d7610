"""Shared fixtures: one UKG WFM emulator per test module (ephemeral port), configs for both auth paths, and an
in-process tap runner returning what the tap wrote."""

from __future__ import annotations

import typing as t

from xlr8_kit.testing.fake_time import FakeTime, with_fake_time
from xlr8_kit.testing.singer_cli import SingerOutput, select_streams, sync_in_process
from xlr8_sandbox.products.ukg_wfm import APPKEY, CLIENT_ID, CLIENT_SECRET, PASSWORD, USERNAME
from xlr8_sandbox.testing import emulator_fixtures
from xlr8_tap_ukg_wfm.tap import TapUkgWfm

SCALE = 100
#: Sandbox time starts on Monday 2026-01-05 09:00 UTC; these windows lie before it (all punches in).
START, END = "2025-12-22", "2026-01-02"

sandbox, emulator, url = emulator_fixtures("ukg_wfm", scale=SCALE)


def wfm_config(url: str, **extra: t.Any) -> dict[str, t.Any]:
    return {
        "base_url": url,
        "appkey": APPKEY,
        "username": USERNAME,
        "password": PASSWORD,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "timezone": "America/New_York",
        "start_date": START,
        "end_date": END,
        "persons_per_request": 40,
        **extra,
    }


def run_tap(
    config: dict[str, t.Any],
    *,
    streams: set[str] | None = None,
    state: dict[str, t.Any] | None = None,
    fake: FakeTime | None = None,
) -> SingerOutput:
    """A sync in-process over real HTTP (only ``streams`` selected when given); parsed stdout."""
    cls = with_fake_time(TapUkgWfm, fake) if fake is not None else TapUkgWfm
    catalog = None
    if streams is not None:
        catalog = select_streams(TapUkgWfm(config=config, parse_env_config=False).catalog_dict, streams)
    tap = cls(config=config, catalog=catalog, state=state, parse_env_config=False)
    return sync_in_process(tap, exact_decimals=True)
