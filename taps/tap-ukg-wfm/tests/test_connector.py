"""The gatherer's Python surface: the kit's connector contract, and the time calls over the same streams."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from xlr8_kit.testing.connector_contract import ConnectorContract, ConnectorContractTests
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_wfm import PASSWORD, UkgWfmEmulator
from xlr8_tap_ukg_wfm.connector import UkgWfmConnector

from .conftest import wfm_config


def test_get_timecards_for_a_date_range(url: str, sandbox: Sandbox, emulator: UkgWfmEmulator) -> None:
    rows = list(UkgWfmConnector(wfm_config(url)).get_timecards(("2025-12-29", date(2025, 12, 31))))
    assert {r["applyDate"] for r in rows} == {"2025-12-29", "2025-12-30", "2025-12-31"}
    company = sandbox.ctx.company
    expected = sum(
        worked.hours
        for i in range(company.employee_count())
        for n in range(3)
        if (worked := company.worked_day(i, date(2025, 12, 29) + timedelta(days=n))) and worked.hours is not None
    )
    assert sum(r["hours"] for r in rows) == expected
    assert {r["payCode"] for r in rows} == {"REG", "OT"}


def test_get_schedules_and_accruals(url: str, sandbox: Sandbox, emulator: UkgWfmEmulator) -> None:
    connector = UkgWfmConnector(wfm_config(url))
    shifts = list(connector.get_schedules(("2025-12-22", "2025-12-28")))
    assert shifts
    assert {r["date"] for r in shifts} <= {(date(2025, 12, 22) + timedelta(days=n)).isoformat() for n in range(7)}
    company = sandbox.ctx.company
    balances = list(connector.get_accruals("2026-01-02"))
    assert len(balances) == 2 * len(list(connector.get_entity("persons")))
    first = next(r for r in balances if r["personNumber"] == "E000001" and r["accrualCode"] == "PTO")
    assert first["balance"] == company.accrual_balances(0)[0].balance_hours
    assert first["asOfDate"] == "2026-01-02"


def test_connector_is_found_by_product_id_and_alias(url: str, emulator: UkgWfmEmulator) -> None:
    from xlr8_kit.connectors import ConnectorFactory

    for name in ("ukg_wfm", "ukg_wfm_dimensions", "kronos"):
        assert isinstance(ConnectorFactory.create(name, wfm_config(url)), UkgWfmConnector)
    codes = list(ConnectorFactory.create("ukg_wfm", wfm_config(url)).get_entity("earning"))
    assert {c["name"] for c in codes} >= {"REG", "OT"}


class TestUkgWfmConnectorContract(ConnectorContractTests):
    """The kit's connector contract (test_connection, get_entity == sync rows, schema, filters)."""

    @pytest.fixture
    def contract(self, url: str, sandbox: Sandbox, emulator: UkgWfmEmulator) -> ConnectorContract:
        good = wfm_config(url, persons_per_request=25)
        return ConnectorContract(
            connector_class=UkgWfmConnector,
            good_config=good,
            bad_config={**good, "password": "wrong-password-53"},
            entity="employee",
            stream="persons",
            filters="employment_status = active and hire_date >= 2019-01-01",
            secrets=[PASSWORD, "wrong-password-53"],
            request_count=lambda: len(sandbox.requests("ukg_wfm", "/api/v1/commons/persons/multi_read")),
        )


def test_execute_query_in_the_universal_language(url: str, sandbox: Sandbox, emulator: UkgWfmEmulator) -> None:
    rows = list(
        UkgWfmConnector(wfm_config(url)).execute_query(
            "timecard where earning_code = 'OT' and work_date >= 2025-12-29 fields employee_id, hours, earning_code"
        )
    )
    assert rows
    assert all(set(r) == {"personNumber", "hours", "payCode"} for r in rows)
    assert {r["payCode"] for r in rows} == {"OT"}
