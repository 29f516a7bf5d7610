"""Workday SOAP web services (SOAP 1.1, ``urn:com.workday/bsvc``) at ``/ccx/service/{tenant}/{service}/v{version}``.

Human_Resources ``Get_Workers`` (Transaction_Log_Criteria_Data for changes) and ``Get_Organizations``;
Financial_Management ``Get_Journals``; Resource_Management ``Get_Suppliers``. Paging is ``Response_Filter``
(``Page``, ``Count`` up to 999, ``As_Of_Entry_DateTime``); answers carry ``Response_Filter`` (the moment actually
used, so a client can hold it fixed across pages) and ``Response_Results`` (Total_Results, Total_Pages).

Every fault is HTTP 500 with Workday's shape: ``env:`` envelope prefix, ``faultcode`` like
``SOAP-ENV:Client.validationError`` and a ``wd:Validation_Fault`` / ``wd:Processing_Fault`` detail.
"""

from __future__ import annotations

import math
import typing as t
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree
from starlette.requests import Request
from starlette.responses import Response

from xlr8_kit.soap import SOAP11, SoapParseError, child_text, children, local_name, parse_envelope
from xlr8_sandbox.products.workday import TENANT, wd_datetime, wid

if t.TYPE_CHECKING:
    from xlr8_sandbox.company import Employee
    from xlr8_sandbox.products.workday import WorkdayEmulator

BSVC = "urn:com.workday/bsvc"
MAX_COUNT = 999
SERVICES = {
    "Human_Resources": ("Get_Workers", "Get_Organizations"),
    "Financial_Management": ("Get_Journals",),
    "Resource_Management": ("Get_Suppliers",),
}
W = f"{{{BSVC}}}"


