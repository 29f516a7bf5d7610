"""UKG Pro emulator: RaaS over SOAP 1.2 + WS-Addressing, and the REST personnel and configuration APIs.

RaaS (``/services/BIDataService``, ``/services/BIStreamingService``): ``LogOn`` with UserName, Password,
ClientAccessKey and UserAccessKey in the body returns a DataContext (Token, Status ``Ok``/``Failed``);
``GetReportList``, ``GetReportParameters`` and ``ExecuteReport`` (ReportKey) need that context; ``RetrieveReport``
takes the ReportKey as a SOAP header and answers ``Working`` (``working_polls`` times) then ``Completed`` with the
report base64-encoded in ``ReportStream``: CSV in Windows-1252 when the request carries ``US-DELIMITER``, Cognos
XML otherwise. Business failures are HTTP 200 with Status ``Failed`` as in the real service; protocol errors (wrong
content type, missing or unknown ``a:Action``) are SOAP faults.

REST: Basic auth plus ``US-Customer-Api-Key``; ``page`` (1-based) and ``per_Page`` (default 100, at most 10,000);
a larger ``per_Page`` is served as 100 rows a page on the resources outside UKG's 10,000 list (``LARGE_PAGES``);
bare JSON arrays, an empty array past the end; 401 for bad credentials; 429 from the platform's fault injection
(``quota_error_response`` is UKG's throttling answer).

Switches for scenarios: ``working_polls`` (how many Working answers a report gives first),
``fail_next_report`` (the next RetrieveReport answers Status Failed with this message) and ``second_company``
(employee id -> another company code: that employee also holds an ended employment there, a row of its own in the
per-company resources, as a transfer between companies leaves in UKG Pro; opt-in so the default data and its
served bytes stay as recorded) and ``numeric_employee_numbers`` (employee-changes serves ``employeeNumber`` as a
JSON number, as UKG's EmployeeChangesResponse model types it: Double).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from xlr8_kit.soap import (
    SOAP12,
    SoapParseError,
    build_envelope,
    child_text,
    children,
    element,
    nil,
    parse_envelope,
)
from xlr8_sandbox.company import Company, Employee
from xlr8_sandbox.platform.emulator import FaultResponse, ProductEmulator, SandboxContext
from xlr8_sandbox.platform.rowcache import RowCache, json_bytes
from xlr8_sandbox.products.ukg_pro import raas, rest, wsdl

USERNAME = "xlr8-raas-service"
PASSWORD = "sandbox-ukg-password"  # emulator test credential, not a real secret
CUSTOMER_API_KEY = "SBXK7"  # US-Customer-Api-Key; also RaaS's ClientAccessKey
USER_ACCESS_KEY = "sandbox-ukg-user-access-key"
TOKEN_TTL = 3600.0
DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 10_000
#: The resources UKG serves up to ``MAX_PER_PAGE`` rows a page ("Expanded default/max pagination parameters",
#: https://developer.ukg.com/hcm/docs/news-doc, January 2022: company details, compensation details, employee
#: contact details, contract, direct deposit, education, job history, national documents, employment details,
#: international employees, person details). Every other resource still serves at most ``CAPPED_PER_PAGE``.
LARGE_PAGES = frozenset({
    "/personnel/v1/person-details", "/personnel/v1/employment-details", "/personnel/v1/compensation-details",
    "/personnel/v1/employee-job-history-details", "/personnel/v1/employee-education", "/personnel/v1/contacts",
    "/configuration/v1/company-details",
})  # fmt: skip
CAPPED_PER_PAGE = 100
SOAP_CONTENT_TYPE = "application/soap+xml; charset=utf-8"
MAX_KEPT_REPORTS = 64
INVALID_TOKEN = "The security token is invalid or has expired. Log on again."
_BIDATA = raas.BIDATA_NS
_BISTREAM = raas.BISTREAM_NS


@dataclass
class PendingReport:
    report: raas.Report
    params: dict[str, list[str]]
    delimiter: str | None
    polls_left: int


class UkgProEmulator(ProductEmulator):
    product_id = "ukg_pro"
    title = "UKG Pro (RaaS SOAP + REST)"

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        self.company = ctx.company
        self.working_polls = 1
        self.fail_next_report: str | None = None
        self._reports: dict[str, PendingReport] = {}
        #: ``(startDate, endDate)`` of every employee-changes request, as asked (scenario tests read it).
        self.change_windows: list[tuple[str, str | None]] = []
        #: Employee id -> a second company that employee was employed in (``rest.PER_COMPANY`` rows for both).
        self.second_company: dict[str, str] = {}
        #: employee-changes rows carry ``employeeNumber`` as a number instead of text.
        self.numeric_employee_numbers = False
        self._lock = threading.Lock()
        #: RaaS replies and REST rows per request shape and data version (``XLR8_SANDBOX_CACHE=0`` disables).
        self.row_cache = RowCache()
        self._employee = functools.lru_cache(maxsize=4096)(self._employee_now)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/services/BIDataService", self._data_service_wsdl, methods=["GET"]),
            Route("/services/BIDataService", self._data_service, methods=["POST"]),
            Route("/services/BIStreamingService", self._streaming_service_wsdl, methods=["GET"]),
            Route("/services/BIStreamingService", self._streaming_service, methods=["POST"]),
            Route("/personnel/v1/{resource}", self._personnel, methods=["GET"]),
            Route("/configuration/v1/code-tables/{table}", self._code_table, methods=["GET"]),
            Route("/configuration/v1/{resource}", self._configuration, methods=["GET"]),
        ]

    def test_credentials(self) -> dict[str, str]:
        return {
            "username": USERNAME,
            "password": PASSWORD,
            "customer_api_key": CUSTOMER_API_KEY,
            "user_access_key": USER_ACCESS_KEY,
        }

    def quota_error_response(self) -> FaultResponse:
        return FaultResponse(
            429,
            json.dumps({"message": "API calls quota exceeded! Maximum admitted 100 per 1s."}),
            headers={"Retry-After": "1"},
        )

    def error_body_response(self) -> FaultResponse:
        doc = build_envelope(
            element(
                f"{{{SOAP12.namespace}}}Fault",
                element(f"{{{SOAP12.namespace}}}Code", element(f"{{{SOAP12.namespace}}}Value", "s:Receiver")),
                element(
                    f"{{{SOAP12.namespace}}}Reason",
                    element(
                        f"{{{SOAP12.namespace}}}Text",
                        "The server was unable to process the request due to an internal error.",
                        attrib={"{http://www.w3.org/XML/1998/namespace}lang": "en-US"},
                    ),
                ),
            ),
        )
        return FaultResponse(200, doc.decode(), content_type=SOAP_CONTENT_TYPE)

    def reset(self) -> None:
        """Scenario switches back to their defaults, pending reports and the window log dropped, the employee memo
        forgotten (keyed on sandbox time alone: back at the same moment after a reset, other hires hold the same
        indices)."""
        self._employee.cache_clear()
        with self._lock:
            self.working_polls = 1
            self.fail_next_report = None
            self._reports.clear()
            self.change_windows.clear()
            self.second_company.clear()
            self.numeric_employee_numbers = False
        self.row_cache.clear()

    def report_paths(self) -> list[str]:
        return [r.path for r in raas.REPORTS]

    # --- data ---------------------------------------------------------------------------------------------------

    def _employee_now(self, i: int, now: datetime) -> Employee:
        return self.company.employee(i, now)

    def _employees(self, start: int = 0, stop: int | None = None) -> list[Employee]:
        now = self.ctx.clock.now()
        count = self.company.employee_count(now)
        return [self._employee(i, now) for i in range(start, count if stop is None else min(stop, count))]

    # --- REST ---------------------------------------------------------------------------------------------------

    def _rest_auth_error(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        ok_user = False
        if header.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
            ok_user = secrets.compare_digest(user, USERNAME) and secrets.compare_digest(password, PASSWORD)
        if not ok_user:
            return JSONResponse({"message": "Authorization has been denied for this request."}, status_code=401)
        if not secrets.compare_digest(request.headers.get("us-customer-api-key", ""), CUSTOMER_API_KEY):
            return JSONResponse({"message": "Invalid or missing US-Customer-Api-Key header."}, status_code=401)
        return None

    @staticmethod
    def _paging(request: Request) -> tuple[int, int] | Response:
        """``(page, rows per page)``: ``per_Page`` as asked on ``LARGE_PAGES``, at most ``CAPPED_PER_PAGE``
        elsewhere (UKG answers a larger one with 100 rows a page, no error)."""
        query = request.query_params
        raw_page = query.get("page", "1")
        raw_per = query.get("per_Page", query.get("per_page", str(DEFAULT_PER_PAGE)))
        try:
            page, per_page = int(raw_page), int(raw_per)
        except ValueError:
            return JSONResponse({"message": "page and per_Page must be integers."}, status_code=400)
        if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
            return JSONResponse(
                {"message": f"page must be >= 1 and per_Page between 1 and {MAX_PER_PAGE}."}, status_code=400
            )
        if request.url.path not in LARGE_PAGES:
            per_page = min(per_page, CAPPED_PER_PAGE)
        return page, per_page

    async def _personnel(self, request: Request) -> Response:
        denied = self._rest_auth_error(request)
        if denied is not None:
            return denied
        paging = self._paging(request)
        if isinstance(paging, Response):
            return paging
        page, per_page = paging
        resource = request.path_params["resource"]
        if resource == "employee-changes":
            return self._employee_changes(request, page, per_page)
        builder = rest.PER_EMPLOYEE.get(resource)
        if builder is None:
            return JSONResponse({"message": f"No HTTP resource was found for /personnel/v1/{resource}."}, 404)
        query = request.query_params
        statuses = {s for s in (query.get("employeeStatusCode") or "").split(",") if s}
        wanted_id, wanted_company = query.get("employeeID"), query.get("companyID")
        one_per_employee = resource in (
            "person-details",
            "employment-details",
            "compensation-details",
            "employee-demographic-details",
        )
        kept = self.row_cache.rows(
            ("personnel", resource, tuple(sorted(statuses)), wanted_id, wanted_company), self.company.data_version()
        )
        if self.second_company:  # a scenario's rows: built per request, beside the cached default data
            one_per_employee, kept = False, None
        if one_per_employee and not (statuses or wanted_id or wanted_company):
            start = (page - 1) * per_page  # one row per person: page straight from the index
            if kept is not None:
                return self._json_rows(kept, start, start + per_page, lambda e: builder(self.company, e)[0])
            rows = [builder(self.company, e)[0] for e in self._employees(start, start + per_page)]
            return JSONResponse(rows)
        if kept is not None:
            # The whole selection once per (filter, data version), as each row's JSON; pages are slices of it.
            if 0 not in kept:
                kept[0] = self._selection(builder, statuses, wanted_id, wanted_company)
            chosen = kept[0][(page - 1) * per_page : page * per_page]
            return Response(b"[" + b",".join(chosen) + b"]", media_type="application/json")
        selected: list[dict[str, Any]] = []
        for e in self._employees():
            if statuses and rest.STATUS_CODES[e.status] not in statuses:
                continue
            if (wanted_id and e.employee_id != wanted_id) or (wanted_company and e.company_code != wanted_company):
                continue
            selected.extend(builder(self.company, e))
            other = self.second_company.get(e.employee_id)
            if other is not None and resource in rest.PER_COMPANY:
                earlier = [rest.in_company(row, other) for row in builder(self.company, e)]
                selected.extend(r for r in earlier if not statuses or r.get("employeeStatusCode", "T") in statuses)
        return JSONResponse(selected[(page - 1) * per_page : page * per_page])

    def _json_rows(self, kept: dict[int, Any], start: int, stop: int, build: Callable[[Employee], Any]) -> Response:
        """Rows ``start:stop`` of one-row-per-person data as a JSON array, each row's JSON kept per data version."""
        now = self.ctx.clock.now()
        parts: list[bytes] = []
        for i in range(start, min(stop, self.company.employee_count(now))):
            row = kept.get(i)
            if row is None:
                row = json_bytes(build(self._employee(i, now)))
                if self.row_cache.room_for(len(row)):
                    kept[i] = row
            parts.append(row)
        return Response(b"[" + b",".join(parts) + b"]", media_type="application/json")

    def _selection(
        self, builder: Callable[[Company, Employee], list[Any]], statuses: set[str], wanted_id: Any, wanted_company: Any
    ) -> list[bytes]:
        selected: list[bytes] = []
        for e in self._employees():
            if statuses and rest.STATUS_CODES[e.status] not in statuses:
                continue
            if (wanted_id and e.employee_id != wanted_id) or (wanted_company and e.company_code != wanted_company):
                continue
            selected.extend(json_bytes(row) for row in builder(self.company, e))
        self.row_cache.room_for(sum(len(row) for row in selected))
        return selected

    def _employee_changes(self, request: Request, page: int, per_page: int) -> Response:
        query = request.query_params
        now = self.ctx.clock.now()
        if page == 1:
            self.change_windows.append((query.get("startDate", ""), query.get("endDate")))
        try:
            start = _parse_instant(query["startDate"])
            end = _parse_instant(query["endDate"]) if query.get("endDate") else now
        except KeyError:
            return JSONResponse({"message": "The startDate query parameter is required."}, status_code=400)
        except ValueError:
            return JSONResponse({"message": "startDate and endDate must be ISO 8601 date-times."}, status_code=400)
        if end < start:
            return JSONResponse({"message": "endDate must not be before startDate."}, status_code=400)
        end = min(end, now)  # nothing has changed after sandbox now; a window in the future is simply empty
        changed = sorted({c.index for c in self.company.changes_between(start, end) if c.entity == "employee"})
        window = changed[(page - 1) * per_page : page * per_page]
        rows = [rest.employee_change(self.company, self._employee(i, now)) for i in window]
        if self.numeric_employee_numbers:
            for row in rows:
                row["employeeNumber"] = int(row["employeeNumber"])
        return JSONResponse(rows)

    async def _configuration(self, request: Request) -> Response:
        denied = self._rest_auth_error(request)
        if denied is not None:
            return denied
        rows = rest.configuration(self.company, request.path_params["resource"])
        if rows is None:
            resource = request.path_params["resource"]
            return JSONResponse({"message": f"No HTTP resource was found for /configuration/v1/{resource}."}, 404)
        return self._page_of(request, rows)

    async def _code_table(self, request: Request) -> Response:
        denied = self._rest_auth_error(request)
        if denied is not None:
            return denied
        rows = rest.code_table(request.path_params["table"])
        if rows is None:
            return JSONResponse({"message": f"Code table {request.path_params['table']!r} was not found."}, 404)
        return self._page_of(request, rows)

    def _page_of(self, request: Request, rows: list[dict[str, Any]]) -> Response:
        paging = self._paging(request)
        if isinstance(paging, Response):
            return paging
        page, per_page = paging
        return JSONResponse(rows[(page - 1) * per_page : page * per_page])

    # --- RaaS ---------------------------------------------------------------------------------------------------

    async def _data_service_wsdl(self, request: Request) -> Response:
        return _metadata(wsdl.data_service_document(str(request.url.replace(query="")), request.url.query))

    async def _streaming_service_wsdl(self, request: Request) -> Response:
        return _metadata(wsdl.streaming_service_document(str(request.url.replace(query="")), request.url.query))

    async def _soap_request(self, request: Request, contract: str, namespace: str) -> tuple[str, Any] | Response:
        content_type = request.headers.get("content-type", "")
        if not content_type.lower().startswith("application/soap+xml"):
            return Response(
                f"Cannot process the message because the content type '{content_type}' was not the expected type "
                f"'{SOAP_CONTENT_TYPE}'.",
                status_code=415,
                media_type="text/plain",
            )
        try:
            message = parse_envelope(await request.body())
        except SoapParseError as exc:
            return _fault("Sender", "a:InvalidMessage", str(exc))
        action = message.action or ""
        if action == wsdl.PING_ACTION and contract == wsdl.DATA_CONTRACT:
            return "Ping", message
        prefix = f"{namespace}/{contract}/"
        if not action.startswith(prefix):
            return _fault(
                "Sender",
                "a:ActionNotSupported",
                f"The message with Action '{action}' cannot be processed at the receiver.",
            )
        return action[len(prefix) :], message

    async def _data_service(self, request: Request) -> Response:
        parsed = await self._soap_request(request, "IBIDataService", _BIDATA)
        if isinstance(parsed, Response):
            return parsed
        operation, message = parsed
        body = message.body
        if operation == "LogOn":
            return self._log_on(body)
        if operation == "Ping":
            return self._ping(request)
        if operation == "LogOnWithToken":
            return self._log_on_with_token(body)
        if operation not in wsdl.DATA_OPERATIONS:
            return _fault("Sender", "a:ActionNotSupported", f"Unknown operation {operation!r}.")
        context = next(iter(children(body, "context")), None)
        token = child_text(context, "Token")
        issued = self.ctx.tokens.check(self.product_id, token)
        if operation == "LogOff":
            if issued is not None and token:
                self.ctx.tokens.revoke(token)
            return _data_reply("LogOff", element(f"{{{_BIDATA}}}LogOffResult", *_context(None, "LoggedOff", None)))
        if issued is None:
            return self._failed(operation, INVALID_TOKEN)
        if operation == "GetReportList":
            reports = element(
                f"{{{_BIDATA}}}Reports",
                *[
                    element(
                        f"{{{_BIDATA}}}Report",
                        element(f"{{{_BIDATA}}}ReportName", r.name),
                        element(f"{{{_BIDATA}}}ReportPath", r.path),
                    )
                    for r in raas.REPORTS
                ],
            )
            return _data_reply(
                "GetReportList",
                element(
                    f"{{{_BIDATA}}}GetReportListResult",
                    reports,
                    element(f"{{{_BIDATA}}}Status", "Success"),
                    nil(f"{{{_BIDATA}}}StatusMessage"),
                ),
            )
        if operation == "GetReportParameters":
            report = raas.find_report(child_text(body, "reportPath") or "")
            if report is None:
                return self._failed(operation, "The report path was not found or you are not authorized to run it.")
            params = element(f"{{{_BIDATA}}}ReportParameters", *[_parameter(p) for p in report.parameters])
            return _data_reply(
                "GetReportParameters",
                element(
                    f"{{{_BIDATA}}}GetReportParametersResult",
                    params,
                    element(f"{{{_BIDATA}}}Status", "Success"),
                    nil(f"{{{_BIDATA}}}StatusMessage"),
                ),
            )
        return self._execute_report(request, body)

    def _log_on(self, body: etree._Element | None) -> Response:
        req = next(iter(children(body, "logOnRequest")), None)
        given = {k: child_text(req, k) or "" for k in ("UserName", "Password", "ClientAccessKey", "UserAccessKey")}
        expected = {
            "UserName": USERNAME,
            "Password": PASSWORD,
            "ClientAccessKey": CUSTOMER_API_KEY,
            "UserAccessKey": USER_ACCESS_KEY,
        }
        if not all(secrets.compare_digest(given[k], v) for k, v in expected.items()):
            message = "The user name, password, or access keys are incorrect, or the user is not a web service user."
            result = element(f"{{{_BIDATA}}}LogOnResult", *_context(None, "Failed", message))
            return _data_reply("LogOn", result)
        token = self.ctx.tokens.issue(self.product_id, USERNAME, ttl=TOKEN_TTL)
        result = element(f"{{{_BIDATA}}}LogOnResult", *_context(token.token, "Ok", None))
        return _data_reply("LogOn", result)

    def _log_on_with_token(self, body: etree._Element | None) -> Response:
        """A context for a token issued earlier (by LogOn or the platform's token service), with the client key."""
        req = next(iter(children(body, "logOnRequest")), None)
        token, client_key = child_text(req, "Token") or "", child_text(req, "ClientAccessKey") or ""
        if self.ctx.tokens.check(self.product_id, token) is None or not secrets.compare_digest(
            client_key, CUSTOMER_API_KEY
        ):
            result = element(f"{{{_BIDATA}}}LogOnWithTokenResult", *_context(None, "Failed", INVALID_TOKEN))
        else:
            result = element(f"{{{_BIDATA}}}LogOnWithTokenResult", *_context(token, "Ok", None))
        return _data_reply("LogOnWithToken", result)

    def _ping(self, request: Request) -> Response:
        """Ping answers without a session: who served the call (the real service names its WCF host)."""
        tns, base = wsdl.TEMPURI_NS, wsdl.WCF_BASE_NS
        result = element(
            f"{{{tns}}}PingResult",
            element(f"{{{base}}}AppDomainName", "/LM/W3SVC/1/ROOT/services"),
            element(f"{{{base}}}CallerIPAddress", request.client.host if request.client else "127.0.0.1"),
            element(f"{{{base}}}ListenerUri", str(request.url.replace(query=""))),
            element(f"{{{base}}}MachineName", "XLR8-SANDBOX"),
            element(f"{{{base}}}ProcessName", "w3wp"),
        )
        body = element(f"{{{tns}}}PingResponse", result, nsmap={None: tns})
        return _soap_response(build_envelope(body, action=wsdl.PING_RESPONSE_ACTION))

    def _failed(self, operation: str, message: str) -> Response:
        if operation == "ExecuteReport":
            return _data_reply(
                "ExecuteReport",
                element(
                    f"{{{_BIDATA}}}ExecuteReportResult",
                    nil(f"{{{_BIDATA}}}ReportKey"),
                    nil(f"{{{_BIDATA}}}ReportRetrievalUri"),
                    element(f"{{{_BIDATA}}}Status", "Failed"),
                    element(f"{{{_BIDATA}}}StatusMessage", message),
                ),
            )
        holder = {"GetReportList": "Reports", "GetReportParameters": "ReportParameters"}[operation]
        return _data_reply(
            operation,
            element(
                f"{{{_BIDATA}}}{operation}Result",
                nil(f"{{{_BIDATA}}}{holder}"),
                element(f"{{{_BIDATA}}}Status", "Failed"),
                element(f"{{{_BIDATA}}}StatusMessage", message),
            ),
        )

    def _execute_report(self, request: Request, body: etree._Element | None) -> Response:
        req = next(iter(children(body, "request")), None)
        report = raas.find_report(child_text(req, "ReportPath") or "")
        if report is None:
            return self._failed("ExecuteReport", "The report path was not found or you are not authorized to run it.")
        params: dict[str, list[str]] = {}
        for node in children(next(iter(children(req, "ReportParameters")), None), "ReportParameter"):
            name, value = child_text(node, "Name") or "", child_text(node, "Value")
            if value is not None:
                params.setdefault(name, []).append(value)
        known = {p.name: p for p in report.parameters}
        for name, values in params.items():
            if name not in known:
                return self._failed("ExecuteReport", f"Unknown report parameter '{name}'.")
            if known[name].data_type == "Date":
                try:
                    for value in values:
                        datetime.fromisoformat(value)
                except ValueError:
                    return self._failed("ExecuteReport", f"Parameter '{name}' expects a date (YYYY-MM-DD).")
        missing = [p.name for p in report.parameters if p.required and p.name not in params]
        if missing:
            return self._failed("ExecuteReport", f"Required parameter(s) missing: {', '.join(missing)}.")
        key = secrets.token_hex(16)
        with self._lock:
            self._reports[key] = PendingReport(report, params, request.headers.get("us-delimiter"), self.working_polls)
        uri = str(request.url.replace(path="/services/BIStreamingService", query=""))
        return _data_reply(
            "ExecuteReport",
            element(
                f"{{{_BIDATA}}}ExecuteReportResult",
                element(f"{{{_BIDATA}}}ReportKey", key),
                element(f"{{{_BIDATA}}}ReportRetrievalUri", uri),
                element(f"{{{_BIDATA}}}Status", "Success"),
                nil(f"{{{_BIDATA}}}StatusMessage"),
            ),
        )

    async def _streaming_service(self, request: Request) -> Response:
        parsed = await self._soap_request(request, "IBIStreamService", _BISTREAM)
        if isinstance(parsed, Response):
            return parsed
        operation, message = parsed
        if operation != "RetrieveReport":
            return _fault("Sender", "a:ActionNotSupported", f"Unknown operation {operation!r}.")
        key = message.header_text(f"{{{_BISTREAM}}}ReportKey") or ""
        with self._lock:
            pending = self._reports.get(key)
            failure = self.fail_next_report
            if pending is not None and failure is not None:
                self.fail_next_report = None
                del self._reports[key]
            elif pending is not None and pending.polls_left > 0:
                pending.polls_left -= 1
                return _stream_reply("Working", None, b"")
            elif pending is not None and len(self._reports) > MAX_KEPT_REPORTS:
                # A completed report stays retrievable (a client whose download broke asks again), within a bound.
                del self._reports[next(iter(self._reports))]
        if pending is None:
            return _stream_reply("Failed", "The report key was not found or has expired.", b"")
        if failure is not None:
            return _stream_reply("Failed", failure, b"")
        delimiter = request.headers.get("us-delimiter", pending.delimiter)
        # Large reports take a while to render: off the event loop, so other requests are still served.
        return await run_in_threadpool(self._render, pending, delimiter)

    def _render(self, pending: PendingReport, delimiter: str | None) -> Response:
        # A report's reply is a pure function of (report, parameters, delimiter) and the company's data: rendered
        # once per data version.
        params = tuple(sorted((name, tuple(values)) for name, values in pending.params.items()))
        kept = self.row_cache.rows(("raas", pending.report.path, params, delimiter), self.company.data_version())
        if kept is not None and 0 in kept:
            return _soap_response(kept[0])
        rows = pending.report.rows(self.company, pending.params)
        if delimiter is not None:
            content = raas.render_csv(pending.report, rows, delimiter)
        else:
            content = raas.render_xml(pending.report, rows)
        reply = _stream_reply("Completed", None, content)
        if kept is not None and self.row_cache.room_for(len(reply.body)):
            kept[0] = bytes(reply.body)
        return reply


