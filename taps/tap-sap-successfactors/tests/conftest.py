"""Shared fixtures: one SuccessFactors emulator per test module (ephemeral port) and an in-process tap runner that
returns the Singer messages the tap wrote."""

from __future__ import annotations

import typing as t

from xlr8_kit.testing.singer_cli import SingerOutput, sync_in_process
from xlr8_sandbox.products.successfactors import API_PASSWORD, API_USER, COMPANY_ID
from xlr8_sandbox.testing import emulator_fixtures
from xlr8_tap_sap_successfactors.tap import TapSapSuccessFactors

SCALE = 100

sandbox, emulator, url = emulator_fixtures("successfactors", scale=SCALE)


def basic_config(url: str, **extra: t.Any) -> dict[str, t.Any]:
    return {
        "api_url": url,
        "company_id": COMPANY_ID,
        "auth": {"type": "basic", "username": API_USER, "password": API_PASSWORD},
        **extra,
    }


def run_tap(config: dict[str, t.Any], state: dict[str, t.Any] | None = None) -> SingerOutput:
    """Run a full sync in-process over real HTTP and parse what the tap wrote to stdout."""
    tap = TapSapSuccessFactors(config=config, state=state, parse_env_config=False)
    return sync_in_process(tap, exact_decimals=True)
