"""UKG Pro Workforce Management (formerly Dimensions) emulator: the REST API under ``/api`` on the shared company.

Authentication, both paths of the real tenant:
- classic: ``POST /api/authentication/access_token`` (form: username, password, client_id, client_secret,
  ``grant_type=password``, ``auth_chain=OAuthLdapService``; or ``grant_type=refresh_token``) with the ``appkey``
  header; every API call then carries ``Authorization: Bearer`` and the same ``appkey``. A missing or unknown
  appkey is refused by the API gateway with its ``fault`` body, before the application sees the call.
- platform: ``POST /oauth2/token`` (form: ``grant_type=client_credentials``, client_id, client_secret,
  ``audience``); calls carry ``Authorization: Bearer`` and ``global-tenant-id``.

Data (people, jobs, locations from ``ctx.company``; the same people as UKG Pro and Workday, personNumber =
employee id): hyperfind execute (population for a date range), persons multi_read, timecard multi_read (punches and
daily totals by pay code), schedule multi_read (shifts), the aggregated data multi_read (accrual balances, paged by
``index``/``count``), and the setup lists (pay codes, accrual codes, work rules, locations, labor categories,
public hyperfinds). Punches change as sandbox time advances (late punches, manager edits, approvals).

Limits, enforced with the vendor's error body (``errorCode``, ``message``, ``details``): at most ``max_persons``
people per multi_read and ``max_days`` days per timecard or schedule call (HTTP 400); 429 with Retry-After from the
platform's quota fault. A hyperfind answers at most its ``threshold`` people (default ``hyperfind_threshold``, 3,500
as documented; at most 50,000). An aggregated data multi_read covers at most ``max_data_employees`` people (500),
named (``employeeSet.employees.qualifiers``) or by hyperfind, else 413 ``WCO-106194``. The timecard multi_read
names its people in ``where.employees`` (``ids`` or ``qualifiers``, the person numbers) beside ``where.dateRange``,
the schedule multi_read in ``where.employees.employeeRefs`` with ``startDate``/``endDate`` beside it; a property
either does not know (the persons multi_read's ``key``/``values``, dates under ``where``) is refused with 400
``WFP-90011``. Scenario switches:
``max_persons``, ``max_days``, ``hyperfind_threshold``, ``max_data_employees``, ``token_ttl``, ``accept_refresh``
(False: every refresh grant is refused as expired), ``transfer_jobs`` (days on which a person moves to another job
at mid-shift: two REG totals that day, one per job); ``grants`` logs every token
grant type asked for (refused ones too).
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from xlr8_sandbox.company import Employee, WorkedDay
from xlr8_sandbox.platform.emulator import FaultResponse, ProductEmulator, SandboxContext
from xlr8_sandbox.platform.rowcache import RowCache

PRODUCT = "ukg_wfm"
APPKEY = "sandbox-wfm-appkey-7Qx2"  # emulator test credential, not a real secret
USERNAME = "xlr8-wfm-api"
PASSWORD = "sandbox-wfm-password"
CLIENT_ID = "xlr8-wfm-client"
CLIENT_SECRET = "sandbox-wfm-client-secret"
PLATFORM_CLIENT_ID = "xlr8-wfm-platform-client"
PLATFORM_CLIENT_SECRET = "sandbox-wfm-platform-secret"
AUDIENCE = "https://wfm.ukg.example/api"
GLOBAL_TENANT_ID = "7d3c1f0e-acme-4b8e-9c1f-0a5d5a4d0b01"
TOKEN_TTL = 1800.0
REFRESH_TTL = 8 * 3600.0
MAX_PERSONS = 500
MAX_DAYS = 31
MAX_DATA_COUNT = 5000
#: Execute Hyperfind Query: "The default threshold limits the number of returned employees to 3,500. Use the
#: threshold property to define a higher limit of up to 50,000 employees." (developer.ukg.com/wfm/reference/
#: execute-hyperfind-query). Past the threshold the answer holds that many people and no more.
HYPERFIND_THRESHOLD = 3500
HYPERFIND_MAX_THRESHOLD = 50_000
#: Retrieve Data (the aggregated data multi_read): "The Number of Employees cannot exceed 500"
#: (developer.ukg.com/wfm/reference/retrieve-data); refused with 413 WCO-106194 (.../docs/error-handling-doc).
MAX_DATA_EMPLOYEES = 500
ORG_ROOT = "Acme"
COUNTRIES = {"US": "United States", "CA": "Canada", "GB": "United Kingdom", "DE": "Germany", "AU": "Australia"}
PAY_CODE_IDS = {"REG": 101, "OT": 102, "HOL": 103, "VAC": 104, "SICK": 105, "BON": 106}
WORK_RULES = [
    (1, "Full Time Hourly", "8 hours a day, overtime after 40 a week"),
    (2, "Part Time Hourly", "Overtime after 8 hours a day"),
    (3, "Salaried Exempt", "No overtime"),
]
LABOR_CATEGORIES = [(1, "Project", "Client project the time is charged to"), (2, "Activity", "Kind of work done")]
HYPERFINDS = {
    1: ("All Home", "Everyone whose home account is in the organization"),
    2: ("Full Time", "Full-time employees"),
}
DATA_KEYS = {
    "PEOPLE_PERSON_NUMBER": "personNumber",
    "TK_ACCRUAL_CODE": "accrualCode",
    "TK_ACCRUAL_BALANCE": "balance",
    "TK_ACCRUAL_EARNED_YTD": "earnedYtd",
    "TK_ACCRUAL_TAKEN_YTD": "takenYtd",
}
_FAR_FUTURE = "3000-01-01"
#: The properties the timecard and schedule multi_reads know: each family refuses another's shape (or the persons
#: multi_read's ``{"key", "values"}``) with 400 WFP-90011 "Unrecognized property" rather than guess (a public client
#: verified against a live tenant: timecards ``where.employees.ids`` + ``where.dateRange``, schedules
#: ``where.employees.employeeRefs.ids`` with ``startDate``/``endDate`` beside; UKG's Timecards resource: "The
#: Employee qualifier is the person number").
REF_LIST = frozenset({"ids", "qualifiers"})
TIMECARD_WHERE = frozenset({"employees", "dateRange", "hyperfind"})
SCHEDULE_WHERE = frozenset({"employees", "locations"})
SCHEDULE_EMPLOYEES = frozenset({"employeeRefs", "startDate", "endDate", "hyperfind"})


def wfm_error(status: int, code: str, message: str, **details: Any) -> JSONResponse:
    """The application's error body: ``errorCode``, ``message`` and ``details``."""
    return JSONResponse({"errorCode": code, "message": message, "details": details}, status_code=status)


