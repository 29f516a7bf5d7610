"""Report date-times are the tenant's wall time, written without an offset (audit25c F5): they used to be emitted
naive and landed as UTC (hours off for every US tenant). Now ``report_time_zone`` gives them their offset, a report
with a date-time column is refused without it, and 12-hour ``AM``/``PM`` times are read."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from xlr8_kit.testing.singer_cli import BIN, run_tap_cli, select_streams, write_json
from xlr8_tap_ukg_ready import reports

from .fake_ready import COLUMNS, FakeReady, report_config, run_report_cli

STAMPED = [*COLUMNS, {"name": "PunchIn", "type": "DATETIME"}]
BODY = (
    "EntryId,EmployeeId,WorkDate,Hours,PunchIn\r\n"
    "1,E1,12/05/2026,8.00,12/05/2026 08:00\r\n"
    "2,E2,07/13/2026,7.50,07/13/2026 5:30 PM\r\n"
)


def test_date_times_land_at_the_tenant_s_instant(tmp_path: Path, ready: FakeReady) -> None:
    """tap CLI into the target CLI: 08:00 in Chicago in December is 14:00 UTC (13 July, 17:30 CDT, is 22:30 UTC)."""
    ready.columns, ready.body = STAMPED, BODY
    config = report_config(ready.url, {"report_time_zone": "America/Chicago"})
    records, _, err = run_report_cli(tmp_path, config, None)
    assert [r["PunchIn"] for r in records] == ["2026-12-05T08:00:00-06:00", "2026-07-13T17:30:00-05:00"], err
    found = run_tap_cli("tap-ukg-ready", ["--config", "config.json", "--discover"], tmp_path)
    write_json(tmp_path / "catalog.json", select_streams(json.loads(found.stdout), {"timesheets"}))
    tap = run_tap_cli("tap-ukg-ready", ["--config", "config.json", "--catalog", "catalog.json"], tmp_path)
    assert tap.returncode == 0, tap.stderr
    store = tmp_path / "s.duckdb"
    target = {"project_id": "12345678-1234-1234-1234-123456789abc", "duckdb_path": str(store)}
    write_json(tmp_path / "target.json", target)
    landed = subprocess.run(
        [str(BIN / "target-xlr8-truths"), "--config", "target.json"],
        input=tap.stdout, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={"TZ": "America/New_York", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert landed.returncode == 0, landed.stderr
    with duckdb.connect(str(store), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        table = con.execute(
            "select table_name from information_schema.tables where table_name like '%timesheets%'"
        ).fetchone()
        assert table is not None
        stamps = con.execute(f'select punch_in::VARCHAR from "{table[0]}" order by entry_id').fetchall()
    assert stamps == [("2026-12-05 14:00:00+00",), ("2026-07-13 22:30:00+00",)]


def test_a_report_with_date_times_needs_the_zone(tmp_path: Path, ready: FakeReady) -> None:
    ready.columns, ready.body = STAMPED, BODY
    write_json(tmp_path / "config.json", report_config(ready.url))
    found = run_tap_cli("tap-ukg-ready", ["--config", "config.json", "--discover"], tmp_path)
    assert found.returncode != 0
    assert "date-time column(s) PunchIn" in found.stderr
    assert "set 'report_time_zone'" in found.stderr
    write_json(tmp_path / "config.json", report_config(ready.url, {"report_time_zone": "Mars/Olympus"}))
    found = run_tap_cli("tap-ukg-ready", ["--config", "config.json", "--discover"], tmp_path)
    assert found.returncode != 0
    assert "setting 'report_time_zone' must be an IANA time zone" in found.stderr


def test_wall_times_the_clock_skips_or_shows_twice() -> None:
    chicago = ZoneInfo("America/Chicago")
    with pytest.raises(reports.ReportDataError, match="does not exist in report_time_zone America/Chicago"):
        reports.coerce("03/08/2026 02:30", "date-time", "PunchIn", zone=chicago)  # spring forward
    assert reports.coerce("11/01/2026 01:30 AM", "date-time", "PunchIn", zone=chicago) == "2026-11-01T01:30:00-05:00"
    assert reports.coerce("12/05/2026 12:05 AM", "date-time", "PunchIn", zone=chicago) == "2026-12-05T00:05:00-06:00"
    assert reports.coerce("2026-12-05T08:00:00+01:00", "date-time", "PunchIn", zone=chicago) == (
        "2026-12-05T08:00:00+01:00"  # an offset the answer carries is kept
    )
    with pytest.raises(reports.ReportDataError, match=r"MM/DD/YYYY HH:MM\[:SS\] \[AM\|PM\]"):
        reports.coerce("12/05/2026 13:05 PM", "date-time", "PunchIn", zone=chicago)
