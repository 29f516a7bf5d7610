"""What each ERP resource is for the Intelligence Engine. Streams come from each resource's describe
(``xlr8_kit.oracle``); this module only declares: entities, references, children."""

from __future__ import annotations

from xlr8_kit.oracle import ResourceDeclaration

DEFAULT_RESOURCES: tuple[str, ...] = ("suppliers", "purchaseOrders", "invoices", "journalLines", "ledgerBalances")

DECLARATIONS: dict[str, ResourceDeclaration] = {
    "suppliers": ResourceDeclaration("supplier", children=("sites",), child_entities={"sites": "supplier"}),
    "purchaseOrders": ResourceDeclaration(
        "purchase_order",
        references={"SupplierNumber": "supplier"},
        children=("lines",),
        child_entities={"lines": "purchase_order"},
    ),
    "invoices": ResourceDeclaration(
        "invoice",
        references={"SupplierNumber": "supplier"},
        children=("invoiceLines",),
        child_entities={"invoiceLines": "invoice"},
    ),
    "journalLines": ResourceDeclaration("journal_entry"),
    "ledgerBalances": ResourceDeclaration("journal_entry"),  # period balances summed from journal entries
}