def gateway_fault(message: str, code: str) -> JSONResponse:
    """The API gateway's refusal (before the application): Apigee's ``fault`` body."""
    return JSONResponse({"fault": {"faultstring": message, "detail": {"errorcode": code}}}, status_code=401)


class UkgWfmEmulator(ProductEmulator):
    product_id = PRODUCT
    title = "UKG Pro WFM / Dimensions (REST)"

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        self.company = ctx.company
        self.zone = ZoneInfo(self.company.time_zone)
        self._lock = threading.Lock()
        self._refresh: dict[str, float] = {}
        self.grants: list[str] = []
        self.max_persons = MAX_PERSONS
        self.max_days = MAX_DAYS
        #: People a hyperfind answers when the request names no ``threshold`` (tests scale it down).
        self.hyperfind_threshold = HYPERFIND_THRESHOLD
        #: People one aggregated data multi_read may cover, named or by hyperfind (tests scale it down).
        self.max_data_employees = MAX_DATA_EMPLOYEES
        self.token_ttl = TOKEN_TTL
        self.accept_refresh = True
        #: (person number, day) pairs whose REG total is split between two jobs (``transfer_jobs``).
        self.job_transfers: frozenset[tuple[str, date]] = frozenset()
        self._employee = functools.lru_cache(maxsize=16384)(self._employee_at)
        #: Rendered answers per request and data version (``XLR8_SANDBOX_CACHE=0`` disables).
        self.row_cache = RowCache()

    def routes(self) -> list[BaseRoute]:
        post = ["POST"]
        return [
            Route("/api/authentication/access_token", self._access_token, methods=post),
            Route("/oauth2/token", self._platform_token, methods=post),
            Route("/api/v1/commons/hyperfind/execute", self._api(self._hyperfind_execute), methods=post),
            Route("/api/v1/commons/hyperfind/public", self._api(self._hyperfinds), methods=["GET"]),
            Route("/api/v1/commons/persons/multi_read", self._api(self._persons), methods=post),
            Route("/api/v1/timekeeping/timecard/multi_read", self._api(self._timecards), methods=post),
            Route("/api/v1/scheduling/schedule/multi_read", self._api(self._schedules), methods=post),
            Route("/api/v1/commons/data/multi_read", self._api(self._data), methods=post),
            Route("/api/v1/timekeeping/setup/pay_codes", self._api(self._pay_codes), methods=["GET"]),
            Route("/api/v1/timekeeping/setup/accrual_codes", self._api(self._accrual_codes), methods=["GET"]),
            Route("/api/v1/timekeeping/setup/work_rules", self._api(self._work_rules), methods=["GET"]),
            Route("/api/v1/commons/locations", self._api(self._locations), methods=["GET"]),
            Route("/api/v1/commons/labor_categories", self._api(self._labor_categories), methods=["GET"]),
        ]

    def test_credentials(self) -> dict[str, str]:
        return {
            "appkey": APPKEY,
            "username": USERNAME,
            "password": PASSWORD,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }

    def platform_credentials(self, url: str) -> dict[str, str]:
        """The platform OAuth path's settings against this emulator at ``url``."""
        return {
            "token_url": f"{url}/oauth2/token",
            "client_id": PLATFORM_CLIENT_ID,
            "client_secret": PLATFORM_CLIENT_SECRET,
            "audience": AUDIENCE,
            "global_tenant_id": GLOBAL_TENANT_ID,
        }

    def quota_error_response(self) -> FaultResponse:
        body = {"errorCode": "WCO-101429", "message": "Too many requests for this tenant; retry later.", "details": {}}
        return FaultResponse(429, json.dumps(body), headers={"Retry-After": "2"})

    def error_body_response(self) -> FaultResponse:
        body = {"errorCode": "WCO-100500", "message": "An internal error occurred while processing the request."}
        return FaultResponse(200, json.dumps(body))

    def reset(self) -> None:
        """Also forgets the employee memo (keyed on sandbox time alone: back at the same moment after a reset, other
        hires hold the same indices)."""
        self._employee.cache_clear()
        with self._lock:
            self._refresh.clear()
            self.grants.clear()
            self.max_persons = MAX_PERSONS
            self.max_days = MAX_DAYS
            self.hyperfind_threshold = HYPERFIND_THRESHOLD
            self.max_data_employees = MAX_DATA_EMPLOYEES
            self.token_ttl = TOKEN_TTL
            self.accept_refresh = True
            self.job_transfers = frozenset()
        self.row_cache.clear()

    def transfer_jobs(self, days: Iterable[tuple[str, date]]) -> None:
        """On each (person number, day), the person moves to another job half way through the regular hours, so
        the day has two REG totals, one per job (a real timecard's totals are per pay code *and* labor account)."""
        with self._lock:
            self.job_transfers = frozenset(days)
        self.row_cache.clear()  # rendered answers of those days change

    # --- authentication -------------------------------------------------------------------------------------------

    async def _access_token(self, request: Request) -> Response:
        key = request.headers.get("appkey")
        if not key:
            return gateway_fault(
                "Failed to resolve API Key variable request.header.appkey", "steps.oauth.v2.FailedToResolveAPIKey"
            )
        if not secrets.compare_digest(key, APPKEY):
            return gateway_fault("Invalid ApiKey", "oauth.v2.InvalidApiKey")
        field = await _form(request)
        if field.get("client_id") != CLIENT_ID or not secrets.compare_digest(
            field.get("client_secret", ""), CLIENT_SECRET
        ):
            return JSONResponse({"error": "invalid_client", "error_description": "Client authentication failed"}, 401)
        grant = field.get("grant_type")
        with self._lock:
            self.grants.append(str(grant))
        if grant == "password":
            if field.get("auth_chain") != "OAuthLdapService":
                return JSONResponse({"error": "invalid_request", "error_description": "auth_chain is required"}, 400)
            if field.get("username") != USERNAME or not secrets.compare_digest(field.get("password", ""), PASSWORD):
                return JSONResponse(
                    {"error": "access_denied", "error_description": "Authentication failed: invalid user credentials"},
                    401,
                )
        elif grant == "refresh_token":
            refresh = field.get("refresh_token", "")
            with self._lock:
                expires = self._refresh.pop(refresh, None)  # single use: a new one comes with the new access token
            if expires is None or expires <= time.time() or not self.accept_refresh:
                return JSONResponse({"error": "invalid_grant", "error_description": "Refresh token is invalid"}, 400)
        else:
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        issued = self.ctx.tokens.issue(PRODUCT, USERNAME, self.token_ttl, flow="classic")
        refresh_token = secrets.token_urlsafe(24)
        with self._lock:
            self._refresh[refresh_token] = time.time() + REFRESH_TTL
        return JSONResponse(
            {
                "access_token": issued.token,
                "refresh_token": refresh_token,
                "token_type": "Bearer",
                "scope": "",
                "id_token": secrets.token_urlsafe(16),
                "expires_in": int(self.token_ttl),
            }
        )

    async def _platform_token(self, request: Request) -> Response:
        field = await _form(request)
        if field.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        if field.get("client_id") != PLATFORM_CLIENT_ID or not secrets.compare_digest(
            field.get("client_secret", ""), PLATFORM_CLIENT_SECRET
        ):
            return JSONResponse({"error": "invalid_client", "error_description": "Client authentication failed"}, 401)
        if field.get("audience") != AUDIENCE:
            return JSONResponse(
                {"error": "access_denied", "error_description": "Service not enabled within domain"}, 403
            )
        issued = self.ctx.tokens.issue(PRODUCT, PLATFORM_CLIENT_ID, self.token_ttl, flow="platform")
        with self._lock:
            self.grants.append("client_credentials")
        return JSONResponse(
            {"access_token": issued.token, "token_type": "Bearer", "expires_in": int(self.token_ttl), "scope": "wfm"}
        )

    def _refused(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else None
        found = self.ctx.tokens.check(PRODUCT, token)
        if found is not None and found.extra.get("flow") == "classic":
            key = request.headers.get("appkey")
            if not key:
                return gateway_fault(
                    "Failed to resolve API Key variable request.header.appkey", "steps.oauth.v2.FailedToResolveAPIKey"
                )
            if not secrets.compare_digest(key, APPKEY):
                return gateway_fault("Invalid ApiKey", "oauth.v2.InvalidApiKey")
        if found is None:
            return wfm_error(401, "WFP-00401", "The access token is missing, invalid or expired.")
        if found.extra.get("flow") == "platform" and request.headers.get("global-tenant-id") != GLOBAL_TENANT_ID:
            return wfm_error(403, "WFP-00403", "The global-tenant-id header is missing or names another tenant.")
        return None

    def _api(self, handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            refused = self._refused(request)
            if refused is not None:
                return refused
            body: Any = None
            raw = b""
            if request.method == "POST":
                raw = await request.body()
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    return wfm_error(400, "WCO-100400", "The request body is not valid JSON.")
                if not isinstance(body, dict):
                    return wfm_error(400, "WCO-100400", "The request body must be a JSON object.")
            # Every read is a pure function of (path, query, body, the caps) and the company's data: an answer is
            # rendered once per data version (errors are not kept, they are cheap and may depend on the caps).
            caps = (self.max_persons, self.max_days, self.hyperfind_threshold, self.max_data_employees)
            shape = (request.url.path, request.url.query, raw, *caps)
            kept = self.row_cache.rows(shape, self.company.data_version())
            if kept is not None and 0 in kept:
                return Response(kept[0], media_type="application/json")
            result = await run_in_threadpool(handler, body, request)
            if isinstance(result, Response):
                return result
            rendered = json.dumps(result, default=_json_default).encode()
            if kept is not None and self.row_cache.room_for(len(rendered)):
                kept[0] = rendered
            return Response(rendered, media_type="application/json")

        return endpoint

    # --- people -------------------------------------------------------------------------------------------------

    def _employee_at(self, i: int, now: datetime) -> Employee:
        return self.company.employee(i, now)

    def _population(self, first: date, last: date, hyperfind: int) -> list[Employee]:
        now = self.ctx.clock.now()
        people = []
        for i in range(self.company.employee_count(now)):
            e = self._employee(i, now)
            if e.hire_date > last or (e.termination_date is not None and e.termination_date < first):
                continue
            if hyperfind == 2 and not e.full_time:
                continue
            people.append(e)
        return people

    def _hyperfind_execute(self, body: dict[str, Any], request: Request) -> Any:
        ref = body.get("hyperfind") or {}
        named = next((k for k, (n, _) in HYPERFINDS.items() if n == ref.get("qualifier")), 0)
        try:
            hyperfind = int(str(ref.get("id") or named))
        except ValueError:
            hyperfind = 0
        if hyperfind not in HYPERFINDS:
            return wfm_error(404, "WCO-101101", "The hyperfind query does not exist.", hyperfind=ref)
        window = _date_range(body.get("dateRange"))
        if isinstance(window, Response):
            return window
        threshold = body.get("threshold", self.hyperfind_threshold)
        if type(threshold) is not int or not 1 <= threshold <= HYPERFIND_MAX_THRESHOLD:
            return wfm_error(
                400,
                "WCO-101102",
                f"threshold must be an integer between 1 and {HYPERFIND_MAX_THRESHOLD}.",
                maximum=HYPERFIND_MAX_THRESHOLD,
            )
        people = self._population(*window, hyperfind)[:threshold]
        return {
            "result": {"refs": [{"id": e.index + 1, "qualifier": e.employee_id} for e in people]},
            "count": len(people),
        }

    def _selected(self, body: dict[str, Any]) -> list[Employee] | Response:
        """The people a multi_read names (``where.employees``), within the person cap."""
        where = body.get("where") or {}
        employees = where.get("employees") or {}
        key = str(employees.get("key") or "personnumber").lower()
        values = employees.get("values") or employees.get("ids") or []
        if not isinstance(values, list) or not values:
            return wfm_error(400, "WCO-101265", "where.employees must name at least one person.")
        over = self._over_cap(values)
        if over is not None:
            return over
        now = self.ctx.clock.now()
        count = self.company.employee_count(now)
        people = []
        for value in values:
            index = _person_index(str(value), key)
            if index is not None and 0 <= index < count:
                people.append(self._employee(index, now))
        return people

    def _referenced(self, refs: Any, where: str) -> list[Employee] | Response:
        """The people an object reference list names (``ids``: person keys, ``qualifiers``: person numbers, the
        timecard and schedule multi_reads' employee refs), within the person cap."""
        refs = refs if isinstance(refs, dict) else {}
        values = refs.get("qualifiers") if refs.get("qualifiers") is not None else refs.get("ids")
        if not isinstance(values, list) or not values:
            return wfm_error(400, "WCO-101265", f"{where} must name at least one person (ids or qualifiers).")
        return self._over_cap(values) or self._named(refs)

    def _over_cap(self, values: list[Any]) -> Response | None:
        """400 WCO-101272 for a multi_read naming more people than ``max_persons``."""
        if len(values) <= self.max_persons:
            return None
        return wfm_error(
            400,
            "WCO-101272",
            f"The number of employees ({len(values)}) exceeds the maximum allowed ({self.max_persons}) for this "
            "request.",
            maximum=self.max_persons,
            actual=len(values),
        )

    def _persons(self, body: dict[str, Any], request: Request) -> Any:
        people = self._selected(body)
        if isinstance(people, Response):
            return people
        return [self._person(e) for e in people]

    def _org_path(self, e: Employee, *, transferred: bool = False) -> str:
        """The person's labor account path; ``transferred``: the same with the next job of the company's list."""
        country = self.company.location_by_code[e.location_code].parent
        job = e.job_code
        if transferred:
            codes = [c.code for c in self.company.jobs]
            job = codes[(codes.index(job) + 1) % len(codes)]
        return f"./{ORG_ROOT}/{country}/{e.location_code}/{e.department_code}/{job}"

    def _person(self, e: Employee) -> dict[str, Any]:
        statuses = []
        end = e.termination_date
        if e.status == "terminated" and end is not None:
            statuses.append({"employmentStatusName": "Active", "effectiveDate": e.hire_date, "expirationDate": end})
            statuses.append({"employmentStatusName": "Terminated", "effectiveDate": end, "expirationDate": _FAR_FUTURE})
        else:
            name = "Inactive" if e.status == "leave" else "Active"
            statuses.append({"employmentStatusName": name, "effectiveDate": e.hire_date, "expirationDate": _FAR_FUTURE})
        rule = WORK_RULES[0 if e.full_time else 1]
        return {
            "personIdentity": {"personKey": e.index + 1, "personNumber": e.employee_id},
            "personInformation": {
                "person": {
                    "personKey": e.index + 1,
                    "personNumber": e.employee_id,
                    "firstName": e.first_name,
                    "lastName": e.last_name,
                    "fullName": f"{e.last_name}, {e.first_name}",
                    "hireDate": e.hire_date,
                    "birthDate": e.birth_date,
                },
                "employmentStatusList": statuses,
                "emailAddresses": [
                    {"address": e.email, "contactTypeName": "Work", "hasEmailNotificationDelivery": True}
                ],
            },
            "jobAssignment": {
                "primaryLaborAccounts": [
                    {"organizationPath": self._org_path(e), "effectiveDate": e.hire_date, "expirationDate": _FAR_FUTURE}
                ],
                "jobAssignmentDetails": {
                    "workerTypeName": "Full Time" if e.full_time else "Part Time",
                    "supervisorPersonNumber": e.manager_id,
                    "timeZoneName": self.company.time_zone,
                    "payRuleName": rule[1],
                },
            },
        }

    # --- time ---------------------------------------------------------------------------------------------------

    def _window(self, body: dict[str, Any], span: Any) -> tuple[date, date] | Response:
        window = _date_range(span)
        if isinstance(window, Response):
            return window
        days = (window[1] - window[0]).days + 1
        if days > self.max_days:
            return wfm_error(
                400,
                "WTK-101010",
                f"The date range spans {days} days; at most {self.max_days} days are allowed per request.",
                maximum=self.max_days,
                actual=days,
            )
        return window

    def _local(self, moment: datetime) -> str:
        """A UTC instant as the tenant's wall time (the API speaks tenant-local date-times)."""
        return moment.astimezone(self.zone).replace(tzinfo=None).isoformat()

    def _timecards(self, body: dict[str, Any], request: Request) -> Any:
        where = body.get("where") or {}
        unknown = _unrecognized(where, TIMECARD_WHERE, "where") or _unrecognized(
            where.get("employees"), REF_LIST, "where.employees"
        )
        if unknown is not None:
            return unknown
        people = self._referenced(where.get("employees"), "where.employees")
        if isinstance(people, Response):
            return people
        window = self._window(body, (body.get("where") or {}).get("dateRange"))
        if isinstance(window, Response):
            return window
        select = {str(s).upper() for s in body.get("select") or ("PUNCHES", "TOTALS")}
        now = self.ctx.clock.now()
        first, last = window
        out = []
        for e in people:
            punches: list[dict[str, Any]] = []
            totals: list[dict[str, Any]] = []
            day = first
            while day <= last:
                worked = self.company.worked_day(e.index, day, now, employee=e)
                if worked is not None:
                    if "PUNCHES" in select:
                        punches.extend(self._punch(e, p) for p in self._with_meal(worked, now))
                    if "TOTALS" in select:
                        totals.extend(self._totals(e, worked))
                day += timedelta(days=1)
            row: dict[str, Any] = {"employee": {"id": e.index + 1, "qualifier": e.employee_id}}
            if "PUNCHES" in select:
                row["punches"] = punches
            if "TOTALS" in select:
                row["dailyTotals"] = totals
            out.append(row)
        return out

    def _with_meal(self, worked: WorkedDay, now: datetime) -> list[Any]:
        """A night shift's punches with its meal break (out 4 h after the in punch, back in 30 min later; paid, so
        the totals stay the in/out span), the shape a punched night shift has on a tenant: four punches over two
        clock days. On about one night in eight the worker forgets the meal-in punch (a missed punch: three
        punches); on about one in four the meal is not punched at all (an auto-deducted or paid on-site meal, the
        usual 12-hour nursing or security night: two punches 7.5 h or more apart, review28i M2). Day shifts keep
        their in/out pair."""
        punches = list(worked.punches)
        if len(punches) < 2 or punches[0].at.hour < 18:
            return punches
        first, last = punches
        meal_out, meal_in = first.at + timedelta(hours=4), first.at + timedelta(hours=4, minutes=30)
        key = first.punch_id[3:]
        meal = int(hashlib.sha256(f"meal:{key}".encode()).hexdigest()[:4], 16) % 8
        if meal in (1, 2):
            return punches  # the meal is not punched
        entered = [replace(first, punch_id=f"PMO-{key}", kind="Out", at=meal_out, edited=False)]
        if meal != 0:
            entered.append(replace(first, punch_id=f"PMI-{key}", kind="In", at=meal_in, edited=False))
        stamped = [
            replace(p, entered_at=at, updated_at=at)
            for p in entered
            if (at := p.at.replace(tzinfo=self.zone).astimezone(UTC) + timedelta(seconds=30)) <= now
        ]
        return [first, *stamped, last]

    @staticmethod
    def _typed(person: str) -> bool:
        """Whether a person's punches carry ``typeOverride``: about one person in four. The field is an override
        (Data Hub's punch type override; UKG types a punch by its place in the shift), set where a punch was
        entered or corrected with an explicit In/Out (a terminal's In/Out keys, a manager's edit), so most people's
        punches come without it (review28i M2: every punch typed hid the untyped path)."""
        return int(hashlib.sha256(f"typed:{person}".encode()).hexdigest()[:4], 16) % 4 == 0

    def _punch(self, e: Employee, p: Any) -> dict[str, Any]:
        """A timecard punch as UKG's punch model has it: no ``applyDate`` (only a punch's exceptions carry one;
        audit wfm28 M5), the day is the shift's UKG applies it to; ``typeOverride`` only on a typed person's."""
        punch = {
            "id": p.punch_id,
            "employee": {"id": e.index + 1, "qualifier": e.employee_id},
            "punchDtm": p.at.isoformat(),
            "enteredOnDtm": self._local(p.entered_at),
            "updatedOnDtm": self._local(p.updated_at),
            "editedByManager": p.edited,
        }
        if self._typed(e.employee_id):
            punch["typeOverride"] = {"qualifier": p.kind}
        return punch

    def _totals(self, e: Employee, worked: WorkedDay) -> list[dict[str, Any]]:
        """Daily totals by pay code: regular up to 8 hours, overtime beyond (none while a punch is missing)."""
        hours = worked.hours
        if hours is None:
            return []
        start, end = worked.punches[0].at, worked.punches[1].at
        split = [("REG", start, min(end, start + timedelta(hours=8)))]
        if end > start + timedelta(hours=8):
            split.append(("OT", start + timedelta(hours=8), end))
        moved = (e.employee_id, worked.work_date) in self.job_transfers
        if moved:
            begin, finish = split[0][1], split[0][2]
            middle = begin + (finish - begin) / 2
            split[0:1] = [("REG", begin, middle), ("REG", middle, finish)]
        rows = []
        for n, (code, begin, finish) in enumerate(split):
            amount = (Decimal(int((finish - begin).total_seconds())) / 3600).quantize(Decimal("0.01"))
            rows.append(
                {
                    "applyDate": worked.work_date,
                    "payCode": {"id": PAY_CODE_IDS[code], "qualifier": code},
                    "amountType": "HOUR",
                    "amount": amount,
                    "startDateTime": begin.isoformat(),
                    "endDateTime": finish.isoformat(),
                    "location": {"qualifier": e.location_code},
                    "orgJob": {"qualifier": self._org_path(e, transferred=moved and n >= 1)},
                    "approved": worked.approved,
                    "updatedOnDtm": self._local(worked.updated_at),
                }
            )
        return rows

    def _schedules(self, body: dict[str, Any], request: Request) -> Any:
        where = body.get("where") or {}
        named = where.get("employees")
        employees: dict[str, Any] = named if isinstance(named, dict) else {}
        unknown = (
            _unrecognized(where, SCHEDULE_WHERE, "where")
            or _unrecognized(employees, SCHEDULE_EMPLOYEES, "where.employees")
            or _unrecognized(employees.get("employeeRefs"), REF_LIST, "where.employees.employeeRefs")
        )
        if unknown is not None:
            return unknown
        people = self._referenced(employees.get("employeeRefs"), "where.employees.employeeRefs")
        if isinstance(people, Response):
            return people
        window = self._window(body, {"startDate": employees.get("startDate"), "endDate": employees.get("endDate")})
        if isinstance(window, Response):
            return window
        now = self.ctx.clock.now()
        shifts = []
        for e in people:
            day = window[0]
            while day <= window[1]:
                shift = self.company.shift(e.index, day, now, employee=e)
                if shift is not None:
                    shifts.append(
                        {
                            "id": shift.shift_id,
                            "employee": {"id": e.index + 1, "qualifier": e.employee_id},
                            "startDateTime": shift.start.isoformat(),
                            "endDateTime": shift.end.isoformat(),
                            "label": f"{shift.start:%H:%M}-{shift.end:%H:%M}",
                            "segments": [
                                {
                                    "segmentTypeRef": {"qualifier": "REGULAR_SEGMENT"},
                                    "orgJobRef": {"qualifier": self._org_path(e)},
                                    "startDateTime": shift.start.isoformat(),
                                    "endDateTime": shift.end.isoformat(),
                                }
                            ],
                        }
                    )
                day += timedelta(days=1)
        return {"shifts": shifts}

    def _named(self, employees: Any) -> list[Employee] | Response:
        """The people an employee set names: ``qualifiers`` (person numbers) or ``ids`` (person keys)."""
        if not isinstance(employees, dict):
            return wfm_error(400, "WCO-101265", "employeeSet.employees must be an object.")
        key = "personnumber" if employees.get("qualifiers") is not None else "personid"
        values = employees.get("qualifiers") if key == "personnumber" else employees.get("ids")
        if not isinstance(values, list) or not values:
            return wfm_error(400, "WCO-101265", "employeeSet.employees must name at least one person.")
        now = self.ctx.clock.now()
        count = self.company.employee_count(now)
        indices = (_person_index(str(value), key) for value in values)
        return [self._employee(i, now) for i in indices if i is not None and 0 <= i < count]

    def _data(self, body: dict[str, Any], request: Request) -> Any:
        """Aggregated data multi_read, accrual balances only: one child per person and accrual code, paged."""
        keys = [str((s or {}).get("key")) for s in body.get("select") or []]
        unknown = [k for k in keys if k not in DATA_KEYS]
        if not keys or unknown:
            return wfm_error(
                400,
                "WDM-100101",
                f"Unknown or missing data dictionary keys: {', '.join(unknown)}",
                known=sorted(DATA_KEYS),
            )
        source = body.get("from") or {}
        employee_set = source.get("employeeSet") or {}
        window = _date_range(employee_set.get("dateRange"))
        if isinstance(window, Response):
            return window
        try:
            index, count = int(body.get("index", 0)), int(body.get("count", 1000))
        except (TypeError, ValueError):
            return wfm_error(400, "WDM-100102", "index and count must be integers.")
        if index < 0 or not 1 <= count <= MAX_DATA_COUNT:
            return wfm_error(
                400, "WDM-100103", f"count must be between 1 and {MAX_DATA_COUNT}.", maximum=MAX_DATA_COUNT
            )
        if employee_set.get("employees") is not None:
            people = self._named(employee_set["employees"])
            if isinstance(people, Response):
                return people
        else:
            hyperfind = int(str((employee_set.get("hyperfind") or {}).get("id") or 1))
            people = self._population(*window, hyperfind)
        if len(people) > self.max_data_employees:
            return wfm_error(
                413,
                "WCO-106194",
                f"The number of employees in the request ({len(people)}) exceeds the allowed limit "
                f"({self.max_data_employees}).",
                limits=[{"actual": len(people), "maximum": self.max_data_employees}],
            )
        as_of = datetime.combine(window[1], datetime.min.time(), tzinfo=UTC) + timedelta(hours=23)
        plans = self.company.accrual_plans
        total = len(people) * len(plans)
        children = []
        for n in range(index, min(index + count, total)):
            e = people[n // len(plans)]
            balance = self.company.accrual_balances(e.index, as_of)[n % len(plans)]
            values = {
                "PEOPLE_PERSON_NUMBER": e.employee_id,
                "TK_ACCRUAL_CODE": balance.plan_code,
                "TK_ACCRUAL_BALANCE": balance.balance_hours,
                "TK_ACCRUAL_EARNED_YTD": balance.accrued_ytd,
                "TK_ACCRUAL_TAKEN_YTD": balance.taken_ytd,
            }
            children.append(
                {
                    "coreEntityKey": {"EMP": {"id": str(e.index + 1)}},
                    "attributes": [
                        {"key": k, "alias": DATA_KEYS[k], "rawValue": values[k], "value": str(values[k])} for k in keys
                    ],
                }
            )
        return {
            "data": {"children": children},
            "metadata": {"totalElements": total, "index": index, "count": len(children)},
        }

    # --- setup --------------------------------------------------------------------------------------------------

    def _pay_codes(self, body: Any, request: Request) -> Any:
        return [
            {
                "id": PAY_CODE_IDS[c.code],
                "name": c.code,
                "description": c.name,
                "type": "HOUR",
                "isVisibleInTimecard": True,
                "isExcusedAbsence": c.code in ("HOL", "VAC", "SICK"),
            }
            for c in self.company.earning_codes
        ]

    def _accrual_codes(self, body: Any, request: Request) -> Any:
        return [
            {"id": 200 + n, "name": c.code, "description": c.name, "unit": "HOUR"}
            for n, c in enumerate(self.company.accrual_plans, 1)
        ]

    def _work_rules(self, body: Any, request: Request) -> Any:
        return [{"id": i, "name": name, "description": text} for i, name, text in WORK_RULES]

    def _labor_categories(self, body: Any, request: Request) -> Any:
        return [{"id": i, "name": name, "description": text} for i, name, text in LABOR_CATEGORIES]

    def _hyperfinds(self, body: Any, request: Request) -> Any:
        return {
            "hyperfindQueries": [
                {"id": i, "name": name, "description": text, "visibility": "PUBLIC"}
                for i, (name, text) in HYPERFINDS.items()
            ]
        }

    def _locations(self, body: Any, request: Request) -> Any:
        """The business structure: company, countries, locations, departments, jobs (one node per path)."""
        c = self.company
        nodes: list[dict[str, Any]] = [_node(1, ORG_ROOT, "Acme Holdings", "Company", None, f"./{ORG_ROOT}")]
        ids = iter(range(2, 1_000_000))
        for country in sorted({loc.parent for loc in c.locations if loc.parent}):
            country_path = f"./{ORG_ROOT}/{country}"
            nodes.append(_node(next(ids), country, COUNTRIES.get(country, country), "Country", ORG_ROOT, country_path))
            for loc in (x for x in c.locations if x.parent == country):
                loc_path = f"{country_path}/{loc.code}"
                nodes.append(_node(next(ids), loc.code, loc.name, "Location", country, loc_path))
                for dept in c.departments:
                    dept_path = f"{loc_path}/{dept.code}"
                    nodes.append(_node(next(ids), dept.code, dept.name, "Department", loc.code, dept_path))
                    nodes.extend(
                        _node(next(ids), job.code, job.name, "Job", dept.code, f"{dept_path}/{job.code}")
                        for job in c.jobs
                    )
        return nodes


def _node(node_id: int, name: str, description: str, kind: str, parent: str | None, path: str) -> dict[str, Any]:
    return {
        "nodeId": node_id,
        "name": name,
        "description": description,
        "orgNodeTypeRef": {"qualifier": kind},
        "parentNodeRef": {"qualifier": parent} if parent else None,
        "path": path,
        "effectiveDate": "2015-01-01",
        "expirationDate": _FAR_FUTURE,
    }


async def _form(request: Request) -> dict[str, str]:
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))


def _unrecognized(part: Any, known: frozenset[str], where: str) -> Response | None:
    """400 WFP-90011 for the first property of ``part`` (an object of the request) the operation does not know."""
    for name in part if isinstance(part, dict) else ():
        if name not in known:
            return wfm_error(400, "WFP-90011", f"Unrecognized property: {where}.{name}", property=f"{where}.{name}")
    return None


def _person_index(value: str, key: str) -> int | None:
    try:
        if key in ("personnumber", "person_number"):
            return int(value.lstrip("E")) - 1 if value.startswith("E") else None
        return int(value) - 1  # personid / personkey
    except ValueError:
        return None


def _date_range(span: Any) -> tuple[date, date] | Response:
    if not isinstance(span, dict):
        return wfm_error(400, "WCO-101201", "A dateRange with startDate and endDate is required.")
    try:
        first = date.fromisoformat(str(span.get("startDate")))
        last = date.fromisoformat(str(span.get("endDate")))
    except ValueError:
        return wfm_error(400, "WCO-101202", "startDate and endDate must be dates (YYYY-MM-DD).")
    if last < first:
        return wfm_error(400, "WCO-101203", "endDate must not be before startDate.")
    return first, last


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")
