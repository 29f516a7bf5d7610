"""A JSON report run answered 200 without its ``rows`` (or ``columns``) list, or with a row that is not a list of
cells, stops the stream naming the report and the key, through the console script over HTTP; never a value of the
answer. Before, a missing list read as a report of no rows (exit 0, nothing landed) and a row without cells landed
as a record of nulls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xlr8_kit.testing.singer_cli import discover_selecting, parse_singer_messages, run_tap_cli
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_ready import UkgReadyEmulator

from .conftest import REPORTS, ready_config

REPORT = "/ta/rest/v1/report/saved/1001"


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        ({}, "the answer has no 'rows'"),
        ({"rows": {"PayStatementId": "ps-secret-9"}}, "'rows' is an object with 1 key(s)"),
        ({"columns": None, "rows": [["ps-secret-9"]]}, "'columns' is null"),
        ({"rows": [{"id": "ps-secret-9"}]}, "a row is an object with 1 key(s)"),
    ],
)
def test_a_json_report_without_its_rows_stops_the_stream(
    url: str, sandbox: Sandbox, emulator: UkgReadyEmulator, tmp_path: Path, answer: dict[str, object], named: str
) -> None:
    settings = ready_config(url, reports=REPORTS[:1], report_format="json")
    config, catalog = discover_selecting("tap-ukg-ready", settings, {"pay_statements"}, tmp_path)
    columns = [{"name": col.name, "type": col.type} for col in emulator.reports[("saved", 1001)].all_columns]
    body = json.dumps({"columns": columns, **answer})  # the report's own columns unless the case takes them away
    fault = sandbox.faults.add("ukg_ready", REPORT, FaultSpec("status", status=200, body=body, method="GET"))
    synced = run_tap_cli("tap-ukg-ready", ["--config", config, "--catalog", catalog], tmp_path)
    assert fault.fired == 1
    assert synced.returncode != 0, synced.stderr[-2000:]
    assert named in synced.stderr
    assert f"ukg ready report 'saved/1001' ({REPORT})" in synced.stderr
    assert "ps-secret-9" not in synced.stderr
    assert [m for m in parse_singer_messages(synced.stdout) if m["type"] == "RECORD"] == []


@pytest.mark.parametrize(
    ("rows", "named"),
    [
        ([[]], "data row 1 has 0 cell(s) for the report's {n} column(s)"),
        ([{"cols": []}], "data row 1 has 0 cell(s) for the report's {n} column(s)"),
        ([["ps-secret-9"]], "data row 1 has 1 cell(s) for the report's {n} column(s)"),
        ("long", "data row 1 has {more} cell(s) for the report's {n} column(s)"),
    ],
)
def test_a_json_report_row_of_another_width_stops_the_stream(
    url: str, sandbox: Sandbox, emulator: UkgReadyEmulator, tmp_path: Path, rows: object, named: str
) -> None:
    """A row with no cells, fewer cells than the report has columns, or more. Before, ``zip(strict=False)`` landed
    the first two as records of nulls (the key too) and the short row with its missing cells null, and dropped a
    long row's extra cells: exit 0 (review29h M1)."""
    settings = ready_config(url, reports=REPORTS[:1], report_format="json")
    config, catalog = discover_selecting("tap-ukg-ready", settings, {"pay_statements"}, tmp_path)
    columns = [{"name": col.name, "type": col.type} for col in emulator.reports[("saved", 1001)].all_columns]
    if rows == "long":
        rows = [["ps-secret-9"] + [""] * len(columns)]
    body = json.dumps({"columns": columns, "rows": rows})
    fault = sandbox.faults.add("ukg_ready", REPORT, FaultSpec("status", status=200, body=body, method="GET"))
    synced = run_tap_cli("tap-ukg-ready", ["--config", config, "--catalog", catalog], tmp_path)
    assert fault.fired == 1
    assert synced.returncode != 0, synced.stderr[-2000:]
    assert named.format(n=len(columns), more=len(columns) + 1) in synced.stderr
    assert f"ukg ready report 'saved/1001' ({REPORT})" in synced.stderr
    assert "ps-secret-9" not in synced.stderr
    assert [m for m in parse_singer_messages(synced.stdout) if m["type"] == "RECORD"] == []


@pytest.mark.parametrize("extra", [-1, 1])
def test_a_csv_report_row_of_another_width_stops_the_stream(
    url: str, sandbox: Sandbox, emulator: UkgReadyEmulator, tmp_path: Path, extra: int
) -> None:
    """The CSV twin: a data row (the second) with one cell fewer or more than the header. Before, the short row
    landed its last column null and the long row lost its extra cell, exit 0 (review29h M1)."""
    settings = ready_config(url, reports=REPORTS[:1])
    config, catalog = discover_selecting("tap-ukg-ready", settings, {"pay_statements"}, tmp_path)
    names = [col.name for col in emulator.reports[("saved", 1001)].all_columns]
    first = ["ps-1", *[""] * (len(names) - 1)]
    second = ["ps-secret-9", *[""] * (len(names) - 1 + extra)]
    body = "\r\n".join(",".join(row) for row in (names, first, second)) + "\r\n"
    headers = {"Content-Type": "text/csv; charset=utf-8"}
    fault = sandbox.faults.add(
        "ukg_ready", REPORT, FaultSpec("status", status=200, body=body, headers=headers, method="GET")
    )
    synced = run_tap_cli("tap-ukg-ready", ["--config", config, "--catalog", catalog], tmp_path)
    assert fault.fired == 1
    assert synced.returncode != 0, synced.stderr[-2000:]
    assert f"data row 2 has {len(names) + extra} cell(s) for the report's {len(names)} column(s)" in synced.stderr
    assert f"ukg ready report 'saved/1001' ({REPORT})" in synced.stderr
    assert "ps-secret-9" not in synced.stderr
    records = [m["record"] for m in parse_singer_messages(synced.stdout) if m["type"] == "RECORD"]
    assert [r[names[0]] for r in records] in ([], ["ps-1"])  # at most the whole first row, never the second
