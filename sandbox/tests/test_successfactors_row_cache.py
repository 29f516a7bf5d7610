"""The SuccessFactors emulator's row cache changes nothing it serves: OData pages (snapshot and offset paging,
filters, $select, $expand, $inlinecount, $count, errors) are the same bytes with the cache off, cold and warm (only
the random snapshot id inside $skiptoken differs), and rows inserted or changed by sandbox time after a cached read
show on the next read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests

from xlr8_sandbox.platform.server import Sandbox, run_sandbox
from xlr8_sandbox.products.successfactors import SuccessFactorsEmulator
from xlr8_sandbox.products.successfactors_odata import decode_skiptoken

SKIPTOKEN = re.compile(r"\$skiptoken=([A-Za-z0-9_-]+)")

REQUESTS: list[tuple[str, dict[str, str]]] = [
    ("User", {"customPageSize": "100", "paging": "snapshot", "fromDate": "1900-01-01"}),
    ("User", {"customPageSize": "70"}),
    ("User", {"customPageSize": "100"}),  # 400 users: the last page is full, and no link may follow it
    ("User", {"customPageSize": "50", "$top": "180", "$skip": "20", "$inlinecount": "allpages"}),
    (
        "User",
        {"$select": "userId,lastName,hireDate", "$filter": "lastModifiedDateTime ge datetime'2020-01-01T00:00:00'"},
    ),
    ("User", {"$filter": "status eq 'active' and department eq 'D002'", "customPageSize": "40"}),
    ("User", {"customPageSize": "60", "$orderby": "lastName"}),
    ("EmpJob", {"customPageSize": "90", "paging": "snapshot", "fromDate": "1900-01-01", "$inlinecount": "allpages"}),
    ("EmpJob", {"customPageSize": "90", "asOfDate": "2024-06-30"}),
    ("EmpEmployment", {"customPageSize": "80", "$expand": "jobInfoNav,userNav", "fromDate": "1900-01-01"}),
    ("PerPersonal", {"customPageSize": "100"}),
    ("PerPerson", {"customPageSize": "150", "paging": "snapshot", "fromDate": "1900-01-01"}),
    ("cust_EquipmentAssignment", {"customPageSize": "120"}),
    ("FODepartment", {}),
    ("User/$count", {"$filter": "status eq 'inactive'"}),
    ("User", {"$filter": "nosuchfield eq 'x'"}),
    ("User", {"$filter": "nosuchfield eq 'x'"}),
]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with run_sandbox(["successfactors"], seed=11, scale=400) as running:
        yield running


@pytest.fixture
def emulator(sandbox: Sandbox) -> Iterator[SuccessFactorsEmulator]:
    emulator = sandbox.emulator("successfactors")
    assert isinstance(emulator, SuccessFactorsEmulator)
    sandbox.reset()
    yield emulator
    emulator.row_cache.enabled = True
    sandbox.reset()


def blank_snapshot(text: str) -> str:
    def offset_only(match: re.Match[str]) -> str:
        offset, snapshot = decode_skiptoken(match.group(1))
        return f"$skiptoken=OFFSET-{offset}-{'snapshot' if snapshot else 'none'}"

    return SKIPTOKEN.sub(offset_only, text)


def read(sandbox: Sandbox, path: str, params: dict[str, str]) -> list[tuple[int, str]]:
    emulator = sandbox.emulator("successfactors")
    creds = emulator.test_credentials()
    http = requests.Session()
    http.auth = (f"{creds['username']}@{creds['company_id']}", creds["password"])
    response = http.get(f"{sandbox.url('successfactors')}/odata/v2/{path}", params=params, timeout=60)
    pages = [(response.status_code, blank_snapshot(response.text))]
    while response.status_code == 200 and path.isalnum():
        link = response.json()["d"].get("__next")
        if not link:
            break
        response = http.get(link, timeout=60)
        pages.append((response.status_code, blank_snapshot(response.text)))
    return pages


def read_all(sandbox: Sandbox) -> list[list[tuple[int, str]]]:
    return [read(sandbox, path, params) for path, params in REQUESTS]


def test_cached_pages_are_the_uncached_bytes(sandbox: Sandbox, emulator: SuccessFactorsEmulator) -> None:
    emulator.row_cache.enabled = False
    uncached = read_all(sandbox)
    emulator.row_cache.enabled = True
    cold = read_all(sandbox)
    assert emulator.row_cache.used_bytes > 0
    warm = read_all(sandbox)
    for request, pages, cold_pages, warm_pages in zip(REQUESTS, uncached, cold, warm, strict=True):
        assert cold_pages == pages, request
        assert warm_pages == pages, request
    assert len(uncached[0]) >= 4  # several snapshot pages
    assert uncached[-1][0][0] == 400  # the bad filter is refused both times, also once a scan was cached


def test_rows_inserted_after_a_cached_read_show_on_the_next_read(
    sandbox: Sandbox, emulator: SuccessFactorsEmulator
) -> None:
    before = read_all(sandbox)
    emulator.insert_records(2)
    cached = read_all(sandbox)
    assert cached != before
    assert "A000002" in "".join(text for _, text in cached[0])
    emulator.row_cache.enabled = False
    assert read_all(sandbox) == cached


def test_sandbox_time_changes_cached_rows(sandbox: Sandbox, emulator: SuccessFactorsEmulator) -> None:
    first = read_all(sandbox)
    sandbox.ctx.clock.advance(timedelta(days=45))
    cached = read_all(sandbox)
    assert cached != first
    emulator.row_cache.enabled = False
    assert read_all(sandbox) == cached


def test_an_unfiltered_scan_builds_each_row_once(sandbox: Sandbox, emulator: SuccessFactorsEmulator) -> None:
    """A snapshot read of a ``total`` set with no filter finds its rows without building them (the pages build
    each once; the scan used to build every row too, and at scale the employee memo no longer held them)."""
    entity = emulator.entities["User"]
    built: list[int] = []
    row = entity.row

    def counted(i: int) -> dict[str, object] | None:
        built.append(i)
        return row(i)

    entity.row = counted
    try:
        every_status = "status in 't','f','T','F','e','d'"  # what the tap sends: every user (KBA 2736579)
        pages = read(
            sandbox,
            "User",
            {"customPageSize": "100", "paging": "snapshot", "fromDate": "1900-01-01", "$filter": every_status},
        )
    finally:
        entity.row = row
    assert [status for status, _ in pages] == [200] * 4
    assert sorted(built) == list(range(400))


def test_total_sets_have_a_row_at_every_index(sandbox: Sandbox, emulator: SuccessFactorsEmulator) -> None:
    """What ``EntityDef.total`` promises (the unfiltered scan counts on it), now and later in sandbox time."""
    total = [entity for entity in emulator.entities.values() if entity.total]
    assert {entity.name for entity in total} >= {"User", "PerPerson", "PerEmail", "EmpEmployment"}
    for _ in range(2):
        for entity in total:
            assert not entity.effective_dated, entity.name
            assert all(entity.row(i) is not None for i in range(entity.count())), entity.name
        sandbox.ctx.clock.advance(timedelta(days=400))
