"""A report's ``replication_key`` never drops a row silently (audit23a finding 4): the report is read whole, so
every row it returns is emitted (a corrected past day too, upserted by key), unless ``lookback_days`` is set; then
rows dated before the bookmark less the lookback are held back and counted in the log, and an undated row is
always emitted. Run through the console script against a small UKG Ready whose report the test rewrites."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest

from .fake_ready import FakeReady, report_config, run_report_cli

RUN_1 = "EntryId,EmployeeId,WorkDate,Hours\n1,E1,12/01/2026,8.00\n2,E2,12/02/2026,7.50\n3,E3,,4.00\n"
#: EntryId 1 corrected (a past day), 4 new without a date, 5 new after the bookmark.
RUN_2 = (
    "EntryId,EmployeeId,WorkDate,Hours\n1,E1,12/01/2026,6.00\n2,E2,12/02/2026,7.50\n3,E3,,4.00\n4,E4,,3.00\n"
    "5,E5,12/03/2026,8.00\n"
)


def _bookmark(state: dict[str, t.Any]) -> t.Any:
    return state["bookmarks"]["timesheets"]["replication_key_value"]


def test_every_row_the_report_returns_is_emitted_by_default(ready: FakeReady, tmp_path: Path) -> None:
    """Run 2 emits all 5 rows: the corrected EntryId 1 (6.00 hours) and the new undated EntryId 4 too."""
    ready.body = RUN_1
    first, state, _ = run_report_cli(tmp_path, report_config(ready.url), None)
    assert [r["EntryId"] for r in first] == ["1", "2", "3"]
    assert _bookmark(state) == "2026-12-02"
    ready.body = RUN_2
    second, state, _ = run_report_cli(tmp_path, report_config(ready.url), state)
    assert [r["EntryId"] for r in second] == ["1", "2", "3", "4", "5"]
    assert {r["EntryId"]: str(r["Hours"]) for r in second}["1"] == "6.0"
    assert _bookmark(state) == "2026-12-03"


def test_lookback_holds_back_only_dated_rows_before_the_window_and_says_so(ready: FakeReady, tmp_path: Path) -> None:
    """``lookback_days: 0``: rows dated before the bookmark are held back and counted; undated rows go out."""
    ready.body = RUN_1
    config = report_config(ready.url, lookback_days=0)
    _, state, _ = run_report_cli(tmp_path, config, None)
    ready.body = RUN_2
    second, state, err = run_report_cli(tmp_path, config, state)
    assert [r["EntryId"] for r in second] == ["2", "3", "4", "5"]
    assert "held back 1 row(s) dated before 2026-12-02" in err
    assert _bookmark(state) == "2026-12-03"
    # A day of lookback reaches the corrected row again.
    ready.body = RUN_2
    again, _, err = run_report_cli(
        tmp_path,
        report_config(ready.url, lookback_days=2),
        {"bookmarks": {"timesheets": state["bookmarks"]["timesheets"]}},
    )
    assert [r["EntryId"] for r in again] == ["1", "2", "3", "4", "5"]
    assert "held back" not in err


def test_lookback_days_is_checked_with_the_settings(tmp_path: Path) -> None:
    from singer_sdk.exceptions import ConfigValidationError

    from xlr8_tap_ukg_ready.tap import UkgReadySettings

    for report, message in [
        ({"lookback_days": -1}, "setting 'reports[0].lookback_days' must be a whole number of days"),
        ({"lookback_days": 3, "replication_key": None}, "setting 'reports[0].lookback_days' needs"),
    ]:
        with pytest.raises(ConfigValidationError) as err:
            UkgReadySettings.from_config(report_config("https://h.example", **report))
        assert any(message in e for e in err.value.errors), err.value.errors
