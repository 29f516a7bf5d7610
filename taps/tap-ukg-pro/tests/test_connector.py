"""The gatherer's Python surface over the same client: reports, employees, earnings, connection checks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from xlr8_kit.testing.connector_contract import ConnectorContract, ConnectorContractTests
from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_pro import PASSWORD, UkgProEmulator
from xlr8_sandbox.products.ukg_pro.raas import FOLDER
from xlr8_tap_ukg_pro.connector import UkgProConnector

from .conftest import SCALE, ukg_config

COMPANY = Company(seed=42, scale=SCALE)


def _connector(url: str, **extra: object) -> UkgProConnector:
    return UkgProConnector(ukg_config(url, raas_poll_interval=0, **extra))


def test_list_and_execute_reports(url: str, emulator: UkgProEmulator) -> None:
    connector = _connector(url)
    names = [r.name for r in connector.list_available_reports()]
    assert names == ["XLR8 Employees", "XLR8 Earnings History", "XLR8 Job Codes"]
    rows = connector.execute_raas_report(f"{FOLDER}/report[@name='XLR8 Employees']", {"EmployeeStatus": "L"})
    assert {r["EmployeeID"] for r in rows} == {e.employee_id for e in COMPANY.employees() if e.status == "leave"}
    assert all(isinstance(r["AnnualSalary"], Decimal) for r in rows)


def test_get_employees_joins_person_and_employment_details(url: str, emulator: UkgProEmulator) -> None:
    connector = _connector(url, per_page=40)
    everyone = connector.get_employees()
    assert len(everyone) == SCALE
    first = next(r for r in everyone if r["employeeID"] == "E000001")
    e = COMPANY.employee(0)
    assert (first["firstName"], first["lastName"], first["primaryJobCode"]) == (e.first_name, e.last_name, e.job_code)
    on_leave = connector.get_employees({"employeeStatusCode": ["L"]})
    assert {r["employeeID"] for r in on_leave} == {x.employee_id for x in COMPANY.employees() if x.status == "leave"}


def test_get_earnings_of_one_pay_period(url: str, emulator: UkgProEmulator) -> None:
    period = COMPANY.pay_periods()[-1]
    rows = _connector(url).get_earnings(period.pay_date)
    assert rows
    assert {r["PayDate"] for r in rows} == {period.pay_date.isoformat()}
    expected = sum(len(s.earnings) for i in range(SCALE) if (s := COMPANY.pay_statement(i, period)) is not None)
    assert len(rows) == expected


def test_get_employees_with_a_universal_filter(url: str, emulator: UkgProEmulator) -> None:
    rows = _connector(url).get_employees("employment_status = 'terminated'")
    assert {r["employeeID"] for r in rows} == {e.employee_id for e in COMPANY.employees() if e.status == "terminated"}
    assert all(r["firstName"] for r in rows)  # joined with person details


def test_test_connection_ok_and_refused(url: str, emulator: UkgProEmulator, sandbox: Sandbox) -> None:
    ok = _connector(url).test_connection()
    assert ok.ok, ok.message
    assert ok.check("authentication").ok
    bad_raas = _connector(url, user_access_key="nope-nope-nope").test_connection()
    assert not bad_raas.ok
    assert bad_raas.check("authentication").ok is False
    assert bad_raas.error is not None
    assert "LogOn failed" in bad_raas.error
    assert "nope-nope-nope" not in bad_raas.message
    bad_rest = _connector(url, password="wrong-password-123").test_connection()
    assert not bad_rest.ok
    assert bad_rest.check("authentication").ok is False
    assert "401" in (bad_rest.error or "")
    assert "wrong-password-123" not in bad_rest.message
    assert sandbox.ctx.tokens.revoke_all("ukg_pro") == 0  # the RaaS probe logged off


def test_connector_is_found_by_product_id(url: str, emulator: UkgProEmulator) -> None:
    from xlr8_kit.connectors import ConnectorFactory

    connector = ConnectorFactory.create("ukg_pro", ukg_config(url))
    assert isinstance(connector, UkgProConnector)
    jobs = list(connector.get_entity("job"))
    assert {j["jobCode"] for j in jobs} == {j.code for j in COMPANY.jobs}
    schema = connector.get_entity_schema("employment_details")
    assert schema["x-xlr8"]["entity"] == "employee"


class TestUkgProConnectorContract(ConnectorContractTests):
    """The kit's connector contract (test_connection, get_entity == sync rows, schema, filter push-down)."""

    @pytest.fixture
    def contract(self, url: str, sandbox: Sandbox, emulator: UkgProEmulator) -> ConnectorContract:
        good = ukg_config(url, per_page=9)
        return ConnectorContract(
            connector_class=UkgProConnector,
            good_config=good,
            bad_config={**good, "customer_api_key": "WRONGKEY9"},
            entity="employee",
            stream="employment_details",
            filters="employment_status in ('active', 'leave') and hire_date >= 2018-06-01",
            secrets=[PASSWORD, "WRONGKEY9"],
            request_count=lambda: len(sandbox.requests("ukg_pro", "/personnel/v1/employment-details")),
        )
