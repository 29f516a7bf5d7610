"""The pytest fixtures every tap's tests start from: one product emulator per test module on an ephemeral port,
reset after each test, and its URL.

A conftest takes them with ``sandbox, emulator, url = emulator_fixtures("workday", scale=100)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from xlr8_sandbox.platform.emulator import ProductEmulator
from xlr8_sandbox.platform.server import Sandbox, run_sandbox


def emulator_fixtures(product: str, *, scale: int = 100) -> tuple[Any, Any, Any]:
    """``sandbox`` (module scope: starting emulators is the slow part), ``emulator`` (reset afterwards: no faults,
    latency, inserted records or request log, clock at its start) and ``url``."""

    @pytest.fixture(scope="module", name="sandbox")
    def sandbox_fixture() -> Iterator[Sandbox]:
        with run_sandbox([product], scale=scale) as running:
            yield running

    @pytest.fixture(name="emulator")
    def emulator_fixture(sandbox: Sandbox) -> Iterator[ProductEmulator]:
        yield sandbox.emulator(product)
        sandbox.reset()

    @pytest.fixture(name="url")
    def url_fixture(sandbox: Sandbox) -> str:
        return sandbox.url(product)

    return sandbox_fixture, emulator_fixture, url_fixture
