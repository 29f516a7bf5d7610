"""Shared fixtures: one Common emulator per test module (ephemeral port) and an in-process tap runner that returns
what the tap wrote."""

from __future__ import annotations

import typing as t

from xlr8_kit.testing.singer_cli import SingerOutput, select_streams, sync_in_process
from xlr8_sandbox.products.common import CLIENT_ID, CLIENT_SECRET, EMAIL, PASSWORD
from xlr8_sandbox.testing import emulator_fixtures
from xlr8_tap_common.tap import TapCommon

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


def run_tap(
    config: dict[str, t.Any], *, streams: set[str] | None = None, state: dict[str, t.Any] | None = None
) -> SingerOutput:
    """A sync in-process over real HTTP (only ``streams`` selected when given); parsed stdout."""
    catalog = None
    if streams is not None:
        catalog = select_streams(TapCommon(config=config, parse_env_config=False).catalog_dict, streams)
    tap = TapCommon(config=config, catalog=catalog, state=state, parse_env_config=False)
    return sync_in_process(tap, exact_decimals=True)
