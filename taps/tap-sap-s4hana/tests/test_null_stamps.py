"""Rows whose change stamp is null (initial in SAP, ``null`` in OData), over real HTTP: a header without
``LastChangeDateTime`` (the emulator), a partner never changed since its creation and a supplier changed after the
first run (a stub serving the real ``API_BUSINESS_PARTNER`` EDMX, audit23b findings 2-4)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from xlr8_sandbox.products.s4hana import S4HanaEmulator
from xlr8_tap_sap_s4hana.discovery import HEADER_CHANGE_COLUMN

from .conftest import basic_config, run_tap

ORDER = "PO99999999"


@pytest.fixture
def unstamped_order(emulator: S4HanaEmulator) -> Iterator[int]:
    """A purchase order whose ``LastChangeDateTime`` is initial (as converted ECC orders carry it), with 3 items."""
    service = emulator.service("API_PURCHASEORDER_PROCESS_SRV")
    orders, items = service.sets["A_PurchaseOrder"].entity, service.sets["A_PurchaseOrderItem"].entity
    lines = [{**items.row(i), "PurchaseOrder": ORDER} for i in range(3)]
    assert all(line["PurchaseOrderItem"] for line in lines)
    orders.extra.append({**orders.row(0), "PurchaseOrder": ORDER, "LastChangeDateTime": None})
    items.extra.extend(lines)
    emulator.row_cache.clear()
    try:
        yield len(lines)
    finally:
        emulator.reset()


def test_items_of_a_header_without_change_stamp_land(url: str, unstamped_order: int) -> None:
    """Before the mend a null header stamp read as "header not read": its items were dropped, silently."""
    output = run_tap(basic_config(url, entity_sets=["A_PurchaseOrder", "A_PurchaseOrderItem"], page_size=5000))
    assert [o["LastChangeDateTime"] for o in output.records("A_PurchaseOrder") if o["PurchaseOrder"] == ORDER] == [None]
    landed = [i for i in output.records("A_PurchaseOrderItem") if i["PurchaseOrder"] == ORDER]
    assert len(landed) == unstamped_order
    assert {i[HEADER_CHANGE_COLUMN] for i in landed} == {None}
    # the null stamp moves no bookmark; the stamped orders' items still set it
    assert output.state["bookmarks"]["A_PurchaseOrderItem"]["replication_key_value"]
