"""Ceiling for Salesforce: OAuth client credentials, one describe, then either REST query pages via
nextRecordsUrl or a Bulk API 2.0 query job read by Sforce-Locator.

The path follows ``XLR8_BENCH_SALESFORCE_API`` (``rest``, the default, or ``bulk``) for both the tap's config and
this reader, so the two always race on the same path::

    XLR8_BENCH_SALESFORCE_API=bulk uv run python bench/run.py --product salesforce --stream accounts --scale 2000000
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Iterator
from typing import Any

import requests

TAP = "tap-salesforce"
API = "v60.0"
STREAMS = {"accounts": "Account", "contacts": "Contact", "opportunities": "Opportunity", "leads": "Lead"}


def _api_type() -> str:
    value = os.environ.get("XLR8_BENCH_SALESFORCE_API", "rest")
    if value not in ("rest", "bulk"):
        raise SystemExit(f"XLR8_BENCH_SALESFORCE_API must be rest or bulk, not {value!r}")
    return value


def tap_config(url: str, credentials: dict[str, str], stream: str) -> dict[str, Any]:
    return {
        "login_url": url,
        "auth_type": "client_credentials",
        "client_id": credentials["client_id"],
        "client_secret": credentials["client_secret"],
        "objects": [stream],
        "api_type": _api_type(),
        "bulk_poll_interval": 0.2,
    }


def read(url: str, credentials: dict[str, str], stream: str) -> Iterator[dict[str, Any]]:
    session = requests.Session()
    token = session.post(
        f"{url}/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": credentials["client_id"],
            "client_secret": credentials["client_secret"],
        },
        timeout=60,
    ).json()
    session.headers["Authorization"] = f"Bearer {token['access_token']}"
    base = f"{token.get('instance_url', url)}/services/data/{API}"
    describe = session.get(f"{base}/sobjects/{stream}/describe", timeout=60).json()
    fields = [f["name"] for f in describe["fields"] if f.get("type") not in ("address", "location")]
    soql = f"SELECT {','.join(fields)} FROM {stream}"
    if _api_type() == "bulk":
        yield from _read_bulk(session, base, soql)
        return
    page = session.get(f"{base}/queryAll", params={"q": soql}, timeout=300).json()
    while True:
        yield from page["records"]
        if page.get("done", True) or not page.get("nextRecordsUrl"):
            return
        page = session.get(f"{base.split('/services/')[0]}{page['nextRecordsUrl']}", timeout=300).json()


def _read_bulk(session: requests.Session, base: str, soql: str) -> Iterator[dict[str, Any]]:
    job = session.post(f"{base}/jobs/query", json={"operation": "queryAll", "query": soql}, timeout=60).json()
    while session.get(f"{base}/jobs/query/{job['id']}", timeout=60).json()["state"] != "JobComplete":
        time.sleep(0.2)
    locator = ""
    while locator != "null":
        params = {"maxRecords": 50_000, **({"locator": locator} if locator else {})}
        response = session.get(f"{base}/jobs/query/{job['id']}/results", params=params, timeout=300)
        yield from csv.DictReader(io.StringIO(response.text))
        locator = response.headers.get("Sforce-Locator", "null")