class SoapFaultReply(Exception):
    def __init__(self, code: str, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.code, self.reason, self.detail = code, reason, detail


def fault_envelope(code: str, reason: str, detail: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<env:Envelope xmlns:env="{SOAP11.namespace}" xmlns:wd="{BSVC}"><env:Body><env:Fault>'
        f"<faultcode>{escape(code)}</faultcode><faultstring>{escape(reason)}</faultstring>"
        + (f"<detail>{detail}</detail>" if detail else "")
        + "</env:Fault></env:Body></env:Envelope>"
    ).encode()


def validation_fault(message: str, xpath: str = "") -> SoapFaultReply:
    detail = (
        "<wd:Validation_Fault><wd:Validation_Error>"
        f"<wd:Message>{escape(message)}</wd:Message><wd:Detail_Message>{escape(message)}</wd:Detail_Message>"
        f"<wd:Xpath>{escape(xpath)}</wd:Xpath></wd:Validation_Error></wd:Validation_Fault>"
    )
    return SoapFaultReply("SOAP-ENV:Client.validationError", "Validation error occurred. " + message, detail)


THROTTLE_REASON = "Processing error occurred. The request rate limit for this tenant was exceeded; retry later."


def E(name: str, *content: Any, **attrs: str) -> etree._Element:
    node = etree.Element(W + name, {W + k: v for k, v in attrs.items()})
    for item in content:
        if item is None:
            continue
        if isinstance(item, etree._Element):
            node.append(item)
        else:
            node.text = _text(item)
    return node


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return wd_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def ref(name: str, *ids: tuple[str, str], descriptor: str | None = None) -> etree._Element:
    attrs = {"Descriptor": descriptor} if descriptor else {}
    return E(name, *[E("ID", value, type=kind) for kind, value in ids], **attrs)


def _parse_moment(value: str, xpath: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise validation_fault(f"Invalid dateTime value {value!r}", xpath) from None
    if moment.tzinfo is None:
        raise validation_fault(f"dateTime {value!r} needs a time zone offset", xpath)
    return moment


#: Before any sandbox data: an effective range with no updated range reads entries from the start of time.
EPOCH_MOMENT = datetime(1900, 1, 1, tzinfo=UTC)


def _range(window: etree._Element | None, prefix: str, as_of: datetime) -> tuple[datetime, datetime] | None:
    """``<prefix>_From``..``<prefix>_Through`` of a Transaction_Date_Range_Data, None when neither is given;
    half a range is refused as Workday does ("both are Required!"). The end never lies past ``as_of``."""
    start_text, end_text = child_text(window, f"{prefix}_From"), child_text(window, f"{prefix}_Through")
    if not start_text and not end_text:
        return None
    if not start_text or not end_text:
        raise validation_fault(
            f"If one of {prefix} From or {prefix} Through contains a value, both are Required!",
            "//wd:Transaction_Date_Range_Data",
        )
    start = _parse_moment(start_text, f"//wd:{prefix}_From")
    end = _parse_moment(end_text, f"//wd:{prefix}_Through")
    if start > end:
        raise validation_fault(
            f"{prefix} From must be on or before {prefix} Through", "//wd:Transaction_Date_Range_Data"
        )
    return start, min(end, as_of) if prefix == "Updated" else end


def _parse_date(value: str, xpath: str) -> date:
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise validation_fault(f"Invalid date value {value!r}", xpath) from None


class SoapServices:
    def __init__(self, emulator: WorkdayEmulator) -> None:
        self.emulator = emulator
        self.operations: dict[str, Callable[[etree._Element, datetime], tuple[Any, int]]] = {
            "Get_Workers": self._workers,
            "Get_Organizations": self._organizations,
            "Get_Journals": self._journals,
            "Get_Suppliers": self._suppliers,
        }
        self.element_names = {
            "Get_Workers": "Worker",
            "Get_Organizations": "Organization",
            "Get_Journals": "Journal_Entry",
            "Get_Suppliers": "Supplier",
        }

    async def handle(self, request: Request) -> Response:
        try:
            body = self._handle(request, await request.body())
        except SoapFaultReply as fault:
            body, status = fault_envelope(fault.code, fault.reason, fault.detail), 500
        else:
            status = 200
        return Response(body, status, media_type="text/xml; charset=utf-8")

    def _handle(self, request: Request, content: bytes) -> bytes:
        emulator = self.emulator
        service, version = request.path_params["service"], request.path_params["version"]
        if request.path_params["tenant"] != TENANT or service not in SERVICES or not version.startswith("v"):
            raise SoapFaultReply("SOAP-ENV:Client", f"No such web service: {service}/{version}")
        try:
            message = parse_envelope(content)
        except SoapParseError as exc:
            raise SoapFaultReply("SOAP-ENV:Client", f"Invalid SOAP request: {exc}") from None
        if message.version is not SOAP11:
            raise SoapFaultReply("SOAP-ENV:VersionMismatch", "Workday web services speak SOAP 1.1")
        if message.body is not None:
            node = next(iter(children(message.body, "Response_Filter")), None)
            window = message.body.find(f".//{W}Transaction_Date_Range_Data")
            emulator.soap_calls.append({
                "operation": local_name(message.body).removesuffix("_Request") if message.body is not None else "",
                "page": child_text(node, "Page"),
                "as_of": child_text(node, "As_Of_Entry_DateTime"),
                "updated_from": child_text(window, "Updated_From"),
                "updated_through": child_text(window, "Updated_Through"),
            })  # fmt: skip
        security = message.header("Security")
        token = next(iter(children(security, "UsernameToken")), None)
        user, password = child_text(token, "Username"), child_text(token, "Password")
        if not (emulator.isu_ok(user, password) and "@" in (user or "")) and not emulator.bearer_ok(request):
            raise SoapFaultReply("SOAP-ENV:Client.authenticationError", "invalid username or password")
        if emulator.take_soap_throttle():
            raise _ThrottledFault()
        payload = message.body
        operation = local_name(payload).removesuffix("_Request") if payload is not None else ""
        if operation not in SERVICES[service]:
            raise validation_fault(f"Operation {operation or '(none)'} is not part of {service}", "/env:Body")
        assert payload is not None
        page, count, as_of = self._response_filter(payload)
        rows, total = self.operations[operation](payload, as_of)
        pages = max(1, math.ceil(total / count)) if total else 0
        if total and page > pages:
            raise validation_fault(f"Page {page} is past the last page ({pages})", "//wd:Response_Filter/wd:Page")
        start = (page - 1) * count
        chunk = rows(start, start + count) if callable(rows) else rows[start : start + count]
        response = E(
            f"{operation}_Response",
            E(
                "Response_Filter",
                E("As_Of_Effective_Date", as_of.date()),
                E("As_Of_Entry_DateTime", as_of),
                E("Page", page),
                E("Count", count),
            ),
            E(
                "Response_Results",
                E("Total_Results", total),
                E("Total_Pages", pages),
                E("Page_Results", len(chunk)),
                E("Page", page),
            ),
            E("Response_Data", *[self._render(operation, row) for row in chunk]),
            version=version,
        )
        envelope = etree.Element(f"{{{SOAP11.namespace}}}Envelope", nsmap={"env": SOAP11.namespace, "wd": BSVC})
        etree.SubElement(envelope, f"{{{SOAP11.namespace}}}Body").append(response)
        return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")

    def _response_filter(self, payload: etree._Element) -> tuple[int, int, datetime]:
        node = next(iter(children(payload, "Response_Filter")), None)
        page_text, count_text = child_text(node, "Page"), child_text(node, "Count")
        as_of_text = child_text(node, "As_Of_Entry_DateTime")
        try:
            page = int(page_text) if page_text else 1
            count = int(count_text) if count_text else 100
        except ValueError:
            raise validation_fault("Page and Count must be integers", "//wd:Response_Filter") from None
        if page < 1:
            raise validation_fault("Page must be at least 1", "//wd:Response_Filter/wd:Page")
        if not 1 <= count <= MAX_COUNT:
            raise validation_fault(f"Count must be between 1 and {MAX_COUNT}", "//wd:Response_Filter/wd:Count")
        as_of = self.emulator.clamp(_parse_moment(as_of_text, "//wd:As_Of_Entry_DateTime") if as_of_text else None)
        return page, count, as_of

    # --- operations: (rows, total) --------------------------------------------------------------------------

    def _workers(self, payload: etree._Element, as_of: datetime) -> tuple[Any, int]:
        emulator = self.emulator
        criteria = next(iter(children(payload, "Request_Criteria")), None)
        logs = list(children(criteria, "Transaction_Log_Criteria_Data"))
        effective_day = as_of.date()
        if logs:
            # Several Transaction_Log_Criteria_Data blocks are OR-ed; within one block an updated range (entry
            # moment) and an effective range (the day a change takes effect) must both hold.
            found: set[int] = set()
            for log in logs:
                window = next(iter(children(log, "Transaction_Date_Range_Data")), None)
                entered = _range(window, "Updated", as_of)
                effective = _range(window, "Effective", as_of)
                if entered is None and effective is None:
                    raise validation_fault(
                        "Transaction_Date_Range_Data needs an updated or an effective range",
                        "//wd:Transaction_Date_Range_Data",
                    )
                start, end = entered if entered is not None else (EPOCH_MOMENT, as_of)
                if effective is None:
                    found.update(emulator.changed_worker_indexes(start, end) if start < end else [])
                # A regular change takes effect on the day it is entered; a future-dated one on its own day.
                elif start < end:
                    day_start = datetime.combine(effective[0].date(), time(), effective[0].tzinfo)
                    day_end = datetime.combine(effective[1].date() + timedelta(days=1), time(), effective[1].tzinfo)
                    low, high = max(start, day_start - timedelta(microseconds=1)), min(end, day_end)
                    found.update(emulator.changed_worker_indexes(low, high) if low < high else [])
                found.update(emulator.future_dated_indexes(entered, effective, as_of))
            people = [
                emulator.effective_view(emulator.company.employee(i, as_of), i, as_of, effective_day)
                for i in sorted(found)
            ]
            return people, len(people)
        moment = emulator.clamp(as_of)
        if emulator.future_dated:
            everyone = [
                emulator.effective_view(person, i, moment, effective_day)
                for i, person in enumerate(emulator.company.employees(as_of=moment))
            ]
            return (lambda a, b: everyone[a:b]), len(everyone)
        return (lambda a, b: list(emulator.company.employees(a, b, as_of=moment))), emulator.worker_count(moment)

    def _organizations(self, payload: etree._Element, as_of: datetime) -> tuple[list[Any], int]:
        criteria = next(iter(children(payload, "Request_Criteria")), None)
        type_ref = next(iter(children(criteria, "Organization_Type_Reference")), None)
        wanted = child_text(type_ref, "ID")
        rows = [o for o in self.emulator.organizations() if wanted is None or o["type"] == wanted]
        return rows, len(rows)

    def _journals(self, payload: etree._Element, as_of: datetime) -> tuple[list[Any], int]:
        criteria = next(iter(children(payload, "Request_Criteria")), None)
        start_text, end_text = child_text(criteria, "Accounting_From_Date"), child_text(criteria, "Accounting_To_Date")
        start = _parse_date(start_text, "//wd:Accounting_From_Date") if start_text else None
        end = _parse_date(end_text, "//wd:Accounting_To_Date") if end_text else None
        rows = [
            j
            for j in self.emulator.company.journals()
            if (start is None or j.posted_date >= start) and (end is None or j.posted_date <= end)
        ]
        return rows, len(rows)

    def _suppliers(self, payload: etree._Element, as_of: datetime) -> tuple[list[Any], int]:
        rows = list(self.emulator.company.suppliers())
        return rows, len(rows)

    # --- rendering ----------------------------------------------------------------------------------------------

    def _render(self, operation: str, row: Any) -> etree._Element:
        return getattr(self, f"_render_{operation[4:].lower()}")(row)

    def _render_workers(self, e: Employee) -> etree._Element:
        company = self.emulator.company
        job = job.name if (job := company.job_by_code.get(e.job_code)) else e.job_code
        dept = company.department_by_code[e.department_code].name
        name = f"{e.first_name} {e.last_name}"
        orgs = [("Supervisory", f"SUP_{e.department_code}", dept), ("Cost_Center", e.cost_center, None),
                ("Company", e.company_code, None)]  # fmt: skip
        return E(
            "Worker",
            ref("Worker_Reference", ("WID", wid("worker", e.employee_id)), ("Employee_ID", e.employee_id)),
            E("Worker_Descriptor", name),
            E(
                "Worker_Data",
                E("Worker_ID", e.employee_id),
                E("User_ID", e.email),
                E(
                    "Personal_Data",
                    E(
                        "Name_Data",
                        E(
                            "Legal_Name_Data",
                            E(
                                "Name_Detail_Data",
                                E("First_Name", e.first_name),
                                E("Last_Name", e.last_name),
                                Formatted_Name=name,
                            ),
                        ),
                    ),
                    E("Birth_Date", e.birth_date),
                    E("Contact_Data", E("Email_Address_Data", E("Email_Address", e.email))),
                ),
                E(
                    "Employment_Data",
                    E(
                        "Worker_Job_Data",
                        E(
                            "Position_Data",
                            E("Business_Title", job),
                            E(
                                "Job_Profile_Summary_Data",
                                ref("Job_Profile_Reference", ("Job_Profile_ID", e.job_code)),
                                E("Job_Profile_Name", job),
                            ),
                            E(
                                "Business_Site_Summary_Data",
                                ref("Location_Reference", ("Location_ID", e.location_code)),
                            ),
                            E("Full_Time_Equivalent_Percentage", "100" if e.full_time else "50"),
                            E(
                                "Manager_as_of_last_detected_manager_change_Reference",
                                ref("Worker_Reference", ("Employee_ID", e.manager_id)),
                            )
                            if e.manager_id
                            else None,
                        ),
                    ),
                    E(
                        "Worker_Status_Data",
                        E("Active", e.status != "terminated"),
                        E("Hire_Date", e.hire_date),
                        E("Terminated", e.status == "terminated"),
                        E("Termination_Date", e.termination_date) if e.termination_date else None,
                        E("On_Leave", e.status == "leave"),
                    ),
                ),
                E(
                    "Organization_Data",
                    *[
                        E(
                            "Worker_Organization_Data",
                            E(
                                "Organization_Data",
                                E("Organization_Reference_ID", code),
                                E("Organization_Name", label or code),
                                ref("Organization_Type_Reference", ("Organization_Type_ID", kind)),
                            ),
                        )
                        for kind, code, label in orgs
                    ],
                ),
                E(
                    "Compensation_Data",
                    E(
                        "Employee_Base_Pay_Plan_Assignment_Data",
                        E("Amount", e.annual_salary),
                        ref("Currency_Reference", ("Currency_ID", e.currency)),
                        ref("Frequency_Reference", ("Frequency_ID", "Annual")),
                    ),
                ),
            ),
        )

    def _render_organizations(self, o: dict[str, Any]) -> etree._Element:
        hierarchy = (
            E("Hierarchy_Data", ref("Superior_Organization_Reference", ("Organization_Reference_ID", o["superior"])))
            if o["superior"]
            else None
        )
        return E(
            "Organization",
            ref("Organization_Reference", ("WID", o["wid"]), ("Organization_Reference_ID", o["code"])),
            E(
                "Organization_Data",
                E("Reference_ID", o["code"]),
                E("Name", o["name"]),
                E("Inactive", False),
                ref("Organization_Type_Reference", ("Organization_Type_ID", o["type"])),
                hierarchy,
            ),
        )

    def _render_journals(self, j: Any) -> etree._Element:
        lines = [
            E(
                "Journal_Entry_Line_Data",
                E("Line_Order", line.line_number),
                ref("Ledger_Account_Reference", ("Ledger_Account_ID", line.account_number)),
                E("Debit_Amount", line.debit),
                E("Credit_Amount", line.credit),
                E("Memo", line.description),
                ref("Worktags_Reference", ("Cost_Center_Reference_ID", line.cost_center)),
            )
            for line in j.lines
        ]
        return E(
            "Journal_Entry",
            ref("Journal_Entry_Reference", ("WID", wid("journal", j.journal_id))),
            E(
                "Journal_Entry_Data",
                E("Journal_Number", j.journal_id),
                ref("Company_Reference", ("Company_Reference_ID", j.legal_entity)),
                ref("Currency_Reference", ("Currency_ID", j.currency)),
                E("Ledger_Name", j.ledger),
                E("Accounting_Date", j.posted_date),
                E("Journal_Entry_Status", j.status),
                E("Journal_Entry_Memo", j.description),
                *lines,
            ),
        )

    def _render_suppliers(self, s: Any) -> etree._Element:
        return E(
            "Supplier",
            ref("Supplier_Reference", ("WID", wid("supplier", s.supplier_id)), ("Supplier_ID", s.supplier_id)),
            E(
                "Supplier_Data",
                E("Supplier_ID", s.supplier_id),
                E("Supplier_Name", s.name),
                ref("Currency_Reference", ("Currency_ID", s.currency)),
                ref("Payment_Terms_Reference", ("Payment_Terms_ID", s.payment_terms)),
                E("Country", s.country),
                E("Inactive", not s.active),
                E("Created_Moment", s.created),
            ),
        )


class _ThrottledFault(SoapFaultReply):
    def __init__(self) -> None:
        detail = f"<wd:Processing_Fault><wd:Detail_Message>{THROTTLE_REASON}</wd:Detail_Message></wd:Processing_Fault>"
        super().__init__("SOAP-ENV:Server.processingError", THROTTLE_REASON, detail)
