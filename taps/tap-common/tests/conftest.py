"""Shared fixtures: one Common emulator per test module (ephemeral port) and an in-process tap runner that returns
what the tap wrote."""

from __future__ import annotations

import typing as t
from functools import partial

from xlr8_kit.testing.singer_cli import sync_tap
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


#: ``run_tap(config, streams=..., state=..., fake=...)``: a sync in-process over real HTTP; what the tap wrote.
run_tap = partial(sync_tap, TapCommon)
