"""The fictional company's procurement and finance data as S/4HANA entity sets: business partners (suppliers and
customers), purchase orders and their items, cost centers, G/L accounts, and the journals' posted lines that the
analytical A_JournalEntryItemBasic serves grouped.

Suppliers and purchase orders are the company's own (``S0000001``, ``PO00000001``), the same the Oracle ERP and
Common platform emulators render; customers are the CRM accounts (``C000000001``). Purchase orders change with
sandbox time (``Company.purchase_order_changed``), so incremental reads see them move; their items carry no change
timestamp of their own, as in S/4.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from xlr8_sandbox.company import Company
from xlr8_sandbox.products.s4hana.odata import S4Nav, S4Prop, S4Set, Service
from xlr8_sandbox.products.successfactors_odata import EntityDef, Prop

V2_ROOT = "/sap/opu/odata/sap"
V4_PURCHASEORDER = "/sap/opu/odata4/sap/api_purchaseorder_2/srvd_a2x/sap/purchaseorder/0001"
CHART_OF_ACCOUNTS = "YCOA"
CONTROLLING_AREA = "A000"
PROFIT_CENTER = "YB101"
FISCAL_YEAR_VARIANT = "K4"
_MILLI = Decimal("0.001")
END_OF_VALIDITY = datetime(9999, 12, 31, tzinfo=UTC)


def P(name: str, edm: str = "Edm.String", label: str = "", **kw: Any) -> S4Prop:
    return S4Prop(name, edm, label or name, **kw)


def day(value: date | datetime) -> datetime:
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def amount(label: str, precision: int = 16, scale: int = 3) -> dict[str, Any]:
    return {"label": label, "precision": precision, "scale": scale}


class Offsets:
    """Row ``k`` of a flattened header/line set: which header and which of its lines (prefix sums, built once)."""

    def __init__(self, sizes: list[int]) -> None:
        self.starts: list[int] = []
        total = 0
        for size in sizes:
            self.starts.append(total)
            total += size
        self.total = total

    def locate(self, k: int) -> tuple[int, int]:
        header = bisect.bisect_right(self.starts, k) - 1
        return header, k - self.starts[header]


class S4Data:
    """Rows of every entity set, by index, as of the sandbox clock."""

    def __init__(self, company: Company) -> None:
        self.company = company
        self._po_items = functools.lru_cache(maxsize=4096)(company.purchase_order_items)
        self._journal = functools.lru_cache(maxsize=4096)(company.journal)
        self._po = functools.lru_cache(maxsize=4096)(company.purchase_order)
        #: (PurchaseOrder, PurchaseOrderItem or None for the header[, AccountAssignmentNumber]) -> values others
        #: changed in S/4.
        self.order_changes: dict[tuple[str | None, ...], dict[str, Any]] = {}

    @functools.cached_property
    def item_offsets(self) -> Offsets:
        return Offsets([self._po(i).line_count for i in range(self.company.purchase_order_count)])

    @functools.cached_property
    def journal_offsets(self) -> Offsets:
        """Each journal's line count from its outline: over more journals than the company's memo holds, its first
        draws alone (the journals a pass built would be evicted before a page read them)."""
        outline = self.company.journal_outline
        return Offsets([outline(i)[0] for i in range(self.company.journal_count)])

    # --- business partners ----------------------------------------------------------------------------------
    def customer_id(self, i: int) -> str:
        return f"C{i + 1:09d}"

    def business_partner(self, i: int) -> dict[str, Any]:
        company = self.company
        if i < company.supplier_count:
            s = company.supplier(i)
            return {
                "BusinessPartner": s.supplier_id, "Customer": "", "Supplier": s.supplier_id,
                "BusinessPartnerCategory": "2", "BusinessPartnerFullName": s.name, "BusinessPartnerName": s.name,
                "BusinessPartnerGrouping": "BPSU", "OrganizationBPName1": s.name, "Language": "EN",
                "CreationDate": day(s.created), "CreationTime": s.created.time(),
                "LastChangeDate": day(s.created), "LastChangeTime": s.created.time(),
                "IsMarkedForArchiving": not s.active, "BusinessPartnerIsBlocked": not s.active,
            }  # fmt: skip
        a = company.crm_account(i - company.supplier_count)
        return {
            "BusinessPartner": self.customer_id(a.index), "Customer": self.customer_id(a.index), "Supplier": "",
            "BusinessPartnerCategory": "2", "BusinessPartnerFullName": a.name, "BusinessPartnerName": a.name,
            "BusinessPartnerGrouping": "BPCU", "OrganizationBPName1": a.name, "Language": "EN",
            "CreationDate": day(a.created), "CreationTime": a.created.time(),
            "LastChangeDate": day(a.last_modified), "LastChangeTime": a.last_modified.time(),
            "IsMarkedForArchiving": a.is_deleted, "BusinessPartnerIsBlocked": False,
        }  # fmt: skip

    def supplier(self, i: int) -> dict[str, Any]:
        s = self.company.supplier(i)
        return {
            "Supplier": s.supplier_id, "SupplierName": s.name, "SupplierFullName": s.name,
            "BPAddressCountry": s.country,
            "SupplierAccountGroup": "SUPL", "CreationDate": day(s.created), "PaymentTerms": s.payment_terms,
            "PostingIsBlocked": not s.active, "PurchasingIsBlocked": not s.active, "Customer": "",
        }  # fmt: skip

    def customer(self, i: int) -> dict[str, Any]:
        a = self.company.crm_account(i)
        return {
            "Customer": self.customer_id(i), "CustomerName": a.name, "CustomerFullName": a.name,
            "CustomerAccountGroup": "CUST", "CityName": a.billing_city, "Country": a.billing_country,
            "Industry": a.industry[:4].upper(), "CreationDate": day(a.created), "DeletionIndicator": a.is_deleted,
            "Supplier": "",
        }  # fmt: skip

    # --- purchasing -----------------------------------------------------------------------------------------
    def purchase_order(self, i: int) -> dict[str, Any]:
        po = self._po(i)
        changed = self.company.purchase_order_changed(i)
        return self._changed((po.po_id, None), {
            "PurchaseOrder": po.po_id, "CompanyCode": "C200" if po.currency == "CAD" else "C100",
            "PurchaseOrderType": "NB", "PurchasingProcessingStatus": _STATUS.get(po.status, "02"),
            "PurchaseOrderDate": day(po.order_date), "CreationDate": day(po.order_date),
            "CreatedByUser": f"BUYER{po.buyer_employee_id[1:]}",
            "LastChangeDateTime": changed, "Supplier": po.supplier_id, "DocumentCurrency": po.currency,
            "PurchasingOrganization": "1010", "PurchasingGroup": "001", "PurchaseOrderNetAmount": po.amount,
            "ReleaseIsNotCompleted": po.status == "Open", "PurchasingDocumentDeletionCode": "L"
            if po.status == "Cancelled" else "",
        })  # fmt: skip

    def _changed(self, key: tuple[str | None, ...], row: dict[str, Any]) -> dict[str, Any]:
        """``row`` with the changes another user made to it (``S4HanaEmulator.change_order``)."""
        changes = self.order_changes.get(key)
        return {**row, **changes} if changes else row

    def purchase_order_item(self, k: int) -> dict[str, Any]:
        header, line = self.item_offsets.locate(k)
        item = self._po_items(header)[line]
        number = f"{item.item_number:05d}"
        return self._changed((item.po_id, number), {
            "PurchaseOrder": item.po_id, "PurchaseOrderItem": number,
            "PurchaseOrderItemText": item.description, "Plant": "1010", "MaterialGroup": "L001",
            "Material": f"MAT-{item.gl_account}", "NetPriceQuantity": Decimal(1),
            "OrderQuantity": item.quantity, "PurchaseOrderQuantityUnit": item.unit, "NetPriceAmount": item.net_price,
            "NetAmount": item.net_amount, "DocumentCurrency": item.currency, "AccountAssignmentCategory": "K",
            "OrderPriceUnit": item.unit, "OrderPriceUnitToOrderUnitNmrtr": Decimal(1),
            "OrdPriceUnitToOrderUnitDnmntr": Decimal(1), "PurchasingDocumentDeletionCode": "",
        })  # fmt: skip

    def schedule_line(self, k: int) -> dict[str, Any]:
        """Item ``k``'s schedule line (one per item): its delivery date, some weeks after the order date."""
        header, line = self.item_offsets.locate(k)
        item = self._po_items(header)[line]
        delivery = self._po(header).order_date + timedelta(days=14 + 7 * line)
        return {
            "PurchasingDocument": item.po_id, "PurchasingDocumentItem": f"{item.item_number:05d}",
            "ScheduleLine": "0001", "ScheduleLineDeliveryDate": day(delivery),
            "PurchaseOrderQuantityUnit": item.unit, "ScheduleLineOrderQuantity": item.quantity,
        }  # fmt: skip

    def items_of_order(self, order: dict[str, Any]) -> list[dict[str, Any]]:
        """``to_PurchaseOrderItem`` of one order row: its items, in item order."""
        return [self.purchase_order_item(k) for k in self.po_items_of(str(order.get("PurchaseOrder")))]

    def schedule_lines_of_item(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        """``to_ScheduleLine`` of one item row."""
        indexes = self.po_items_of(str(item.get("PurchaseOrder")))
        number = str(item.get("PurchaseOrderItem") or "")
        position = int(number) // 10 - 1 if number.isdigit() else -1
        return [self.schedule_line(indexes[position])] if 0 <= position < len(indexes) else []

    def account_assignment(self, k: int) -> dict[str, Any]:
        """Item ``k``'s account assignment (category K: one cost center and G/L account per item)."""
        header, line = self.item_offsets.locate(k)
        item = self._po_items(header)[line]
        number = f"{item.item_number:05d}"
        return self._changed((item.po_id, number, "01"), {
            "PurchaseOrder": item.po_id, "PurchaseOrderItem": number,
            "AccountAssignmentNumber": "01", "CostCenter": item.cost_center, "GLAccount": item.gl_account.zfill(8),
            "ControllingArea": CONTROLLING_AREA, "Quantity": item.quantity, "OrderQuantityUnit": item.unit,
            "MultipleAcctAssgmtDistrPercent": Decimal("100.0"), "IsDeleted": False,
        })  # fmt: skip

    def po_items_of(self, po_id: str) -> list[int]:
        """Row indexes of one order's items (for key reads and direct lookups)."""
        if not po_id.startswith("PO") or not po_id[2:].isdigit():
            return []
        i = int(po_id[2:]) - 1
        if not 0 <= i < self.company.purchase_order_count:
            return []
        start = self.item_offsets.starts[i]
        return list(range(start, start + self._po(i).line_count))

    # --- controlling and finance ----------------------------------------------------------------------------
    def cost_center(self, i: int) -> dict[str, Any]:
        cc = self.company.cost_centers[i]
        return {
            "ControllingArea": CONTROLLING_AREA, "CostCenter": cc.code, "ValidityEndDate": END_OF_VALIDITY,
            "ValidityStartDate": datetime(2015, 1, 1, tzinfo=UTC), "CompanyCode": "C100",
            "CostCenterCategory": "E", "CostCtrResponsiblePersonName": f"{cc.name.split()[0]} lead",
            "CostCenterStandardHierarchy": "A000_STD", "Department": cc.parent or "", "ProfitCenter": PROFIT_CENTER,
        }  # fmt: skip

    def cost_center_text(self, i: int) -> dict[str, Any]:
        cc = self.company.cost_centers[i]
        return {
            "ControllingArea": CONTROLLING_AREA, "CostCenter": cc.code, "ValidityEndDate": END_OF_VALIDITY,
            "Language": "EN", "CostCenterName": cc.name[:20], "CostCenterDescription": cc.name,
        }  # fmt: skip

    def gl_account(self, i: int) -> dict[str, Any]:
        a = self.company.gl_accounts[i]
        return {
            "ChartOfAccounts": CHART_OF_ACCOUNTS, "GLAccount": a.number.zfill(8),
            "IsBalanceSheetAccount": a.account_type in ("Asset", "Liability", "Equity"),
            "GLAccountGroup": a.account_type[:4].upper(), "GLAccountType": "P" if a.account_type == "Expense" else "X",
            "AccountIsBlockedForPosting": False, "AccountIsMarkedForDeletion": False,
        }  # fmt: skip

    def gl_account_text(self, i: int) -> dict[str, Any]:
        a = self.company.gl_accounts[i]
        return {
            "ChartOfAccounts": CHART_OF_ACCOUNTS, "GLAccount": a.number.zfill(8), "Language": "EN",
            "GLAccountName": a.name[:20], "GLAccountLongName": a.name,
        }  # fmt: skip

    @functools.cached_property
    def _gl_names(self) -> dict[str, str]:
        return {a.number: a.name for a in self.company.gl_accounts}

    def journal_entry_item(self, k: int) -> dict[str, Any]:
        """Posted line ``k`` of the company's journals (ACDOCA's grain): never served as such, the analytical set
        groups these by the dimensions a request selects. Amounts are signed (credit negative), scale 3 as the
        service's Edm.Decimal(24,3); a cost center's profit center is the one ``A_CostCenter`` serves."""
        header, line_index = self.journal_offsets.locate(k)
        entry = self._journal(header)
        line = entry.lines[line_index]
        value = (line.debit if line.debit > 0 else -line.credit).quantize(_MILLI)
        year, month = str(entry.posted_date.year), entry.posted_date.month
        return {
            "Ledger": "0L", "LedgerFiscalYear": year, "ControllingArea": CONTROLLING_AREA,
            "CompanyCode": entry.legal_entity,
            "CompanyCodeName": self.company.legal_entity_by_code[entry.legal_entity].name[:25],
            "GLAccount": line.account_number.zfill(8),
            "GLAccountName": self._gl_names.get(line.account_number, "")[:20],  # SKAT-TXT20, as A_GLAccountText
            "CostCenter": line.cost_center, "ProfitCenter": PROFIT_CENTER,
            "TransactionCurrency": entry.currency, "AmountInTransactionCurrency": value,
            "CompanyCodeCurrency": entry.currency, "AmountInCompanyCodeCurrency": value,
            "FiscalPeriod": f"{month:03d}", "FiscalYearVariant": FISCAL_YEAR_VARIANT,
            "FiscalYearPeriod": f"{year}{month:03d}", "ChartOfAccounts": CHART_OF_ACCOUNTS,
        }  # fmt: skip

    # --- services -------------------------------------------------------------------------------------------
    def services(self) -> list[Service]:
        company = self.company
        c = self.company
        count: Callable[[int], Callable[[], int]] = lambda n: lambda: n  # noqa: E731
        bp = S4Set(EntityDef(
            "A_BusinessPartner", "Business Partner", ("BusinessPartner",),
            [P("BusinessPartner", max_length=10, label="Business Partner"),
             P("Customer", max_length=10, label="Customer"), P("Supplier", max_length=10, label="Supplier"),
             P("BusinessPartnerCategory", max_length=1, label="BP Category"),
             P("BusinessPartnerFullName", max_length=81, label="Name of Business Partner"),
             P("BusinessPartnerName", max_length=81, label="Name"),
             P("BusinessPartnerGrouping", max_length=4, label="Grouping"),
             P("OrganizationBPName1", max_length=40, label="Name 1"), P("Language", max_length=2, label="Language"),
             P("CreationDate", "Edm.DateTime", "Created on", day=True), P("CreationTime", "Edm.Time", "Created at"),
             P("LastChangeDate", "Edm.DateTime", "Changed on", day=True),
             P("LastChangeTime", "Edm.Time", "Changed at"),
             P("IsMarkedForArchiving", "Edm.Boolean", "Archiving Flag"),
             P("BusinessPartnerIsBlocked", "Edm.Boolean", "Central Block")],
            lambda: c.supplier_count + c.crm_account_count, self.business_partner,
        ), "A_BusinessPartnerType", [S4Nav("to_Supplier", "A_Supplier", False),
                                     S4Nav("to_Customer", "A_Customer", False)])  # fmt: skip
        supplier = S4Set(EntityDef(
            "A_Supplier", "Supplier", ("Supplier",),
            [P("Supplier", max_length=10, label="Supplier"), P("SupplierName", max_length=80, label="Name of Supplier"),
             P("SupplierFullName", max_length=220, label="Supplier Full Name"),
             P("BPAddressCountry", max_length=3, label="Country"),
             P("SupplierAccountGroup", max_length=4, label="Account Group"),
             P("CreationDate", "Edm.DateTime", "Created On", day=True),
             P("PaymentTerms", max_length=10, label="Payment Terms"),
             P("PostingIsBlocked", "Edm.Boolean", "Central Posting Block"),
             P("PurchasingIsBlocked", "Edm.Boolean", "Purchasing Block"), P("Customer", max_length=10)],
            lambda: c.supplier_count, self.supplier,
        ), "A_SupplierType")  # fmt: skip
        customer = S4Set(EntityDef(
            "A_Customer", "Customer", ("Customer",),
            [P("Customer", max_length=10, label="Customer"), P("CustomerName", max_length=80, label="Name of Customer"),
             P("CustomerFullName", max_length=220, label="Customer Full Name"),
             P("CustomerAccountGroup", max_length=4, label="Account Group"), P("CityName", max_length=35),
             P("Country", max_length=3), P("Industry", max_length=4, label="Industry"),
             P("CreationDate", "Edm.DateTime", "Created On", day=True),
             P("DeletionIndicator", "Edm.Boolean", "Central Deletion Flag"), P("Supplier", max_length=10)],
            lambda: c.crm_account_count, self.customer,
        ), "A_CustomerType")  # fmt: skip
        po_props: list[Prop] = [
            P("PurchaseOrder", max_length=10, label="Purchasing Document"),
            P("CompanyCode", max_length=4, label="Company Code"),
            P("PurchaseOrderType", max_length=4, label="Purchasing Doc. Type"),
            P("PurchasingProcessingStatus", max_length=2, label="Processing status"),
            P("CreationDate", "Edm.DateTime", "Created On", day=True),
            P("CreatedByUser", max_length=12, label="Created By"),
            P("LastChangeDateTime", "Edm.DateTimeOffset", "Change Time Stamp", precision=7),
            P("Supplier", max_length=10, label="Supplier"),
            P("DocumentCurrency", max_length=5, label="Currency"),
            P("PurchasingOrganization", max_length=4, label="Purch. organization"),
            P("PurchasingGroup", max_length=3, label="Purchasing Group"),
            P("PurchaseOrderDate", "Edm.DateTime", "Document Date", day=True),
            P("ReleaseIsNotCompleted", "Edm.Boolean", "Release Not Compl."),
            P("PurchasingDocumentDeletionCode", max_length=1, label="Deletion indicator"),
        ]
        item_props: list[Prop] = [
            P("PurchaseOrder", max_length=10, label="Purchasing Document"),
            P("PurchaseOrderItem", max_length=5, label="Item"),
            P("PurchaseOrderItemText", max_length=40, label="Short Text"),
            P("Plant", max_length=4, label="Plant"),
            P("MaterialGroup", max_length=9, label="Material Group"),
            P("OrderQuantity", "Edm.Decimal", **amount("Order Quantity", 13, 3)),
            P("PurchaseOrderQuantityUnit", max_length=3, label="Order Unit"),
            P("NetPriceAmount", "Edm.Decimal", **amount("Net Order Price", 16, 3)),
            P("DocumentCurrency", max_length=5, label="Currency"),
            P("AccountAssignmentCategory", max_length=1, label="Acct Assignment Cat."),
            P("Material", max_length=40, label="Material"),
            P("NetPriceQuantity", "Edm.Decimal", label="Price Unit", precision=5, scale=0),
            P("OrderPriceUnit", max_length=3, label="Order Price Unit"),
            P("OrderPriceUnitToOrderUnitNmrtr", "Edm.Decimal", label="Numerator", precision=5, scale=0),
            P("OrdPriceUnitToOrderUnitDnmntr", "Edm.Decimal", label="Denominator", precision=5, scale=0),
            P("PurchasingDocumentDeletionCode", max_length=1, label="Deletion indicator"),
        ]
        schedule_props: list[Prop] = [  # keyed by PurchasingDocument/-Item, as S/4 names them (not PurchaseOrder)
            P("PurchasingDocument", max_length=10, label="Purchasing Document"),
            P("PurchasingDocumentItem", max_length=5, label="Item"),
            P("ScheduleLine", max_length=4, label="Schedule Line"),
            P("ScheduleLineDeliveryDate", "Edm.DateTime", "Delivery Date", day=True),
            P("PurchaseOrderQuantityUnit", max_length=3, label="Order Unit"),
            P("ScheduleLineOrderQuantity", "Edm.Decimal", **amount("Scheduled Quantity", 13, 3)),
        ]
        assignment_props: list[Prop] = [
            P("PurchaseOrder", max_length=10, label="Purchasing Document"),
            P("PurchaseOrderItem", max_length=5, label="Item"),
            P("AccountAssignmentNumber", max_length=2, label="Seq. No. Acct Assgt"),
            P("CostCenter", max_length=10, label="Cost Center"),
            P("GLAccount", max_length=10, label="G/L Account"),
            P("ControllingArea", max_length=4, label="Controlling Area"),
            P("Quantity", "Edm.Decimal", **amount("Quantity", 13, 3)),
            P("OrderQuantityUnit", max_length=3, label="Order Unit"),
            P("MultipleAcctAssgmtDistrPercent", "Edm.Decimal", **amount("Distribution (%)", 3, 1)),
            P("IsDeleted", "Edm.Boolean", "Deletion Indicator"),
        ]
        po = S4Set(EntityDef("A_PurchaseOrder", "Purchase Order", ("PurchaseOrder",), po_props,
                             lambda: c.purchase_order_count, self.purchase_order),
                   "A_PurchaseOrderType",
                   [S4Nav("to_PurchaseOrderItem", "A_PurchaseOrderItem", True, self.items_of_order)])  # fmt: skip
        po_item = S4Set(EntityDef("A_PurchaseOrderItem", "Purchase Order Item", ("PurchaseOrder", "PurchaseOrderItem"),
                                  item_props, lambda: self.item_offsets.total, self.purchase_order_item),
                        "A_PurchaseOrderItemType",
                        [S4Nav("to_PurchaseOrder", "A_PurchaseOrder", False),
                         S4Nav("to_AccountAssignment", "A_PurOrdAccountAssignment", True),
                         S4Nav("to_ScheduleLine", "A_PurchaseOrderScheduleLine", True,
                               self.schedule_lines_of_item)])  # fmt: skip
        schedule = S4Set(EntityDef("A_PurchaseOrderScheduleLine", "Schedule Lines",
                                   ("PurchasingDocument", "PurchasingDocumentItem", "ScheduleLine"), schedule_props,
                                   lambda: self.item_offsets.total, self.schedule_line),
                         "A_PurchaseOrderScheduleLineType")  # fmt: skip
        assignment = S4Set(EntityDef("A_PurOrdAccountAssignment", "Account Assignment",
                                     ("PurchaseOrder", "PurchaseOrderItem", "AccountAssignmentNumber"),
                                     assignment_props, lambda: self.item_offsets.total, self.account_assignment),
                           "A_PurOrdAccountAssignmentType")  # fmt: skip
        cc_keys = ("ControllingArea", "CostCenter", "ValidityEndDate")
        cost_center = S4Set(EntityDef(
            "A_CostCenter", "Cost Center", cc_keys,
            [P("ControllingArea", max_length=4, label="Controlling Area"),
             P("CostCenter", max_length=10, label="Cost Center"),
             P("ValidityEndDate", "Edm.DateTime", "Valid To", day=True),
             P("ValidityStartDate", "Edm.DateTime", "Valid From", day=True),
             P("CompanyCode", max_length=4, label="Company Code"),
             P("CostCenterCategory", max_length=1, label="Cost Center Category"),
             P("CostCtrResponsiblePersonName", max_length=20, label="Person Responsible"),
             P("CostCenterStandardHierarchy", max_length=12, label="Hierarchy area"),
             P("Department", max_length=12, label="Department"), P("ProfitCenter", max_length=10)],
            count(len(company.cost_centers)), self.cost_center,
        ), "A_CostCenterType", [S4Nav("to_Text", "A_CostCenterText", True)])  # fmt: skip
        cost_center_text = S4Set(EntityDef(
            "A_CostCenterText", "Cost Center Text", (*cc_keys, "Language"),
            [P("ControllingArea", max_length=4), P("CostCenter", max_length=10),
             P("ValidityEndDate", "Edm.DateTime", "Valid To", day=True), P("Language", max_length=2),
             P("CostCenterName", max_length=20, label="Name"),
             P("CostCenterDescription", max_length=40, label="Description")],
            count(len(company.cost_centers)), self.cost_center_text,
        ), "A_CostCenterTextType")  # fmt: skip
        gl = S4Set(EntityDef(
            "A_GLAccountInChartOfAccounts", "G/L Account", ("ChartOfAccounts", "GLAccount"),
            [P("ChartOfAccounts", max_length=4, label="Chart of Accounts"),
             P("GLAccount", max_length=10, label="G/L Account"),
             P("IsBalanceSheetAccount", "Edm.Boolean", "Balance Sheet Acct"),
             P("GLAccountGroup", max_length=4, label="Account Group"),
             P("GLAccountType", max_length=1, label="G/L Account Type"),
             P("AccountIsBlockedForPosting", "Edm.Boolean", "Blocked for Posting"),
             P("AccountIsMarkedForDeletion", "Edm.Boolean", "Marked for Deletion")],
            count(len(company.gl_accounts)), self.gl_account,
        ), "A_GLAccountInChartOfAccountsType", [S4Nav("to_Text", "A_GLAccountText", True)])  # fmt: skip
        gl_text = S4Set(EntityDef(
            "A_GLAccountText", "G/L Account Text", ("ChartOfAccounts", "GLAccount", "Language"),
            [P("ChartOfAccounts", max_length=4), P("GLAccount", max_length=10), P("Language", max_length=2),
             P("GLAccountName", max_length=20, label="Short Text"),
             P("GLAccountLongName", max_length=50, label="Long Text")],
            count(len(company.gl_accounts)), self.gl_account_text,
        ), "A_GLAccountTextType")  # fmt: skip

        def dim(name: str, max_length: int, label: str, **kw: Any) -> S4Prop:
            return P(name, max_length=max_length, label=label, role="dimension", **kw)

        def measure(name: str, label: str, unit: str) -> S4Prop:
            return P(name, "Edm.Decimal", label, precision=24, scale=3, role="measure", unit=unit, filterable=False)

        # API_JOURNALENTRYITEMBASIC_SRV as SAP publishes it: an analytical set (a subset of its dimensions and
        # measures, by their published names, lengths and labels), keyed by a generated ID.
        journal = S4Set(EntityDef(
            "A_JournalEntryItemBasic", "Journal Entry Item Basic Data", ("ID",),
            [P("ID", filterable=False, sortable=False),
             dim("Ledger", 2, "Ledger"), dim("LedgerFiscalYear", 4, "Ledger Fiscal Year"),
             dim("ControllingArea", 4, "Controlling Area"), dim("CompanyCode", 4, "Company Code"),
             dim("CompanyCodeName", 25, "Company Code Name"), dim("GLAccount", 10, "G/L Account"),
             dim("GLAccountName", 30, "G/L Account Name"), dim("CostCenter", 10, "Cost Center"),
             dim("ProfitCenter", 10, "Profit Center"),
             dim("TransactionCurrency", 5, "Transaction Currency", semantics="currency-code"),
             measure("AmountInTransactionCurrency", "Amount in Trans Crcy", "TransactionCurrency"),
             dim("CompanyCodeCurrency", 5, "Company Code Crcy", semantics="currency-code"),
             measure("AmountInCompanyCodeCurrency", "Amount in CC Crcy", "CompanyCodeCurrency"),
             dim("FiscalPeriod", 3, "Fiscal Period"), dim("FiscalYearVariant", 2, "Fiscal Year Variant"),
             dim("FiscalYearPeriod", 8, "Fiscal Year Period"), dim("ChartOfAccounts", 4, "Chart of Accounts")],
            lambda: self.journal_offsets.total, self.journal_entry_item,
        ), "A_JournalEntryItemBasicType", aggregate=True)  # fmt: skip
        v4_po = S4Set(EntityDef(
            "PurchaseOrder", "Purchase Order", ("PurchaseOrder",),
            [P("PurchaseOrder", max_length=10), P("CompanyCode", max_length=4), P("PurchaseOrderType", max_length=4),
             P("PurchasingProcessingStatus", max_length=2), P("CreationDate", "Edm.Date"),
             P("CreatedByUser", max_length=12), P("LastChangeDateTime", "Edm.DateTimeOffset", precision=7),
             P("Supplier", max_length=10), P("DocumentCurrency", max_length=3),
             P("PurchasingOrganization", max_length=4), P("PurchasingGroup", max_length=3),
             P("PurchaseOrderDate", "Edm.Date"),
             P("PurchaseOrderNetAmount", "Edm.Decimal", precision=16, scale=3)],
            lambda: c.purchase_order_count, self.purchase_order,
        ), "PurchaseOrderType", [S4Nav("_PurchaseOrderItem", "PurchaseOrderItem", True)])  # fmt: skip
        v4_item = S4Set(EntityDef(
            "PurchaseOrderItem", "Purchase Order Item", ("PurchaseOrder", "PurchaseOrderItem"),
            [P("PurchaseOrder", max_length=10), P("PurchaseOrderItem", max_length=5),
             P("PurchaseOrderItemText", max_length=40), P("Plant", max_length=4),
             P("OrderQuantity", "Edm.Decimal", precision=13, scale=3), P("PurchaseOrderQuantityUnit", max_length=3),
             P("NetPriceAmount", "Edm.Decimal", precision=16, scale=3),
             P("NetAmount", "Edm.Decimal", precision=16, scale=3), P("DocumentCurrency", max_length=3)],
            lambda: self.item_offsets.total, self.purchase_order_item,
        ), "PurchaseOrderItemType", [S4Nav("_PurchaseOrder", "PurchaseOrder", False)])  # fmt: skip
        v4_assignment = S4Set(EntityDef(  # the set's name in CE_PURCHASEORDER_0001 / API_PURCHASEORDER_2
            "PurchaseOrderAccountAssignment", "Purchase Order Account Assignment",
            ("PurchaseOrder", "PurchaseOrderItem", "AccountAssignmentNumber"),
            [P("PurchaseOrder", max_length=10), P("PurchaseOrderItem", max_length=5),
             P("AccountAssignmentNumber", max_length=2), P("CostCenter", max_length=10),
             P("GLAccount", max_length=10), P("ControllingArea", max_length=4),
             P("Quantity", "Edm.Decimal", precision=13, scale=3), P("OrderQuantityUnit", max_length=3),
             P("MultipleAcctAssgmtDistrPercent", "Edm.Decimal", precision=3, scale=1),
             P("IsDeleted", "Edm.Boolean")],
            lambda: self.item_offsets.total, self.account_assignment,
        ), "PurchaseOrderAccountAssignmentType")  # fmt: skip

        def v2(name: str, *sets: S4Set) -> Service:
            return Service(name, 2, f"{V2_ROOT}/{name}", {s.entity.name: s for s in sets}, name)

        return [
            v2("API_BUSINESS_PARTNER", bp, supplier, customer),
            v2("API_PURCHASEORDER_PROCESS_SRV", po, po_item, assignment, schedule),
            v2("API_COSTCENTER_SRV", cost_center, cost_center_text),
            v2("API_JOURNALENTRYITEMBASIC_SRV", journal),
            v2("API_GLACCOUNTINCHARTOFACCOUNTS_SRV", gl, gl_text),
            Service(
                "purchaseorder",
                4,
                V4_PURCHASEORDER,
                {"PurchaseOrder": v4_po, "PurchaseOrderItem": v4_item, "PurchaseOrderAccountAssignment": v4_assignment},
                "com.sap.gateway.srvd_a2x.api_purchaseorder_2.v0001",
            ),
        ]


_STATUS = {"Open": "01", "Approved": "05", "Received": "05", "Closed": "05", "Cancelled": "08"}

__all__ = ["CHART_OF_ACCOUNTS", "V2_ROOT", "V4_PURCHASEORDER", "S4Data", "day"]
