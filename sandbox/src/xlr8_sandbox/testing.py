"""The pytest fixtures every tap's tests start from: one product emulator per test module on an ephemeral port,
reset after each test, and its URL; and a run stopped while the emulator holds its requests.

A conftest takes them with ``sandbox, emulator, url = emulator_fixtures("workday", scale=100)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from xlr8_kit.testing.singer_cli import parse_singer_messages, terminated
from xlr8_sandbox.platform.emulator import ProductEmulator
from xlr8_sandbox.platform.faults import FaultSpec
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


def stopped_while_stuck(
    sandbox: Sandbox, product: str, path_glob: str, stall: FaultSpec, args: Sequence[str], *, settle: float = 0.0
) -> tuple[int, list[dict[str, Any]], str]:
    """``args`` (a tap's console script) run until the emulator holds one of its requests by ``stall`` (a fault on
    ``path_glob``), then stopped by SIGTERM ``settle`` s later: its exit code, Singer messages and stderr. The fault
    is removed whatever happens."""
    stuck = sandbox.faults.add(product, path_glob, stall)
    try:
        code, _, out, err = terminated(args, lambda: stuck.fired > 0, f"a request to {path_glob} held", settle=settle)
    finally:
        sandbox.faults.clear(product)
    return code, parse_singer_messages(out), err
