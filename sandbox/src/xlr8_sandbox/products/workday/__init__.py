"""Workday emulator: OAuth 2.0 refresh-token grant, REST (``/ccx/api/v1``), RaaS custom reports (JSON, Workday XML
and XSD) and the SOAP web services (Human_Resources, Financial_Management, Resource_Management), all for one tenant.

The same people as every other HR emulator: ``Employee_ID`` is the company's ``employee_id``. Credentials:
an API client (client id, secret, refresh token) for REST and OAuth bearer calls; an integration system user
(ISU) for RaaS (HTTP Basic, ``user`` or ``user@tenant``) and SOAP (WS-Security UsernameToken ``user@tenant``).

Throttling is Workday's: 429 on REST and RaaS (the platform's ``rate_limit``/``quota`` faults), a SOAP fault with
HTTP 500 on SOAP (``throttle_soap(n)``: the next n SOAP calls are refused).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import threading
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from xlr8_sandbox.company import Employee
from xlr8_sandbox.platform.emulator import FaultResponse, ProductEmulator, SandboxContext
from xlr8_sandbox.platform.rowcache import RowCache

TENANT = "acme_sandbox"
ISU_USER = "ISU_XLR8"
ISU_PASSWORD = "sandbox-wd-isu-password"  # emulator test credential, not a real secret
CLIENT_ID = "d29ya2RheS1zYW5kYm94LWNsaWVudA"
CLIENT_SECRET = "sandbox-wd-client-secret"  # emulator test credential
REFRESH_TOKEN = "sandbox-wd-refresh-token"  # emulator test credential
REPORT_OWNER = ISU_USER
TOKEN_TTL = 3600.0
REST_MAX_LIMIT = 100


@functools.lru_cache(maxsize=8192)
def wid(kind: str, key: str) -> str:
    """A Workday ID: 32 hex characters, stable for the object (kept: organisations and plans recur on every row)."""
    return hashlib.md5(f"{kind}:{key}".encode(), usedforsecurity=False).hexdigest()


def wd_datetime(moment: datetime) -> str:
    """Workday's dateTime form: ``2024-03-01T08:15:00.000-08:00`` (the emulator's tenant runs on UTC)."""
    utc = moment.astimezone(UTC)
    if utc.year >= 1000:  # isoformat's first 19 characters are strftime's "%Y-%m-%dT%H:%M:%S" (without its cost)
        return utc.isoformat(timespec="seconds")[:19] + ".000+00:00"
    return utc.strftime("%Y-%m-%dT%H:%M:%S.000+00:00")


def worker_status(e: Employee) -> str:
    return {"active": "Active", "leave": "On Leave", "terminated": "Terminated"}[e.status]


@dataclass(frozen=True)
class FutureDated:
    """A transaction entered at ``entered_at`` that takes effect on ``effective`` (a raise keyed in advance):
    Get_Workers shows it only as of an effective date on or after ``effective``, and the transaction log finds it by
    either its entry moment or its effective date."""

    index: int
    entered_at: datetime
    effective: date
    annual_salary: Decimal


class WorkdayEmulator(ProductEmulator):
    product_id = "workday"
    title = "Workday HCM and Financials (REST, RaaS, SOAP)"

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        from xlr8_sandbox.products.workday.raas import RaasReports
        from xlr8_sandbox.products.workday.soap import SoapServices

        self.company = ctx.company
        self.tenant = TENANT
        self._lock = threading.Lock()
        #: RaaS bodies and REST worker rows per request shape and data version (``XLR8_SANDBOX_CACHE=0`` disables).
        self.row_cache = RowCache()
        #: Refresh tokens the token endpoint accepts; rotation replaces the one used (single use).
        self.refresh_tokens: set[str] = {REFRESH_TOKEN}
        self.rotate_refresh_tokens = False
        self._soap_throttle = 0
        self._workers_cache: tuple[tuple[datetime, int], list[Employee]] | None = None
        #: Future-dated pay changes (``enter_future_dated``): entered at one moment, effective on a later day.
        self.future_dated: list[FutureDated] = []
        #: What clients asked (prompts, SOAP paging), for tests: the platform's request log has no query strings.
        self.raas_calls: list[dict[str, Any]] = []
        self.soap_calls: list[dict[str, Any]] = []
        self.raas = RaasReports(self)
        self.soap = SoapServices(self)

    # --- platform hooks ---------------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        from xlr8_sandbox.products.workday import rest

        return [
            Route("/ccx/oauth2/{tenant}/token", self._token, methods=["POST"]),
            *rest.routes(self),
            Route("/ccx/service/customreport2/{tenant}/{owner}/{report}", self.raas.handle, methods=["GET"]),
            Route("/ccx/service/{tenant}/{service}/{version}", self.soap.handle, methods=["POST"]),
        ]

    def test_credentials(self) -> dict[str, str]:
        return {
            "tenant": TENANT,
            "username": ISU_USER,
            "password": ISU_PASSWORD,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": REFRESH_TOKEN,
        }

    def quota_error_response(self) -> FaultResponse:
        body = {"error": "Too many requests: the tenant's API rate limit was exceeded", "code": "S22"}
        return FaultResponse(429, json.dumps(body), headers={"Retry-After": "1"})

    def insert_records(self, count: int) -> None:
        """New hires entered a moment after the current sandbox time (so a fixed As_Of_Entry_DateTime hides them)."""
        self.ctx.clock.advance(timedelta(seconds=1))
        self.company.insert_employees(count)

    def enter_future_dated(self, index: int, effective: date, annual_salary: Decimal) -> FutureDated:
        """Enter a pay change for person ``index`` a moment after now, effective on ``effective`` (tests: Workday's
        future-dated transactions, audit24b H4). Not part of the default data: the served bytes stay as they were."""
        entered = self.ctx.clock.advance(timedelta(seconds=1))
        change = FutureDated(index, entered, effective, annual_salary)
        with self._lock:
            self.future_dated.append(change)
            self._workers_cache = None
        self.row_cache.clear()
        return change

    def effective_view(self, person: Employee, index: int, as_of: datetime, effective: date) -> Employee:
        """``person`` with the future-dated changes entered by ``as_of`` and in effect on ``effective``."""
        for change in self.future_dated:
            if change.index == index and change.entered_at <= as_of and change.effective <= effective:
                person = replace(person, annual_salary=change.annual_salary)
        return person

    def future_dated_indexes(
        self, entered: tuple[datetime, datetime] | None, effective: tuple[datetime, datetime] | None, as_of: datetime
    ) -> set[int]:
        """People with a future-dated change entered in ``entered`` (``(from, through]``) and effective in
        ``effective`` (``[from, through]``, by day), each range left out when None; none entered after ``as_of``."""
        found: set[int] = set()
        for change in self.future_dated:
            if change.entered_at > as_of:
                continue
            if entered is not None and not entered[0] < change.entered_at <= entered[1]:
                continue
            if effective is not None and not effective[0].date() <= change.effective <= effective[1].date():
                continue
            found.add(change.index)
        return found

    def reset(self) -> None:
        with self._lock:
            self.future_dated.clear()
            self.refresh_tokens = {REFRESH_TOKEN}
            self.rotate_refresh_tokens = False
            self._soap_throttle = 0
            self.raas_calls.clear()
            self.soap_calls.clear()
            self._workers_cache = None
        self.row_cache.clear()

    def throttle_soap(self, times: int) -> None:
        """Refuse the next ``times`` SOAP calls with Workday's throttling fault (HTTP 500)."""
        with self._lock:
            self._soap_throttle = times

    def take_soap_throttle(self) -> bool:
        with self._lock:
            if self._soap_throttle > 0:
                self._soap_throttle -= 1
                return True
            return False

    # --- time and people --------------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.ctx.clock.now()

    def clamp(self, moment: datetime | None) -> datetime:
        """An as-of moment never lies ahead of the tenant's clock (the future is "now")."""
        now = self.now()
        return now if moment is None or moment > now else moment

    def workers(self, as_of: datetime | None = None) -> list[Employee]:
        """Everyone as of a moment; the last list is kept (windowed report runs ask for the same moment again)."""
        moment = self.clamp(as_of)
        key = (moment, self.company.employee_count(moment))
        with self._lock:
            if self._workers_cache is not None and self._workers_cache[0] == key:
                return self._workers_cache[1]
        people = list(self.company.employees(as_of=moment))
        with self._lock:
            self._workers_cache = (key, people)
        return people

    def worker_count(self, as_of: datetime | None = None) -> int:
        return self.company.employee_count(self.clamp(as_of))

    def changed_worker_indexes(self, start: datetime, end: datetime) -> list[int]:
        """Workers with a transaction (hire, change, termination) entered in ``(start, end]``, in index order."""
        found = {c.index for c in self.company.changes_between(start, self.clamp(end)) if c.entity == "employee"}
        return sorted(found)

    def organizations(self) -> list[dict[str, Any]]:
        """Supervisory organizations (one per department under a top org), cost centers and companies."""
        top = {"code": "SUP_TOP", "name": "Acme Executive Office", "type": "Supervisory", "superior": None}
        rows = [top]
        rows += [
            {"code": f"SUP_{d.code}", "name": d.name, "type": "Supervisory", "superior": "SUP_TOP"}
            for d in self.company.departments
        ]
        rows += [
            {"code": c.code, "name": c.name, "type": "Cost_Center", "superior": None} for c in self.company.cost_centers
        ]
        rows += [
            {"code": c.code, "name": c.name, "type": "Company", "superior": None} for c in self.company.legal_entities
        ]
        for row in rows:
            row["wid"] = wid("organization", str(row["code"]))
        return rows

    # --- authentication ---------------------------------------------------------------------------------------

    def bearer_ok(self, request: Request) -> bool:
        header = request.headers.get("authorization") or ""
        if not header.lower().startswith("bearer "):
            return False
        return self.ctx.tokens.check(self.product_id, header[7:].strip()) is not None

    def isu_ok(self, user: str | None, password: str | None) -> bool:
        if user is None or password is None:
            return False
        name, _, tenant = user.partition("@")
        return name == ISU_USER and tenant in ("", TENANT) and password == ISU_PASSWORD

    def basic_ok(self, request: Request) -> bool:
        header = request.headers.get("authorization") or ""
        if not header.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return self.isu_ok(user, password)

    async def _token(self, request: Request) -> Response:
        if request.path_params["tenant"] != TENANT:
            return JSONResponse({"error": "invalid_request", "error_description": "unknown tenant"}, 400)
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        header = request.headers.get("authorization") or ""
        if header.lower().startswith("basic "):
            try:
                client_id, _, client_secret = base64.b64decode(header[6:].strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                client_id = None
        if client_id != CLIENT_ID or client_secret != CLIENT_SECRET:
            return JSONResponse({"error": "invalid_client", "error_description": "client authentication failed"}, 401)
        if form.get("grant_type") != "refresh_token":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        presented = str(form.get("refresh_token") or "")
        with self._lock:
            if presented not in self.refresh_tokens:
                return JSONResponse({"error": "invalid_grant", "error_description": "Invalid refresh token"}, 400)
            refresh = presented
            if self.rotate_refresh_tokens:
                self.refresh_tokens.discard(presented)
                refresh = hashlib.sha256(f"{presented}:{len(self.refresh_tokens)}:{self.now()}".encode()).hexdigest()
                while refresh in self.refresh_tokens:
                    refresh = hashlib.sha256(refresh.encode()).hexdigest()
                self.refresh_tokens.add(refresh)
        token = self.ctx.tokens.issue(self.product_id, client_id, ttl=TOKEN_TTL)
        return JSONResponse(
            {
                "access_token": token.token,
                "token_type": "Bearer",
                "expires_in": int(TOKEN_TTL),
                "refresh_token": refresh,
            }
        )
