"""The demo's closing hint names a command that works with what the sandbox distribution installs (no duckdb CLI)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import duckdb

from xlr8_sandbox.demo import read_only_hint


def test_the_store_hint_runs_with_what_is_installed(tmp_path: Path) -> None:
    store = tmp_path / "truths.duckdb"
    with duckdb.connect(str(store)) as conn:
        conn.execute("CREATE TABLE demo_landed_rows AS SELECT 1 AS id")
    hint = read_only_hint(store)
    assert hint.startswith("Open it read-only with: ")
    command = hint.removeprefix("Open it read-only with: ")
    shown = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120, check=False)
    assert shown.returncode == 0, shown.stderr
    assert "demo_landed_rows" in shown.stdout
