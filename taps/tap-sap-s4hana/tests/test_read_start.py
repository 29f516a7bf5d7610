"""A row edited while a read pages (review mendsfsf24 "left", audit24a H3's argument for S/4HANA), over real HTTP.

Pages come ordered by key, not by change stamp, and the bookmark follows the largest stamp seen: a row served on
page 1 and edited afterwards, then another row edited a second later and served on page 2, would carry the
bookmark past the first edit, and no later run would read it. The bookmark is held at the read's start instead.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.s4hana import S4HanaEmulator
from xlr8_tap_sap_s4hana.client import FILTER_VERSION
from xlr8_tap_sap_s4hana.discovery import HEADER_CHANGE_COLUMN

from .conftest import basic_config, run_tap

SERVICE = "API_PURCHASEORDER_PROCESS_SRV"
PATH = f"/sap/opu/odata/sap/{SERVICE}/A_PurchaseOrder"
#: Sorted after every generated order: with page_size 2 the first two are page 1, the third is page 2.
FIRST, MIDDLE, LAST = "PO99999991", "PO99999992", "PO99999993"


def test_a_row_edited_while_the_read_pages_is_read_next_run(
    url: str, sandbox: Sandbox, emulator: S4HanaEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = emulator.ctx.clock
    orders = emulator.service(SERVICE).sets["A_PurchaseOrder"].entity
    old = clock.now() - timedelta(minutes=30)  # after every generated order's stamp (at most 08:00)
    for number in (FIRST, MIDDLE, LAST):
        orders.extra.append({**orders.row(0), "PurchaseOrder": number, "LastChangeDateTime": old,
                             "PurchasingGroup": "001"})  # fmt: skip
    emulator.row_cache.clear()

    def edit_mid_read(_count: int) -> None:
        """Before page 2 is served: FIRST (already served) is edited, then LAST (still to come) a second later."""
        edited = clock.advance(timedelta(minutes=15))
        emulator.edit(SERVICE, "A_PurchaseOrder", (FIRST,), {"PurchasingGroup": "EDT", "LastChangeDateTime": edited})
        later = clock.advance(timedelta(seconds=1))
        emulator.edit(SERVICE, "A_PurchaseOrder", (LAST,), {"PurchasingGroup": "EDT", "LastChangeDateTime": later})

    monkeypatch.setattr(emulator, "insert_records", edit_mid_read)  # the fault hook's action
    sandbox.faults.add("s4hana", PATH, FaultSpec("insert_records", after=1, times=1))
    config = basic_config(url, entity_sets=["A_PurchaseOrder"], page_size=2)
    bookmark = {"replication_key": "LastChangeDateTime", "replication_key_value": "2026-01-05T08:15:00Z"}
    first = run_tap(config, state={"bookmarks": {"A_PurchaseOrder": {**bookmark, "filter_version": FILTER_VERSION}}})
    seen = {o["PurchaseOrder"]: o["PurchasingGroup"] for o in first.records("A_PurchaseOrder")}
    assert seen == {FIRST: "001", MIDDLE: "001", LAST: "EDT"}  # FIRST served before its edit, LAST after

    second = run_tap(config, state=first.state)
    again = {o["PurchaseOrder"]: o["PurchasingGroup"] for o in second.records("A_PurchaseOrder")}
    assert again.get(FIRST) == "EDT"
    assert again.get(LAST) == "EDT"
    state = first.state["bookmarks"]["A_PurchaseOrder"]
    assert state["replication_key_value"] == "2026-01-05T08:59:00Z"  # page 1's Date (09:00 sandbox) less 60 s


def test_items_read_through_a_header_edited_while_the_headers_page_are_read_next_run(
    url: str, sandbox: Sandbox, emulator: S4HanaEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The item set's read starts with the read of its changed headers: the bookmark is held at that read's start,
    not at the first item page's (asked for after the edits, so it would pass an edit made minutes earlier)."""
    clock = emulator.ctx.clock
    service = emulator.service(SERVICE)
    orders, items = service.sets["A_PurchaseOrder"].entity, service.sets["A_PurchaseOrderItem"].entity
    old = clock.now() - timedelta(minutes=30)
    for number in (FIRST, MIDDLE, LAST):
        orders.extra.append({**orders.row(0), "PurchaseOrder": number, "LastChangeDateTime": old})
        items.extra.extend({**items.row(i), "PurchaseOrder": number} for i in range(2))
    emulator.row_cache.clear()
    stamps: dict[str, str] = {}

    def edit_mid_read(_count: int) -> None:
        """Before the headers' page 2: FIRST (already read) edited at 09:05, LAST (still to come) at 09:15."""
        for number, minutes in ((FIRST, 5), (LAST, 10)):
            moment = clock.advance(timedelta(minutes=minutes))
            emulator.edit(SERVICE, "A_PurchaseOrder", (number,), {"LastChangeDateTime": moment})
            stamps[number] = moment.strftime("%Y-%m-%dT%H:%M:%S")

    monkeypatch.setattr(emulator, "insert_records", edit_mid_read)
    sandbox.faults.add("s4hana", PATH, FaultSpec("insert_records", after=1, times=1))
    config = basic_config(url, entity_sets=["A_PurchaseOrderItem"], page_size=2)
    bookmark = {"replication_key": HEADER_CHANGE_COLUMN, "replication_key_value": "2026-01-05T08:15:00Z"}
    state = {"bookmarks": {"A_PurchaseOrderItem": {**bookmark, "filter_version": FILTER_VERSION}}}
    first = run_tap(config, state=state)
    assert {i["PurchaseOrder"] for i in first.records("A_PurchaseOrderItem")} == {FIRST, MIDDLE, LAST}

    second = run_tap(config, state=first.state)
    again = {i["PurchaseOrder"]: str(i[HEADER_CHANGE_COLUMN]) for i in second.records("A_PurchaseOrderItem")}
    assert again.get(FIRST, "").startswith(stamps[FIRST])  # FIRST's items with its edit's stamp
    assert first.state["bookmarks"]["A_PurchaseOrderItem"]["replication_key_value"] == "2026-01-05T08:59:00Z"
