"""Ceiling for Common: one JWT login, then keyset pages of 500 rows (``{"data", "has_more", "next_cursor"}``) with
decimal strings turned into ``Decimal``. Plain requests; no SDK, no retries, no validation."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import requests

TAP = "tap-common"
RESOURCES = {
    "purchase_orders": "/api/v1/purchase-orders",
    "amendments": "/api/v1/amendments",
    "companies": "/api/v1/companies",
    "business_relationships": "/api/v1/business-relationships",
    "erp_sync_pending_updates": "/api/v1/erp-sync/pending-updates",
}
STREAMS = {"pos": "purchase_orders", "orders": "purchase_orders", "updates": "erp_sync_pending_updates"}
DECIMALS = ("quantity", "unit_price", "total_amount", "proposed_quantity", "proposed_unit_price")


def tap_config(url: str, credentials: dict[str, str], stream: str) -> dict[str, Any]:
    del stream
    return {
        "api_base_url": url,
        "email": credentials["email"],
        "password": credentials["password"],
        "page_size": 500,
        "acknowledge_updates": False,
    }


def read(url: str, credentials: dict[str, str], stream: str) -> Iterator[dict[str, Any]]:
    session = requests.Session()
    login = session.post(
        f"{url}/api/v1/auth/login",
        json={"email": credentials["email"], "password": credentials["password"]},
        timeout=60,
    )
    session.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    params: dict[str, Any] = {"limit": 500}
    while True:
        body = session.get(f"{url}{RESOURCES[stream]}", params=params, timeout=600).json()
        for row in body["data"]:
            for name in DECIMALS:
                if isinstance(row.get(name), str):
                    row[name] = Decimal(row[name])
            yield row
        if not body["has_more"]:
            return
        params["cursor"] = body["next_cursor"]
