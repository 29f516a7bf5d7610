"""Shared helpers: a Salesforce sandbox on 127.0.0.1 and an in-process tap run that captures Singer messages."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from xlr8_kit.testing.singer_cli import SingerOutput, sync_in_process
from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.emulator import SandboxContext
from xlr8_sandbox.platform.server import Sandbox, run_sandbox
from xlr8_sandbox.products.salesforce import SalesforceEmulator
from xlr8_tap_salesforce.tap import TapSalesforce


def start_sandbox(counts: dict[str, int] | None = None, **options: Any) -> contextlib.AbstractContextManager[Sandbox]:
    # Bulk 2.0 jobs done at once unless a test says otherwise: the taps' polls do not sleep in tests (``run_tap``)
    options = {"bulk_job_seconds": 0.0, **options}
    ctx = SandboxContext(company=Company(seed=42, scale=100), options={"salesforce": {"counts": counts, **options}})
    return run_sandbox(["salesforce"], ctx=ctx)


def password_config(sandbox: Sandbox, **extra: Any) -> dict[str, Any]:
    creds = sandbox.emulator("salesforce").test_credentials()
    auth = {k: creds[k] for k in ("client_id", "client_secret", "username", "password", "security_token")}
    return {"login_url": sandbox.url("salesforce"), "auth_type": "password", **auth, **extra}


def emulator(sandbox: Sandbox) -> SalesforceEmulator:
    em = sandbox.emulator("salesforce")
    assert isinstance(em, SalesforceEmulator)
    return em


def run_tap(
    config: dict[str, Any], state: dict[str, Any] | None = None, catalog: dict[str, Any] | None = None
) -> SingerOutput:
    tap = TapSalesforce(config=config, state=state, catalog=catalog, parse_env_config=False)
    tap.client.sleep = lambda _s: None  # Bulk job polls: no real waiting in tests
    return sync_in_process(tap)


class Helpers:
    """What the test modules share (they cannot import each other under --import-mode=importlib)."""

    start_sandbox = staticmethod(start_sandbox)
    password_config = staticmethod(password_config)
    emulator = staticmethod(emulator)
    run_tap = staticmethod(run_tap)


@pytest.fixture
def sf() -> type[Helpers]:
    return Helpers


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with start_sandbox() as running:
        yield running
