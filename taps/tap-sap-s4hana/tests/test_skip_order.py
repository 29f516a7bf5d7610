"""``$skip`` windows carry ``$orderby`` on the entity's keys (audit23b finding 7): OData v2 promises no stable order
without one, so windows read several at a time could repeat some rows and miss others. Over real HTTP against the
emulator, which sorts by what it is asked."""

from __future__ import annotations

from urllib.parse import parse_qsl

from xlr8_sandbox.products.s4hana import S4HanaEmulator
from xlr8_tap_sap_s4hana.connector import SapS4HanaConnector

from .conftest import basic_config, run_tap


def windows(emulator: S4HanaEmulator, start: int, entity_set: str) -> list[dict[str, str]]:
    """The query of each ``$top`` window request for ``entity_set`` served since ``start``."""
    return [
        dict(parse_qsl(query, keep_blank_values=True))
        for path, query in list(emulator.queries)[start:]
        if path.endswith(f"/{entity_set}") and "$top=" in query
    ]


def test_every_skip_window_is_ordered_by_the_keys(url: str, emulator: S4HanaEmulator) -> None:
    start = len(emulator.queries)
    config = basic_config(
        url,
        entity_sets=["A_BusinessPartner", "A_PurchaseOrder", "A_PurchaseOrderItem"],
        page_size=10,
        max_concurrent_requests=4,
    )
    output = run_tap(config)
    partners = windows(emulator, start, "A_BusinessPartner")
    assert len(partners) > 2
    assert {q.get("$orderby") for q in partners} == {"BusinessPartner"}
    # the header read of the item set and the items themselves
    assert {q.get("$orderby") for q in windows(emulator, start, "A_PurchaseOrder")} == {"PurchaseOrder"}
    assert {q.get("$orderby") for q in windows(emulator, start, "A_PurchaseOrderItem")} == {
        "PurchaseOrder,PurchaseOrderItem"
    }
    # the emulator honours it: rows land in key order, each once
    ids = [r["BusinessPartner"] for r in output.records("A_BusinessPartner")]
    assert ids == sorted(ids)
    items = [(r["PurchaseOrder"], r["PurchaseOrderItem"]) for r in output.records("A_PurchaseOrderItem")]
    assert items == sorted(set(items))


def test_connector_odata_path_windows_are_ordered_unless_the_caller_orders(url: str, emulator: S4HanaEmulator) -> None:
    start = len(emulator.queries)
    config = basic_config(url, services=["API_BUSINESS_PARTNER"], page_size=4)
    with SapS4HanaConnector(config) as s4:
        rows = list(s4.execute_query("A_Supplier"))
        own = list(s4.execute_query("A_Supplier?$orderby=SupplierName desc"))
    assert len(rows) == len(own) > 4
    served = windows(emulator, start, "A_Supplier")
    assert {q.get("$orderby") for q in served} == {"Supplier", "SupplierName desc"}
    assert [r["SupplierName"] for r in own] == sorted((r["SupplierName"] for r in own), reverse=True)
