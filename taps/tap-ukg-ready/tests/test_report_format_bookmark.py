"""A bookmark written under the wrong ``report_date_format`` never holds rows back (review23a finding 1): a
day-first tenant read month-first lands swapped dates and a bookmark months ahead; once the format is set, that
bookmark is ignored (it carries the format it was written under) and a bookmark later than today is counted back
from today. Run through the console script against a small UKG Ready whose report the test rewrites."""

from __future__ import annotations

import typing as t
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .fake_ready import FakeReady, report_config, run_report_cli

HEAD = "EntryId,EmployeeId,WorkDate,Hours\n"
SPEC: dict[str, t.Any] = {"primary_keys": ["EmployeeId", "WorkDate"], "lookback_days": 7}
DAY_FIRST = {"report_date_format": "DD/MM/YYYY"}


def _dates(records: list[dict[str, t.Any]]) -> list[str]:
    return sorted(str(r["WorkDate"]) for r in records)


def test_review_sequence_lands_every_january_row(ready: FakeReady, tmp_path: Path) -> None:
    """The review's four runs: run 3 (the format set as the error asks) emits the three January rows."""
    ready.body = HEAD + "1,E1,05/01/2026,8.00\n2,E1,10/01/2026,7.50\n"
    first, s1, _ = run_report_cli(tmp_path, report_config(ready.url, **SPEC), None)
    assert _dates(first) == ["2026-05-01", "2026-10-01"]  # swapped: nothing in the dates shows the order yet
    assert s1["bookmarks"]["timesheets"]["replication_key_value"] == "2026-10-01"
    ready.body += "3,E1,13/01/2026,8.00\n"
    _, s2, err = run_report_cli(tmp_path, report_config(ready.url, **SPEC), s1, returncode=1)
    assert "'report_date_format' to 'DD/MM/YYYY'" in err
    third, s3, err = run_report_cli(tmp_path, report_config(ready.url, DAY_FIRST, **SPEC), s2 or s1)
    assert _dates(third) == ["2026-01-05", "2026-01-10", "2026-01-13"]
    assert "held back" not in err
    assert s3["bookmarks"]["timesheets"]["replication_key_value"] == "2026-01-13"
    assert s3["bookmarks"]["timesheets"]["report_date_format"] == "DD/MM/YYYY"
    ready.body += "4,E1,20/01/2026,6.00\n"
    fourth, s4, err = run_report_cli(tmp_path, report_config(ready.url, DAY_FIRST, **SPEC), s3)
    assert _dates(fourth) == ["2026-01-10", "2026-01-13", "2026-01-20"]  # 5 Jan: before 13 Jan less 7 days
    assert "held back 1 row(s) dated before 2026-01-06" in err
    assert s4["bookmarks"]["timesheets"]["replication_key_value"] == "2026-01-20"


def test_a_bookmark_later_than_today_counts_back_from_today(ready: FakeReady, tmp_path: Path) -> None:
    """A future bookmark written under the current format still holds back only rows before today less the
    lookback: today's row goes out."""
    today = datetime.now(UTC).date()
    ready.body = HEAD + f"1,E1,{today:%d/%m/%Y},8.00\n2,E1,{today - timedelta(days=30):%d/%m/%Y},7.50\n"
    future = {"replication_key": "WorkDate", "replication_key_value": "2099-01-01", **DAY_FIRST}
    records, _, err = run_report_cli(
        tmp_path, report_config(ready.url, DAY_FIRST, **SPEC), {"bookmarks": {"timesheets": future}}
    )
    assert _dates(records) == [today.isoformat()]
    assert f"held back 1 row(s) dated before {today - timedelta(days=7)}" in err
