"""CSV report dates are read in the tenant's order (audit23a finding 9): ``report_date_format`` says whether the
API user writes ``MM/DD/YYYY`` or ``DD/MM/YYYY``, and a date that only fits the other order (a number over 12 where
the month should be) stops the run naming the setting, never landing as a swapped day and month. Through the
console script against a small UKG Ready."""

from __future__ import annotations

from pathlib import Path

import pytest

from xlr8_tap_ukg_ready import reports

from .fake_ready import COLUMNS, FakeReady, report_config, run_report_cli

DAY_FIRST = "EntryId,EmployeeId,WorkDate,Hours,Stamp\n1,E1,05/01/2026,8.00,05/01/2026 08:30\n2,E2,13/01/2026,7.50,\n"
MONTH_FIRST = "EntryId,EmployeeId,WorkDate,Hours,Stamp\n1,E1,05/01/2026,8.00,05/01/2026 08:30\n2,E2,01/13/2026,7.50,\n"


@pytest.fixture
def stamped(ready: FakeReady) -> FakeReady:
    ready.columns = [*COLUMNS, {"name": "Stamp", "type": "DATETIME"}]
    return ready


def test_a_day_first_tenant_s_dates_land_as_written(stamped: FakeReady, tmp_path: Path) -> None:
    stamped.body = DAY_FIRST
    config = report_config(stamped.url, {"report_date_format": "DD/MM/YYYY"})
    records, state, _ = run_report_cli(tmp_path, config, None)
    assert [(r["WorkDate"], r["Stamp"]) for r in records] == [
        ("2026-01-05", "2026-01-05T08:30:00"),
        ("2026-01-13", None),
    ]
    assert state["bookmarks"]["timesheets"]["replication_key_value"] == "2026-01-13"


def test_month_first_stays_the_default(stamped: FakeReady, tmp_path: Path) -> None:
    stamped.body = MONTH_FIRST
    records, _, _ = run_report_cli(tmp_path, report_config(stamped.url), None)
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
    _, state, err = run_report_cli(tmp_path, report_config(stamped.url, extra), None, returncode=1)
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
    assert reports.coerce("31/12/2026 23:59:01", "date-time", "d", "DD/MM/YYYY") == "2026-12-31T23:59:01"
    with pytest.raises(reports.ReportDateFormatError, match="set 'report_date_format' to 'DD/MM/YYYY'"):
        reports.coerce("31/12/2026 23:59", "date-time", "d")
    with pytest.raises(reports.ReportDataError, match="not a date"):
        reports.coerce("31/31/2026", "date", "d")  # fits neither order
