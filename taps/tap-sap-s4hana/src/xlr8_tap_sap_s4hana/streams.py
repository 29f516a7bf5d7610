"""What each S/4HANA entity set is for the Intelligence Engine, and which sets are read through their header.
Streams themselves come from each service's ``$metadata`` (see ``discovery.py``); this module only declares."""

from __future__ import annotations

from dataclasses import dataclass

from xlr8_kit.declared import StreamDeclaration


@dataclass(frozen=True)
class HeaderLink:
    """An item set without a change timestamp of its own, read through its header set: every item of a header
    that changed since the bookmark is read again (S/4 stamps the header when an item changes)."""

    header_set: str
    #: Item column -> header column joining the two (the header's key).
    join: dict[str, str]
    #: Read every header and all their rows every run (full-table, no bookmark): for sets that postings other than
    #: an order change can change, which nothing shows stamp the header. Still replaced per header (``replace_by``),
    #: so a removed line is marked deleted.
    every_run: bool = False


#: Services read when the ``services`` setting is not given (OData v2 names under /sap/opu/odata/sap/).
DEFAULT_SERVICES: tuple[str, ...] = (
    "API_BUSINESS_PARTNER",
    "API_PURCHASEORDER_PROCESS_SRV",
    "API_COSTCENTER_SRV",
    "API_JOURNALENTRYITEMBASIC_SRV",
    "API_GLACCOUNTINCHARTOFACCOUNTS_SRV",
)

DECLARATIONS: dict[str, StreamDeclaration] = {
    "A_BusinessPartner": StreamDeclaration("business_partner"),
    "A_Supplier": StreamDeclaration("supplier"),
    "A_Customer": StreamDeclaration("customer"),
    "A_PurchaseOrder": StreamDeclaration("purchase_order", references={"Supplier": "supplier"}),
    "A_PurchaseOrderItem": StreamDeclaration("purchase_order"),
    "A_PurchaseOrderScheduleLine": StreamDeclaration("purchase_order"),
    "A_PurOrdAccountAssignment": StreamDeclaration(
        "purchase_order", references={"CostCenter": "cost_center", "GLAccount": "gl_account"}
    ),
    "PurchaseOrder": StreamDeclaration("purchase_order", references={"Supplier": "supplier"}),
    "PurchaseOrderItem": StreamDeclaration("purchase_order"),
    "PurchaseOrderScheduleLine": StreamDeclaration("purchase_order"),
    "PurchaseOrderAccountAssignment": StreamDeclaration(
        "purchase_order", references={"CostCenter": "cost_center", "GLAccount": "gl_account"}
    ),
    "A_CostCenter": StreamDeclaration("cost_center", "configuration"),
    "A_CostCenterText": StreamDeclaration("cost_center", "configuration"),
    "A_GLAccountInChartOfAccounts": StreamDeclaration("gl_account", "configuration"),
    "A_GLAccountText": StreamDeclaration("gl_account", "configuration"),
    "A_JournalEntryItemBasic": StreamDeclaration(
        "journal_entry", references={"CostCenter": "cost_center", "GLAccount": "gl_account"}
    ),
}

_PO = {"PurchaseOrder": "PurchaseOrder"}
#: Purchase order sub-sets of API_PURCHASEORDER_PROCESS_SRV (v2) and the v4 purchaseorder service: a change to any
#: of them stamps the order's ``LastChangeDateTime``.
HEADER_LINKS: dict[str, HeaderLink] = {
    #: S/4 keys schedule lines by PurchasingDocument (and -Item), not PurchaseOrder (API_PURCHASEORDER_PROCESS_SRV).
    "A_PurchaseOrderScheduleLine": HeaderLink("A_PurchaseOrder", {"PurchasingDocument": "PurchaseOrder"}),
    **{
        name: HeaderLink("A_PurchaseOrder", _PO)
        for name in (
            "A_PurchaseOrderItem",
            "A_PurchaseOrderItemNote",
            "A_PurchaseOrderNote",
            "A_POSubcontractingComponent",
        )
    },
    #: The v4 service's sets (CE_PURCHASEORDER_0001 / API_PURCHASEORDER_2), by the names it publishes.
    **{
        name: HeaderLink("PurchaseOrder", _PO)
        for name in (
            "PurchaseOrderItem",
            "PurchaseOrderScheduleLine",
            "PurchaseOrderNote",
            "PurchaseOrderItemNote",
        )
    },
    #: Account assignments and pricing conditions, v2 and v4: invoice postings settle them (v4's
    #: ``IsFinallyInvoiced``), and nothing shows they stamp the order (review28a M4), so every order's rows are read
    #: whole every run, as the invoicing-plan items are, and still replaced per order (a removed line is marked
    #: deleted).
    **{
        name: HeaderLink(header, _PO, every_run=True)
        for header, names in (
            ("A_PurchaseOrder", ("A_PurOrdAccountAssignment", "A_PurOrdPricingElement")),
            ("PurchaseOrder", ("PurchaseOrderAccountAssignment", "PurOrderItemPricingElement")),
        )
        for name in names
    },
}


def declaration_for(entity_set: str) -> StreamDeclaration | None:
    return DECLARATIONS.get(entity_set)
