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