def _metadata(document: str | None) -> Response:
    if document is None:
        return Response("The requested metadata document does not exist.", status_code=404, media_type="text/plain")
    return Response(document, media_type="text/xml; charset=UTF-8")


def _parse_instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _context(token: str | None, status: str, message: str | None) -> list[etree._Element]:
    return [
        nil(f"{{{_BIDATA}}}ServiceId"),
        element(f"{{{_BIDATA}}}ClientAccessKey", CUSTOMER_API_KEY) if token else nil(f"{{{_BIDATA}}}ClientAccessKey"),
        element(f"{{{_BIDATA}}}Token", token) if token else nil(f"{{{_BIDATA}}}Token"),
        element(f"{{{_BIDATA}}}Status", status),
        element(f"{{{_BIDATA}}}StatusMessage", message) if message else nil(f"{{{_BIDATA}}}StatusMessage"),
        element(f"{{{_BIDATA}}}InstanceKey", "sandbox") if token else nil(f"{{{_BIDATA}}}InstanceKey"),
    ]


def _parameter(p: raas.Parameter) -> etree._Element:
    return element(
        f"{{{_BIDATA}}}ReportParameter",
        element(f"{{{_BIDATA}}}Name", p.name),
        nil(f"{{{_BIDATA}}}Value"),
        element(f"{{{_BIDATA}}}Required", "true" if p.required else "false"),
        element(f"{{{_BIDATA}}}DataType", p.data_type),
        element(f"{{{_BIDATA}}}MultiValued", "true" if p.multi_valued else "false"),
    )


