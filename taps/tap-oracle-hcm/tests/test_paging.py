"""``hasMore`` paging at Fusion's 500-row cap, on a company large enough for three pages."""

from __future__ import annotations

import requests

from xlr8_sandbox.products.oracle_fusion.hcm import PASSWORD, USERNAME, OracleHcmEmulator
from xlr8_sandbox.testing import emulator_fixtures

from .conftest import hcm_config, run_tap

sandbox, emulator, url = emulator_fixtures("oracle_hcm", scale=1100)


def test_pages_of_500_until_has_more_is_false(url: str, emulator: OracleHcmEmulator) -> None:
    out = run_tap(hcm_config(url, page_size=500, resources=["workers"]), streams={"workers"})
    rows = out.records("workers")
    assert len(rows) == 1100
    assert len({r["PersonId"] for r in rows}) == 1100
    pages = [q for q in emulator.collection_queries if q.get("limit")]
    assert [(q["offset"], q["limit"]) for q in pages] == [("0", "500"), ("500", "500"), ("1000", "500")]
    assert pages[0]["totalResults"] == "true"


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
