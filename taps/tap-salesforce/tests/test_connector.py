"""The gatherer's Python surface over real HTTP against the emulator: the kit's connector contract, plus
Salesforce's own calls (SOQL, Bulk) through the tap's client."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from xlr8_kit.connectors import ConnectorError, ConnectorFactory, TapConnector
from xlr8_kit.testing.connector_contract import ConnectorContract, ConnectorContractTests
from xlr8_kit.vocabulary import UnknownFieldError
from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.emulator import SandboxContext
from xlr8_sandbox.platform.server import Sandbox, run_sandbox
from xlr8_sandbox.products.salesforce import CLIENT_SECRET, PASSWORD
from xlr8_tap_salesforce.connector import SalesforceConnectionStatus, SalesforceConnector, soql_literal

QUERY_PATH = "/services/data/v60.0/query"


def _sandbox(counts: dict[str, int] | None = None) -> Any:
    """Module- and class-scoped sandboxes (the conftest's ``sf`` helpers are per test)."""
    ctx = SandboxContext(company=Company(seed=42, scale=100), options={"salesforce": {"counts": counts}})
    return run_sandbox(["salesforce"], ctx=ctx)


@pytest.fixture(scope="module")
def paged_sandbox() -> Iterator[Sandbox]:
    with _sandbox({"Contact": 450}) as running:
        yield running


class TestSalesforceConnectorContract(ConnectorContractTests):
    """Contacts over three SOQL pages (450 rows, 200 a page), so laziness is measured in requests."""

    @pytest.fixture
    def contract(self, sf: Any, paged_sandbox: Sandbox) -> ConnectorContract:
        good = sf.password_config(paged_sandbox, batch_size=200)
        bad = {**good, "password": "wrong-password-73"}
        return ConnectorContract(
            connector_class=SalesforceConnector,
            good_config=good,
            bad_config=bad,
            entity="contact",
            stream="Contact",
            filters="title = 'CFO' or last_name = \"O'Brien\"",
            secrets=[PASSWORD, CLIENT_SECRET, "wrong-password-73"],
            request_count=lambda: len(paged_sandbox.requests("salesforce", QUERY_PATH)),
            # the suite's reference sync builds the tap itself: name the object so it is discovered
            settings={"objects": ["Contact"]},
        )


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[Sandbox]:
    with _sandbox() as running:
        yield running


def _spy_soql(connector: SalesforceConnector) -> list[str]:
    """The SOQL texts the connector's client sends (the real client, still over HTTP)."""
    sent: list[str] = []
    real = connector.client.query_pages_marked  # query_pages reads through it too

    def recording(soql: str, **options: Any) -> Any:
        sent.append(soql)
        return real(soql, **options)

    connector.client.query_pages_marked = recording  # type: ignore[method-assign]
    return sent


def test_connector_is_the_kits_tap_connector_and_found_by_product_id(sf: Any, shared_sandbox: Sandbox) -> None:
    connector = ConnectorFactory.create("salesforce", sf.password_config(shared_sandbox))
    assert isinstance(connector, SalesforceConnector)
    assert isinstance(connector, TapConnector)


def test_get_entity_is_lazy_and_pushes_the_universal_filter_into_soql(sf: Any, shared_sandbox: Sandbox) -> None:
    employee = sf.emulator(shared_sandbox).ctx.company.employee(6)
    with SalesforceConnector(sf.password_config(shared_sandbox)) as connector:
        sent = _spy_soql(connector)
        rows = connector.get_entity("user", "employee_id = 'E000007'")
        assert isinstance(rows, Iterator)
        assert sent == []  # nothing read until iterated
        users = list(rows)
    assert [u["Id"] for u in users] == ["005000000000006AAA"]
    assert users[0]["LastName"] == employee.last_name
    assert any("EmployeeNumber = 'E000007'" in soql for soql in sent), sent


def test_get_entity_by_sobject_name_with_a_typed_filter(sf: Any, shared_sandbox: Sandbox) -> None:
    with SalesforceConnector(sf.password_config(shared_sandbox)) as connector:
        everything = connector.execute_soql("SELECT Id, AnnualRevenue FROM Account", include_deleted=True)
        revenues = sorted(r["AnnualRevenue"] for r in everything if r["AnnualRevenue"] is not None)
        median = revenues[len(revenues) // 2]
        big = list(connector.get_entity("Account", f"annual_revenue >= {median}"))
    expected = {r["Id"] for r in everything if r["AnnualRevenue"] is not None and r["AnnualRevenue"] >= median}
    assert 0 < len(expected) < len(everything)
    assert {a["Id"] for a in big} == expected
    assert all(isinstance(a["AnnualRevenue"], Decimal) for a in big)


def test_only_the_objects_asked_for_are_described(sf: Any, shared_sandbox: Sandbox) -> None:
    with SalesforceConnector(sf.password_config(shared_sandbox)) as connector:
        assert connector.tap.streams == {}
        next(connector.get_entity("crm_account"))
        assert set(connector.tap.streams) == {"Account"}
        schema = connector.get_entity_schema("Contact")
        assert set(connector.tap.streams) == {"Account", "Contact"}
    assert schema["x-xlr8"]["entity"] == "contact"
    assert schema["x-xlr8"]["canonical_fields"]["AccountId"] == "account_id"
    with SalesforceConnector(sf.password_config(shared_sandbox, objects=["Contact"])) as configured:
        assert configured.get_entity_schema("Contact") == schema  # described on demand = discovered


def test_unknown_object_and_unmapped_filter_field_are_refused_by_name(sf: Any, shared_sandbox: Sandbox) -> None:
    with SalesforceConnector(sf.password_config(shared_sandbox)) as connector:
        with pytest.raises(ConnectorError, match="'Spaceship__c' is neither an sObject of this org"):
            connector.get_entity("Spaceship__c")
        with pytest.raises(UnknownFieldError, match="Customer_Tier__c"):
            connector.get_entity("Account", "Customer_Tier__c = 'Gold'")


def test_execute_query_takes_soql_or_a_universal_query(sf: Any, shared_sandbox: Sandbox) -> None:
    with SalesforceConnector(sf.password_config(shared_sandbox)) as connector:
        soql_rows = list(connector.execute_query("SELECT Id, Title FROM Contact WHERE Title = 'CFO'"))
        universal = list(connector.execute_query("contact where title = 'CFO' fields contact_id, title"))
    assert soql_rows
    assert {r["Title"] for r in soql_rows} == {"CFO"}
    assert sorted(universal, key=lambda r: r["Id"]) == sorted(soql_rows, key=lambda r: r["Id"])


def test_execute_soql_pages_and_keeps_decimals(sf: Any) -> None:
    with sf.start_sandbox({"Account": 450}) as sandbox:
        connector = SalesforceConnector(sf.password_config(sandbox, batch_size=200))
        rows = connector.execute_soql("SELECT Id, AnnualRevenue FROM Account WHERE IsDeleted = false")
        expected = sf.emulator(sandbox).objects["Account"].base_record(0)["AnnualRevenue"]
        pages = len(sandbox.requests("salesforce", QUERY_PATH))
    assert len(rows) == 450
    assert pages == 3
    assert "attributes" not in rows[0]
    assert isinstance(rows[0]["AnnualRevenue"], Decimal)
    assert rows[0]["AnnualRevenue"] == expected


def test_bulk_query_rows_are_typed(sf: Any, shared_sandbox: Sandbox) -> None:
    connector = SalesforceConnector(sf.password_config(shared_sandbox))
    connector.client.sleep = lambda _s: None
    rows = list(connector.bulk_query("SELECT Id, NumberOfEmployees, IsDeleted, Credit_Limit__c FROM Account"))
    assert len(rows) == 50
    assert isinstance(rows[0]["NumberOfEmployees"], int)
    assert rows[0]["IsDeleted"] is False
    assert isinstance(rows[0]["Credit_Limit__c"], Decimal)


def test_connection_reports_objects_usage_and_redacted_failures(sf: Any, shared_sandbox: Sandbox) -> None:
    good = SalesforceConnector(sf.password_config(shared_sandbox)).test_connection()
    assert isinstance(good, SalesforceConnectionStatus)
    assert good.ok, good.message
    assert good.objects == 8
    assert good.api_version == "60.0"
    assert good.api_usage is not None
    assert "API usage" in good.message
    config = sf.password_config(shared_sandbox)
    config["client_secret"] = "not-the-secret-42"
    bad = SalesforceConnector(config).test_connection()
    assert not bad.ok
    assert bad.check("authentication").ok is False
    assert bad.objects == 0
    assert "not-the-secret-42" not in bad.message
    assert "not-the-secret-42" not in repr(bad)


def test_soql_literals_are_typed_and_escaped() -> None:
    assert soql_literal("O'Brien", "string") == "'O\\'Brien'"
    assert soql_literal(True, "boolean") == "true"
    assert soql_literal("12.50", "currency") == "12.50"
    assert soql_literal(None, "reference") == "null"


def test_the_plans_convenience_methods_are_get_entity(sf: Any, shared_sandbox: Sandbox) -> None:
    with SalesforceConnector(sf.password_config(shared_sandbox)) as connector:
        accounts = list(connector.get_accounts())
        assert [a["Id"] for a in accounts] == [a["Id"] for a in connector.get_entity("crm_account")]
        cfos = list(connector.get_contacts({"title": "CFO"}))
        assert cfos
        assert {c["Title"] for c in cfos} == {"CFO"}
        big = list(connector.get_opportunities({"amount": {">": 100000}}))
        every = connector.execute_soql("SELECT Id, Amount FROM Opportunity")
    assert {o["Id"] for o in big} == {o["Id"] for o in every if o["Amount"] is not None and o["Amount"] > 100000}
    assert 0 < len(big) < len(every)


def test_bulk_export_through_the_connector(sf: Any, shared_sandbox: Sandbox) -> None:
    connector = SalesforceConnector(sf.password_config(shared_sandbox))
    connector.client.sleep = lambda _s: None
    job_id = connector.bulk_export("crm_account", "annual_revenue >= 1000000")
    rows = list(connector.read_bulk_export(job_id))
    status = connector.get_bulk_status(job_id)
    expected = [r for r in connector.get_accounts("annual_revenue >= 1000000")]
    assert status.job_id == job_id
    assert status.state == "complete"
    assert status.rows == len(expected) == len(rows) > 0
    assert {r["Id"] for r in rows} == {r["Id"] for r in expected}
    assert all(isinstance(r["AnnualRevenue"], Decimal) for r in rows)


def test_a_credentials_instance_url_is_where_the_connector_goes(sf: Any, shared_sandbox: Sandbox) -> None:
    from xlr8_kit.credentials.model import AuthType, ProductCredential

    config = sf.password_config(shared_sandbox)
    # the flow name is a setting, not a secret (every credential field is registered with the redactor)
    secrets = {k: config[k] for k in ("client_id", "client_secret", "username", "password", "security_token")}
    credential = ProductCredential(
        "sf-acme", "acme", "salesforce", AuthType.SESSION_LOGIN, secrets, instance_url=shared_sandbox.url("salesforce")
    )
    before = len(shared_sandbox.requests("salesforce"))
    connector = ConnectorFactory.create("salesforce", credential, settings={"auth_type": "password"})
    assert "login_url" not in connector.config
    assert connector.test_connection().ok
    assert len(shared_sandbox.requests("salesforce")) > before  # not login.salesforce.com
