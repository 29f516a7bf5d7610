"""Translated filters with tricky values run against the emulators (pushed down where the product can), compared
with a reference computed from the fictional company both emulators serve."""

from __future__ import annotations

import typing as t
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from xlr8_kit.connectors.tap import tap_connector
from xlr8_sandbox.company import Employee
from xlr8_sandbox.platform.server import run_sandbox
from xlr8_sandbox.products.successfactors import API_PASSWORD, API_USER, COMPANY_ID
from xlr8_sandbox.products.ukg_pro import CUSTOMER_API_KEY, PASSWORD, USER_ACCESS_KEY, USERNAME

Reference = t.Callable[[Employee], bool]
IST = timezone(timedelta(hours=5, minutes=30))

CASES: list[tuple[str, Reference]] = [
    ('last_name = "O\'Brien"', lambda e: e.last_name == "O'Brien"),
    (
        "last_name in (\"O'Brien\", 'Müller') and hire_date between 2016-01-01 and 2021-12-31",
        lambda e: e.last_name in {"O'Brien", "Müller"} and date(2016, 1, 1) <= e.hire_date <= date(2021, 12, 31),
    ),
    ("first_name contains 'é'", lambda e: "é" in e.first_name),
    (
        "last_modified >= 2022-06-01T00:00:00+05:30 and (first_name = 'Zoe' or last_name = 'Kim')",
        lambda e: (
            e.last_modified >= datetime(2022, 6, 1, tzinfo=IST) and (e.first_name == "Zoe" or e.last_name == "Kim")
        ),
    ),
    (
        "hire_date < 2016-03-01 or last_name != 'Smith' and first_name = 'Ava'",
        lambda e: e.hire_date < date(2016, 3, 1) or (e.last_name != "Smith" and e.first_name == "Ava"),
    ),
    ("employee_id in ()", lambda e: False),
]


@pytest.fixture(scope="module")
def sandbox() -> t.Iterator[t.Any]:
    with run_sandbox(["successfactors", "ukg_pro"], seed=42, scale=120) as running:
        yield running


def _successfactors(sandbox: t.Any) -> t.Any:
    return tap_connector(
        "successfactors",
        {
            "api_url": sandbox.url("successfactors"),
            "company_id": COMPANY_ID,
            "auth": {"type": "basic", "username": API_USER, "password": API_PASSWORD},
        },
    )


def _ukg(sandbox: t.Any) -> t.Any:
    return tap_connector(
        "ukg_pro",
        {
            "base_url": sandbox.url("ukg_pro"),
            "username": USERNAME,
            "password": PASSWORD,
            "customer_api_key": CUSTOMER_API_KEY,
            "user_access_key": USER_ACCESS_KEY,
        },
    )


@pytest.mark.parametrize(("filters", "reference"), CASES)
def test_successfactors_user_rows_equal_the_company_reference(
    sandbox: t.Any, filters: str, reference: Reference
) -> None:
    expected = sorted(e.employee_id for e in sandbox.ctx.company.employees() if reference(e))
    with _successfactors(sandbox) as connector:
        stream, translation = connector.resolve_stream("User", filters)
        assert translation is not None
        got = sorted(row["userId"] for row in connector.read(stream, translation))
        post = sorted(row["userId"] for row in connector.read(stream, translation, pushdown=False))
    assert got == expected
    assert post == expected


@pytest.mark.parametrize(
    ("filters", "reference"), [c for c in CASES if "last_modified" not in c[0] and "hire_date" not in c[0]]
)
def test_ukg_person_rows_equal_the_company_reference(sandbox: t.Any, filters: str, reference: Reference) -> None:
    expected = sorted(e.employee_id for e in sandbox.ctx.company.employees() if reference(e))
    with _ukg(sandbox) as connector:
        rows = list(connector.get_entity("person_details", filters))
    assert sorted(row["employeeID"] for row in rows) == expected


def _sf_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")


#: References read the emulator's raw rows (fetched unfiltered), independently of the translator.
CONTACT_CASES: list[tuple[str, t.Callable[[dict[str, t.Any]], bool]]] = [
    ('last_name = "O\'Brien"', lambda r: r["LastName"] == "O'Brien"),
    (
        "last_name contains \"'B\" and title in ('CFO', 'CTO')",
        lambda r: "'B" in r["LastName"] and r["Title"] in {"CFO", "CTO"},
    ),
    (
        "created >= 2020-01-01T00:00:00-05:00 and (title = 'HR Director' or first_name = 'Zoe')",
        lambda r: (
            _sf_time(r["CreatedDate"]) >= datetime(2020, 1, 1, 5, tzinfo=UTC)
            and (r["Title"] == "HR Director" or r["FirstName"] == "Zoe")
        ),
    ),
    (
        "last_modified < 2019-06-01 or title != 'Buyer'",
        lambda r: _sf_time(r["SystemModstamp"]) < datetime(2019, 6, 1, tzinfo=UTC) or r["Title"] != "Buyer",
    ),
    ("account_id in ()", lambda r: False),
]


@pytest.fixture(scope="module")
def salesforce_sandbox() -> t.Iterator[t.Any]:
    with run_sandbox(["salesforce"], seed=42, scale=200) as running:
        yield running


@pytest.mark.parametrize(("filters", "reference"), CONTACT_CASES)
def test_soql_on_the_salesforce_emulator_equals_the_reference(
    salesforce_sandbox: t.Any, filters: str, reference: t.Callable[[dict[str, t.Any]], bool]
) -> None:
    from xlr8_kit.query import translate_filters
    from xlr8_sandbox.products.salesforce import CLIENT_ID, CLIENT_SECRET, SECURITY_TOKEN
    from xlr8_sandbox.products.salesforce import PASSWORD as SF_PASSWORD
    from xlr8_sandbox.products.salesforce import USERNAME as SF_USERNAME
    from xlr8_tap_salesforce.connector import SalesforceConnector

    auth = {"type": "password", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "username": SF_USERNAME,
            "password": SF_PASSWORD, "security_token": SECURITY_TOKEN}  # fmt: skip
    connector = SalesforceConnector({"login_url": salesforce_sandbox.url("salesforce"), "auth": auth})
    everything = connector.execute_soql(
        "SELECT Id, LastName, FirstName, Title, CreatedDate, SystemModstamp FROM Contact"
    )
    expected = sorted(r["Id"] for r in everything if reference(r))
    assert len(everything) > 0
    translation = translate_filters(filters, "salesforce", stream="Contact", fields=["contact_id"])
    rows = [] if translation.empty else connector.execute_soql(translation.query)
    assert sorted(r["Id"] for r in translation.apply(rows)) == expected
    if translation.pushed is not None:
        assert len(rows) < len(everything), "the WHERE clause should have narrowed the rows the org returned"
