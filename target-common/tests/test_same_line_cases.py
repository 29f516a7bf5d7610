"""The "same line" guard past pending (review29k H1, M2): an approved amendment does not switch it off, and a PO
cancelled on both sides is left alone. Through the
real mapper-common and target-common CLIs against the Common emulator."""

from __future__ import annotations

from pathlib import Path

from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.common import CommonEmulator

from .conftest import pipeline, singer, target_config
from .test_target import MAPPER, _letters, _order_pos, _s4_item, _ship, s4_orders

SPLIT = {**MAPPER, "multi_line": "split", "po_number_prefix": "S4-"}


def test_an_approved_amendment_does_not_let_another_line_s_cancellation_through(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """review29k H1: ``amendment_status`` "approved" tells only the PO's last decision (here a supplier's later date);
    it let a cancellation through on the product alone, so item 10 deleted and item 20 (same material, another
    quantity) added in front of nothing cancelled the shipped PO that stands for item 10's goods... and re-created
    them. Now the cancellation must carry Common's quantity, price and date: it is lettered, the PO stays shipped."""
    steps = [("mapper-common", SPLIT), ("target-common", target_config(url, tmp_path))]
    [order] = s4_orders(emulator, 1)
    order["PurchaseOrder"] = "4700000052"
    order["to_PurchaseOrderItem"]["results"][0].update(PurchaseOrderItem="00010", OrderQuantity="5")
    assert pipeline(steps, singer("A_PurchaseOrder", [order], ["PurchaseOrder"]), tmp_path).returncode == 0
    shipped = _ship(emulator, "S4-4700000052")
    po = emulator.data.find_po(shipped["id"])
    po.update(amendment_status="approved", amendment_count=1, delivery_date="2031-01-31")
    emulator.data.save_po(po, created=False, update_type="amendment_approved", changes={})
    before = emulator.data.find_po(shipped["id"])
    items = order["to_PurchaseOrderItem"]["results"]
    items[0].update(PurchasingDocumentDeletionCode="L", OrderQuantity="7")
    items.append(_s4_item(order, "00020", PurchasingDocumentDeletionCode="", OrderQuantity="7"))
    run = pipeline(steps, singer("A_PurchaseOrder", [order], ["PurchaseOrder"]), tmp_path)
    assert run.returncode == 0, run.stderr  # dead letters are counted (the run fails above the ceiling)
    pos = {n: (p["status"], p["quantity"]) for n, p in _order_pos(emulator, "S4-4700000052").items()}
    assert pos == {"S4-4700000052": ("in_transit", before["quantity"])}, pos
    letters = {x["po_number"]: x for x in _letters(tmp_path)}
    assert set(letters) == {"S4-4700000052", "S4-4700000052-00020"}, letters
    refused = letters["S4-4700000052"]
    assert refused["error_code"] == "UNWRITABLE", refused
    assert "quantity" in refused["detail"], refused["detail"]
    assert "delivery_date" in refused["detail"], refused["detail"]
    assert "Settle S4-4700000052 in Common first" in letters["S4-4700000052-00020"]["detail"]


def test_a_po_cancelled_on_both_sides_is_left_alone_when_its_unit_is_re_spelled(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """review29k M2: a PO cancelled in the ERP and in Common was lettered "cancel it in Common" on every read once
    its unit was spelled otherwise (tap-sap-s4hana's ``language``): a full re-read then failed at the letter
    ceiling. Nothing is promised on it: no letter, nothing written."""
    steps = [("mapper-common", {**MAPPER, "po_number_prefix": "S4-"}), ("target-common", target_config(url, tmp_path))]
    [order] = s4_orders(emulator, 1)
    order["PurchaseOrder"] = "4700000053"
    order["to_PurchaseOrderItem"]["results"][0]["PurchaseOrderItem"] = "00010"
    order["PurchasingDocumentDeletionCode"] = "L"
    assert pipeline(steps, singer("A_PurchaseOrder", [order], ["PurchaseOrder"]), tmp_path).returncode == 0
    [cancelled] = _order_pos(emulator, "S4-4700000053").values()
    assert cancelled["status"] == "cancelled"
    order["to_PurchaseOrderItem"]["results"][0].update(PurchaseOrderQuantityUnit="KGM", OrderPriceUnit="KGM")
    run = pipeline(steps, singer("A_PurchaseOrder", [order], ["PurchaseOrder"]), tmp_path)
    assert run.returncode == 0, run.stderr
    assert _letters(tmp_path) == []
    [after] = _order_pos(emulator, "S4-4700000053").values()
    assert after == cancelled
