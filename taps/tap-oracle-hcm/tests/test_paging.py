"""``hasMore`` paging at Fusion's 500-row cap, on a company large enough for three pages."""

from __future__ import annotations

from datetime import timedelta

import requests

from xlr8_sandbox.products.oracle_fusion.hcm import PASSWORD, USERNAME, OracleHcmEmulator
from xlr8_sandbox.testing import emulator_fixtures

from .conftest import hcm_config, run_tap

sandbox, emulator, url = emulator_fixtures("oracle_hcm", scale=1100)


def test_offset_pages_of_500_until_has_more_is_false(url: str, emulator: OracleHcmEmulator) -> None:
    """Framework 1 (no ``or`` in q): offset paging."""
    config = hcm_config(url, page_size=500, resources=["workers"], rest_framework_version="1")
    rows = run_tap(config, streams={"workers"}).records("workers")
    assert len(rows) == 1100
    assert len({r["PersonId"] for r in rows}) == 1100
    # The window sends later pages side by side: they may reach the emulator in any order.
    pages = sorted((q for q in emulator.collection_queries if q.get("limit")), key=lambda q: int(q["offset"]))
    assert [(q["offset"], q["limit"]) for q in pages] == [("0", "500"), ("500", "500"), ("1000", "500")]
    assert pages[0]["totalResults"] == "true"


def test_keyset_pages_of_500_continue_after_the_last_row(url: str, emulator: OracleHcmEmulator) -> None:
    rows = run_tap(hcm_config(url, page_size=500, resources=["workers"]), streams={"workers"}).records("workers")
    assert len(rows) == 1100
    assert len({r["PersonId"] for r in rows}) == 1100
    pages = [q for q in emulator.collection_queries if q.get("limit")]
    assert [(q["offset"], q["limit"]) for q in pages] == [("0", "500")] * 3
    assert "q" not in pages[0]
    last = sorted(rows, key=lambda r: (r["LastUpdateDate"], r["PersonId"]))[499]
    moment = f"'{last['LastUpdateDate']}'"
    assert pages[1]["q"] == (
        f"(LastUpdateDate > {moment} or (LastUpdateDate = {moment} and PersonId > {last['PersonId']})"
        " or LastUpdateDate is null)"
    )


def test_rows_updated_while_paging_are_not_lost(url: str, emulator: OracleHcmEmulator) -> None:
    """RELIABILITY E7: people updated between pages move to the end of the LastUpdateDate order; keyset paging
    still reads every person (the updated ones at their new place)."""

    def advance(served: int) -> None:
        if served == 2:
            emulator.ctx.clock.advance(timedelta(days=5))

    emulator.before_collection = advance
    rows = run_tap(hcm_config(url, page_size=500, resources=["workers"]), streams={"workers"}).records("workers")
    read = {r["PersonNumber"] for r in rows}
    assert {e.employee_id for e in emulator.company.employees(0, 1100)} <= read  # everyone there at the start
    moved = [r for r in rows if r["LastUpdateDate"] > "2026-01-05T09:00:00+00:00"]
    assert moved, "some people were updated between pages"


def test_offset_paging_would_lose_rows_in_the_same_scenario(url: str, emulator: OracleHcmEmulator) -> None:
    """The control: framework 1 pages by offset, and the same updates make it skip people (why keyset exists)."""

    def advance(served: int) -> None:
        if served == 2:
            emulator.ctx.clock.advance(timedelta(days=5))

    emulator.before_collection = advance
    config = hcm_config(url, page_size=500, resources=["workers"], rest_framework_version="1")
    read = {r["PersonNumber"] for r in run_tap(config, streams={"workers"}).records("workers")}
    assert not {e.employee_id for e in emulator.company.employees(0, 1100)} <= read


def test_server_lowers_a_limit_above_500_and_has_more_drives_the_next_offset(url: str) -> None:
    response = requests.get(
        f"{url}/hcmRestApi/resources/11.13.18.05/workers",
        params={"limit": "800", "offset": "1000", "onlyData": "true", "totalResults": "true"},
        auth=(USERNAME, PASSWORD),
        timeout=30,
    )
    body = response.json()
    assert (body["limit"], body["count"], body["hasMore"], body["totalResults"]) == (500, 100, False, 1100)
    first = requests.get(
        f"{url}/hcmRestApi/resources/11.13.18.05/workers",
        params={"limit": "800", "onlyData": "true"},
        auth=(USERNAME, PASSWORD),
        timeout=30,
    ).json()
    assert (first["count"], first["hasMore"]) == (500, True)
    assert "links" not in first


def test_emulator_keyset_seek_equals_full_evaluation(url: str) -> None:
    """The emulator serves keyset pages like an index seek; the rows are those plain evaluation selects."""
    first = requests.get(
        f"{url}/hcmRestApi/resources/11.13.18.05/workers",
        params={"limit": "500", "onlyData": "true", "orderBy": "LastUpdateDate:asc,PersonId:asc"},
        headers={"REST-Framework-Version": "4"},
        auth=(USERNAME, PASSWORD),
        timeout=30,
    ).json()["items"]
    last = first[-1]
    moment = f"'{last['LastUpdateDate']}'"
    seek = (
        f"(LastUpdateDate > {moment} or (LastUpdateDate = {moment} and PersonId > {last['PersonId']})"
        " or LastUpdateDate is null)"
    )

    def page(q: str) -> list[int]:
        response = requests.get(
            f"{url}/hcmRestApi/resources/11.13.18.05/workers",
            params={"limit": "500", "onlyData": "true", "orderBy": "LastUpdateDate:asc,PersonId:asc", "q": q},
            headers={"REST-Framework-Version": "4"},
            auth=(USERNAME, PASSWORD),
            timeout=30,
        )
        return [r["PersonId"] for r in response.json()["items"]]

    plain = f"PersonId > 0 and {seek}"  # not the seek shape: evaluated row by row
    assert page(seek) == page(plain)
    assert page(f"(DateOfBirth > '1970-01-01') and ({seek})") == page(f"DateOfBirth > '1970-01-01' and {seek}")
    assert len(page(seek)) == 500
