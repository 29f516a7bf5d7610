"""Shared fixtures: one S/4HANA emulator per test module (ephemeral port) and an in-process tap runner that returns
the Singer messages the tap wrote."""

from __future__ import annotations

import typing as t

from xlr8_kit.testing.singer_cli import SingerOutput, sync_in_process
from xlr8_sandbox.products.s4hana import COMM_PASSWORD, COMM_USER, SAP_CLIENT
from xlr8_sandbox.products.s4hana.data import V4_PURCHASEORDER
from xlr8_sandbox.testing import emulator_fixtures
from xlr8_tap_sap_s4hana.tap import TapSapS4Hana

SCALE = 100

sandbox, emulator, url = emulator_fixtures("s4hana", scale=SCALE)


def basic_config(url: str, **extra: t.Any) -> dict[str, t.Any]:
    return {
        "base_url": url,
        "sap_client": SAP_CLIENT,
        "auth_type": "basic",
        "username": COMM_USER,
        "password": COMM_PASSWORD,
        **extra,
    }


V4_SERVICE = V4_PURCHASEORDER


def run_tap(config: dict[str, t.Any], state: dict[str, t.Any] | None = None) -> SingerOutput:
    """Run a full sync in-process over real HTTP and parse what the tap wrote to stdout."""
    tap = TapSapS4Hana(config=config, state=state, parse_env_config=False)
    return sync_in_process(tap, exact_decimals=True)
