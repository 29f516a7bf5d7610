"""The gatherer's Python surface, over real HTTP against the emulator, through the tap's own client."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from xlr8_tap_salesforce.connector import SalesforceConnector, soql_literal


def test_execute_soql_pages_and_keeps_decimals(sf: Any) -> None:
    with sf.start_sandbox({"Account": 450}) as sandbox:
        connector = SalesforceConnector(sf.password_config(sandbox, batch_size=200))
        rows = connector.execute_soql("SELECT Id, AnnualRevenue FROM Account WHERE IsDeleted = false")
        expected = sf.emulator(sandbox).objects["Account"].base_record(0)["AnnualRevenue"]
    assert len(rows) == 450
    assert "attributes" not in rows[0]
    assert isinstance(rows[0]["AnnualRevenue"], Decimal)
    assert rows[0]["AnnualRevenue"] == expected


def test_get_entity_by_canonical_name_and_filters(sf: Any, sandbox: Any) -> None:
    connector = SalesforceConnector(sf.password_config(sandbox))
    users = connector.get_entity("user", {"EmployeeNumber": "E000007"})
    assert [u["Id"] for u in users] == ["005000000000006AAA"]
    employee = sf.emulator(sandbox).ctx.company.employee(6)
    assert users[0]["LastName"] == employee.last_name
    gold = connector.get_entity("Account", "Customer_Tier__c = 'Gold'")
    assert gold
    assert all(a["Customer_Tier__c"] == "Gold" for a in gold)


def test_bulk_query_rows_are_typed(sf: Any, sandbox: Any) -> None:
    connector = SalesforceConnector(sf.password_config(sandbox))
    connector.client.sleep = lambda _s: None
    rows = list(connector.bulk_query("SELECT Id, NumberOfEmployees, IsDeleted, Credit_Limit__c FROM Account"))
    assert len(rows) == 50
    assert isinstance(rows[0]["NumberOfEmployees"], int)
    assert rows[0]["IsDeleted"] is False
    assert isinstance(rows[0]["Credit_Limit__c"], Decimal)


def test_connection_check_reports_usage_and_failures(sf: Any, sandbox: Any) -> None:
    good = SalesforceConnector(sf.password_config(sandbox)).test_connection()
    assert good.ok
    assert good.objects == 8
    assert "API usage" in good.message
    config = sf.password_config(sandbox)
    config["auth"]["client_secret"] = "not-the-secret-42"
    bad = SalesforceConnector(config).test_connection()
    assert not bad.ok
    assert "not-the-secret-42" not in bad.message


def test_soql_literals_are_typed_and_escaped() -> None:
    assert soql_literal("O'Brien", "string") == "'O\\'Brien'"
    assert soql_literal(True, "boolean") == "true"
    assert soql_literal("12.50", "currency") == "12.50"
    assert soql_literal(None, "reference") == "null"
