"""A RaaS value that does not fit its XSD type stops the stream naming the report stream and the field, never the
value (loose25: the text came from ``Decimal``/``date.fromisoformat``/the converter and quoted the value, a salary
or a birth date, into the ERROR log). Through the real console script against the emulator."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from xlr8_kit.testing.singer_cli import discover_selecting, parse_singer_messages, run_tap_cli
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.workday import REPORT_OWNER, TENANT, WorkdayEmulator
from xlr8_tap_workday.connector import WorkdayHcmConnector
from xlr8_tap_workday.discovery import ReportValueError

from .conftest import base_config, report_url

REPORT_PATH = f"/ccx/service/customreport2/{TENANT}/{REPORT_OWNER}/XLR8_Workers"


@pytest.mark.parametrize(
    ("field", "canary", "kind"),
    [
        ("Annual_Salary", "CANARY 85,000 USD 3f9a", "number"),
        ("Hire_Date", "CANARY-1980/13/45-7c2e", "date"),
        ("Full_Time", "CANARY-maybe-b81d", "boolean"),
    ],
)
def test_a_value_that_does_not_fit_its_type_names_stream_and_field_never_the_value(
    url: str, sandbox: Sandbox, emulator: WorkdayEmulator, tmp_path: Path, field: str, canary: str, kind: str
) -> None:
    report = {"name": "worker_report", "url": report_url(url, "XLR8_Workers"), "primary_keys": ["Employee_ID"]}
    config, catalog = discover_selecting("tap-workday", base_config(url, reports=[report]), {"worker_report"}, tmp_path)
    good = {"Employee_ID": "21001", "Annual_Salary": "85000.00", "Hire_Date": "2019-03-01-08:00", "Full_Time": "1"}
    body = json.dumps({"Report_Entry": [good, {**good, "Employee_ID": "21002", field: canary}]})
    sandbox.faults.add("workday", REPORT_PATH, FaultSpec("status", status=200, body=body, query={"format": "json"}))
    synced = run_tap_cli("tap-workday", ["--config", config, "--catalog", catalog], tmp_path)
    assert synced.returncode != 0
    assert "CANARY" not in synced.stderr + synced.stdout  # nor any part of it (``date`` quoted 10 characters)
    assert f"report stream 'worker_report': field {field!r} has a value that is not a {kind}" in synced.stderr
    records = [m["record"] for m in parse_singer_messages(synced.stdout) if m["type"] == "RECORD"]
    assert "21002" not in {r["Employee_ID"] for r in records}


def test_the_connectors_report_names_report_and_field_in_a_group_never_the_value(
    url: str, sandbox: Sandbox, emulator: WorkdayEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The gatherer's ``execute_report`` converts the same way; a misfit inside a group is named by its path."""
    canary = "CANARY-12,5OO.OO-e41b"
    entry = {"Employee_ID": "21001", "Compensation_Plans_group": [{"Amount": "100.00"}, {"Amount": canary}]}
    path = f"/ccx/service/customreport2/{TENANT}/{REPORT_OWNER}/XLR8_Compensation"
    body = json.dumps({"Report_Entry": [entry]})
    sandbox.faults.add("workday", path, FaultSpec("status", status=200, body=body, query={"format": "json"}))
    caplog.set_level(logging.DEBUG)
    with WorkdayHcmConnector(base_config(url)) as connector, pytest.raises(ReportValueError) as refused:
        connector.execute_report(report_url(url, "XLR8_Compensation"))
    assert str(refused.value) == (
        "report 'XLR8_Compensation': field 'Compensation_Plans_group.Amount' has a value that is not a number (as "
        "the report's XSD says)"
    )
    assert "CANARY" not in caplog.text
