"""Workday Reports-as-a-Service: ``/ccx/service/customreport2/{tenant}/{owner}/{report}``.

``?format=json`` gives ``{"Report_Entry": [...]}`` the way Workday renders it: every value a string (booleans
``"1"``/``"0"``), references as their descriptor, empty fields left out, multi-instance subgroups as lists under
``<Name>_group``. Without ``format`` the report comes as Workday XML (``wd:Report_Data``), where a reference is an
element with a ``wd:Descriptor`` attribute and ``wd:ID`` children. ``?xsds`` gives the report's XSD
(``urn:com.workday.report/<report>``), the only place the column types live. Prompts are query parameters: dates as
``2024-03-01`` or ``2024-03-01-08:00``, references as ``Organization!WID=<wid>`` or
``Organization!Organization_Reference_ID=<id>``.

How the XSD and a JSON report agree (the evidence, since Workday's own RaaS guide sits behind its community login):

- ``?xsds`` describes the report's XML rendering: one complex ``Report_EntryType`` whose sequence holds a simple
  ``xsd:`` element per scalar column and, per subgroup, an element of a ``<Name>_groupType`` with
  ``maxOccurs="unbounded"`` (seen in a real tenant's XSD kept as a test fixture by singer-io/tap-workday-raas,
  ``tests/unittests/test_discovery.py``: ``Candidate_Details_groupType``, ``xsd:decimal``/``xsd:string`` leaves,
  ``elementFormDefault``/``attributeFormDefault="qualified"``).
- A reference column is a complex type whose sequence is ``ID`` elements (``maxOccurs="unbounded"``; each a
  ``simpleContent`` extension of ``xsd:string`` carrying the ID ``type``) plus the ``Descriptor`` attribute, the
  shape Airbyte's source-workday walks in ``ReportXMLSchemaHelper`` (it follows ``ID`` sequences and
  ``simpleContent/extension`` bases down to a string).
- The JSON rendering of the same report flattens each reference to its descriptor string: Airbyte adds a
  transformation because "workday returns string for fields that declared as unbounded" reference types, and
  singer's tap (which reads ``format=json``) types such columns as strings.

So a client must read a reference-typed XSD element as the descriptor string in JSON, which is what
``tap-workday``'s discovery does; the emulator serves both renderings from the same rows, and the conformance test
``sandbox/tests/conformance/test_workday_raas_xsd.py`` validates the XML against the XSD and checks that every JSON
value is the XML element's text or, for a reference, its ``wd:Descriptor``.
"""

from __future__ import annotations

import re
import typing as t
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from xlr8_sandbox.platform.rowcache import json_bytes
from xlr8_sandbox.products.workday import REPORT_OWNER, TENANT, wd_datetime, wid, worker_status

if t.TYPE_CHECKING:
    from xlr8_sandbox.company import Employee
    from xlr8_sandbox.products.workday import WorkdayEmulator

_DATE_PROMPT = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:Z|[+-]\d{2}:\d{2})?$")


@dataclass(frozen=True)
class Column:
    name: str
    xsd_type: str = "xsd:string"  # or "ref:<Kind>" for a reference, "group" for a subgroup
    children: tuple[Column, ...] = ()


@dataclass(frozen=True)
class Prompt:
    name: str
    kind: str  # "date" | "ref"


@dataclass
class Report:
    name: str
    columns: tuple[Column, ...]
    prompts: tuple[Prompt, ...]
    rows: Callable[[dict[str, Any]], Iterator[dict[str, Any]]] = field(repr=False)


def _s(name: str, xsd_type: str = "xsd:string") -> Column:
    return Column(name, xsd_type)


def _ref(name: str, kind: str | None = None) -> Column:
    return Column(name, f"ref:{kind or name}")


def _group(name: str, *children: Column) -> Column:
    return Column(name, "group", children)


class RaasError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def parse_date_prompt(name: str, value: str) -> date:
    found = _DATE_PROMPT.match(value.strip())
    if not found:
        raise RaasError(f"Invalid value for prompt {name}: {value!r} is not a date (YYYY-MM-DD-hh:mm)")
    return date.fromisoformat(found.group(1))


def parse_ref_prompt(name: str, value: str) -> tuple[str, str]:
    """``Organization!WID=abc`` as given in the URL (``name!WID=value`` arrives as key ``name!WID``)."""
    _kind, _, id_type = name.partition("!")
    if not id_type:
        raise RaasError(f"Invalid reference prompt {name}: use {name}!WID=<wid> or {name}!<ID type>=<id>")
    return id_type, value


