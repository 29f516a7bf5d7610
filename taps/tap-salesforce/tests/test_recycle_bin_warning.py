"""A bookmark older than the recycle bin's 15 days is warned about, naming the stream (audit24a L2): queryAll no
longer returns the rows deleted since, so they stay in the target. The console script against the emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from xlr8_kit.testing.singer_cli import run_tap_cli, write_json


def _sync_from(sf: Any, sandbox: Any, tmp_path: Path, days_ago: int, **extra: Any) -> str:
    config = sf.password_config(sandbox, objects=["Project__c"], **extra)
    stamp = (datetime.now(UTC) - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    state = {"bookmarks": {"Project__c": {"replication_key": "SystemModstamp", "replication_key_value": stamp}}}
    args = ["--config", write_json(tmp_path / "config.json", config), "--state", write_json(tmp_path / "s.json", state)]
    result = run_tap_cli("tap-salesforce", args, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stderr


def test_l2_a_bookmark_past_the_recycle_bin_is_warned_about(sf: Any, sandbox: Any, tmp_path: Path) -> None:
    stderr = _sync_from(sf, sandbox, tmp_path, days_ago=20)
    assert "Project__c: its bookmark" in stderr
    assert "past the recycle bin's 15 days" in stderr


@pytest.mark.parametrize(("days_ago", "extra"), [(3, {}), (20, {"include_deleted": False})])
def test_l2_no_warning_within_the_bin_or_without_deletes(
    sf: Any, sandbox: Any, tmp_path: Path, days_ago: int, extra: dict[str, Any]
) -> None:
    assert "recycle bin" not in _sync_from(sf, sandbox, tmp_path, days_ago, **extra)
