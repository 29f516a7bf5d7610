"""The tap as users run it: the console script in a subprocess against the emulator on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_ready import UkgReadyEmulator

from .conftest import REPORTS, SCALE, ready_config


def test_discover_then_sync(url: str, sandbox: Sandbox, emulator: UkgReadyEmulator, tmp_path: Path) -> None:
    write_json(tmp_path / "config.json", ready_config(url, reports=REPORTS))
    discovered = run_tap_cli("tap-ukg-ready", ["--config", "config.json", "--discover"], tmp_path)
    assert discovered.returncode == 0, discovered.stderr
    catalog = json.loads(discovered.stdout)
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert set(streams) == {
        "employees", "employee_demographics", "employee_pay_info", "cost_centers", "pay_types", "job_titles",
        "pay_statements", "timesheets", "accruals", "report_employee_roster",
    }  # fmt: skip
    assert streams["accruals"]["key_properties"] == ["EmployeeId", "AccrualCode"]
    wanted = {"employees", "employee_pay_info", "timesheets"}
    write_json(tmp_path / "catalog.json", select_streams(catalog, wanted))
    synced = run_tap_cli("tap-ukg-ready", ["--config", "config.json", "--catalog", "catalog.json"], tmp_path)
    assert synced.returncode == 0, synced.stderr
    messages = parse_singer_messages(synced.stdout)
    records = [m for m in messages if m["type"] == "RECORD"]
    assert {m["stream"] for m in records} == wanted
    counts = {name: sum(1 for m in records if m["stream"] == name) for name in wanted}
    assert counts["employees"] == counts["employee_pay_info"] == SCALE
    assert counts["timesheets"] == len(list(sandbox.ctx.company.timecards()))
    schemas = {m["stream"]: m["schema"] for m in messages if m["type"] == "SCHEMA"}
    assert schemas["timesheets"]["x-xlr8"]["entity"] == "timecard"
    assert schemas["employee_pay_info"]["x-xlr8"]["entity"] == "compensation"


def test_about_lists_the_settings(tmp_path: Path) -> None:
    result = run_tap_cli("tap-ukg-ready", ["--about", "--format=json"], tmp_path)
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)["settings"]["properties"]
    assert {k for k, v in settings.items() if v.get("secret")} == {
        "api_key",
        "password",
        "client_secret",
        "proxy_password",
    }
    assert {"base_url", "company_short_name", "company_id", "reports", "report_format", "filters"} <= set(settings)


def test_a_setting_the_tap_refuses_is_named_on_a_sync_run(url: str, emulator: UkgReadyEmulator, tmp_path: Path) -> None:
    """A check of the tap's own (two reports named alike) raised during a sync: the SDK's CLI logs only a
    ``ConfigValidationError``'s ``errors`` and then "Config validation failed", so the message naming the setting
    was lost (tgtorch27); the kit's CLI now puts the message there."""
    reports = [REPORTS[0], {**REPORTS[1], "name": REPORTS[0]["name"]}]
    write_json(tmp_path / "config.json", ready_config(url, reports=reports))
    synced = run_tap_cli("tap-ukg-ready", ["--config", "config.json"], tmp_path)
    assert synced.returncode == 1
    assert "two reports map to stream 'pay_statements'; set 'name'" in synced.stderr, synced.stderr
    assert not [m for m in parse_singer_messages(synced.stdout) if m["type"] == "RECORD"]
