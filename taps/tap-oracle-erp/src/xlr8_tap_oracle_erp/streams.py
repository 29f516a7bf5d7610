"""What each ERP resource is for the Intelligence Engine. Streams come from each resource's describe
(``xlr8_kit.oracle``); this module only declares: entities, references, children."""

from __future__ import annotations

from xlr8_kit.oracle import ResourceDeclaration

#: Not ``journalLines``: Oracle has journal lines only under ``journalBatches/.../journalHeaders/.../journalLines``,
#: no top-level resource, so a default naming it failed discovery on every pod (audit25a F2).
DEFAULT_RESOURCES: tuple[str, ...] = ("suppliers", "purchaseOrders", "invoices", "ledgerBalances")

DECLARATIONS: dict[str, ResourceDeclaration] = {
    "suppliers": ResourceDeclaration("supplier", children=("sites",), child_entities={"sites": "supplier"}),
    "purchaseOrders": ResourceDeclaration(
        "purchase_order",
        references={"SupplierNumber": "supplier"},
        children=("lines", "lines.schedules"),  # a line's delivery date is on its schedule
        child_entities={"lines": "purchase_order", "lines.schedules": "purchase_order"},
    ),
    "invoices": ResourceDeclaration(
        "invoice",
        references={"SupplierNumber": "supplier"},
        children=("invoiceLines",),
        child_entities={"invoiceLines": "invoice"},
    ),
    "ledgerBalances": ResourceDeclaration("journal_entry"),  # period balances summed from journal entries
}
