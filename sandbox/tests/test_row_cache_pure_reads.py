"""Emulators whose reads are pure functions of (request, data) keep rendered rows or bodies per data version: what
they serve must be the same bytes with the cache off, cold and warm, and rows inserted or changed by sandbox time
after a cached read must show on the next read."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
import requests

from xlr8_sandbox.platform.server import Sandbox, run_sandbox


@dataclass
class Case:
    product: str
    headers: Callable[[Sandbox], dict[str, str]]
    requests: list[tuple[str, dict[str, str]]]


def workday_basic(sandbox: Sandbox) -> dict[str, str]:
    creds = sandbox.emulator("workday").test_credentials()
    pair = base64.b64encode(f"{creds['username']}:{creds['password']}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def bearer(product: str) -> Callable[[Sandbox], dict[str, str]]:
    def headers(sandbox: Sandbox) -> dict[str, str]:
        return {"Authorization": f"Bearer {sandbox.ctx.tokens.issue(product, 'row-cache-test').token}"}

    return headers


def ukg_pro_rest(sandbox: Sandbox) -> dict[str, str]:
    creds = sandbox.emulator("ukg_pro").test_credentials()
    pair = base64.b64encode(f"{creds['username']}:{creds['password']}".encode()).decode()
    return {"Authorization": f"Basic {pair}", "US-Customer-Api-Key": creds["customer_api_key"]}


UKG = "/personnel/v1/"
WD_REPORTS = "/ccx/service/customreport2/acme_sandbox/ISU_XLR8/"
WD_REST = "/ccx/api/v1/acme_sandbox/workers"

CASES = {
    "workday-raas": Case(
        "workday",
        workday_basic,
        [
            (
                WD_REPORTS + "XLR8_Workers",
                {"format": "json", "Updated_From": "2015-01-01", "Updated_Through": "2020-12-31"},
            ),
            (
                WD_REPORTS + "XLR8_Workers",
                {"format": "json", "Updated_From": "2021-01-01", "Updated_Through": "2027-12-31"},
            ),
            (WD_REPORTS + "XLR8_Workers", {"format": "json"}),
            (WD_REPORTS + "XLR8_Workers", {"Updated_From": "2021-01-01"}),
            (
                WD_REPORTS + "XLR8_Workers",
                {"format": "json", "Updated_From": "2022-01-01", "Updated_Through": "2021-01-01"},
            ),
            (
                WD_REPORTS + "XLR8_Workers",
                {"format": "json", "Updated_From": "2022-01-01", "Updated_Through": "2021-01-01"},
            ),
            (WD_REPORTS + "XLR8_Workers", {"format": "json", "Organization!Organization_Reference_ID": "SUP_D002"}),
            (WD_REPORTS + "XLR8_Compensation", {"format": "json", "Effective_as_of_Date": "2025-06-30"}),
            (WD_REPORTS + "XLR8_Compensation", {"format": "json"}),
            (WD_REPORTS + "XLR8_Journal_Lines", {"format": "json"}),
        ],
    ),
    "workday-rest": Case(
        "workday",
        bearer("workday"),
        [
            (WD_REST, {"limit": "100", "offset": "0"}),
            (WD_REST, {"limit": "100", "offset": "100"}),
            (WD_REST, {"limit": "7", "offset": "13"}),
            (WD_REST, {"limit": "100", "offset": "250"}),
            (WD_REST, {"limit": "100", "offset": "5000"}),
            (WD_REST, {}),
            (WD_REST, {"limit": "500"}),
        ],
    ),
    "ukg_pro-rest": Case(
        "ukg_pro",
        ukg_pro_rest,
        [
            (UKG + "employment-details", {"page": "1", "per_Page": "100"}),
            (UKG + "employment-details", {"page": "3", "per_Page": "100"}),
            (UKG + "employment-details", {"page": "9", "per_Page": "100"}),
            (UKG + "person-details", {"page": "2", "per_Page": "37"}),
            (UKG + "compensation-details", {"per_Page": "10000"}),
            (UKG + "employee-demographic-details", {}),
            (UKG + "employment-details", {"employeeStatusCode": "A,L", "page": "2", "per_Page": "50"}),
            (UKG + "employment-details", {"employeeID": "E000007"}),
            (UKG + "employee-job-history-details", {"page": "2", "per_Page": "100"}),
            (UKG + "contacts", {"per_Page": "10000", "companyID": "C200"}),
            (UKG + "pto-plans", {"page": "1", "per_Page": "100"}),
            (UKG + "employee-changes", {"startDate": "2020-01-01T00:00:00Z"}),
            (UKG + "nothing-here", {}),
            (UKG + "employment-details", {"per_Page": "0"}),
        ],
    ),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> Iterator[tuple[Case, Sandbox]]:
    chosen = CASES[request.param]
    with run_sandbox([chosen.product], seed=5, scale=300) as sandbox:
        yield chosen, sandbox


def read_all(case: Case, sandbox: Sandbox) -> list[tuple[int, str | None, bytes]]:
    http = requests.Session()
    http.headers.update(case.headers(sandbox))
    found = []
    for path, params in case.requests:
        response = http.get(sandbox.url(case.product) + path, params=params, timeout=60)
        found.append((response.status_code, response.headers.get("content-type"), response.content))
    return found


def switch(sandbox: Sandbox, product: str, on: bool) -> None:
    sandbox.emulator(product).row_cache.enabled = on  # type: ignore[attr-defined]


@pytest.fixture
def fresh(case: tuple[Case, Sandbox]) -> Iterator[tuple[Case, Sandbox]]:
    chosen, sandbox = case
    sandbox.reset()
    switch(sandbox, chosen.product, True)
    yield chosen, sandbox
    switch(sandbox, chosen.product, True)
    sandbox.reset()


def test_cached_bodies_are_the_uncached_bytes(fresh: tuple[Case, Sandbox]) -> None:
    chosen, sandbox = fresh
    switch(sandbox, chosen.product, False)
    uncached = read_all(chosen, sandbox)
    switch(sandbox, chosen.product, True)
    cold = read_all(chosen, sandbox)
    warm = read_all(chosen, sandbox)
    assert sandbox.emulator(chosen.product).row_cache.used_bytes > 0  # type: ignore[attr-defined]
    for request, plain, first, second in zip(chosen.requests, uncached, cold, warm, strict=True):
        assert first == plain, request
        assert second == plain, request
    assert {status for status, _, _ in uncached} & {200}


def test_inserted_rows_show_after_a_cached_read(fresh: tuple[Case, Sandbox]) -> None:
    chosen, sandbox = fresh
    before = read_all(chosen, sandbox)
    sandbox.emulator(chosen.product).insert_records(3)
    cached = read_all(chosen, sandbox)
    assert cached != before
    switch(sandbox, chosen.product, False)
    assert read_all(chosen, sandbox) == cached


def test_sandbox_time_changes_cached_rows(fresh: tuple[Case, Sandbox]) -> None:
    chosen, sandbox = fresh
    before = read_all(chosen, sandbox)
    sandbox.ctx.clock.advance(timedelta(days=40))
    cached = read_all(chosen, sandbox)
    assert cached != before
    switch(sandbox, chosen.product, False)
    assert read_all(chosen, sandbox) == cached
