"""Oracle ERP Cloud emulator (``/fscmRestApi``): suppliers (sites), purchase orders (lines), payables invoices
(lines), journal lines and ledger balances (per ledger, account combination and period, summed from the journal
lines) of the one fictional company. ``journalLines`` is no top-level resource on a pod, so it answers 404 as
Fusion does unless ``XLR8_SANDBOX_FUSION_UNLISTED=1`` (the bench's reads of it). Suppliers, PO numbers, amounts
and dates are those of ``company.supplier(i)`` / ``company.purchase_order(i)`` / ``company.invoice(i)`` (the same
as S/4HANA's); line details are derived here, deterministically, and always add up to the header amount. About
one open order of several lines in six has its last line cancelled (``CancelFlag`` true, ``CancelReason``).
``BuyerId`` is the buyer's HCM ``PersonId``.

ESS jobs through the ERP integrations resource: ``POST .../erpintegrations`` with ``OperationName``
``submitESSJobRequest`` returns ``ReqstId``; ``GET .../erpintegrations?finder=ESSJobStatusRF;requestId=<id>``
reports ``RequestStatus`` ``RUNNING`` (``job_running_polls`` times) then ``SUCCEEDED`` (or ``ERROR`` when
``fail_next_job`` is set); ``finder=ESSJobExecutionDetailsRF;requestId=<id>,fileType=out`` returns the output
as a base64 zip (``DocumentContent``) holding one CSV. BI Publisher: ``POST
/xmlpserver/services/ExternalReportWSSService`` ``runReport`` (SOAP 1.2) for ``INVOICE_REPORT`` answers the same
CSV base64-encoded in ``reportBytes``; any other report path is a Sender fault.
"""

from __future__ import annotations

import base64
import bisect
import functools
import hashlib
import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from xlr8_kit.soap import SOAP12, SoapParseError, build_envelope, child_text, element, local_name, parse_envelope
from xlr8_sandbox.company import JournalEntry, JournalLine, PurchaseOrder, Supplier
from xlr8_sandbox.products.oracle_fusion.framework import (
    Attr,
    ChildDef,
    FusionEmulator,
    PolledJob,
    ResourceDef,
    Row,
    csv_chunks,
    items_response,
)
from xlr8_sandbox.products.oracle_fusion.hcm import person_id

USERNAME = "xlr8.erp.integration@acme.example"
PASSWORD = "sandbox-oerp-password"  # emulator test credential, not a real secret
CLIENT_ID = "xlr8-oerp-confidential-app"
CLIENT_SECRET = "sandbox-oerp-client-secret"  # emulator test credential
INVOICE_JOB = ("/oracle/apps/ess/custom/xlr8", "XLR8InvoiceExtract")
INVOICE_REPORT = "/Custom/XLR8/XLR8 Invoices.xdo"
PUB_NS = "http://xmlns.oracle.com/oxp/service/PublicReportService"
INVOICE_JOB_COLUMNS = ("InvoiceNumber", "SupplierNumber", "InvoiceAmount", "InvoiceCurrency", "InvoiceDate")
_ID = 300_000_100_000_000
_CENT = Decimal("0.01")
_ITEMS = ["Laptops", "Office chairs", "Consulting hours", "Cloud subscription", "Safety gloves", "Pallets", "Toner"]
#: The company's order statuses as Fusion's purchaseOrders serves them: ``StatusCode`` (the document status code)
#: and ``Status`` (its display name). Fusion has no "approved" or "received" document status: an approved order is
#: OPEN, a fully received one CLOSED FOR RECEIVING.
_PO_STATUS = {"Open": ("OPEN", "Open"), "Approved": ("OPEN", "Open"),
              "Received": ("CLOSED FOR RECEIVING", "Closed for Receiving"), "Closed": ("CLOSED", "Closed"),
              "Cancelled": ("CANCELED", "Canceled")}  # fmt: skip


@functools.lru_cache(maxsize=4_096)
def stamp(day: date) -> str:
    """Memoised: documents share their days, and the sort pass and the page each stamp a row (~3 µs each)."""
    return datetime.combine(day, time(9), UTC).isoformat(timespec="seconds")


def _h(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=4).digest())


#: Why the emulator's buyers cancelled a line (Fusion's line ``CancelReason``: the buyer's free text).
_CANCEL_REASON = "Supplier cannot deliver in time; sourced elsewhere"


