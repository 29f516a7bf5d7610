"""Shared fixtures: one UKG Pro emulator per test module (ephemeral port), an in-process tap runner that returns
what the tap wrote, and fake time so polling, Retry-After and backoff waits are checked without sleeping."""

from __future__ import annotations

import typing as t

from xlr8_kit.testing.fake_time import FakeTime, with_fake_time
from xlr8_kit.testing.singer_cli import SingerOutput, select_streams, sync_in_process
from xlr8_sandbox.products.ukg_pro import CUSTOMER_API_KEY, PASSWORD, USER_ACCESS_KEY, USERNAME
from xlr8_sandbox.testing import emulator_fixtures
from xlr8_tap_ukg_pro.tap import TapUkgPro

SCALE = 100

sandbox, emulator, url = emulator_fixtures("ukg_pro", scale=SCALE)


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


def run_tap(
    config: dict[str, t.Any],
    *,
    streams: set[str] | None = None,
    state: dict[str, t.Any] | None = None,
    fake: FakeTime | None = None,
) -> SingerOutput:
    """A sync in-process over real HTTP (only ``streams`` selected when given); parsed stdout."""
    cls = with_fake_time(TapUkgPro, fake) if fake is not None else TapUkgPro
    catalog = None
    if streams is not None:
        probe = with_fake_time(TapUkgPro, FakeTime())  # discovery's own report runs do not count against ``fake``
        catalog = select_streams(probe(config=config, parse_env_config=False).catalog_dict, streams)
    tap = cls(config=config, catalog=catalog, state=state, parse_env_config=False)
    return sync_in_process(tap, exact_decimals=True)
