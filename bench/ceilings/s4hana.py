"""Ceiling for S/4HANA: Basic auth, OData v2 JSON pages of ``$top=1000`` (``$skip`` windows ordered by the entity's
keys, the ``$orderby`` the tap sends; ``__next`` followed if the server caps a window), JSON parsed and nothing
else."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests

TAP = "tap-sap-s4hana"
STREAMS = {
    "po_items": "A_PurchaseOrderItem",
    "purchase_order_items": "A_PurchaseOrderItem",
    "journal_items": "A_JournalEntryItemBasic",
    "journal_entry_items": "A_JournalEntryItemBasic",
}
SERVICES = {
    "A_PurchaseOrderItem": "API_PURCHASEORDER_PROCESS_SRV",
    "A_PurchaseOrder": "API_PURCHASEORDER_PROCESS_SRV",
    "A_JournalEntryItemBasic": "API_JOURNALENTRYITEMBASIC_SRV",
    "A_BusinessPartner": "API_BUSINESS_PARTNER",
}
PAGE = 1000
#: The ``$orderby`` the tap puts on every ``$skip`` window (``client.order_keys``: the entity's keys, an analytical
#: set's dimensions): the same work asked of the emulator, whose ordered reads cost otherwise than its natural-order
#: ones.
_ORDER = {
    "A_PurchaseOrderItem": "PurchaseOrder,PurchaseOrderItem",
    "A_PurchaseOrder": "PurchaseOrder",
    # An analytical set: ordered by every dimension (its generated key ID cannot be sorted), read whole-grain.
    "A_JournalEntryItemBasic": "Ledger,LedgerFiscalYear,ControllingArea,CompanyCode,CompanyCodeName,GLAccount,"
    "GLAccountName,CostCenter,ProfitCenter,TransactionCurrency,CompanyCodeCurrency,FiscalPeriod,FiscalYearVariant,"
    "FiscalYearPeriod,ChartOfAccounts",
    "A_BusinessPartner": "BusinessPartner",
}


def tap_config(url: str, credentials: dict[str, str], stream: str) -> dict[str, Any]:
    return {
        "base_url": url,
        "sap_client": credentials["sap_client"],
        "auth_type": "basic",
        "username": credentials["username"],
        "password": credentials["password"],
        "services": [SERVICES[stream]],
        "entity_sets": [stream],
        "page_size": PAGE,
    }


def read(url: str, credentials: dict[str, str], stream: str) -> Iterator[dict[str, Any]]:
    session = requests.Session()
    session.auth = (credentials["username"], credentials["password"])
    collection = f"{url}/sap/opu/odata/sap/{SERVICES[stream]}/{stream}"
    skip = 0
    while True:
        params = {
            "$format": "json",
            "$orderby": _ORDER[stream],
            "$top": str(PAGE),
            "$skip": str(skip),
            "sap-client": credentials["sap_client"],
        }
        page = session.get(collection, params=params, timeout=300).json()["d"]
        in_window = 0
        while True:
            in_window += len(page["results"])
            yield from page["results"]
            if not page.get("__next"):
                break
            page = session.get(page["__next"], timeout=300).json()["d"]
        if in_window < PAGE:
            return
        skip += PAGE
