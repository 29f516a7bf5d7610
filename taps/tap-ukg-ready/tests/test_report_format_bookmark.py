"""A bookmark written under the wrong ``report_date_format`` never holds rows back (review23a finding 1): a
day-first tenant read month-first lands swapped dates and a bookmark months ahead; once the format is set, that
bookmark is ignored (it carries the format it was written under) and a bookmark later than today is counted back
from today. Run through the console script against a small UKG Ready whose report the test rewrites (the "later
than today" case in process, with the session's wall clock fixed)."""

from __future__ import annotations

import copy
import json
import logging
import typing as t
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from xlr8_kit.testing.fake_time import with_session_time
from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, sync_tap, write_json
from xlr8_tap_ukg_ready.tap import TapUkgReady

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


def test_a_bookmark_later_than_today_counts_back_from_today(ready: FakeReady, caplog: pytest.LogCaptureFixture) -> None:
    """A future bookmark written under the current format still holds back only rows before today less the
    lookback: today's row goes out. Today is the tap's session wall clock, fixed here a tenth of a second before
    UTC midnight, in process: the test and the tap read one clock (the test's own "today" beside a CLI run failed
    when UTC midnight passed in between)."""
    today = date(2026, 3, 14)
    wall = datetime(2026, 3, 14, 23, 59, 59, 900_000, tzinfo=UTC).timestamp()
    ready.body = HEAD + f"1,E1,{today:%d/%m/%Y},8.00\n2,E1,{today - timedelta(days=30):%d/%m/%Y},7.50\n"
    future = {"replication_key": "WorkDate", "replication_key_value": "2099-01-01", **DAY_FIRST}
    with caplog.at_level(logging.INFO):
        output = sync_tap(
            with_session_time(TapUkgReady, wall=lambda: wall),
            report_config(ready.url, DAY_FIRST, **SPEC),
            streams={"timesheets"},
            state={"bookmarks": {"timesheets": future}},
        )
    assert _dates(output.records("timesheets")) == [today.isoformat()]
    assert f"held back 1 row(s) dated before {today - timedelta(days=7)}" in caplog.text


def _meltano_merge(source: dict[str, t.Any], destination: dict[str, t.Any]) -> dict[str, t.Any]:
    """``meltano.core.utils.merge`` (Meltano 4.4), which ``MeltanoState.json_merged`` uses to lay a failed run's
    partial STATE over the last completed one (and ``--state-strategy merge`` a new STATE over the stored one)."""
    for key, value in source.items():
        if isinstance(value, dict):
            merge_into = destination.setdefault(key, {})
            _meltano_merge(value, merge_into)
        else:
            destination[key] = value
    return destination


def test_a_failed_runs_partial_state_merged_over_the_swapped_bookmark_holds_nothing_back(
    ready: FakeReady, tmp_path: Path
) -> None:
    """review23h finding 1: run 2 (DD/MM) fails after its first mid-stream STATE; Meltano merges that STATE over
    run 1's swapped bookmark. The merged state must not read as a bookmark written under DD/MM: run 3 emits all."""
    first_rows = "1,E1,05/01/2026,8.00\n2,E1,10/01/2026,7.50\n"
    ready.body = HEAD + first_rows
    _, s1, _ = run_report_cli(tmp_path, report_config(ready.url, **SPEC), None)
    assert s1["bookmarks"]["timesheets"]["replication_key_value"] == "2026-10-01"  # swapped
    rows = [f"{n},E{n % 50},{1 + n % 28:02d}/01/2026,8.00" for n in range(3, 10_103)]  # > STATE_MSG_FREQUENCY
    ready.body = HEAD + first_rows + "\n".join(rows) + "\n"
    config = report_config(ready.url, DAY_FIRST, **SPEC)
    write_json(tmp_path / "config.json", config)
    found = run_tap_cli("tap-ukg-ready", ["--config", "config.json", "--discover"], tmp_path)
    write_json(tmp_path / "catalog.json", select_streams(json.loads(found.stdout), {"timesheets"}))
    state_file = write_json(tmp_path / "state.json", s1)
    synced = run_tap_cli(
        "tap-ukg-ready", ["--config", "config.json", "--catalog", "catalog.json", "--state", state_file], tmp_path
    )
    assert synced.returncode == 0, synced.stderr
    states = [m["value"] for m in parse_singer_messages(synced.stdout) if m["type"] == "STATE"]
    assert len(states) >= 2  # one mid-stream STATE (after 10,000 records), then the final one
    partial = states[-2]  # what a run failing after it leaves Meltano
    merged = _meltano_merge(copy.deepcopy(partial), copy.deepcopy(s1))
    third, s3, err = run_report_cli(tmp_path, config, merged)
    assert len(third) == len(rows) + 2
    assert "held back" not in err
    assert s3["bookmarks"]["timesheets"]["replication_key_value"] == "2026-01-28"
    # A successful run that reads no rows, its STATE merged over the stored swapped one (--state-strategy merge).
    ready.body = HEAD
    _, s4, _ = run_report_cli(tmp_path, config, s1)
    merged = _meltano_merge(copy.deepcopy(s4), copy.deepcopy(s1))
    ready.body = HEAD + first_rows
    fifth, _, err = run_report_cli(tmp_path, config, merged)
    assert _dates(fifth) == ["2026-01-05", "2026-01-10"]
    assert "held back" not in err
