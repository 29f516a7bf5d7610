"""A tap stopped by SIGTERM before it finished (an orchestrator's cancel, a pod stopped, a read stuck on the vendor)
exits 143, not 0: the SDK turned the signal into ``SystemExit(0)``, so the stopped run passed for a finished one.
Its last STATE covers only records it emitted: the rerun from it completes the read, no record lost. Checked through
the console scripts, as users run them, for two taps on the kit (``KitTap._handle_termination``)."""

from __future__ import annotations

import importlib.util
import json
import signal
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from xlr8_kit.exits import EXIT_TERMINATED
from xlr8_kit.testing.singer_cli import BIN, Running, parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.emulator import SandboxContext
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import run_sandbox

ROOT = Path(__file__).resolve().parents[1]
STALL_SECONDS = 5.0  # every request once the first record is out: the tap is stuck until then

#: (product, stream, employees, emulator options, tap config overrides): many pages, so the read is stuck part way.
CASES = [
    ("salesforce", "Account", 300, {"counts": {"Account": 20_000}}, {"api_type": "rest", "batch_size": 200}),
    ("oracle_hcm", "workers", 5_000, {}, {"page_size": 20}),
]


def _ceiling(product: str) -> ModuleType:
    """The bench's per-product module, which knows each tap's config for its emulator (as the golden test uses)."""
    if str(ROOT / "bench") not in sys.path:
        sys.path.append(str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location(
        f"termination_{product}", ROOT / "bench" / "ceilings" / f"{product}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stuck_then_terminated(tap: str, args: list[str], sandbox: Any, product: str) -> tuple[int, str, str]:
    """The tap's console script; once its first RECORD is out every request stalls, and once its output has been
    still for a second it gets SIGTERM. Its exit code, stdout and stderr."""
    run = Running([str(BIN / tap), *args])
    try:
        run.wait_for(lambda: any(line.startswith('{"type":"RECORD"') for line in run.out), "a record")
        sandbox.faults.add(product, "*", FaultSpec("stall", seconds=STALL_SECONDS, times=None))
        seen = -1
        while seen != len(run.out):  # the pages asked before the stall are emitted, then nothing moves
            seen = len(run.out)
            time.sleep(1.0)
        code = run.end(signal.SIGTERM)
    finally:
        run.close()
        sandbox.faults.clear(product)
    return code, "".join(run.out), "".join(run.err)


def _keys(messages: list[dict[str, Any]], stream: str, key: str) -> list[Any]:
    return [m["record"][key] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


@pytest.mark.parametrize(("product", "stream", "scale", "options", "overrides"), CASES, ids=[c[0] for c in CASES])
def test_e3_a_stuck_tap_ended_by_sigterm_exits_143_and_its_state_covers_only_what_it_emitted(
    product: str, stream: str, scale: int, options: dict[str, Any], overrides: dict[str, Any], tmp_path: Path
) -> None:
    module = _ceiling(product)
    ctx = SandboxContext(company=Company(seed=42, scale=scale), options={product: options})
    with run_sandbox([product], ctx=ctx) as sandbox:
        config = {**module.tap_config(sandbox.url(product), sandbox.emulator(product).test_credentials(), stream),
                  **overrides}  # fmt: skip
        config_path = write_json(tmp_path / "tap.json", config)
        found = run_tap_cli(module.TAP, ["--config", config_path, "--discover"], tmp_path)
        assert found.returncode == 0, found.stderr[-2000:]
        catalog = select_streams(json.loads(found.stdout), [stream])
        entry = next(s for s in catalog["streams"] if s["tap_stream_id"] == stream)
        key = entry["key_properties"][0]
        catalog_path = write_json(tmp_path / "catalog.json", catalog)
        whole = run_tap_cli(module.TAP, ["--config", config_path, "--catalog", catalog_path], tmp_path)
        assert whole.returncode == 0, whole.stderr[-2000:]
        every = _keys(parse_singer_messages(whole.stdout), stream, key)

        code, stdout, stderr = _stuck_then_terminated(
            module.TAP, ["--config", config_path, "--catalog", catalog_path], sandbox, product
        )
        assert code == EXIT_TERMINATED, stderr[-3000:]
        stopped = parse_singer_messages(stdout)  # every line whole
        first = _keys(stopped, stream, key)
        assert 0 < len(first) < len(every), "the run was stopped part way"
        assert stopped[-1]["type"] == "STATE"
        state = stopped[-1]["value"]
        bookmark = state["bookmarks"][stream]
        replication_key = bookmark["replication_key"]
        emitted = [m["record"][replication_key] for m in stopped if m["type"] == "RECORD"]
        assert bookmark["replication_key_value"] <= max(emitted)  # nothing past the last record out

        rerun = run_tap_cli(
            module.TAP,
            ["--config", config_path, "--catalog", catalog_path, "--state", write_json(tmp_path / "state.json", state)],
            tmp_path,
        )
        assert rerun.returncode == 0, rerun.stderr[-2000:]
    rest = _keys(parse_singer_messages(rerun.stdout), stream, key)
    assert set(first) | set(rest) == set(every)  # resumed from the STATE of the stopped run, no record is missing
    assert len(rest) < len(every)  # and it did resume, not start again