_SCALAR, _REF, _GROUP = 0, 1, 2


_Plan = tuple[tuple[str, int, tuple[Column, ...]], ...]
#: Plans by the identity of their column tuple (reports declare theirs once); hashing the columns per row cost more
#: than the plan saved. The tuple itself is kept with its plan, so a recycled id never matches.
_PLANS: dict[int, tuple[tuple[Column, ...], _Plan]] = {}


def _plan(columns: tuple[Column, ...]) -> _Plan:
    """(name, kind, children) per column, worked out once per column set rather than per row (issue 14)."""
    kept = _PLANS.get(id(columns))
    if kept is not None and kept[0] is columns:
        return kept[1]
    plan = tuple(
        (c.name, _GROUP if c.xsd_type == "group" else _REF if c.xsd_type.startswith("ref:") else _SCALAR, c.children)
        for c in columns
    )
    if len(_PLANS) >= 256:
        _PLANS.clear()
    _PLANS[id(columns)] = (columns, plan)
    return plan


#: ``RaasReports._scalar`` by exact type (the common cases; any other type goes through ``_scalar`` itself).
_SCALAR_BY_TYPE: dict[type, Callable[[Any], str]] = {
    bool: lambda value: "1" if value else "0",
    datetime: wd_datetime,
    date: date.isoformat,
    Decimal: str,
    int: str,
}


