"""Translated filters with tricky values run against the emulators (pushed down where the product can), compared
with a reference computed from the fictional company both emulators serve."""

from __future__ import annotations

import typing as t
from datetime import date, datetime, timedelta, timezone

import pytest

from xlr8_kit.connectors.gather import tap_connector
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
