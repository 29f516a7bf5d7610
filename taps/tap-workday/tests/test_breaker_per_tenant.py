"""A persisted circuit breaker is one tenant's: Workday serves many tenants from one host, and a breaker opened by
one tenant's failures (a report whose calculated field answers 500) stopped another tenant's run on the same host
before it sent a request (audit25d F3: the state file was keyed by product and host alone on plain settings)."""

from __future__ import annotations

import json
from pathlib import Path

from xlr8_kit.testing.singer_cli import run_tap_cli, write_json
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.workday import WorkdayEmulator

from .conftest import base_config


def test_one_tenants_open_circuit_does_not_stop_another_tenant_on_the_same_host(
    url: str, sandbox: Sandbox, emulator: WorkdayEmulator, tmp_path: Path
) -> None:
    http = {
        "breaker_state_path": str(tmp_path / "breakers.json"),
        "breaker_fail_max": 1,
        "backoff_base": 0.01,
        "backoff_max": 0.02,
    }
    first = base_config(url, streams=["workers"], reports=[], http=http)
    other = {**first, "tenant": "globex_prod", "username": "ISU_GLOBEX"}
    sandbox.faults.add("workday", "*", FaultSpec("status", status=500, after=1, times=1000))
    try:
        failed = run_tap_cli("tap-workday", ["--config", write_json(tmp_path / "a.json", first)], tmp_path)
    finally:
        sandbox.faults.clear()
    assert failed.returncode != 0
    breakers = json.loads((tmp_path / "breakers.json").read_text())
    assert any(state.get("state") == "open" for state in breakers.values()), breakers
    before = len(sandbox.requests("workday"))
    second = run_tap_cli("tap-workday", ["--config", write_json(tmp_path / "b.json", other)], tmp_path)
    assert "circuit open" not in second.stderr, second.stderr[-2000:]
    assert len(sandbox.requests("workday")) > before  # the other tenant's run asked the host
