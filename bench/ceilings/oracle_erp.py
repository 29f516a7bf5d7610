"""Ceiling for Oracle ERP: Fusion REST collection pages of 500 (Basic auth, ``onlyData``, the tap's ``orderBy``)
until ``hasMore`` is false. Plain requests; no SDK, no retries, no typing of values. ``journals`` reads the
emulator's top-level ``journalLines``, which no pod has (audit25a F2): the emulator serves it only with
``XLR8_SANDBOX_FUSION_UNLISTED=1`` in its environment."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ceilings._fusion import pages
from ceilings._fusion import tap_config as tap_config  # the harness reads it from this module

TAP = "tap-oracle-erp"
STREAMS = {"invoices": "invoices", "purchase_orders": "purchaseOrders", "journals": "journalLines"}
API = "/fscmRestApi/resources/11.13.18.05"
_ORDER = {"invoices": "LastUpdateDate:asc,InvoiceId:asc", "purchaseOrders": "LastUpdateDate:asc,POHeaderId:asc",
          "journalLines": "LastUpdateDate:asc,JeHeaderId:asc,JeLineNumber:asc",
          "suppliers": "LastUpdateDate:asc,SupplierId:asc"}  # fmt: skip


def read(url: str, credentials: dict[str, str], stream: str) -> Iterator[dict[str, Any]]:
    for items in pages(f"{url}{API}/{stream}", credentials, {"orderBy": _ORDER[stream]}):
        yield from items
