"""UKG Ready (Kronos Workforce Ready) emulator: the ``/ta/rest`` API on the shared company.

Auth, both paths the real tenants offer:
- v1 login: ``POST /ta/rest/v1/login`` with header ``Api-Key`` and body ``{"credentials": {"username", "password",
  "company"}}`` (company short name) answers ``{"token", "ttl"}`` (ttl in milliseconds); calls then carry
  ``Authentication: Bearer <token>``. A wrong key, unknown company, bad password or locked user each get their own
  vendor error (``{"errors": [{"code", "message"}]}``).
- OAuth client credentials for v2: ``POST /ta/rest/v2/companies/{cid}/oauth2/token`` (form) answers
  ``{"access_token", "token_type", "expires_in"}``; calls carry ``Authorization: Bearer <token>``.
Either token is accepted on every resource; an expired or unknown one gets 401 with an ``errors`` body.

Companies are addressed by numeric id (``COMPANY_ID``) or short name (``|ACMEREADY``). Resources (v2):
``employees`` (``size``/``page`` paging, optional ``status`` filter, HATEOAS ``_links.next``; items in UKG's
documented shape, dates under ``dates``), ``employees/{id}`` (the full record: e-mail, managers, default cost
centers), per employee
``demographics`` and ``pay-info`` (pay type and default job as objects), ``config/cost-centers`` (``tree_index``
required, one tree per call), ``lookup/jobs`` (``{"items": [...]}``, ids as pay info's ``default_job.id``), and the
company's pay types at v1 ``GET /ta/rest/v1/company/pay-types`` (``{"pay_types": [...]}``, company from the token), the
paths a public Ready client reads them from (no ``config/pay-types`` or ``config/job-titles``).

Reports (v1): ``GET /ta/rest/v1/reports/{saved|global}`` lists them, ``.../report/{kind}/{id}/metadata`` gives the
tenant-defined columns, ``.../report/{kind}/{id}`` runs it: CSV (``Accept: text/csv``, streamed, US dates) or JSON
(``{"columns", "rows"}``). ``add_report_column`` changes a report's columns (a tenant editing a saved report).

Token expiry mid-run comes from the platform's ``expire_tokens`` fault. Observations for tests: ``logins`` (tokens
issued), ``authorised_calls``, ``employee_queries`` (query parameters of each employees call).
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from operator import attrgetter
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from xlr8_sandbox.company import Company, Employee
from xlr8_sandbox.platform.emulator import FaultResponse, ProductEmulator, SandboxContext
from xlr8_sandbox.platform.rowcache import RowCache, json_bytes
from xlr8_sandbox.platform.wirecsv import plain_csv_line

API_KEY = "sbx-ready-api-key-41d7"  # emulator test credential, not a real secret
USERNAME = "xlr8-ready-api"
PASSWORD = "sandbox-ready-password"
LOCKED_USERNAME = "locked-ready-user"
COMPANY_SHORT_NAME = "ACMEREADY"
COMPANY_ID = "33560858"
CLIENT_ID = "xlr8-ready-client"
CLIENT_SECRET = "sandbox-ready-client-secret"
TOKEN_TTL_S = 3600.0
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
ACCOUNT_ID_BASE = 100_000
STATUS = {"active": "Active", "leave": "On Leave", "terminated": "Terminated"}
EIN_NAME = "Acme Ready Inc"
COST_CENTER_ID_BASE = 500
JOB_ID_BASE = 900
MAX_TREE_INDEX = 8
PAY_GROUPS = {"BW": "Biweekly", "MO": "Monthly", "WK": "Weekly"}

Row = dict[str, Any]


def _error(status: int, code: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"errors": [{"code": code, "message": message}]}, status_code=status, headers=headers)


def _us_date(day: date | None) -> str:
    if day is None:
        return ""
    if day.year >= 1000:  # strftime's "%m/%d/%Y" (four-digit years), without its cost
        return f"{day.month:02d}/{day.day:02d}/{day.year}"
    return day.strftime("%m/%d/%Y")


@dataclass
class ReportColumn:
    name: str
    type: str  # STRING | DATE | DECIMAL | INTEGER | BOOLEAN
    value: Callable[[Any], Any]


@dataclass
class Report:
    id: int
    kind: str  # saved | global
    name: str
    columns: list[ReportColumn]
    rows: Callable[[Company], Iterator[Any]]
    extra: list[ReportColumn] = field(default_factory=list)

    @property
    def all_columns(self) -> list[ReportColumn]:
        return [*self.columns, *self.extra]


def column(name: str, type_: str, source: str | Callable[[Any], Any]) -> ReportColumn:
    """A report column; ``source`` is the row's attribute (a dotted path) or a function of the row."""
    return ReportColumn(name, type_, attrgetter(source) if isinstance(source, str) else source)


