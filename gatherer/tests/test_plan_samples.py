"""The plan's code samples (component 6.2 and Live Data Gathering) run as written against the emulators: the factory
by the plan's product ids (``sap_sf``, ``workday_fins``), the base operations, the convenience methods of 6.3-6.6
and the query translator."""

from __future__ import annotations

import typing as t
from datetime import date

from xlr8_kit.connectors import BaseConnector, ConnectorFactory
from xlr8_kit.credentials.model import AuthType, ProductCredential
from xlr8_kit.query import QueryTranslator
from xlr8_sandbox.platform.server import Sandbox

HOST = {"salesforce": "login_url", "sap_sf": "api_url", "ukg_pro": "base_url", "workday_hcm": "base_url"}


def _credential(product_id: str, config: dict[str, t.Any]) -> ProductCredential:
    """A ``ProductCredential`` as the plan's callers hold one: secrets as fields, the tenant as ``instance_url``."""
    fields: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            # the flow name is a setting, not a secret: Salesforce gets it as a setting, SuccessFactors defaults
            fields.update({f"{key}.{k}": str(v) for k, v in value.items() if k != "type"})
        elif isinstance(value, str) and key != HOST.get(product_id):
            fields[key] = value
    url = config[HOST[product_id]]
    return ProductCredential(f"{product_id}-1", "acme", product_id, AuthType.BASIC, fields, instance_url=url)


def test_connector_framework_sample(sources: dict[str, dict[str, t.Any]], sandbox: Sandbox) -> None:
    company = sandbox.ctx.company
    on_leave = sorted(e.employee_id for e in company.employees(as_of=sandbox.ctx.clock.now()) if e.status == "leave")
    credential = _credential("sap_sf", sources["successfactors"])
    schema: dict[str, t.Any] = {}
    # --- plan 6.2 ---
    connector = ConnectorFactory.create("sap_sf", credential, schema)
    status = connector.test_connection()
    rows = connector.get_entity("employee", {"employment_status": "leave"})
    entity_schema = connector.get_entity_schema("employee")
    # ---
    assert isinstance(connector, BaseConnector)
    assert status.ok, status.message
    assert sorted(r["userId"] for r in rows) == on_leave
    assert entity_schema["x-xlr8"]["entity"] == "employee"
    # 6.5: SuccessFactors get_employees(filters); 6.6: Salesforce
    assert sorted(r["userId"] for r in connector.get_employees({"employment_status": "leave"})) == on_leave  # type: ignore[attr-defined]
    salesforce = ConnectorFactory.create(
        "salesforce", _credential("salesforce", sources["salesforce"]), {"auth": {"type": "password"}}
    )
    accounts = list(salesforce.get_accounts())  # type: ignore[attr-defined]
    contacts = list(salesforce.get_contacts({"title": "CFO"}))  # type: ignore[attr-defined]
    opportunities = list(salesforce.get_opportunities())  # type: ignore[attr-defined]
    soql = salesforce.execute_soql("SELECT Id FROM Opportunity")  # type: ignore[attr-defined]
    assert accounts
    assert contacts
    assert opportunities
    assert sorted(o["Id"] for o in opportunities) == sorted(r["Id"] for r in soql)
    # 6.4: Workday (HCM and Financials)
    workday = ConnectorFactory.create("workday_hcm", _credential("workday_hcm", sources["workday_hcm"]), {})
    workers = workday.get_workers({"employment_status": "leave"})  # type: ignore[attr-defined]
    assert sorted(w["workerId"] for w in workers) == on_leave
    fins = ConnectorFactory.create("workday_fins", dict(sources["workday_fins"]))
    entries = fins.get_journal_entries((date(2024, 1, 1), date(2024, 12, 31)))  # type: ignore[attr-defined]
    expected = sorted(j.journal_id for j in company.journals() if j.posted_date.year == 2024)
    assert sorted(e["Journal_Number"] for e in entries) == expected
    assert len(fins.get_suppliers()) == company.supplier_count  # type: ignore[attr-defined]


def test_query_translation_sample() -> None:
    # --- plan 6.2 ---
    translator = QueryTranslator()
    native = translator.translate("employee where hire_date >= 2024-01-01", "ukg_pro", "sap_sf")
    filters = translator.translate_filters({"employment_status": "active"}, "workday_hcm")
    # ---
    assert native == "/User?$filter=hireDate ge datetime'2024-01-01T00:00:00'"
    assert filters == {"workerStatus": "Active"}
