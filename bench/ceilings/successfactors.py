"""Ceiling for SuccessFactors: Basic auth, then OData v2 pages of 1,000 rows via ``__next`` with
``paging=snapshot`` (what the tap does for large sets), JSON parsed and nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests

TAP = "tap-sap-successfactors"
STREAMS = {"employees": "User", "jobs": "EmpJob", "job_history": "EmpJob"}


def tap_config(url: str, credentials: dict[str, str], stream: str) -> dict[str, Any]:
    return {
        "api_url": url,
        "company_id": credentials["company_id"],
        "auth": {"type": "basic", "username": credentials["username"], "password": credentials["password"]},
        "entity_sets": [stream],
        "effective_dated_history": True,
        "page_size": 1000,
        "snapshot_paging_threshold": 0,
    }


def read(url: str, credentials: dict[str, str], stream: str) -> Iterator[dict[str, Any]]:
    session = requests.Session()
    session.auth = (f"{credentials['username']}@{credentials['company_id']}", credentials["password"])
    params = {"$format": "json", "customPageSize": "1000", "paging": "snapshot", "fromDate": "1900-01-01"}
    if stream == "User":  # as the tap: without a status term a tenant returns active users only (KBA 2736579)
        params["$filter"] = "status in 't','f','T','F','e','d'"
    page = session.get(f"{url}/odata/v2/{stream}", params=params, timeout=300).json()["d"]
    while True:
        yield from page["results"]
        if not page.get("__next"):
            return
        page = session.get(page["__next"], timeout=300).json()["d"]
