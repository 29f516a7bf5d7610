"""UKG Pro RaaS (Reports as a Service): the reports this tenant offers, how they render, and the services' WSDL.

Reports render as the real service does: Cognos ``dataset`` XML (typed ``metadata`` items, then ``row``/``value``
elements) by default, CSV encoded Windows-1252 when the client sends the ``US-DELIMITER`` HTTP header. The WSDL
text here is this emulator's own, generated from the operation list; it matches the vendor's service contract
(namespaces, actions, SOAP 1.2 binding with WS-Addressing) without being a copy of it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from xlr8_sandbox.company import Company
from xlr8_sandbox.products.ukg_pro.rest import STATUS_CODES, job_description

BIDATA_NS = "http://www.ultipro.com/dataservices/bidata/2"
BISTREAM_NS = "http://www.ultipro.com/dataservices/bistream/2"
COGNOS_NS = "http://developer.cognos.com/schemas/xmldata/1/"
FOLDER = "/content/folder[@name='zzzCompany Folders']/folder[@name='Acme Holdings']/folder[@name='Integrations']"


@dataclass(frozen=True)
class Column:
    name: str
    xs_type: str  # xs:string, xs:decimal, xs:int, xs:date, xs:dateTime, xs:boolean


@dataclass(frozen=True)
class Parameter:
    name: str
    data_type: str  # as RaaS names them: String, Date, Number
    required: bool = False
    multi_valued: bool = False


@dataclass(frozen=True)
class Report:
    name: str
    columns: tuple[Column, ...]
    parameters: tuple[Parameter, ...]
    rows: Callable[[Company, dict[str, list[str]]], Iterator[tuple[Any, ...]]]

    @property
    def path(self) -> str:
        return f"{FOLDER}/report[@name='{self.name}']"


def _employee_rows(company: Company, params: dict[str, list[str]]) -> Iterator[tuple[Any, ...]]:
    wanted = set(params.get("EmployeeStatus") or [])
    for e in company.employees():
        status = STATUS_CODES[e.status]
        if wanted and status not in wanted:
            continue
        yield (
            e.employee_id,
            e.employee_id.lstrip("E"),
            e.company_code,
            e.first_name,
            e.last_name,
            e.email,
            status,
            e.job_code,
            job_description(company, e.job_code),
            e.department_code,
            e.cost_center,
            e.location_code,
            e.pay_group,
            e.full_time,
            e.annual_salary,
            e.hire_date,
            e.termination_date,
            e.manager_id,
            e.last_modified.replace(tzinfo=None),
        )


def _earnings_rows(company: Company, params: dict[str, list[str]]) -> Iterator[tuple[Any, ...]]:
    first = date.fromisoformat(params["PayDateFrom"][0]) if params.get("PayDateFrom") else date.min
    last = date.fromisoformat(params["PayDateTo"][0]) if params.get("PayDateTo") else date.max
    names = {c.code: c.name for c in company.earning_codes}
    periods = [p for p in company.pay_periods() if first <= p.pay_date <= last]
    for i in range(company.employee_count()):
        for period in periods:
            statement = company.pay_statement(i, period)
            if statement is None:
                continue
            for n, line in enumerate(statement.earnings):
                yield (
                    f"{statement.statement_id}-{n + 1}",
                    statement.employee_id,
                    "C100",
                    period.pay_date,
                    period.start,
                    period.end,
                    line.code,
                    names.get(line.code, line.code),
                    line.hours,
                    line.amount,
                    statement.currency,
                )


def _job_code_rows(company: Company, params: dict[str, list[str]]) -> Iterator[tuple[Any, ...]]:
    for j in company.jobs:
        yield (j.code, job_description(company, j.code), "E" if j.code in ("J003", "J004") else "N", True)


_S, _D, _DT, _N, _B = "xs:string", "xs:date", "xs:dateTime", "xs:decimal", "xs:boolean"

REPORTS: tuple[Report, ...] = (
    Report(
        "XLR8 Employees",
        tuple(
            Column(n, k)
            for n, k in [
                ("EmployeeID", _S),
                ("EmployeeNumber", _S),
                ("CompanyCode", _S),
                ("FirstName", _S),
                ("LastName", _S),
                ("EmailAddress", _S),
                ("EmployeeStatusCode", _S),
                ("JobCode", _S),
                ("JobTitle", _S),
                ("OrgLevel1Code", _S),
                ("OrgLevel2Code", _S),
                ("LocationCode", _S),
                ("PayGroup", _S),
                ("FullTime", _B),
                ("AnnualSalary", _N),
                ("HireDate", _D),
                ("TerminationDate", _D),
                ("SupervisorID", _S),
                ("LastModified", _DT),
            ]
        ),
        (Parameter("EmployeeStatus", "String", multi_valued=True),),
        _employee_rows,
    ),
    Report(
        "XLR8 Earnings History",
        tuple(
            Column(n, k)
            for n, k in [
                ("EarningLineID", _S),
                ("EmployeeID", _S),
                ("CompanyCode", _S),
                ("PayDate", _D),
                ("PeriodStartDate", _D),
                ("PeriodEndDate", _D),
                ("EarningCode", _S),
                ("EarningDescription", _S),
                ("Hours", _N),
                ("Amount", _N),
                ("CurrencyCode", _S),
            ]
        ),
        (Parameter("PayDateFrom", "Date"), Parameter("PayDateTo", "Date")),
        _earnings_rows,
    ),
    Report(
        "XLR8 Job Codes",
        (Column("Code", _S), Column("Description", _S), Column("FLSAType", _S), Column("IsActive", _B)),
        (),
        _job_code_rows,
    ),
)


def find_report(path: str) -> Report | None:
    return next((r for r in REPORTS if r.path == path.strip()), None)


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, date):
        return f"{value.month}/{value.day}/{value.year}"  # the US form Cognos CSV exports use
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _xml_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def render_csv(report: Report, rows: Iterator[tuple[Any, ...]], delimiter: str) -> bytes:
    """CSV as RaaS streams it: header row, CRLF lines, Windows-1252 (unencodable characters become '?')."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter or ",", lineterminator="\r\n")
    writer.writerow([c.name for c in report.columns])
    for row in rows:
        writer.writerow([_csv_value(v) for v in row])
    return buffer.getvalue().encode("cp1252", errors="replace")


def render_xml(report: Report, rows: Iterator[tuple[Any, ...]]) -> bytes:
    """Cognos dataset XML (UTF-8)."""
    out = [
        f'<?xml version="1.0" encoding="utf-8"?>\n<dataset xmlns="{COGNOS_NS}" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema">\n<metadata>\n'
    ]
    out.extend(f"<item name={quoteattr(c.name)} type={quoteattr(c.xs_type)}/>\n" for c in report.columns)
    out.append("</metadata>\n<data>\n")
    for row in rows:
        out.append("<row>")
        for value in row:
            text = _xml_value(value)
            out.append('<value xs:nil="true"/>' if text is None else f"<value>{escape(text)}</value>")
        out.append("</row>\n")
    out.append("</data>\n</dataset>\n")
    return "".join(out).encode("utf-8")
