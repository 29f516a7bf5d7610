"""The Python surface: the kit's connector contract (Financials suppliers) and Workday's own methods, on the
tap's client against the emulator."""

from __future__ import annotations

from datetime import date

import pytest

from xlr8_kit.connectors.factory import ConnectorFactory
from xlr8_kit.testing.connector_contract import ConnectorContract, ConnectorContractTests
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.workday import ISU_PASSWORD, WorkdayEmulator, wid
from xlr8_tap_workday.connector import WorkdayFinsConnector, WorkdayHcmConnector

from .conftest import base_config, report_url


class TestWorkdayFinsConnector(ConnectorContractTests):
    @pytest.fixture
    def contract(self, url: str, sandbox: Sandbox, emulator: WorkdayEmulator) -> ConnectorContract:
        return ConnectorContract(
            connector_class=WorkdayFinsConnector,
            good_config=base_config(url),
            bad_config=base_config(url, password="rejected-isu-pass-77", client_secret="rejected-client-secret-77"),
            entity="supplier",
            stream="suppliers",
            filters='currency = "CAD"',
            secrets=[ISU_PASSWORD, "rejected-isu-pass-77", "rejected-client-secret-77"],
            request_count=lambda: len(sandbox.requests("workday")),
            settings={"streams": ["suppliers"], "soap_page_size": 4},
        )


def test_gatherer_methods_share_the_tap_client(url: str, emulator: WorkdayEmulator) -> None:
    config = base_config(url, reports=[
        {"name": "compensation", "url": report_url(url, "XLR8_Compensation"), "primary_keys": ["Employee_ID"]},
    ])  # fmt: skip
    with WorkdayHcmConnector(config) as connector:
        workers = connector.get_workers()
        assert [w["workerId"] for w in workers] == [e.employee_id for e in emulator.company.employees()]
        organizations = connector.get_organizations()
        assert {o["code"] for o in organizations} == {f"SUP_{d.code}" for d in emulator.company.departments} | {
            "SUP_TOP"
        }
        department = emulator.company.departments[0]
        entries = connector.execute_report(
            "compensation", {"Organization!Organization_Reference_ID": f"SUP_{department.code}"}
        )
        expected = [
            e for e in emulator.company.employees() if e.department_code == department.code and e.status != "terminated"
        ]
        assert [r["Employee_ID"] for r in entries] == [e.employee_id for e in expected]
        assert entries[0]["Total_Base_Pay"] == expected[0].annual_salary
        by_url = connector.execute_report(
            report_url(url, "XLR8_Workers"), {"Organization!WID": wid("organization", f"SUP_{department.code}")}
        )
        assert {r["Employee_ID"] for r in by_url} >= {e.employee_id for e in expected}
        status = connector.test_connection()
        assert status.ok, status.message
        assert status.api_version == "v42.0"

    with WorkdayFinsConnector(base_config(url, soap_page_size=7)) as fins:
        window = (date(2025, 1, 1), date(2025, 6, 30))
        journals = fins.get_journal_entries(window)
        wanted = [j for j in emulator.company.journals() if window[0] <= j.posted_date <= window[1]]
        assert [j["Journal_Number"] for j in journals] == [j.journal_id for j in wanted]
        assert all(window[0].isoformat() <= j["Accounting_Date"] <= window[1].isoformat() for j in journals)
        suppliers = fins.get_suppliers()
        assert [s["Supplier_ID"] for s in suppliers] == [s.supplier_id for s in emulator.company.suppliers()]


def test_connectors_are_registered_for_both_products(url: str) -> None:
    factory = ConnectorFactory()
    assert factory.connector_class("workday_hcm") is WorkdayHcmConnector
    assert factory.connector_class("workday_fins") is WorkdayFinsConnector


def test_isu_only_connection_uses_soap(url: str, emulator: WorkdayEmulator) -> None:
    config = {k: v for k, v in base_config(url).items() if k not in ("client_id", "client_secret", "refresh_token")}
    with WorkdayHcmConnector(config) as connector:
        assert connector.test_connection().ok
        workers = connector.get_workers()
        assert [w["Employee_ID"] for w in workers] == [e.employee_id for e in emulator.company.employees()]