def _accrual_rows(company: Company) -> Iterator[Any]:
    for i in range(company.employee_count()):
        yield from company.accrual_balances(i)


def build_reports() -> dict[tuple[str, int], Report]:
    """The tenant's saved reports (payroll and time) and one global report, with their columns."""
    c = column
    reports = [
        Report(
            1001,
            "saved",
            "XLR8 Pay Statements",
            [
                c("PayStatementId", "STRING", "statement_id"),
                c("EmployeeId", "STRING", "employee_id"),
                c("PeriodStart", "DATE", "period.start"),
                c("PeriodEnd", "DATE", "period.end"),
                c("PayDate", "DATE", "period.pay_date"),
                c("GrossPay", "DECIMAL", "gross"),
                c("Deductions", "DECIMAL", "deductions_total"),
                c("NetPay", "DECIMAL", "net"),
                c("Currency", "STRING", "currency"),
            ],
            Company.pay_statements,
        ),
        Report(
            1002,
            "saved",
            "XLR8 Timesheets",
            [
                c("TimesheetEntryId", "STRING", "timecard_id"),
                c("EmployeeId", "STRING", "employee_id"),
                c("WorkDate", "DATE", "work_date"),
                c("Hours", "DECIMAL", "hours"),
                c("PayCode", "STRING", "pay_code"),
                c("Approved", "BOOLEAN", "approved"),
            ],
            Company.timecards,
        ),
        Report(
            1003,
            "saved",
            "XLR8 Accrual Balances",
            [
                c("EmployeeId", "STRING", "employee_id"),
                c("AccrualCode", "STRING", "plan_code"),
                c("Balance", "DECIMAL", "balance_hours"),
                c("AccruedYtd", "DECIMAL", "accrued_ytd"),
                c("TakenYtd", "DECIMAL", "taken_ytd"),
                c("AsOf", "DATE", "as_of"),
            ],
            _accrual_rows,
        ),
        Report(
            2001,
            "global",
            "Employee Roster",
            [
                c("EmployeeId", "STRING", "employee_id"),
                c("FirstName", "STRING", "first_name"),
                c("LastName", "STRING", "last_name"),
                c("Status", "STRING", lambda e: STATUS[e.status]),
                c("HireDate", "DATE", "hire_date"),
                c("AnnualSalary", "DECIMAL", "annual_salary"),
                c("FullTime", "BOOLEAN", "full_time"),
            ],
            Company.employees,
        ),
    ]
    return {(r.kind, r.id): r for r in reports}


