"""Issue 15 items for Salesforce, through the real CLI against the emulator: the partial-run exit code (new scenario
beside RELIABILITY A6/A7) and one-line errors."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from xlr8_kit.exits import EXIT_PARTIAL_RUN
from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, write_json


def _run(args: list[str], tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_tap_cli("tap-salesforce", args, tmp_path, env=env)


def test_i15_5_quota_guard_partial_run_exits_75_with_state_safe(sf: Any, tmp_path: Path) -> None:
    """The guard stops at 50 % of the daily quota: the run exits 75 (not 0) with one line saying why, and its last
    STATE covers exactly the records emitted; allow_partial_run makes the same run exit 0."""
    with sf.start_sandbox({"Account": 1000}) as sandbox:
        em = sf.emulator(sandbox)
        config = sf.password_config(sandbox, objects=["Account"], api_type="rest", batch_size=200, api_quota_share=0.5)
        em.api_limit = 10
        short = _run(["--config", write_json(tmp_path / "config.json", config)], tmp_path)
        em.api_used = 0
        allowed_config = {**config, "allow_partial_run": True}
        allowed = _run(["--config", write_json(tmp_path / "allowed.json", allowed_config)], tmp_path)
    assert short.returncode == EXIT_PARTIAL_RUN, short.stderr[-2000:]
    messages = parse_singer_messages(short.stdout)
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    assert 0 < len(records) < 1000
    last_state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
    assert last_state["bookmarks"]["Account"]["replication_key_value"] == records[-1]["SystemModstamp"]
    assert "partial run: Account:" in short.stderr
    assert "allow_partial_run" in short.stderr
    assert "Traceback" not in short.stderr
    assert allowed.returncode == 0, allowed.stderr[-2000:]
    assert len([m for m in parse_singer_messages(allowed.stdout) if m["type"] == "RECORD"]) == len(records)

