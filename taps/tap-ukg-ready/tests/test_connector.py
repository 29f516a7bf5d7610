"""The gatherer's Python surface: the kit's connector contract, canonical and product names with filters pushed
down, and ``execute_query`` with a report or a REST path."""

from __future__ import annotations

import logging
import typing as t
from decimal import Decimal

import pytest

from xlr8_kit.connectors import ConnectorError, ConnectorFactory
from xlr8_kit.testing.connector_contract import ConnectorContract, ConnectorContractTests
from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_ready import API_KEY, PASSWORD, UkgReadyEmulator
from xlr8_tap_ukg_ready import reports
from xlr8_tap_ukg_ready.connector import UkgReadyConnector

from .conftest import REPORTS, SCALE, ready_config

COMPANY = Company(seed=42, scale=SCALE)
EMPLOYEES_PATH = "/ta/rest/v2/companies/|ACMEREADY/employees"  # the log keeps the decoded path


def test_get_entity_by_canonical_name_pushes_the_status(url: str, emulator: UkgReadyEmulator) -> None:
    with UkgReadyConnector(ready_config(url)) as connector:
        rows = list(connector.get_entity("employee", "employment_status = leave and hire_date >= 2018-01-01"))
    expected = [e for e in COMPANY.employees() if e.status == "leave" and e.hire_date.isoformat() >= "2018-01-01"]
    assert expected
    assert [r["employee_id"] for r in rows] == [e.employee_id for e in expected]
    assert {q.get("status") for q in emulator.employee_queries} == {"On Leave"}


def test_get_entity_by_product_name_and_configuration(url: str, emulator: UkgReadyEmulator) -> None:
    with UkgReadyConnector(ready_config(url)) as connector:
        assert {r["external_id"] for r in connector.get_entity("cost_center")} == {c.code for c in COMPANY.cost_centers}
        assert {r["code"] for r in connector.get_entity("job_titles")} == {j.code for j in COMPANY.jobs}
        schema = connector.get_entity_schema("employees")
    assert schema["x-xlr8"]["entity"] == "employee"
    assert schema["x-xlr8"]["truth_type"] == "reality"


def test_execute_query_runs_a_report(url: str, emulator: UkgReadyEmulator) -> None:
    with UkgReadyConnector(ready_config(url)) as connector:
        rows = list(connector.execute_query("report global/2001"))
    assert [r["EmployeeId"] for r in rows] == [e.employee_id for e in COMPANY.employees()]
    assert rows[0]["AnnualSalary"] == COMPANY.employee(0).annual_salary
    assert isinstance(rows[0]["AnnualSalary"], Decimal)
    assert rows[0]["HireDate"] == COMPANY.employee(0).hire_date.isoformat()


def test_execute_query_reads_a_rest_path_and_a_universal_query(url: str, emulator: UkgReadyEmulator) -> None:
    with UkgReadyConnector(ready_config(url)) as connector:
        pay_types = list(connector.execute_query("/ta/rest/v1/company/pay-types"))
        limited = list(connector.execute_query("employee where employment_status = active fields employee_id limit 3"))
        with pytest.raises(ConnectorError, match="without a query string"):
            list(connector.execute_query("/ta/rest/v2/companies/{company}/employees?size=5"))
    assert [r["code"] for r in pay_types] == [c.code for c in COMPANY.earning_codes]
    active = [e.employee_id for e in COMPANY.employees() if e.status == "active"][:3]
    assert limited == [{"employee_id": i} for i in active]


def test_found_by_the_factory(url: str, emulator: UkgReadyEmulator) -> None:
    connector = ConnectorFactory.create("ukg_ready", ready_config(url))
    assert isinstance(connector, UkgReadyConnector)
    assert ConnectorFactory.connector_class("tap-ukg-ready") is UkgReadyConnector


class TestUkgReadyConnectorContract(ConnectorContractTests):
    """The kit's connector contract (test_connection, get_entity == sync rows, schema, filter push-down)."""

    @pytest.fixture
    def contract(self, url: str, sandbox: Sandbox, emulator: UkgReadyEmulator) -> ConnectorContract:
        good = ready_config(url, page_size=9, reports=REPORTS[:1])
        return ConnectorContract(
            connector_class=UkgReadyConnector,
            good_config=good,
            bad_config={**good, "api_key": "WRONG-KEY-123"},
            entity="employee",
            stream="employees",
            filters="employment_status in ('active', 'leave') and hire_date >= 2018-06-01",
            secrets=[PASSWORD, API_KEY, "WRONG-KEY-123"],
            request_count=lambda: [r.path for r in sandbox.requests("ukg_ready", EMPLOYEES_PATH)].count(EMPLOYEES_PATH),
        )


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_report_cell_that_does_not_fit_names_report_row_and_column_never_the_value(
    url: str, emulator: UkgReadyEmulator, fmt: str, caplog: pytest.LogCaptureFixture
) -> None:
    """mendukg24 "left": the connector's refusal named only the column, not which report. It names the report (its
    title, kind/id), the row and the column; the value (an SSN column's here) is in no message or log line."""
    canary = "CANARY-SSN-4f2a9c1e"
    bad = COMPANY.employee(7).employee_id
    emulator.add_report_column("global", 2001, "SSN", "INTEGER", lambda e: canary if e.employee_id == bad else "42")
    caplog.set_level(logging.DEBUG)
    rows: list[dict[str, t.Any]] = []
    with UkgReadyConnector(ready_config(url, report_format=fmt)) as connector:
        try:
            for row in connector.execute_query("report global/2001"):
                rows.append(row)
        except reports.ReportDataError as refused:
            message = str(refused)
        else:
            pytest.fail("the report was read whole")
    assert message.startswith(f"ukg_ready report 'Employee Roster' (global/2001, row {len(rows) + 1}): ")
    assert "report column 'SSN' has a value that is not a integer" in message
    assert [r["EmployeeId"] for r in rows] == [e.employee_id for e in COMPANY.employees()][: len(rows)]
    assert bad not in {r["EmployeeId"] for r in rows}
    assert canary not in message
    assert canary not in caplog.text
