"""Emulators whose reads are pure functions of (request, data) keep rendered rows or bodies per data version: what
they serve must be the same bytes with the cache off, cold and warm, and rows inserted or changed by sandbox time
after a cached read must show on the next read."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import requests

from xlr8_sandbox.platform.server import Sandbox, run_sandbox


@dataclass
class Case:
    product: str
    headers: Callable[[Sandbox], dict[str, str]]
    #: (path, query parameters) for GET (``HEADERS`` among them: extra headers), or (path, {"POST": body}).
    requests: list[tuple[str, dict[str, Any]]]
    #: Whether inserted people and sandbox time change what these requests return (not for ERP's finance data).
    changes: bool = True


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
READY = "/ta/rest/v2/"
HCM = "/hcmRestApi/resources/11.13.18.05/"
ERP = "/fscmRestApi/resources/11.13.18.05/"
S4 = "/sap/opu/odata/sap/"
S4V4 = "/sap/opu/odata4/sap/api_purchaseorder_2/srvd_a2x/sap/purchaseorder/0001/"
REPORT = "/ta/rest/v1/report/"
WFM = "/api/v1/"
SPAN = {"startDate": "2025-12-20", "endDate": "2026-01-19"}
LONG = {"startDate": "2025-12-01", "endDate": "2026-02-28"}
WHO = {"key": "personnumber", "values": [f"E{i:06d}" for i in range(1, 41)]}
REFS = {"qualifiers": WHO["values"]}  # the timecard and schedule multi_reads' object reference list
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
    "ukg_wfm": Case(
        "ukg_wfm",
        bearer("ukg_wfm"),
        [
            (WFM + "commons/hyperfind/execute", {"POST": {"hyperfind": {"id": 1}, "dateRange": SPAN}}),
            (WFM + "commons/persons/multi_read", {"POST": {"where": {"employees": WHO}}}),
            (WFM + "timekeeping/timecard/multi_read", {"POST": {"where": {"employees": REFS, "dateRange": SPAN}}}),
            (
                WFM + "timekeeping/timecard/multi_read",
                {"POST": {"select": ["TOTALS"], "where": {"employees": REFS, "dateRange": SPAN}}},
            ),
            (
                WFM + "scheduling/schedule/multi_read",
                {"POST": {"where": {"employees": {"employeeRefs": REFS, **SPAN}}}},
            ),
            (WFM + "timekeeping/timecard/multi_read", {"POST": {"where": {"employees": {"qualifiers": []}}}}),
            (WFM + "timekeeping/timecard/multi_read", {"POST": {"where": {"employees": REFS, "dateRange": LONG}}}),
            (WFM + "timekeeping/setup/pay_codes", {}),
            (WFM + "commons/locations", {}),
        ],
    ),
    "ukg_ready": Case(
        "ukg_ready",
        bearer("ukg_ready"),
        [
            (READY + "companies/33560858/employees", {"size": "100", "page": "0"}),
            (READY + "companies/33560858/employees", {"size": "100", "page": "2"}),
            (READY + "companies/|ACMEREADY/employees", {"size": "40", "page": "1", "status": "ACTIVE"}),
            (READY + "companies/33560858/employees", {"size": "0"}),
            (REPORT + "saved/1001", {}),
            (REPORT + "saved/1001", {"HEADERS": {"Accept": "text/csv"}}),
            (REPORT + "saved/1002", {"HEADERS": {"Accept": "text/csv"}}),
            (REPORT + "saved/1003", {}),
            (REPORT + "global/2001", {}),
            (REPORT + "saved/9999", {}),
        ],
    ),
    "s4hana": Case(
        "s4hana",
        bearer("s4hana"),
        [
            (S4 + "API_BUSINESS_PARTNER/A_BusinessPartner", {"$format": "json", "$top": "100", "$skip": "0"}),
            (S4 + "API_BUSINESS_PARTNER/A_BusinessPartner", {"$top": "50", "$skip": "20", "$inlinecount": "allpages"}),
            (S4 + "API_BUSINESS_PARTNER/A_BusinessPartner", {"$select": "BusinessPartner,LastChangeDate"}),
            (S4 + "API_BUSINESS_PARTNER/A_BusinessPartner", {"$filter": "BusinessPartnerCategory eq '2'"}),
            (S4 + "API_PURCHASEORDER_PROCESS_SRV/A_PurchaseOrderItem", {"$top": "300", "sap-client": "100"}),
            (S4 + "API_PURCHASEORDER_PROCESS_SRV/A_PurchaseOrderItem", {}),
            (S4 + "API_PURCHASEORDER_PROCESS_SRV/A_PurchaseOrder", {"$orderby": "PurchaseOrder desc", "$top": "30"}),
            (S4 + "API_JOURNALENTRYITEMBASIC_SRV/A_JournalEntryItemBasic", {"$skip": "40", "$top": "500"}),
            (
                S4 + "API_JOURNALENTRYITEMBASIC_SRV/A_JournalEntryItemBasic",
                {"$select": "GLAccount,AmountInCompanyCodeCurrency", "$orderby": "GLAccount desc", "$top": "9"},
            ),
            # (no error request here: S/4 error bodies carry a fresh transaction id and timestamp)
            (S4V4 + "PurchaseOrder", {"$top": "40", "$count": "true"}),
            (S4V4 + "PurchaseOrderItem", {"HEADERS": {"Accept": "application/json;IEEE754Compatible=true"}}),
            (S4V4 + "PurchaseOrderItem", {"$select": "PurchaseOrder,NetPriceAmount", "$skip": "7"}),
            (S4V4 + "PurchaseOrderItem", {"$skip": "3", "HEADERS": {"Prefer": "odata.maxpagesize=25"}}),
        ],
    ),
    "oracle_hcm": Case(
        "oracle_hcm",
        bearer("oracle_hcm"),
        [
            (HCM + "workers", {"limit": "100", "offset": "0", "onlyData": "true"}),
            (HCM + "workers", {"limit": "50", "offset": "120", "totalResults": "true"}),
            (HCM + "workers", {"limit": "25", "expand": "names,emails", "onlyData": "true"}),
            (HCM + "workers", {"limit": "499", "offset": "10", "effectiveDate": "2024-01-31"}),
            (HCM + "absences", {"limit": "200"}),
            (HCM + "workers", {"limit": "x"}),
        ],
    ),
    "oracle_erp": Case(
        "oracle_erp",
        bearer("oracle_erp"),
        [
            (ERP + "suppliers", {"limit": "100", "onlyData": "true"}),
            (ERP + "purchaseOrders", {"limit": "50", "offset": "30", "expand": "lines"}),
            (ERP + "invoices", {"limit": "500", "totalResults": "true"}),
            (ERP + "journalLines", {"limit": "500", "offset": "100"}),
            (ERP + "ledgerBalances", {}),
        ],
        changes=False,
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
        if "POST" in params:
            response = http.post(sandbox.url(case.product) + path, json=params["POST"], timeout=60)
        else:
            query = {k: v for k, v in params.items() if k != "HEADERS"}
            extra = params.get("HEADERS", {})
            response = http.get(sandbox.url(case.product) + path, params=query, headers=extra, timeout=60)
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
    assert (cached != before) is chosen.changes
    switch(sandbox, chosen.product, False)
    assert read_all(chosen, sandbox) == cached


def test_sandbox_time_changes_cached_rows(fresh: tuple[Case, Sandbox]) -> None:
    chosen, sandbox = fresh
    before = read_all(chosen, sandbox)
    sandbox.ctx.clock.advance(timedelta(days=40))
    cached = read_all(chosen, sandbox)
    assert (cached != before) is chosen.changes
    switch(sandbox, chosen.product, False)
    assert read_all(chosen, sandbox) == cached


def test_wfm_person_cap_applies_to_an_answer_already_kept() -> None:
    with run_sandbox(["ukg_wfm"], seed=5, scale=100) as sandbox:
        emulator = sandbox.emulator("ukg_wfm")
        http = requests.Session()
        http.headers.update(bearer("ukg_wfm")(sandbox))
        url = sandbox.url("ukg_wfm") + WFM + "commons/persons/multi_read"
        body = {"where": {"employees": WHO}}
        assert http.post(url, json=body, timeout=30).status_code == 200
        assert http.post(url, json=body, timeout=30).status_code == 200
        emulator.max_persons = 10  # type: ignore[attr-defined]
        refused = http.post(url, json=body, timeout=30)
        assert refused.status_code == 400
        assert refused.json()["errorCode"] == "WCO-101272"


def test_ready_report_column_added_after_a_kept_report_shows() -> None:
    with run_sandbox(["ukg_ready"], seed=5, scale=100) as sandbox:
        emulator = sandbox.emulator("ukg_ready")
        http = requests.Session()
        http.headers.update(bearer("ukg_ready")(sandbox))
        url = sandbox.url("ukg_ready") + REPORT + "saved/1001"
        first = http.get(url, timeout=30).json()
        assert http.get(url, timeout=30).json() == first
        emulator.add_report_column("saved", 1001, "Memo", "STRING", lambda s: "memo")  # type: ignore[attr-defined]
        later = http.get(url, timeout=30).json()
        assert later["columns"][-1] == {"name": "Memo", "type": "STRING"}
        assert http.get(url, headers={"Accept": "text/csv"}, timeout=30).text.splitlines()[0].endswith(",Memo")