class RaasReports:
    def __init__(self, emulator: WorkdayEmulator) -> None:
        self.emulator = emulator
        self.reports = {r.name: r for r in self._declare()}

    # --- HTTP -------------------------------------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        emulator = self.emulator
        if request.path_params["tenant"] != TENANT:
            return JSONResponse({"error": "Invalid tenant"}, 404)
        if not (emulator.basic_ok(request) or emulator.bearer_ok(request)):
            return Response("Unauthorized", 401, headers={"WWW-Authenticate": 'Basic realm="Workday"'})
        report = self.reports.get(request.path_params["report"])
        if report is None or request.path_params["owner"] != REPORT_OWNER:
            return JSONResponse({"error": "Report not found or not shared with this user"}, 404)
        query = request.query_params
        if "xsds" in query or "xsd" in query:
            return Response(self.xsd(report), media_type="application/xml")
        output = query.get("format", "workdayxml")
        if output not in ("json", "workdayxml"):
            return JSONResponse({"error": "This emulator renders format=json and Workday XML (no format) only"}, 400)
        pairs = [(k, v) for k, v in query.multi_items() if k not in ("format",)]
        emulator.raas_calls.append({"report": report.name, "prompts": pairs})
        media_type = "application/xml" if output == "workdayxml" else "application/json"
        # A report run is a pure function of (report, prompts, format) and the tenant's data: rendered once per
        # data version; a run that failed is never kept, so it fails again the same way.
        kept = emulator.row_cache.rows(("raas", report.name, output, tuple(pairs)), emulator.company.data_version())
        if kept is not None and 0 in kept:
            return Response(kept[0], media_type=media_type)
        try:
            prompts = self._prompts(report, pairs)
            rows = list(report.rows(prompts))
        except RaasError as exc:
            return JSONResponse({"error": str(exc)}, exc.status)
        if output == "workdayxml":
            body = self.render_xml(report, rows)
        else:
            body = json_bytes({"Report_Entry": [self.render(report.columns, row) for row in rows]})
        if kept is not None and emulator.row_cache.room_for(len(body)):
            kept[0] = body
        return Response(body, media_type=media_type)

    def _prompts(self, report: Report, pairs: list[tuple[str, str]]) -> dict[str, Any]:
        known = {p.name: p for p in report.prompts}
        values: dict[str, Any] = {}
        for key, value in pairs:
            base = key.split("!", 1)[0]
            prompt = known.get(base)
            if prompt is None:
                raise RaasError(f"Invalid request: {base!r} is not a prompt of report {report.name}")
            values[base] = parse_date_prompt(base, value) if prompt.kind == "date" else parse_ref_prompt(key, value)
        return values

    # --- rendering --------------------------------------------------------------------------------------------

    def render(self, columns: tuple[Column, ...], row: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, kind, children in _plan(columns):
            value = row.get(name)
            if value is None or value == []:
                continue  # Workday leaves empty fields out
            if kind == _GROUP:
                out[name] = [self.render(children, item) for item in value]
            elif kind == _REF:
                out[name] = value[1]  # (wid, descriptor): JSON shows the descriptor
            elif type(value) is str:
                out[name] = value
            else:
                by_type = _SCALAR_BY_TYPE.get(type(value))
                out[name] = by_type(value) if by_type is not None else self._scalar(value)
        return out

    def render_xml(self, report: Report, rows: list[dict[str, Any]]) -> bytes:
        """The Workday XML rendering the XSD describes: references keep their descriptor and IDs."""
        ns = f"urn:com.workday.report/{report.name}"

        def entry(columns: tuple[Column, ...], row: dict[str, Any]) -> str:
            parts: list[str] = []
            for column in columns:
                value = row.get(column.name)
                if value is None or value == []:
                    continue
                tag = f"wd:{column.name}"
                if column.xsd_type == "group":
                    parts.extend(f"<{tag}>{entry(column.children, item)}</{tag}>" for item in value)
                elif column.xsd_type.startswith("ref:"):
                    ref_wid, descriptor = value
                    parts.append(
                        f"<{tag} wd:Descriptor={quoteattr(descriptor)}>"
                        f'<wd:ID wd:type="WID">{escape(ref_wid)}</wd:ID></{tag}>'
                    )
                else:
                    parts.append(f"<{tag}>{escape(self._scalar(value))}</{tag}>")
            return "".join(parts)

        body = "".join(f"<wd:Report_Entry>{entry(report.columns, row)}</wd:Report_Entry>" for row in rows)
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<wd:Report_Data xmlns:wd="{ns}">{body}</wd:Report_Data>'.encode()
        )

    @staticmethod
    def _scalar(value: Any) -> str:
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, datetime):
            return wd_datetime(value)
        if isinstance(value, date):
            return value.isoformat()
        return str(value)

    def xsd(self, report: Report) -> bytes:
        ns = f"urn:com.workday.report/{report.name}"
        types: dict[str, str] = {}

        def sequence(columns: tuple[Column, ...]) -> str:
            parts = []
            for c in columns:
                if c.xsd_type == "group":
                    type_name = f"{c.name}Type"
                    types[type_name] = (
                        f'<xsd:complexType name="{type_name}"><xsd:sequence>{sequence(c.children)}'
                        "</xsd:sequence></xsd:complexType>"
                    )
                    parts.append(
                        f'<xsd:element name="{c.name}" type="wd:{type_name}" minOccurs="0" maxOccurs="unbounded"/>'
                    )
                elif c.xsd_type.startswith("ref:"):
                    type_name = f"{c.xsd_type[4:]}_ReferenceType"
                    types[type_name] = (
                        f'<xsd:complexType name="{type_name}"><xsd:sequence>'
                        '<xsd:element name="ID" type="wd:IDType" minOccurs="0" maxOccurs="unbounded"/>'
                        '</xsd:sequence><xsd:attribute ref="wd:Descriptor"/></xsd:complexType>'
                    )
                    parts.append(f'<xsd:element name="{c.name}" type="wd:{type_name}" minOccurs="0"/>')
                else:
                    parts.append(f'<xsd:element name="{c.name}" type="{c.xsd_type}" minOccurs="0"/>')
            return "".join(parts)

        entry = sequence(report.columns)
        doc = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:wd="{ns}" targetNamespace="{ns}" '
            'elementFormDefault="qualified" attributeFormDefault="qualified">'
            '<xsd:attribute name="Descriptor" type="xsd:string"/>'
            '<xsd:complexType name="IDType"><xsd:simpleContent><xsd:extension base="xsd:string">'
            '<xsd:attribute name="type" type="xsd:string"/><xsd:attribute name="parent_id" type="xsd:string"/>'
            "</xsd:extension></xsd:simpleContent></xsd:complexType>"
            + "".join(types.values())
            + f'<xsd:complexType name="Report_EntryType"><xsd:sequence>{entry}</xsd:sequence></xsd:complexType>'
            '<xsd:complexType name="Report_DataType"><xsd:sequence>'
            '<xsd:element name="Report_Entry" type="wd:Report_EntryType" minOccurs="0" maxOccurs="unbounded"/>'
            "</xsd:sequence></xsd:complexType>"
            '<xsd:element name="Report_Data" type="wd:Report_DataType"/>'
            "</xsd:schema>"
        )
        return doc.encode()

    # --- reports ----------------------------------------------------------------------------------------------

    def _declare(self) -> list[Report]:
        workers = Report(
            "XLR8_Workers",
            (
                _ref("Worker"),
                _s("Employee_ID"),
                _s("First_Name"),
                _s("Last_Name"),
                _s("Email"),
                _s("Hire_Date", "xsd:date"),
                _s("Termination_Date", "xsd:date"),
                _s("Worker_Status"),
                _s("Job_Code"),
                _s("Business_Title"),
                _s("Department_Code"),
                _ref("Supervisory_Organization", "Organization"),
                _s("Location_Code"),
                _s("Company_Code"),
                _s("Cost_Center"),
                _s("Manager_ID"),
                _s("Annual_Salary", "xsd:decimal"),
                _s("Currency"),
                _s("Full_Time", "xsd:boolean"),
                _s("Last_Updated", "xsd:dateTime"),
                _group(
                    "Organizations_group",
                    _s("Organization_Type"),
                    _s("Organization_Code"),
                    _ref("Organization"),
                ),
            ),
            (Prompt("Organization", "ref"), Prompt("Updated_From", "date"), Prompt("Updated_Through", "date")),
            self._worker_rows,
        )
        compensation = Report(
            "XLR8_Compensation",
            (
                _ref("Worker"),
                _s("Employee_ID"),
                _s("Effective_Date", "xsd:date"),
                _s("Pay_Group"),
                _s("Total_Base_Pay", "xsd:decimal"),
                _s("Currency"),
                _group(
                    "Compensation_Plans_group",
                    _ref("Compensation_Plan"),
                    _s("Amount", "xsd:decimal"),
                    _s("Frequency"),
                    _s("Currency"),
                ),
            ),
            (Prompt("Effective_as_of_Date", "date"), Prompt("Organization", "ref")),
            self._compensation_rows,
        )
        journals = Report(
            "XLR8_Journal_Lines",
            (
                _ref("Journal"),
                _s("Journal_Number"),
                _s("Accounting_Date", "xsd:date"),
                _ref("Company"),
                _s("Company_Code"),
                _s("Ledger"),
                _s("Currency"),
                _s("Journal_Status"),
                _s("Total_Debit", "xsd:decimal"),
                _s("Line_Count", "xsd:integer"),
                _group(
                    "Journal_Lines_group",
                    _s("Line_Number", "xsd:integer"),
                    _s("Ledger_Account"),
                    _s("Debit_Amount", "xsd:decimal"),
                    _s("Credit_Amount", "xsd:decimal"),
                    _s("Cost_Center"),
                    _s("Memo"),
                ),
            ),
            (Prompt("Accounting_Date_From", "date"), Prompt("Accounting_Date_To", "date"), Prompt("Company", "ref")),
            self._journal_rows,
        )
        return [workers, compensation, journals]

    def _org_filter(self, prompts: dict[str, Any]) -> Callable[[Employee], bool]:
        ref = prompts.get("Organization")
        if ref is None:
            return lambda e: True
        id_type, value = ref
        orgs = self.emulator.organizations()
        match = [o for o in orgs if (o["wid"] if id_type == "WID" else o["code"]) == value]
        if not match:
            raise RaasError(f"Invalid ID value {value!r} for prompt Organization ({id_type})")
        code = match[0]["code"]
        return lambda e: code in (f"SUP_{e.department_code}", e.cost_center, e.company_code, "SUP_TOP")

    def _worker_rows(self, prompts: dict[str, Any]) -> Iterator[dict[str, Any]]:
        emulator = self.emulator
        in_org = self._org_filter(prompts)
        start: date | None = prompts.get("Updated_From")
        end: date | None = prompts.get("Updated_Through")
        if start and end and start > end:
            raise RaasError("Updated_From must not be after Updated_Through")
        departments = {d.code: d.name for d in emulator.company.departments}
        jobs = {j.code: j.name for j in emulator.company.jobs}
        for e in emulator.workers():
            day = e.last_modified.date()
            if (start and day < start) or (end and day > end) or not in_org(e):
                continue
            dept = departments[e.department_code]
            yield {
                "Worker": (wid("worker", e.employee_id), f"{e.first_name} {e.last_name}"),
                "Employee_ID": e.employee_id,
                "First_Name": e.first_name,
                "Last_Name": e.last_name,
                "Email": e.email,
                "Hire_Date": e.hire_date,
                "Termination_Date": e.termination_date,
                "Worker_Status": worker_status(e),
                "Job_Code": e.job_code,
                "Business_Title": jobs.get(e.job_code),
                "Department_Code": e.department_code,
                "Supervisory_Organization": (wid("organization", f"SUP_{e.department_code}"), dept),
                "Location_Code": e.location_code,
                "Company_Code": e.company_code,
                "Cost_Center": e.cost_center,
                "Manager_ID": e.manager_id,
                "Annual_Salary": e.annual_salary,
                "Currency": e.currency,
                "Full_Time": e.full_time,
                "Last_Updated": e.last_modified,
                "Organizations_group": [
                    {"Organization_Type": "Supervisory", "Organization_Code": f"SUP_{e.department_code}",
                     "Organization": (wid("organization", f"SUP_{e.department_code}"), dept)},
                    {"Organization_Type": "Cost_Center", "Organization_Code": e.cost_center,
                     "Organization": (wid("organization", e.cost_center), f"{dept} cost center")},
                    {"Organization_Type": "Company", "Organization_Code": e.company_code,
                     "Organization": (wid("organization", e.company_code), e.company_code)},
                ],
            }  # fmt: skip

    def _compensation_rows(self, prompts: dict[str, Any]) -> Iterator[dict[str, Any]]:
        emulator = self.emulator
        as_of_day: date | None = prompts.get("Effective_as_of_Date")
        as_of = None
        if as_of_day is not None:
            as_of = datetime(as_of_day.year, as_of_day.month, as_of_day.day, 23, 59, 59, tzinfo=emulator.now().tzinfo)
        in_org = self._org_filter(prompts)
        for e in emulator.workers(as_of):
            if not in_org(e) or e.status == "terminated":
                continue
            plans = [
                {"Compensation_Plan": (wid("plan", "BASE"), "Base Salary"), "Amount": e.annual_salary,
                 "Frequency": "Annual", "Currency": e.currency},
            ]  # fmt: skip
            if e.index % 2 == 0:
                bonus = (e.annual_salary * Decimal("0.10")).quantize(Decimal("0.01"))
                plans.append({"Compensation_Plan": (wid("plan", "BONUS"), "Annual Bonus Target"), "Amount": bonus,
                              "Frequency": "Annual", "Currency": e.currency})  # fmt: skip
            yield {
                "Worker": (wid("worker", e.employee_id), f"{e.first_name} {e.last_name}"),
                "Employee_ID": e.employee_id,
                "Effective_Date": max(e.hire_date, e.last_modified.date()),
                "Pay_Group": e.pay_group,
                "Total_Base_Pay": e.annual_salary,
                "Currency": e.currency,
                "Compensation_Plans_group": plans,
            }

    def _journal_rows(self, prompts: dict[str, Any]) -> Iterator[dict[str, Any]]:
        company = self.emulator.company
        start: date | None = prompts.get("Accounting_Date_From")
        end: date | None = prompts.get("Accounting_Date_To")
        ref = prompts.get("Company")
        names = {c.code: c.name for c in company.legal_entities}
        for j in company.journals():
            if (start and j.posted_date < start) or (end and j.posted_date > end):
                continue
            if ref is not None and ref[1] not in (j.legal_entity, wid("organization", j.legal_entity)):
                continue
            yield {
                "Journal": (wid("journal", j.journal_id), f"Journal: {j.journal_id}"),
                "Journal_Number": j.journal_id,
                "Accounting_Date": j.posted_date,
                "Company": (wid("organization", j.legal_entity), names[j.legal_entity]),
                "Company_Code": j.legal_entity,
                "Ledger": j.ledger,
                "Currency": j.currency,
                "Journal_Status": j.status,
                "Total_Debit": sum((line.debit for line in j.lines), Decimal(0)),
                "Line_Count": len(j.lines),
                "Journal_Lines_group": [
                    {"Line_Number": line.line_number, "Ledger_Account": line.account_number,
                     "Debit_Amount": line.debit, "Credit_Amount": line.credit, "Cost_Center": line.cost_center,
                     "Memo": line.description}
                    for line in j.lines
                ],
            }  # fmt: skip
