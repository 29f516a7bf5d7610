"""The Salesforce emulator's row cache changes nothing it serves: REST pages and Bulk 2.0 CSV results are the same
bytes with the cache off, cold and warm (only the random query locators and job ids differ), and a row touched,
deleted or inserted after a cached read, or changed by sandbox time, shows on the next read."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from xlr8_sandbox.platform.server import Sandbox, run_sandbox
from xlr8_sandbox.products.salesforce import SalesforceEmulator

API = "/services/data/v60.0"
LOCATOR = re.compile(r"/(query|queryAll)/01g[0-9a-f]{16}-")

QUERIES = [
    "SELECT {all} FROM Account",
    "SELECT {all} FROM Account WHERE SystemModstamp > 2019-01-01T03:00:00.000Z ORDER BY SystemModstamp",
    "SELECT {all} FROM Account WHERE SystemModstamp >= 2019-01-01T03:00:00Z AND SystemModstamp <= 2019-01-01T05:00:00Z",
    "SELECT Id, Name FROM Account WHERE Id > '001000000000010AAA' AND Id < '001000000000200AAA' ORDER BY Id",
    "SELECT Id, Name FROM Account WHERE IsDeleted = false OR SystemModstamp < 2019-01-01T02:00:00Z",
    "SELECT Id, Name, Industry FROM Account WHERE Industry = 'Retail'",
    "SELECT Id, Name FROM Account WHERE CreatedDate >= 2019-01-01 LIMIT 250",
    "SELECT {all} FROM Contact",
    "SELECT {all} FROM Opportunity WHERE LastModifiedDate < 2019-01-01T06:00:00Z",
    "SELECT {all} FROM User",
    "SELECT {all} FROM Attachment",
    "SELECT {all} FROM Project__c",
]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with run_sandbox(["salesforce"], seed=7, scale=900) as running:
        yield running


@pytest.fixture
def emulator(sandbox: Sandbox) -> Iterator[SalesforceEmulator]:
    emulator = sandbox.emulator("salesforce")
    assert isinstance(emulator, SalesforceEmulator)
    sandbox.reset()
    emulator.row_cache.enabled = True
    yield emulator
    emulator.row_cache.enabled = True
    sandbox.reset()


def session(sandbox: Sandbox) -> requests.Session:
    creds = sandbox.emulator("salesforce").test_credentials()
    http = requests.Session()
    token = http.post(
        sandbox.url("salesforce") + "/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
        },
        timeout=30,
    ).json()
    http.headers["Authorization"] = f"Bearer {token['access_token']}"
    return http


def expand(sandbox: Sandbox, text: str) -> str:
    name = text.split(" FROM ")[1].split()[0]
    emulator = sandbox.emulator("salesforce")
    assert isinstance(emulator, SalesforceEmulator)
    fields = [f["name"] for f in emulator.objects[name].fields]
    return text.replace("{all}", ", ".join(fields))


def rest_pages(sandbox: Sandbox, text: str, endpoint: str = "query", batch: int = 200) -> list[bytes]:
    """Every page's body, the random locator blanked."""
    http = session(sandbox)
    base = sandbox.url("salesforce")
    headers = {"Sforce-Query-Options": f"batchSize={batch}"}
    response = http.get(f"{base}{API}/{endpoint}", params={"q": expand(sandbox, text)}, headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    pages = [LOCATOR.sub(r"/\1/LOCATOR-", response.text).encode()]
    while True:
        page = response.json()
        if page["done"]:
            return pages
        response = http.get(base + page["nextRecordsUrl"], headers=headers, timeout=60)
        assert response.status_code == 200, response.text
        pages.append(LOCATOR.sub(r"/\1/LOCATOR-", response.text).encode())


def bulk_results(sandbox: Sandbox, text: str, operation: str = "query", max_records: int = 170) -> list[Any]:
    """Every results chunk: its CSV bytes and the record count its locator carries (the job id differs)."""
    http = session(sandbox)
    base = sandbox.url("salesforce") + API
    job = http.post(f"{base}/jobs/query", json={"operation": operation, "query": text}, timeout=30).json()
    while http.get(f"{base}/jobs/query/{job['id']}", timeout=30).json()["state"] != "JobComplete":
        pass
    chunks: list[Any] = []
    locator = ""
    while locator != "null":
        params: dict[str, Any] = {"maxRecords": max_records, **({"locator": locator} if locator else {})}
        response = http.get(f"{base}/jobs/query/{job['id']}/results", params=params, timeout=60)
        assert response.status_code == 200, response.text
        locator = response.headers["Sforce-Locator"]
        delivered = None if locator == "null" else json.loads(base64.urlsafe_b64decode(locator))[1]
        chunks.append((response.content, response.headers["Sforce-NumberOfRecords"], delivered))
    return chunks


def read_all(sandbox: Sandbox) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for text in QUERIES:
        found[text] = rest_pages(sandbox, text)
    found["queryAll"] = rest_pages(sandbox, QUERIES[0], endpoint="queryAll", batch=500)
    bulk = "SELECT Id, Name, AnnualRevenue, Credit_Limit__c, Days_Since_Review__c, SystemModstamp FROM Account"
    found["bulk"] = bulk_results(sandbox, bulk)
    found["bulkAll"] = bulk_results(sandbox, bulk + " WHERE SystemModstamp > 2019-01-01T02:00:00Z", "queryAll")
    return found


def test_cached_bodies_are_the_uncached_bytes(sandbox: Sandbox, emulator: SalesforceEmulator) -> None:
    emulator.row_cache.enabled = False
    uncached = read_all(sandbox)
    emulator.row_cache.enabled = True
    cold = read_all(sandbox)
    assert emulator.row_cache.used_bytes > 0
    warm = read_all(sandbox)
    for key, pages in uncached.items():
        assert cold[key] == pages, key
        assert warm[key] == pages, key
    assert len(uncached[QUERIES[0]]) > 2  # several pages, so positions carried between pages are exercised


def test_cached_bodies_match_with_touched_deleted_and_inserted_rows(
    sandbox: Sandbox, emulator: SalesforceEmulator
) -> None:
    read_all(sandbox)  # cache filled before the changes
    emulator.touch("Account", 3, Name="Renamed Account")  # stamped now: after every base row
    # Stamped inside the base rows' range, so pages interleave overlay and base rows.
    sandbox.ctx.clock.set(datetime(2019, 1, 1, 2, 0, 30, tzinfo=UTC))
    emulator.touch("Account", 4, Name="Renamed Earlier")
    emulator.touch("Account", 400, Name="Moved Back")
    emulator.delete("Account", 5)
    emulator.touch("Contact", 10, LastName="Changed")
    read_all(sandbox)  # the cursor's overlay names Account as the object last queried... then inserts land there
    emulator.insert_records(4)
    cached = read_all(sandbox)
    emulator.row_cache.enabled = False
    uncached = read_all(sandbox)
    assert cached == uncached


def account_names(sandbox: Sandbox, text: str = "SELECT Id, Name FROM Account") -> dict[str, str]:
    records = [r for page in rest_pages(sandbox, text, batch=2000) for r in json.loads(page)["records"]]
    return {r["Id"]: r["Name"] for r in records}


def test_a_row_touched_after_a_cached_read_shows_on_the_next_read(
    sandbox: Sandbox, emulator: SalesforceEmulator
) -> None:
    before = account_names(sandbox)
    account_names(sandbox)  # warm
    emulator.touch("Account", 7, Name="Touched After Caching")
    after = account_names(sandbox)
    assert after["001000000000007AAA"] == "Touched After Caching"
    assert before["001000000000007AAA"] != "Touched After Caching"
    emulator.delete("Account", 8)
    assert "001000000000008AAA" not in account_names(sandbox)


def test_rows_inserted_after_a_cached_read_show_on_the_next_read(
    sandbox: Sandbox, emulator: SalesforceEmulator
) -> None:
    before = account_names(sandbox)
    emulator.insert_records(3)
    after = account_names(sandbox)
    assert len(after) == len(before) + 3
    assert set(before) < set(after)


def test_sandbox_time_changes_cached_rows(sandbox: Sandbox, emulator: SalesforceEmulator) -> None:
    """AnnualRevenue (update events) and Days_Since_Review__c (a formula on TODAY()) move with the sandbox clock."""
    text = "SELECT Id, AnnualRevenue, Days_Since_Review__c FROM Account"
    first = rest_pages(sandbox, text)
    assert rest_pages(sandbox, text) == first
    sandbox.ctx.clock.advance(timedelta(days=40))
    cached = rest_pages(sandbox, text)
    assert cached != first
    emulator.row_cache.enabled = False
    assert rest_pages(sandbox, text) == cached


def test_company_inserts_change_the_data_version(sandbox: Sandbox) -> None:
    company = sandbox.ctx.company
    version = company.data_version()
    company.insert_employees(1)
    assert company.data_version() != version


def test_system_fields_of_every_base_row_come_first_and_unchanged(emulator: SalesforceEmulator) -> None:
    """The cache decides filters on ``system_record``: the generated part of a row must never override it."""
    for obj in emulator.objects.values():
        for i in (0, 1, obj.count // 2, obj.count - 1):
            record = obj.base_record(i)
            system = obj.system_record(i)
            assert {k: record[k] for k in system} == system
            assert obj.sort_key(i) == (record["SystemModstamp"], record["Id"])