class UkgReadyEmulator(ProductEmulator):
    product_id = "ukg_ready"
    title = "UKG Ready (REST v1/v2, saved and global reports)"

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        self.company = ctx.company
        self._lock = threading.Lock()
        self.reports = build_reports()
        #: Bumped when report definitions change (columns added, reset): part of the row cache's data version.
        self._changes = 0
        #: Rendered pages and reports per request and data version (``XLR8_SANDBOX_CACHE=0`` disables).
        self.row_cache = RowCache()
        self.authorised_calls = 0
        self.logins = 0
        #: Query parameters of every employees list request, as asked (tests check what was pushed down).
        self.employee_queries: list[dict[str, str]] = []

    def routes(self) -> list[BaseRoute]:
        company = "/ta/rest/v2/companies/{cid}"
        return [
            Route("/ta/rest/v1/login", self._login, methods=["POST"]),
            Route(company + "/oauth2/token", self._oauth_token, methods=["POST"]),
            Route(company + "/employees", self._employees, methods=["GET"]),
            Route(company + "/employees/{aid:int}", self._employee_detail, methods=["GET"]),
            Route(company + "/employees/{aid:int}/{resource}", self._employee_resource, methods=["GET"]),
            Route(company + "/config/{resource}", self._config, methods=["GET"]),
            Route(company + "/lookup/jobs", self._lookup_jobs, methods=["GET"]),
            Route("/ta/rest/v1/company/pay-types", self._pay_types, methods=["GET"]),
            Route("/ta/rest/v1/reports/{kind}", self._report_list, methods=["GET"]),
            Route("/ta/rest/v1/report/{kind}/{rid:int}/metadata", self._report_metadata, methods=["GET"]),
            Route("/ta/rest/v1/report/{kind}/{rid:int}", self._report, methods=["GET"]),
        ]

    def test_credentials(self) -> dict[str, str]:
        """The v1 login's settings (the OAuth pair is ``CLIENT_ID`` / ``CLIENT_SECRET``)."""
        return {
            "api_key": API_KEY,
            "username": USERNAME,
            "password": PASSWORD,
            "company_short_name": COMPANY_SHORT_NAME,
        }

    def quota_error_response(self) -> FaultResponse:
        """Ready's rate-limit error is code 100 (what a public Ready client retries on); its status is not documented
        publicly, so the tap reads code 100 in any status (``test_rate_limit_code``)."""
        body = {"errors": [{"code": 100, "message": "Too many requests. Request limit exceeded, try again later."}]}
        return FaultResponse(429, json.dumps(body), headers={"Retry-After": "1"})

    def error_body_response(self) -> FaultResponse:
        body = {"errors": [{"code": 500, "message": "An unexpected error occurred while processing the request."}]}
        return FaultResponse(200, json.dumps(body))

    def reset(self) -> None:
        with self._lock:
            self.reports = build_reports()
            self._changes += 1
            self.authorised_calls = 0
            self.logins = 0
            self.employee_queries.clear()
        self.row_cache.clear()

    def _kept(self, *shape: Any) -> dict[int, Any] | None:
        """The row cache's slot for one request shape at the current data version (None when caching is off)."""
        with self._lock:
            version = (self.company.data_version(), self._changes)
        return self.row_cache.rows(shape, version)

    def add_report_column(self, kind: str, report_id: int, name: str, type_: str, value: Callable[[Any], Any]) -> None:
        """The tenant adds a column to a report (its metadata and output change from the next call on)."""
        with self._lock:
            self.reports[(kind, report_id)].extra.append(ReportColumn(name, type_, value))
            self._changes += 1

    @staticmethod
    def account_id(e: Employee) -> int:
        return ACCOUNT_ID_BASE + e.index

    # --- auth ---------------------------------------------------------------------------------------------------

    async def _login(self, request: Request) -> Response:
        if not secrets.compare_digest(request.headers.get("api-key", ""), API_KEY):
            return _error(401, 4002, "Invalid or missing Api-Key header.")
        try:
            body = json.loads(await request.body() or b"{}")
            credentials = body["credentials"]
            username, password = str(credentials["username"]), str(credentials["password"])
            company = str(credentials["company"])
        except (ValueError, KeyError, TypeError):
            return _error(400, 4000, 'Request body must be {"credentials": {"username", "password", "company"}}.')
        if company.upper() != COMPANY_SHORT_NAME:
            return _error(404, 4004, f"Company '{company}' not found.")
        if username == LOCKED_USERNAME:
            return _error(403, 4031, "User account is locked. Contact your administrator.")
        if not (secrets.compare_digest(username, USERNAME) and secrets.compare_digest(password, PASSWORD)):
            return _error(401, 4001, "Invalid username or password.")
        issued = self.ctx.tokens.issue(self.product_id, username, ttl=TOKEN_TTL_S)
        with self._lock:
            self.logins += 1
        return JSONResponse({"token": issued.token, "ttl": int(TOKEN_TTL_S * 1000)})

    async def _oauth_token(self, request: Request) -> Response:
        if not self._company_ok(request.path_params["cid"]):
            return _error(404, 4004, f"Company '{request.path_params['cid']}' not found.")
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        client_id, client_secret = str(form.get("client_id") or ""), str(form.get("client_secret") or "")
        if not (secrets.compare_digest(client_id, CLIENT_ID) and secrets.compare_digest(client_secret, CLIENT_SECRET)):
            return JSONResponse(
                {"error": "invalid_client", "error_description": "Client authentication failed."}, status_code=401
            )
        issued = self.ctx.tokens.issue(self.product_id, client_id, ttl=TOKEN_TTL_S)
        with self._lock:
            self.logins += 1
        return JSONResponse({"access_token": issued.token, "token_type": "Bearer", "expires_in": int(TOKEN_TTL_S)})

    def _denied(self, request: Request) -> Response | None:
        """401 unless a live token comes in ``Authentication`` (v1 login) or ``Authorization`` (OAuth)."""
        header = request.headers.get("authentication") or request.headers.get("authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _error(401, 4010, "Authentication token is missing.")
        if self.ctx.tokens.check(self.product_id, token.strip()) is None:
            return _error(401, 4011, "Authentication token is invalid or has expired.")
        with self._lock:
            self.authorised_calls += 1
        return None

    @staticmethod
    def _company_ok(cid: str) -> bool:
        return cid == COMPANY_ID or cid.upper() == "|" + COMPANY_SHORT_NAME

    def _company_denied(self, request: Request) -> Response | None:
        denied = self._denied(request)
        if denied is not None:
            return denied
        cid = request.path_params["cid"]
        if not self._company_ok(cid):
            return _error(404, 4004, f"Company '{cid}' not found.")
        return None

    # --- data ---------------------------------------------------------------------------------------------------

    def _employee_row(self, request: Request, e: Employee) -> Row:
        base = str(request.base_url).rstrip("/")
        self_link = f"{base}/ta/rest/v2/companies/{COMPANY_ID}/employees/{self.account_id(e)}"
        return {  # the list item UKG documents: dates nested; no job, location, cost center, manager or e-mail
            "id": self.account_id(e),
            "username": f"{e.first_name}.{e.last_name}".lower(),
            "first_name": e.first_name,
            "last_name": e.last_name,
            "employee_id": e.employee_id,
            "external_id": None,
            "primary_account_id": self.account_id(e),
            "ein_name": EIN_NAME,
            "status": STATUS[e.status],
            "dates": {
                "hired": e.hire_date.isoformat(),
                "re_hired": None,
                "started": e.hire_date.isoformat(),
                "terminated": e.termination_date.isoformat() if e.termination_date else None,
            },
            "_links": {
                "self": self_link,
                "demographics": self_link + "/demographics",
                "pay_info": self_link + "/pay-info",
            },
        }

    async def _employees(self, request: Request) -> Response:
        denied = self._company_denied(request)
        if denied is not None:
            return denied
        query = request.query_params
        with self._lock:
            self.employee_queries.append(dict(query))
        try:
            size = int(query.get("size", DEFAULT_PAGE_SIZE))
            page = int(query.get("page", 0))
        except ValueError:
            return _error(400, 4000, "size and page must be integers.")
        if not 1 <= size <= MAX_PAGE_SIZE or page < 0:
            return _error(400, 4000, f"size must be between 1 and {MAX_PAGE_SIZE}, page >= 0.")
        kept = self._kept("employees", str(request.url))
        if kept is not None and 0 in kept:
            return Response(kept[0], media_type="application/json")
        status = query.get("status")
        if status:
            people = [e for e in self.company.employees() if STATUS[e.status] == status]
            total, chunk = len(people), people[page * size : (page + 1) * size]
        else:  # page straight from the index: no need to build everyone for every page
            total = self.company.employee_count()
            chunk = list(self.company.employees(page * size, (page + 1) * size))
        links: dict[str, str] = {"self": str(request.url)}
        if (page + 1) * size < total:
            params = {k: v for k, v in query.items() if k != "page"}
            links["next"] = str(request.url.replace(query=urlencode({**params, "page": page + 1})))
        body = json_bytes({"employees": [self._employee_row(request, e) for e in chunk], "_links": links})
        if kept is not None and self.row_cache.room_for(len(body)):
            kept[0] = body
        return Response(body, media_type="application/json")

    def _employee_by_account(self, aid: int) -> Employee | None:
        index = aid - ACCOUNT_ID_BASE
        if not 0 <= index < self.company.employee_count():
            return None
        return self.company.employee(index)

    async def _employee_detail(self, request: Request) -> Response:
        """One employee's full record (the list item's ``_links.self``), in the shape UKG Ready's public clients
        read and write it: ``primary_email``, ``managers`` as ``[{index, empl_ref: {account_id}}]`` and the
        employee's default cost center per tree in ``cost_centers_info.defaults`` as ``[{index, value: {id}}]``
        (this tenant uses tree 0, the cost centers ``config/cost-centers?tree_index=0`` lists)."""
        e = self._requested_employee(request)
        if isinstance(e, Response):
            return e
        row = self._employee_row(request, e)
        location = self.company.location_by_code.get(e.location_code)
        managers = []
        if e.manager_id:  # employee ids are E + the 1-based index
            managers.append({"index": 0, "empl_ref": {"account_id": ACCOUNT_ID_BASE + int(e.manager_id[1:]) - 1}})
        centers = {item.code: COST_CENTER_ID_BASE + i for i, item in enumerate(self.company.cost_centers)}
        defaults = [{"index": 0, "value": {"id": centers[e.cost_center]}}] if e.cost_center in centers else []
        detail = {
            **row,
            "primary_email": e.email,
            "address": {"city": location.name if location else None, "country": location.parent if location else None},
            "managers": managers,
            "cost_centers_info": {"defaults": defaults},
        }
        return JSONResponse(detail)

    def _requested_employee(self, request: Request) -> Employee | Response:
        """The employee the path's account id names, or the answer refusing the request."""
        denied = self._company_denied(request)
        if denied is not None:
            return denied
        e = self._employee_by_account(request.path_params["aid"])
        if e is None:
            return _error(404, 4041, f"Employee {request.path_params['aid']} not found.")
        return e

    async def _employee_resource(self, request: Request) -> Response:
        e = self._requested_employee(request)
        if isinstance(e, Response):
            return e
        resource = request.path_params["resource"]
        if resource == "demographics":
            location = self.company.location_by_code.get(e.location_code)
            return JSONResponse(
                {
                    "employee_id": e.employee_id,
                    "birth_date": e.birth_date.isoformat(),
                    "gender": "M" if e.index % 2 else "F",
                    "address": {
                        "city": location.name if location else None,
                        "country": location.parent if location else None,
                    },
                }
            )
        if resource == "pay-info":  # pay type and job as objects, no employee_id (as UKG's public clients read it)
            return JSONResponse(
                {
                    "pay_type": {"id": 701 if e.full_time else 702, "name": "Salary" if e.full_time else "Hourly"},
                    "default_job": {"id": JOB_ID_BASE + self._job_index(e.job_code)},
                    "annual_salary": float(e.annual_salary),
                    "hourly_rate": float((e.annual_salary / 2080).quantize(Decimal("0.01"))),
                    "currency": e.currency,
                    "pay_period": PAY_GROUPS.get(e.pay_group, e.pay_group),
                    "effective_from": e.hire_date.isoformat(),
                }
            )
        return _error(404, 4040, f"Resource '{resource}' not found.")

    def _job_index(self, code: str) -> int:
        return next((i for i, job in enumerate(self.company.jobs) if job.code == code), 0)

    async def _config(self, request: Request) -> Response:
        denied = self._company_denied(request)
        if denied is not None:
            return denied
        resource = request.path_params["resource"]
        c = self.company
        if resource == "cost-centers":  # one tree per call, as UKG's public clients ask; this tenant uses tree 0
            tree = request.query_params.get("tree_index", "")
            if not tree.isdigit() or int(tree) > MAX_TREE_INDEX:
                return _error(400, 4000, f"tree_index must be 0-{MAX_TREE_INDEX}.")
            return JSONResponse({"cost_centers": _cost_center_tree(c.cost_centers) if tree == "0" else []})
        return _error(404, 4040, f"Configuration resource '{resource}' not found.")

    async def _lookup_jobs(self, request: Request) -> Response:
        """The company's jobs, ``{"items": [...]}``: the ids pay info's ``default_job`` names."""
        denied = self._company_denied(request)
        if denied is not None:
            return denied
        return JSONResponse({"items": _code_rows(JOB_ID_BASE, self.company.jobs)})

    async def _pay_types(self, request: Request) -> Response:
        """v1: the token's company's pay types, ``{"pay_types": [...]}`` (no company in the path)."""
        denied = self._denied(request)
        if denied is not None:
            return denied
        return JSONResponse({"pay_types": _code_rows(700, self.company.earning_codes, type=lambda _: "EARNING")})

    # --- reports ------------------------------------------------------------------------------------------------

    async def _report_list(self, request: Request) -> Response:
        denied = self._denied(request)
        if denied is not None:
            return denied
        kind = request.path_params["kind"]
        found = [{"id": r.id, "name": r.name, "type": r.kind} for r in self.reports.values() if r.kind == kind]
        return JSONResponse({"reports": found})

    def _find_report(self, request: Request) -> Report | Response:
        """The report the path names, or the answer refusing the request (no live token, no such report)."""
        denied = self._denied(request)
        if denied is not None:
            return denied
        kind, rid = request.path_params["kind"], request.path_params["rid"]
        report = self.reports.get((kind, rid))
        if report is None:
            return _error(404, 4042, f"Report {kind}/{rid} not found.")
        return report

    async def _report_metadata(self, request: Request) -> Response:
        report = self._find_report(request)
        if isinstance(report, Response):
            return report
        columns = [{"name": col.name, "label": col.name, "type": col.type} for col in report.all_columns]
        return JSONResponse({"id": report.id, "name": report.name, "type": report.kind, "columns": columns})

    async def _report(self, request: Request) -> Response:
        report = self._find_report(request)
        if isinstance(report, Response):
            return report
        columns = list(report.all_columns)
        accept = request.headers.get("accept", "")
        as_csv = "text/csv" in accept
        kept = self._kept("report", report.kind, report.id, as_csv)
        if kept is not None and 0 in kept:
            if as_csv:  # the same chunks, streamed as before
                return StreamingResponse(iter(kept[0]), media_type="text/csv; charset=utf-8")
            return Response(kept[0], media_type="application/json")
        if as_csv:
            chunks = self._csv(report, columns)
            if kept is not None:
                chunks = self._keep_chunks(kept, chunks)
            return StreamingResponse(chunks, media_type="text/csv; charset=utf-8")
        rows = [[_json_value(col.value(item)) for col in columns] for item in report.rows(self.company)]
        body = json_bytes({"columns": [{"name": col.name, "type": col.type} for col in columns], "rows": rows})
        if kept is not None and self.row_cache.room_for(len(body)):
            kept[0] = body
        return Response(body, media_type="application/json")

    def _keep_chunks(self, kept: dict[int, Any], chunks: Iterator[str]) -> Iterator[str]:
        """Pass the chunks through; once all went out, keep them for the next identical request."""
        sent: list[str] = []
        for chunk in chunks:
            sent.append(chunk)
            yield chunk
        if self.row_cache.room_for(sum(len(chunk) for chunk in sent)):
            kept[0] = sent

    def _csv(self, report: Report, columns: list[ReportColumn]) -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow([col.name for col in columns])
        for n, item in enumerate(report.rows(self.company), start=1):
            cells = [_csv_value(col.value(item)) for col in columns]
            line = plain_csv_line(cells, "\r\n")
            if line is None:
                writer.writerow(cells)
            else:
                buffer.write(line)
            if n % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()


def _code_rows(first_id: int, items: Iterable[Any], **extra: Callable[[Any], Any]) -> list[Row]:
    """Configuration rows: ``id`` counted from ``first_id``, the item's ``code`` and ``name``, then ``extra``."""
    return [
        {"id": first_id + i, "code": item.code, "name": item.name, **{key: value(item) for key, value in extra.items()}}
        for i, item in enumerate(items)
    ]


def _cost_center_tree(items: Iterable[Any]) -> list[Row]:
    """One cost-center tree as UKG's public clients read it: ``id, name, external_id, parent_id``."""
    listed = list(items)
    ids = {item.code: COST_CENTER_ID_BASE + i for i, item in enumerate(listed)}
    return [
        {"id": ids[item.code], "name": item.name, "external_id": item.code, "parent_id": ids.get(item.parent)}
        for item in listed
    ]


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return _us_date(value)
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value
