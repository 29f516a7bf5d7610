"""A report's metadata and its answer's header must name the same columns, each once (audit25c F11, F13): two
columns of one name landed as one (the last one's values), and a column the header spells otherwise than the
metadata, or a metadata column without a name, landed null on every row; each exit 0. Now each stops the run
with an error naming the report and the columns, before any row of it is emitted."""

from __future__ import annotations

from pathlib import Path

import pytest

from xlr8_kit.testing.singer_cli import run_tap_cli, write_json

from .fake_ready import COLUMNS, FakeReady, report_config, run_report_cli

DAYS = "1,E1,12/05/2026,8.00\r\n2,E2,12/13/2026,7.50\r\n"


def _discover_fails(tmp: Path, ready: FakeReady) -> str:
    write_json(tmp / "config.json", report_config(ready.url))
    found = run_tap_cli("tap-ukg-ready", ["--config", "config.json", "--discover"], tmp)
    assert found.returncode != 0
    return found.stderr


def test_two_columns_of_one_name_are_refused(tmp_path: Path, ready: FakeReady) -> None:
    ready.columns = [*COLUMNS[:2], {"name": "EmployeeId", "type": "STRING"}, *COLUMNS[2:]]
    ready.body = "EntryId,EmployeeId,EmployeeId,WorkDate,Hours\r\n1,E1,M9,12/05/2026,8.00\r\n"
    err = _discover_fails(tmp_path, ready)
    assert "report saved/1002 ('Timesheets'): two columns are named 'EmployeeId'" in err


def test_a_metadata_column_without_a_name_is_refused(tmp_path: Path, ready: FakeReady) -> None:
    ready.columns = [{"label": c["name"], "type": c["type"]} for c in COLUMNS]
    ready.body = "EntryId,EmployeeId,WorkDate,Hours\r\n" + DAYS
    err = _discover_fails(tmp_path, ready)
    assert "report saved/1002 ('Timesheets'): metadata column 1 has no name" in err


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_header_that_does_not_spell_the_metadata_names_stops_the_stream(
    tmp_path: Path, ready: FakeReady, fmt: str
) -> None:
    header = ["Entry Id", "Employee Id", "Work Date", "Hours"]
    ready.body = ",".join(header) + "\r\n" + DAYS
    rows = [["1", "E1", "2026-12-05", "8.00"], ["2", "E2", "2026-12-13", "7.50"]]
    ready.v2["/ta/rest/v1/report/saved/1002"] = {"columns": [{"name": n} for n in header], "rows": rows}
    if fmt == "csv":
        ready.v2.pop("/ta/rest/v1/report/saved/1002")
    records, state, err = run_report_cli(tmp_path, report_config(ready.url, {"report_format": fmt}), None, returncode=1)
    assert records == []
    assert state is None or "timesheets" not in str(state.get("bookmarks", {}))
    assert "column(s) ['EntryId', 'EmployeeId', 'WorkDate'] of its metadata are not in it" in err
    assert "'Timesheets'" in err
