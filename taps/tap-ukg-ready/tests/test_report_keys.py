"""A report without ``primary_keys`` (audit25c F7): every run reads a report whole, and the target appends a keyless
stream's rows, so each run would land them all again. With a ``replication_key`` that is refused at configuration
(as Workday RaaS does); a full report may have no column that identifies a row, so it is read, with a warning
naming the setting each run."""

from __future__ import annotations

from pathlib import Path

from xlr8_kit.testing.singer_cli import run_tap_cli, write_json

from .fake_ready import FakeReady, report_config, run_report_cli

BODY = "EntryId,EmployeeId,WorkDate,Hours\r\n1,E1,12/05/2026,8.00\r\n2,E2,12/06/2026,7.50\r\n"


def test_an_incremental_report_without_keys_is_refused_naming_the_setting(tmp_path: Path, ready: FakeReady) -> None:
    ready.body = BODY
    write_json(tmp_path / "config.json", report_config(ready.url, primary_keys=[]))
    found = run_tap_cli("tap-ukg-ready", ["--config", "config.json", "--discover"], tmp_path)
    assert found.returncode != 0
    assert "'reports[0].primary_keys' is required when 'reports[0].replication_key' is set" in found.stderr


def test_a_full_report_without_keys_warns_each_run(tmp_path: Path, ready: FakeReady) -> None:
    ready.body = BODY
    records, _, err = run_report_cli(tmp_path, report_config(ready.url, primary_keys=[], replication_key=None), None)
    assert len(records) == 2
    warned = [line for line in err.splitlines() if "WARNING" in line and "no primary_keys" in line]
    assert warned
    assert "'reports[0].primary_keys'" in warned[0]
