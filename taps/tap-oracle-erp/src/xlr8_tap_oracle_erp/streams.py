"""What each ERP resource is for the Intelligence Engine. Streams come from each resource's describe
(``xlr8_kit.oracle``); this module only declares: entities, references, children."""

from __future__ import annotations

from xlr8_kit.oracle import ResourceDeclaration

DEFAULT_RESOURCES: tuple[str, ...] = ("suppliers", "purchaseOrders", "invoices", "journalLines")

DECLARATIONS: dict[str, ResourceDeclaration] = {
    "suppliers": ResourceDeclaration("supplier", children=("sites",)),
    "purchaseOrders": ResourceDeclaration(
        "purchase_order", references={"SupplierNumber": "supplier", "BuyerId": "employee"}, children=("lines",)
    ),
    "invoices": ResourceDeclaration("invoice", references={"SupplierNumber": "supplier"}, children=("invoiceLines",)),
    "journalLines": ResourceDeclaration("journal_entry"),
}