def _cancelled_line(po: PurchaseOrder) -> int | None:
    """The ``LineNumber`` the buyer cancelled on this order, or None: the last line of about one open order of
    several lines in six. Fusion cancels lines of an approved order through a change order (draft purchase orders
    ``lines`` PATCH ``CancelFlag: true``, ``CancelReason``), and the order stays OPEN until every line is cancelled,
    so a line is cancelled only on an open order that keeps a live line; its ``Quantity``/``Amount`` stay as ordered
    (the header's ``Ordered`` is still the company's amount)."""
    if po.status not in ("Open", "Approved") or po.line_count < 2 or _h(po.po_id, "cancel") % 6:
        return None
    return po.line_count


def split_amount(total: Decimal, parts: int, seed: str) -> list[Decimal]:
    """``parts`` positive cent amounts adding up to ``total`` exactly, deterministic for ``seed``."""
    weights = [1 + _h(seed, k) % 9 for k in range(parts)]
    shares = [(total * w / sum(weights)).quantize(_CENT) for w in weights]
    shares[-1] = total - sum(shares[:-1], Decimal(0))
    return shares


@dataclass(kw_only=True)
class EssJob(PolledJob):
    request_id: int
    package: str
    definition: str
    parameters: str


class OracleErpEmulator(FusionEmulator[EssJob]):
    product_id = "oracle_erp"
    title = "Oracle ERP Cloud (Fusion REST, ERP integrations ESS jobs)"
    api = "fscmRestApi"
    username = USERNAME
    password = PASSWORD
    client_id = CLIENT_ID
    client_secret = CLIENT_SECRET
    #: Oracle has journal lines only under journal batches (``journalBatches/{JeBatchId}/child/journalHeaders/
    #: {journalHeadersUniqID}/child/journalLines``), no top-level ``journalLines``: a pod answers 404 (audit25a F2).
    unlisted = frozenset({"journalLines"})

    # --- data ---------------------------------------------------------------------------------------------

    @functools.cached_property
    def _journal_outline(self) -> tuple[list[int], list[date]]:
        """Row number of each journal's first line (journals have 2-5 lines), and each journal's posted date (the
        sort pass's ``LastUpdateDate``), from one pass over the journals' outlines."""
        starts, posted, total = [], [], 0
        outline = self.company.journal_outline
        for j in range(self.company.journal_count):
            starts.append(total)
            lines, day = outline(j)
            posted.append(day)
            total += lines
        starts.append(total)
        return starts, posted

    @property
    def _journal_starts(self) -> list[int]:
        return self._journal_outline[0]

    @functools.cached_property
    def _balances(self) -> list[Row]:
        """Period balances per ledger and account combination, summed from the journal lines (so they agree)."""
        activity: dict[tuple[str, str, str, str], Decimal] = {}
        for journal in self.company.journals():
            period = journal.posted_date.strftime("%Y-%m")
            for line in journal.lines:
                combination = f"{journal.legal_entity}-{line.cost_center}-{line.account_number}"
                key = (journal.ledger, combination, period, journal.currency)
                activity[key] = activity.get(key, Decimal(0)) + line.debit - line.credit
        rows: list[Row] = []
        running: dict[tuple[str, str], Decimal] = {}
        for (ledger, combination, period, currency), amount in sorted(activity.items()):
            beginning = running.get((ledger, combination), Decimal(0))
            running[(ledger, combination)] = beginning + amount
            rows.append(
                {
                    "LedgerName": ledger,
                    "AccountCombination": combination,
                    "PeriodName": datetime.strptime(period, "%Y-%m").strftime("%b-%y"),
                    "Currency": currency,
                    "BeginningBalance": beginning,
                    "PeriodActivity": amount,
                    "EndingBalance": beginning + amount,
                }
            )
        return rows

    def _supplier(self, i: int) -> Row:
        s = self.company.supplier(i)
        return {
            "__s": s,
            "SupplierId": _ID + i + 1,
            "SupplierNumber": s.supplier_id,
            "Supplier": s.name,
            "TaxpayerCountry": s.country,
            "Status": "ACTIVE" if s.active else "INACTIVE",
            "CreationDate": s.created.isoformat(timespec="seconds"),
            "LastUpdateDate": s.created.isoformat(timespec="seconds"),
        }

    def _sites(self, supplier: Row) -> list[Row]:
        s: Supplier = supplier["__s"]
        return [
            {
                "SupplierSiteId": _ID + 10_000_000 + s.index + 1,
                "SupplierSite": f"{s.country}-MAIN",
                "ProcurementBU": "Acme Canada Ltd." if s.country == "CA" else "Acme Holdings Inc.",
                "PaymentCurrencyCode": s.currency,
                "PaymentTerms": s.payment_terms,
                "LastUpdateDate": supplier["LastUpdateDate"],
            }
        ]

    def _purchase_order(self, i: int) -> Row:
        po = self.company.purchase_order(i)
        supplier = self.company.supplier(int(po.supplier_id[1:]) - 1)
        buyer = int(po.buyer_employee_id[1:]) - 1
        first, last = self.company.employee_name(buyer)  # the buyer's name alone, not their whole record
        return {
            "__po": po,
            "POHeaderId": _ID + 20_000_000 + i + 1,
            "OrderNumber": po.po_id,
            "SupplierId": _ID + supplier.index + 1,
            "Supplier": supplier.name,
            "SupplierNumber": supplier.supplier_id,
            "BuyerId": person_id(buyer),
            "Buyer": f"{first} {last}",
            "Ordered": po.amount,
            "CurrencyCode": po.currency,
            "StatusCode": _PO_STATUS[po.status][0],
            "Status": _PO_STATUS[po.status][1],
            "CreationDate": stamp(po.order_date),
            "LastUpdateDate": stamp(po.order_date),
        }

    def _po_lines(self, header: Row) -> list[Row]:
        po: PurchaseOrder = header["__po"]
        amounts = split_amount(po.amount, po.line_count, f"po:{po.po_id}")
        cancelled = _cancelled_line(po)
        rows = []
        for k, amount in enumerate(amounts):
            quantity = 1 + _h(po.po_id, k, "qty") % 20
            item = _h(po.po_id, k) % len(_ITEMS)
            rows.append(
                {
                    "POLineId": _ID + 30_000_000 + po.index * 10 + k + 1,
                    "LineNumber": k + 1,
                    "Item": f"XLR8-ITM-{item + 1:03d}",
                    "Description": _ITEMS[item],
                    "Quantity": quantity,
                    "UOMCode": "Ea",
                    "UOM": "Each",
                    "Price": (amount / quantity).quantize(Decimal("0.0001")),
                    "Amount": amount,
                    "CancelFlag": k + 1 == cancelled,
                    "CancelReason": _CANCEL_REASON if k + 1 == cancelled else None,
                    "LastUpdateDate": header["LastUpdateDate"],
                    "__po": po,
                }
            )
        return rows

    def _po_schedules(self, line: Row) -> list[Row]:
        """One schedule per line (Fusion's ``lines/{POLineId}/child/schedules``: where and when it is delivered)."""
        po: PurchaseOrder = line["__po"]
        requested = po.order_date + timedelta(days=7 + _h(po.po_id, line["LineNumber"], "due") % 60)
        return [
            {
                "LineLocationId": _ID + 35_000_000 + (line["POLineId"] - _ID - 30_000_000),
                "ScheduleNumber": 1,
                "Quantity": line["Quantity"],
                "RequestedDeliveryDate": requested.isoformat(),
                "LastUpdateDate": line["LastUpdateDate"],
            }
        ]

    def _invoice(self, i: int) -> Row:
        inv = self.company.invoice(i)
        supplier = self.company.supplier(int(inv.supplier_id[1:]) - 1)
        return {
            "__inv": inv,
            "InvoiceId": _ID + 40_000_000 + i + 1,
            "InvoiceNumber": inv.invoice_number,
            "SupplierNumber": supplier.supplier_id,
            "Supplier": supplier.name,
            "PurchaseOrderNumber": inv.po_id,
            "InvoiceAmount": inv.amount,
            "InvoiceCurrency": inv.currency,
            "InvoiceDate": inv.invoice_date.isoformat(),
            "TermsDate": inv.due_date.isoformat(),
            "ValidationStatus": "Validated" if inv.status != "On Hold" else "Needs revalidation",
            "PaymentStatus": "Paid" if inv.status == "Paid" else "Not paid",
            "LastUpdateDate": stamp(inv.invoice_date),
        }

    def _invoice_lines(self, header: Row) -> list[Row]:
        amounts = split_amount(header["InvoiceAmount"], 1 + _h(header["InvoiceNumber"]) % 3, header["InvoiceNumber"])
        return [
            {
                "LineNumber": k + 1,
                "LineType": "Item",
                "LineAmount": amount,
                "Description": _ITEMS[_h(header["InvoiceNumber"], k) % len(_ITEMS)],
                "LastUpdateDate": header["LastUpdateDate"],
            }
            for k, amount in enumerate(amounts)
        ]

    def _journal_at(self, n: int) -> tuple[int, JournalEntry, JournalLine]:
        """(journal number, journal, line) of journal line row ``n``."""
        starts = self._journal_starts
        lo, hi = 0, len(starts) - 1
        while lo < hi - 1:  # the journal whose line range holds row n
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if starts[mid] <= n else (lo, mid)
        journal = self.company.journal(lo)
        return lo, journal, journal.lines[n - starts[lo]]

    def _journal_line(self, n: int) -> Row:
        lo, journal, line = self._journal_at(n)
        return {
            "JeHeaderId": _ID + 50_000_000 + lo + 1,
            "JeLineNumber": line.line_number,
            "JournalName": journal.journal_id,
            "LedgerName": journal.ledger,
            "AccountingDate": journal.posted_date.isoformat(),
            "AccountCombination": f"{journal.legal_entity}-{line.cost_center}-{line.account_number}",
            "EnteredDr": line.debit,
            "EnteredCr": line.credit,
            "EnteredAmount": line.debit - line.credit,
            "CurrencyCode": journal.currency,
            "Description": line.description,
            "Status": journal.status,
            "LastUpdateDate": stamp(journal.posted_date),
        }

    # Partial rows for the sort pass of an ``orderBy`` read (``LastUpdateDate`` and the key, as the tap sorts):
    # the same values as the whole rows above, without their other attributes.

    def _supplier_keys(self, i: int) -> Row:
        return {
            "SupplierId": _ID + i + 1,
            "LastUpdateDate": self.company.supplier(i).created.isoformat(timespec="seconds"),
        }

    def _purchase_order_keys(self, i: int) -> Row:
        return {
            "POHeaderId": _ID + 20_000_000 + i + 1,
            "LastUpdateDate": stamp(self.company.purchase_order_date(i)),
        }

    def _invoice_keys(self, i: int) -> Row:
        return {"InvoiceId": _ID + 40_000_000 + i + 1, "LastUpdateDate": stamp(self.company.invoice_date(i))}

    def _journal_line_keys(self, n: int) -> Row:
        """The sort pass's partial line row from the outline alone: no journal is built (line numbers count from 1
        within a journal, as ``Company.journal`` numbers them)."""
        starts, posted = self._journal_outline
        lo = bisect.bisect_right(starts, n) - 1
        return {"JeHeaderId": _ID + 50_000_000 + lo + 1, "JeLineNumber": n - starts[lo] + 1,
                "LastUpdateDate": stamp(posted[lo])}  # fmt: skip

    def build_resources(self) -> dict[str, ResourceDef]:
        c = self.company
        s, dt = (lambda n: Attr(n)), (lambda n: Attr(n, "datetime"))
        return {
            "suppliers": ResourceDef(
                name="suppliers",
                attrs=[Attr("SupplierId", "integer"), s("SupplierNumber"), s("Supplier"), s("TaxpayerCountry"),
                       s("Status"), dt("CreationDate"), dt("LastUpdateDate")],
                keys=("SupplierId",),
                count=lambda: c.supplier_count,
                row=self._supplier,
                sort_row=self._supplier_keys,
                sort_attrs=("SupplierId", "LastUpdateDate"),
                finders={"findBySupplierNumber": ("SupplierNumber",)},
                children={
                    "sites": ChildDef(
                        "sites",
                        [Attr("SupplierSiteId", "integer"), s("SupplierSite"), s("ProcurementBU"),
                         s("PaymentCurrencyCode"), s("PaymentTerms"), dt("LastUpdateDate")],
                        ("SupplierSiteId",),
                        self._sites,
                    )
                },
            ),
            "purchaseOrders": ResourceDef(
                name="purchaseOrders",
                attrs=[Attr("POHeaderId", "integer"), s("OrderNumber"), Attr("SupplierId", "integer"), s("Supplier"),
                       s("SupplierNumber"), Attr("BuyerId", "integer"), s("Buyer"), Attr("Ordered", "number"),
                       s("CurrencyCode"), s("StatusCode"), s("Status"), dt("CreationDate"), dt("LastUpdateDate")],
                keys=("POHeaderId",),
                hashed_id=True,  # Oracle: purchaseOrdersUniqID
                count=lambda: c.purchase_order_count,
                row=self._purchase_order,
                sort_row=self._purchase_order_keys,
                sort_attrs=("POHeaderId", "LastUpdateDate"),
                children={
                    "lines": ChildDef(
                        "lines",
                        [Attr("POLineId", "integer"), Attr("LineNumber", "integer"), s("Item"), s("Description"),
                         Attr("Quantity", "number"), s("UOMCode"), s("UOM"), Attr("Price", "number"),
                         Attr("Amount", "number"), Attr("CancelFlag", "boolean"), s("CancelReason"),
                         dt("LastUpdateDate")],
                        ("POLineId",),
                        self._po_lines,
                        children={
                            "schedules": ChildDef(
                                "schedules",
                                [Attr("LineLocationId", "integer"), Attr("ScheduleNumber", "integer"),
                                 Attr("Quantity", "number"), Attr("RequestedDeliveryDate", "date"),
                                 dt("LastUpdateDate")],
                                ("LineLocationId",),
                                self._po_schedules,
                            )
                        },
                    )
                },
            ),
            "invoices": ResourceDef(
                name="invoices",
                attrs=[Attr("InvoiceId", "integer"), s("InvoiceNumber"), s("SupplierNumber"), s("Supplier"),
                       s("PurchaseOrderNumber"), Attr("InvoiceAmount", "number"), s("InvoiceCurrency"),
                       Attr("InvoiceDate", "date"), Attr("TermsDate", "date"), s("ValidationStatus"),
                       s("PaymentStatus"), dt("LastUpdateDate")],
                keys=("InvoiceId",),
                hashed_id=True,  # Oracle: invoicesUniqID
                count=lambda: c.invoice_count,
                row=self._invoice,
                sort_row=self._invoice_keys,
                sort_attrs=("InvoiceId", "LastUpdateDate"),
                children={
                    "invoiceLines": ChildDef(
                        "invoiceLines",
                        [Attr("LineNumber", "integer"), s("LineType"), Attr("LineAmount", "number"),
                         s("Description"), dt("LastUpdateDate")],
                        ("LineNumber",),
                        self._invoice_lines,
                    )
                },
            ),
            "ledgerBalances": ResourceDef(
                name="ledgerBalances",
                attrs=[s("LedgerName"), s("AccountCombination"), s("PeriodName"), s("Currency"),
                       Attr("BeginningBalance", "number"), Attr("PeriodActivity", "number"),
                       Attr("EndingBalance", "number")],
                keys=("LedgerName", "AccountCombination", "PeriodName"),
                count=lambda: len(self._balances),
                row=lambda i: dict(self._balances[i]),
            ),
            "journalLines": ResourceDef(
                name="journalLines",
                attrs=[Attr("JeHeaderId", "integer"), Attr("JeLineNumber", "integer"), s("JournalName"),
                       s("LedgerName"), Attr("AccountingDate", "date"), s("AccountCombination"),
                       Attr("EnteredDr", "number"), Attr("EnteredCr", "number"), Attr("EnteredAmount", "number"),
                       s("CurrencyCode"), s("Description"), s("Status"), dt("LastUpdateDate")],
                keys=("JeHeaderId", "JeLineNumber"),
                count=lambda: self._journal_starts[-1],
                row=self._journal_line,
                sort_row=self._journal_line_keys,
                sort_attrs=("JeHeaderId", "JeLineNumber", "LastUpdateDate"),
            ),
        }  # fmt: skip

    # --- ESS jobs (ERP integrations) ------------------------------------------------------------------------

    def extra_routes(self) -> list[BaseRoute]:
        path = f"/{self.api}/resources/{{version}}/erpintegrations"
        return [
            Route(path, self._submit_job, methods=["POST"]),
            Route(path, self._job_finder, methods=["GET"]),
            Route("/xmlpserver/services/ExternalReportWSSService", self._run_report, methods=["POST"]),
        ]

    def _soap_fault(self, code: str, reason: str) -> Response:
        fault = element(
            f"{{{SOAP12.namespace}}}Fault",
            element(f"{{{SOAP12.namespace}}}Code", element(f"{{{SOAP12.namespace}}}Value", f"env:{code}")),
            element(f"{{{SOAP12.namespace}}}Reason", element(f"{{{SOAP12.namespace}}}Text", reason)),
        )
        return Response(build_envelope(fault, version=SOAP12), status_code=500, media_type=SOAP12.content_type)

    async def _run_report(self, request: Request) -> Response:
        """BI Publisher ``runReport``: the invoice report as CSV in ``reportBytes``; unknown paths are a fault."""
        if not self._authorized(request):
            return Response(status_code=401)
        try:
            message = parse_envelope(await request.body())
        except SoapParseError as exc:
            return self._soap_fault("Sender", f"Invalid request: {exc}")
        if message.body is None or local_name(message.body) != "runReport":
            return self._soap_fault("Sender", "Unknown operation; expected runReport.")
        path = child_text(message.body, "reportRequest", "reportAbsolutePath")
        if path != INVOICE_REPORT:
            return self._soap_fault("Sender", f"oracle.xdo.webservice.exception.AccessDeniedException: {path}")
        data = base64.b64encode(self._invoice_report_csv().encode()).decode()
        answer = element(
            f"{{{PUB_NS}}}runReportResponse",
            element(
                f"{{{PUB_NS}}}runReportReturn",
                element(f"{{{PUB_NS}}}reportBytes", data),
                element(f"{{{PUB_NS}}}reportContentType", "text/plain;charset=UTF-8"),
                element(f"{{{PUB_NS}}}reportFileID"),
            ),
        )
        return Response(build_envelope(answer, version=SOAP12), media_type=SOAP12.content_type)

    async def _submit_job(self, request: Request) -> Response:
        body, refused = await self._json_body(request)
        if refused is not None:
            return refused
        if body.get("OperationName") != "submitESSJobRequest":
            return self._error(
                request, f"The value {body.get('OperationName')} of attribute OperationName is not valid."
            )
        package, definition = body.get("JobPackageName"), body.get("JobDefName")
        if (package, definition) != INVOICE_JOB:
            return self._error(
                request, f"The job {package}/{definition} is not found. Check JobPackageName and JobDefName."
            )
        with self.jobs_lock:
            job = EssJob(
                request_id=100_000 + len(self.jobs) + 1,
                package=str(package),
                definition=str(definition),
                parameters=str(body.get("ESSParameters") or ""),
                **self._job_switches(),
            )
            self.jobs[job.request_id] = job
        return JSONResponse({**body, "ReqstId": str(job.request_id)}, status_code=201)

    async def _job_finder(self, request: Request) -> Response:
        if (refused := self._guard(request)) is not None:
            return refused
        name, _, binds = (request.query_params.get("finder") or "").partition(";")
        values = dict(pair.split("=", 1) for pair in binds.split(",") if "=" in pair)
        with self.jobs_lock:
            job = (
                self.jobs.get(int(values.get("requestId", "0") or 0)) if values.get("requestId", "").isdigit() else None
            )
            if job is None:
                return self._error(
                    request, f"The value {values.get('requestId')} of bind variable requestId is not valid."
                )
            if name == "ESSJobStatusRF":
                job.observe("SUCCEEDED")
                item: dict[str, Any] = {"ReqstId": str(job.request_id), "RequestStatus": job.status}
                if job.status == "ERROR":
                    item["ErrorMessage"] = job.fail
                return items_response([item])
            if name == "ESSJobExecutionDetailsRF":
                if job.status != "SUCCEEDED":
                    return self._error(request, f"The request {job.request_id} has no output: status {job.status}.")
                item = {
                    "ReqstId": str(job.request_id),
                    "DocumentContent": base64.b64encode(self._invoice_report_zip(job.request_id)).decode(),
                    "ContentType": "zip",
                    "FileName": f"{job.request_id}.zip",
                }
                return items_response([item])
        return self._error(request, f"The finder {name} is not found in resource erpintegrations.")

    def _invoice_report_csv(self) -> str:
        rows = (self._invoice(i) for i in range(self.company.invoice_count))
        return "".join(csv_chunks(INVOICE_JOB_COLUMNS, ([row[c] for c in INVOICE_JOB_COLUMNS] for row in rows)))

    def _invoice_report_zip(self, request_id: int) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"XLR8InvoiceExtract_{request_id}.csv", self._invoice_report_csv())
        return buffer.getvalue()
