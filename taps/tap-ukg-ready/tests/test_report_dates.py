"""CSV report dates are read in the tenant's order (audit23a finding 9): ``report_date_format`` says whether the
API user writes ``MM/DD/YYYY`` or ``DD/MM/YYYY``, and a date that only fits the other order (a number over 12 where
the month should be) stops the run naming the setting, never landing as a swapped day and month. Through the
console script against a small UKG Ready."""

from __future__ import annotations

import typing as t
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from xlr8_tap_ukg_ready import reports

from .fake_ready import COLUMNS, FakeReady, report_config, run_report_cli

DAY_FIRST = "EntryId,EmployeeId,WorkDate,Hours,Stamp\n1,E1,05/01/2026,8.00,05/01/2026 08:30\n2,E2,13/01/2026,7.50,\n"
MONTH_FIRST = "EntryId,EmployeeId,WorkDate,Hours,Stamp\n1,E1,05/01/2026,8.00,05/01/2026 08:30\n2,E2,01/13/2026,7.50,\n"


#: The stamped report's date-times are the tenant's wall time (audit25c F5): its zone is set.
ZONE = {"report_time_zone": "Europe/London"}


@pytest.fixture
def stamped(ready: FakeReady) -> FakeReady:
    ready.columns = [*COLUMNS, {"name": "Stamp", "type": "DATETIME"}]
    return ready


def test_a_day_first_tenant_s_dates_land_as_written(stamped: FakeReady, tmp_path: Path) -> None:
    stamped.body = DAY_FIRST
    config = report_config(stamped.url, {"report_date_format": "DD/MM/YYYY", **ZONE})
    records, state, _ = run_report_cli(tmp_path, config, None)
    assert [(r["WorkDate"], r["Stamp"]) for r in records] == [
        ("2026-01-05", "2026-01-05T08:30:00+00:00"),  # London wall time in January
        ("2026-01-13", None),
    ]
    assert state["bookmarks"]["timesheets"]["replication_key_value"] == "2026-01-13"


def test_month_first_stays_the_default(stamped: FakeReady, tmp_path: Path) -> None:
    stamped.body = MONTH_FIRST
    records, _, _ = run_report_cli(tmp_path, report_config(stamped.url, ZONE), None)
    assert [r["WorkDate"] for r in records] == ["2026-05-01", "2026-01-13"]


@pytest.mark.parametrize(
    ("body", "setting", "other"),
    [(DAY_FIRST, None, "DD/MM/YYYY"), (MONTH_FIRST, "DD/MM/YYYY", "MM/DD/YYYY")],
)
def test_a_date_that_contradicts_the_setting_stops_the_run_naming_it(
    stamped: FakeReady, tmp_path: Path, body: str, setting: str | None, other: str
) -> None:
    """The first date with a number over 12 proves the order: exit 1, an error naming ``report_date_format`` and
    the order to set, and no bookmark."""
    stamped.body = body
    extra = {"report_date_format": setting} if setting else {}
    _, state, err = run_report_cli(tmp_path, report_config(stamped.url, {**ZONE, **extra}), None, returncode=1)
    assert f"set 'report_date_format' to '{other}'" in err
    assert "report column 'WorkDate'" in err
    assert "13/01" not in err  # a cell's value is never quoted
    assert "01/13" not in err
    assert not (state or {}).get("bookmarks", {}).get("timesheets", {}).get("replication_key_value")


def test_report_date_format_is_checked_with_the_settings() -> None:
    from singer_sdk.exceptions import ConfigValidationError

    from xlr8_tap_ukg_ready.tap import UkgReadySettings

    with pytest.raises(ConfigValidationError) as err:
        UkgReadySettings.from_config(report_config("https://h.example", {"report_date_format": "YYYY-MM-DD"}))
    assert any("setting 'report_date_format' must be one of" in e for e in err.value.errors)


def test_coerce_reads_both_orders_and_datetimes() -> None:
    assert reports.coerce("05/01/2026", "date", "d", "DD/MM/YYYY") == "2026-01-05"
    assert reports.coerce("05/01/2026", "date", "d") == "2026-05-01"
    utc = ZoneInfo("UTC")
    assert reports.coerce("31/12/2026 23:59:01", "date-time", "d", "DD/MM/YYYY", utc) == "2026-12-31T23:59:01+00:00"
    with pytest.raises(reports.ReportDateFormatError, match="set 'report_date_format' to 'DD/MM/YYYY'"):
        reports.coerce("31/12/2026 23:59", "date-time", "d", zone=utc)
    with pytest.raises(reports.ReportDataError, match="not a date"):
        reports.coerce("31/31/2026", "date", "d")  # fits neither order


#: 600 rows whose dates fit both orders (three of the reader's blocks and more), numbered from 1.
AMBIGUOUS = "".join(f"{n},E{n % 7},{n % 12 + 1:02d}/{n % 11 + 2:02d}/2026,8.00,\n" for n in range(1, 601))
HEADER = "EntryId,EmployeeId,WorkDate,Hours,Stamp\n"


@pytest.mark.parametrize("batch", [False, True], ids=["RECORD", "BATCH"])
def test_ambiguous_rows_before_a_date_proving_the_other_order_never_leave_the_tap(
    stamped: FakeReady, tmp_path: Path, batch: bool
) -> None:
    """CLOSING23 "Left" (mendready23, review23h): rows whose dates fit both orders were emitted before a later date
    proved ``report_date_format`` wrong, and landed swapped although the run then failed. They are held back until
    a date proves the order: here the proof contradicts the setting, so the run exits 1 naming it with no row out."""
    stamped.body = HEADER + AMBIGUOUS + "601,E1,13/01/2026,7.50,\n"
    extra: dict[str, t.Any] = {}
    if batch:
        storage = {"root": tmp_path.as_uri(), "prefix": "ready-"}
        encoding = {"format": "jsonl", "compression": "none"}
        extra["batch_config"] = {"encoding": encoding, "storage": storage, "batch_size": 100}  # files of 100 rows
    records, state, err = run_report_cli(tmp_path, report_config(stamped.url, {**ZONE, **extra}), None, returncode=1)
    assert "set 'report_date_format' to 'DD/MM/YYYY'" in err
    assert records == []
    assert not list(tmp_path.glob("ready-*"))  # no BATCH file either
    assert not (state or {}).get("bookmarks", {}).get("timesheets", {}).get("replication_key_value")


def test_rows_held_back_go_out_in_order_once_a_date_proves_the_setting(stamped: FakeReady, tmp_path: Path) -> None:
    """The other side: a later date proving the setting's order lets the held rows out, in the report's order, then
    the rest as it comes; a report that never proves the order is read as the setting says, every row out."""
    stamped.body = HEADER + AMBIGUOUS + "601,E1,01/13/2026,7.50,\n602,E2,02/03/2026,1.00,\n"
    records, state, _ = run_report_cli(tmp_path, report_config(stamped.url, ZONE), None)
    assert [r["EntryId"] for r in records] == [str(n) for n in range(1, 603)]
    assert records[0]["WorkDate"] == "2026-02-03"  # 02/03: month first, as set
    assert records[600]["WorkDate"] == "2026-01-13"
    assert state["bookmarks"]["timesheets"]["replication_key_value"] == max(r["WorkDate"] for r in records)
    stamped.body = HEADER + AMBIGUOUS
    records, _, _ = run_report_cli(
        tmp_path, report_config(stamped.url, {"report_date_format": "DD/MM/YYYY", **ZONE}), None
    )
    assert [r["EntryId"] for r in records] == [str(n) for n in range(1, 601)]
    assert records[0]["WorkDate"] == "2026-03-02"
