"""Ceiling for Oracle ERP: Fusion REST collection pages of 500 (Basic auth, ``onlyData``, the tap's ``orderBy``)
until ``hasMore`` is false. Plain requests; no SDK, no retries, no typing of values."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests

TAP = "tap-oracle-erp"
STREAMS = {"invoices": "invoices", "purchase_orders": "purchaseOrders", "journals": "journalLines"}
API = "/fscmRestApi/resources/11.13.18.05"
_ORDER = {"invoices": "LastUpdateDate:asc,InvoiceId:asc", "purchaseOrders": "LastUpdateDate:asc,POHeaderId:asc",
          "journalLines": "LastUpdateDate:asc,JeHeaderId:asc,JeLineNumber:asc",
          "suppliers": "LastUpdateDate:asc,SupplierId:asc"}  # fmt: skip


def tap_config(url: str, credentials: dict[str, str], stream: str) -> dict[str, Any]:
    return {
        "base_url": url,
        "username": credentials["username"],
        "password": credentials["password"],
        "resources": [stream],
        "page_size": 500,
    }


def read(url: str, credentials: dict[str, str], stream: str) -> Iterator[dict[str, Any]]:
    session = requests.Session()
    session.auth = (credentials["username"], credentials["password"])
    session.headers["REST-Framework-Version"] = "4"
    offset = 0
    while True:
        params = {"onlyData": "true", "limit": 500, "offset": offset, "orderBy": _ORDER[stream]}
        page = session.get(f"{url}{API}/{stream}", params=params, timeout=600).json()
        yield from page["items"]
        if not page["hasMore"]:
            return
        offset += len(page["items"])
