"""The tap as users run it: the console script in a subprocess against the emulator on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path

from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_pro import PASSWORD, UkgProEmulator

from .conftest import SCALE, ukg_config


def _run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return run_tap_cli("tap-ukg-pro", args, tmp_path, timeout=180)


def test_discover_then_sync_with_state(url: str, sandbox: Sandbox, emulator: UkgProEmulator, tmp_path: Path) -> None:
    emulator.working_polls = 0
    sandbox.ctx.clock.advance(timedelta(days=15))
    config = ukg_config(url, raas_all_reports=True, end_date="2026-01-20T09:00:00Z", employee_changes_window_days=5)
    config_file = write_json(tmp_path / "config.json", config)
    discovered = _run(["--config", config_file, "--discover"], tmp_path)
    assert discovered.returncode == 0, discovered.stderr
    catalog = json.loads(discovered.stdout)
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert {"employment_details", "employee_changes", "jobs", "raas_xlr8_employees", "raas_xlr8_job_codes"} <= set(
        streams
    )
    assert streams["employee_changes"]["replication_key"] == "changeWindowEnd"
    assert streams["raas_xlr8_earnings_history"]["key_properties"] == ["EarningLineID"]

    wanted = {"employee_changes", "raas_xlr8_employees"}
    catalog_file = write_json(tmp_path / "catalog.json", select_streams(catalog, wanted))
    executes_before = len(sandbox.requests("ukg_pro", "/services/BIStreamingService"))
    synced = _run(["--config", config_file, "--catalog", catalog_file], tmp_path)
    assert synced.returncode == 0, synced.stderr
    # With a catalog the report's schema is known: the report runs once (for its rows), not again for discovery.
    assert len(sandbox.requests("ukg_pro", "/services/BIStreamingService")) - executes_before == 1
    messages = parse_singer_messages(synced.stdout)
    records = [m for m in messages if m["type"] == "RECORD"]
    assert {m["stream"] for m in records} == wanted
    hired = sandbox.ctx.company.employee_count()  # the initial SCALE plus 15 days of new hires
    assert hired > SCALE
    assert sum(1 for m in records if m["stream"] == "raas_xlr8_employees") == hired
    changes = [m["record"] for m in records if m["stream"] == "employee_changes"]
    assert changes
    state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
    bookmark = state["bookmarks"]["employee_changes"]["replication_key_value"]
    assert bookmark == max(r["changeWindowEnd"] for r in changes)

    # Five days later: the next run reads only from the bookmark on.
    emulator.change_windows.clear()
    sandbox.ctx.clock.advance(timedelta(days=5))
    later_file = write_json(tmp_path / "later.json", {**config, "end_date": "2026-01-25T09:00:00Z"})
    state_file = write_json(tmp_path / "state.json", state)
    again = _run(["--config", later_file, "--catalog", catalog_file, "--state", state_file], tmp_path)
    assert again.returncode == 0, again.stderr
    assert emulator.change_windows[0][0] == bookmark.replace("+00:00", "Z")
    assert len(emulator.change_windows) == 1


def test_logon_failure_exits_non_zero_without_the_password(url: str, emulator: UkgProEmulator, tmp_path: Path) -> None:
    config_file = write_json(tmp_path / "config.json", ukg_config(url, password="Hunter2-wrong", raas_all_reports=True))
    result = _run(["--config", config_file, "--discover"], tmp_path)
    assert result.returncode != 0
    assert "RaaS LogOn failed" in result.stderr
    assert "'password'" in result.stderr
    assert "Hunter2-wrong" not in result.stderr + result.stdout
    assert PASSWORD not in result.stderr + result.stdout


def test_about_lists_the_settings(tmp_path: Path) -> None:
    result = _run(["--about", "--format=json"], tmp_path)
    assert result.returncode == 0, result.stderr
    about = json.loads(result.stdout)
    settings = about["settings"]["properties"]
    assert settings["password"]["secret"] is True
    assert settings["user_access_key"]["secret"] is True
    assert {"base_url", "raas_reports", "employee_status_codes", "terminated_since", "http", "filters"} <= set(settings)
