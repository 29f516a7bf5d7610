"""Shared fixtures: one UKG WFM emulator per test module (ephemeral port), configs for both auth paths, and an
in-process tap runner returning what the tap wrote."""

from __future__ import annotations

import typing as t
from functools import partial

from xlr8_kit.testing.singer_cli import sync_tap
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


#: ``run_tap(config, streams=..., state=..., fake=...)``: a sync in-process over real HTTP; what the tap wrote.
run_tap = partial(sync_tap, TapUkgWfm)
