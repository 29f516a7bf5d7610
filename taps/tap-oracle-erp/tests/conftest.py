"""Shared fixtures: one Oracle ERP emulator per test module (ephemeral port), the tap's config for it, and an
in-process run that returns what the tap wrote."""

from __future__ import annotations

import typing as t

from xlr8_kit.testing.fake_time import FakeTime, with_fake_time
from xlr8_kit.testing.singer_cli import SingerOutput, select_streams, sync_in_process
from xlr8_sandbox.products.oracle_fusion.erp import PASSWORD, USERNAME
from xlr8_sandbox.testing import emulator_fixtures
from xlr8_tap_oracle_erp.tap import TapOracleErp

SCALE = 100

sandbox, emulator, url = emulator_fixtures("oracle_erp", scale=SCALE)


def erp_config(url: str, **extra: t.Any) -> dict[str, t.Any]:
    return {
        "base_url": url,
        "username": USERNAME,
        "password": PASSWORD,
        "page_size": 40,
        "extract_poll_interval": 0,
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
    cls = with_fake_time(TapOracleErp, fake) if fake is not None else TapOracleErp
    catalog = None
    if streams is not None:
        catalog = select_streams(TapOracleErp(config=config, parse_env_config=False).catalog_dict, streams)
    tap = cls(config=config, catalog=catalog, state=state, parse_env_config=False)
    return sync_in_process(tap, exact_decimals=True)