def _soap_response(payload: bytes) -> Response:
    return Response(payload, media_type=SOAP_CONTENT_TYPE)


def _data_reply(operation: str, result: etree._Element) -> Response:
    body = element(f"{{{_BIDATA}}}{operation}Response", result, nsmap={None: _BIDATA})
    return _soap_response(build_envelope(body, action=f"{_BIDATA}/IBIDataService/{operation}Response"))


def _stream_reply(status: str, message: str | None, content: bytes) -> Response:
    headers = [
        element(f"{{{_BISTREAM}}}Status", status),
        element(f"{{{_BISTREAM}}}StatusMessage", message) if message else nil(f"{{{_BISTREAM}}}StatusMessage"),
    ]
    body = element(
        f"{{{_BISTREAM}}}StreamReportResponse",
        element(f"{{{_BISTREAM}}}ReportStream", base64.b64encode(content).decode("ascii")),
        nsmap={None: _BISTREAM},
    )
    action = f"{_BISTREAM}/IBIStreamService/RetrieveReportResponse"
    return _soap_response(build_envelope(body, action=action, headers=headers))


def _fault(code: str, subcode: str, reason: str) -> Response:
    soap = SOAP12.namespace
    fault = element(
        f"{{{soap}}}Fault",
        element(
            f"{{{soap}}}Code",
            element(f"{{{soap}}}Value", f"s:{code}"),
            element(f"{{{soap}}}Subcode", element(f"{{{soap}}}Value", subcode)),
        ),
        element(
            f"{{{soap}}}Reason",
            element(f"{{{soap}}}Text", reason, attrib={"{http://www.w3.org/XML/1998/namespace}lang": "en-US"}),
        ),
    )
    return Response(
        build_envelope(fault, action="http://www.w3.org/2005/08/addressing/soap/fault"),
        status_code=500,
        media_type=SOAP_CONTENT_TYPE,
    )
