"""Salesforce emulator: OAuth token endpoint, describe, REST query/queryAll, Bulk API 2.0 query jobs, limits.

Behaves like a real org where taps usually break: no ``expires_in`` in token responses, 401 INVALID_SESSION_ID on
revoked sessions, 403 REQUEST_LIMIT_EXCEEDED when the daily quota runs out, QUERY_TIMEOUT on queries that scan too
many rows, ``Sforce-Limit-Info`` on every data response, deleted rows only through queryAll.

Test switches live on the emulator object: ``api_limit``, ``api_used``, ``query_timeout_rows``,
``query_timeout_when``, ``query_more_timeout_when``, ``touch()``,
``delete()``, ``register_jwt_key()``, and ``ctx.tokens.revoke_all("salesforce")``.
"""

from __future__ import annotations

import base64
import bisect
import csv
import dataclasses
import heapq
import io
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from xlr8_sandbox.platform.emulator import FaultResponse, ProductEmulator, SandboxContext
from xlr8_sandbox.platform.rowcache import RowCache
from xlr8_sandbox.platform.wirecsv import plain_csv_line
from xlr8_sandbox.platform.wirejson import projected_bytes
from xlr8_sandbox.products.salesforce import soql
from xlr8_sandbox.products.salesforce.objects import SObject, build_objects, describe_field, sf_datetime

PRODUCT = "salesforce"
CLIENT_ID = "xlr8-sandbox-connected-app"
CLIENT_SECRET = "sandbox-client-secret-7f3a"
USERNAME = "integration@acme.example"
PASSWORD = "sandbox-password-91"
SECURITY_TOKEN = "SBXTOKEN42"
REFRESH_TOKEN = "sandbox-refresh-token-5d2e"
DEFAULT_BATCH = 2000
JWT_AUDIENCES = {"https://login.salesforce.com", "https://test.salesforce.com"}
COMPOUND_TYPES = ("address", "location")
#: Field types no Bulk query may select (real orgs refuse the job); REST returns the blob's URL instead of its content.
BINARY_TYPES = ("base64",)
#: Every API version this emulator serves, oldest first; ``GET /services/data`` lists exactly these.
API_VERSIONS = tuple(f"{major}.0" for major in range(31, 65))
#: How long an idle keep-alive connection stays open: real orgs reset a pooled connection idle for about a minute.
KEEP_ALIVE_SECONDS = 60
#: Seconds a Bulk API 2.0 query job runs after its creation before it is JobComplete (or Failed). A real org takes
#: seconds to minutes; the emulator is faster, but like a real org the state follows time, not how often it is polled.
#: Longer than the 100 ms round trip the benches add (a poll sent as the create answers finds the job InProgress, as
#: on any real org) and shorter than the bench's 0.2 s poll interval: a client polling at once, then after 0.2 s,
#: sees what the emulator answered before jobs ran on time (InProgress, then JobComplete).
BULK_JOB_SECONDS = 0.15
#: Query cursors one user keeps open before API version 56.0; opening one more releases the oldest (its next page
#: answers INVALID_QUERY_LOCATOR). Version 56.0 removed the limit ("API Query Cursor Limits").
MAX_OPEN_CURSORS = 10
CURSORS_UNLIMITED_FROM = 56
#: Columns the emulator orders by (their order is the index order, SystemModstamp first).
_ORDER_COLUMNS = ("SystemModstamp", "LastModifiedDate", "Id", "CreatedDate")


def release_label(version: str) -> str:
    """Salesforce's release name for an API version (three releases a year: Winter, Spring, Summer)."""
    major = int(float(version))
    if major < 32:
        return "Summer '14"
    step = major - 32
    return f"{('Winter', 'Spring', 'Summer')[step % 3]} '{15 + step // 3}"


def _limit(maximum: int, remaining: int | None = None) -> dict[str, int]:
    return {"Max": maximum, "Remaining": maximum if remaining is None else max(remaining, 0)}


#: The rest of an Enterprise org's ``/limits`` keys (the ones the emulator counts are filled in per request).
_STATIC_LIMITS: dict[str, int] = {
    "ActiveScratchOrgs": 3,
    "AnalyticsExternalDataSizeMB": 40960,
    "ConcurrentAsyncGetReportInstances": 200,
    "ConcurrentEinsteinDataInsightsStoryCreation": 5,
    "ConcurrentEinsteinDiscoveryStoryCreation": 2,
    "ConcurrentSyncReportRuns": 20,
    "DailyAnalyticsDataflowJobExecutions": 60,
    "DailyAnalyticsUploadedFilesSizeMB": 51200,
    "DailyAsyncApexExecutions": 250000,
    "DailyAsyncApexTests": 500,
    "DailyDeliveredPlatformEvents": 50000,
    "DailyDurableGenericStreamingApiEvents": 10000,
    "DailyDurableStreamingApiEvents": 10000,
    "DailyEinsteinDataInsightsStoryCreation": 1000,
    "DailyEinsteinDiscoveryPredictAPICalls": 50000,
    "DailyEinsteinDiscoveryPredictionsByCDC": 500000,
    "DailyEinsteinDiscoveryStoryCreation": 100,
    "DailyFunctionsApiCallLimit": 235000,
    "DailyGenericStreamingApiEvents": 10000,
    "DailyScratchOrgs": 6,
    "DailyStandardVolumePlatformEvents": 10000,
    "DailyStreamingApiEvents": 10000,
    "DailyWorkflowEmails": 2000,
    "DataStorageMB": 5,
    "DurableStreamingApiConcurrentClients": 20,
    "FileStorageMB": 20,
    "HourlyAsyncReportRuns": 1200,
    "HourlyDashboardRefreshes": 200,
    "HourlyDashboardResults": 5000,
    "HourlyDashboardStatuses": 999999999,
    "HourlyLongTermIdMapping": 100000,
    "HourlyManagedContentPublicRequests": 50000,
    "HourlyODataCallout": 10000,
    "HourlyPublishedPlatformEvents": 50000,
    "HourlyPublishedStandardVolumePlatformEvents": 1000,
    "HourlyShortTermIdMapping": 100000,
    "HourlySyncReportRuns": 500,
    "HourlyTimeBasedWorkflow": 50,
    "MassEmail": 10,
    "MonthlyEinsteinDiscoveryStoryCreation": 500,
    "Package2VersionCreates": 6,
    "Package2VersionCreatesWithoutValidation": 500,
    "PermissionSetsCreated": 1000,
    "PrivateConnectOutboundCalloutHourlyLimitMB": 0,
    "PublishCallbackUsageInApex": 5242880,
    "SingleEmail": 15,
    "StreamingApiConcurrentClients": 20,
}


def _sf_error(status: int, code: str, message: str, fields: list[str] | None = None) -> JSONResponse:
    return JSONResponse([{"message": message, "errorCode": code, "fields": fields or []}], status_code=status)


class SalesforceError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


#: The one JSON encoder of data pages (what ``json.dumps`` with these options builds on every call).
_ENCODER = json.JSONEncoder(default=_json_default, ensure_ascii=False, separators=(",", ":"))
#: Fields every base row carries before its generated ones, and those that grow with the row index.
_SYSTEM_FIELDS = frozenset(
    {"Id", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp", "IsDeleted"}
)
_ASCENDING_FIELDS = frozenset({"Id", "CreatedDate", "LastModifiedDate", "SystemModstamp"})


class _FastJSON(JSONResponse):
    """JSON with Decimals written as numbers, without walking every record first."""

    def render(self, content: Any) -> bytes:
        return _ENCODER.encode(content).encode()


def _where_fields(condition: soql.Condition) -> set[str]:
    if isinstance(condition, soql.BoolOp):
        return set().union(*(_where_fields(part) for part in condition.parts))
    return {condition.field}


def _ascending_term(term: soql.Condition) -> bool:
    """A range comparison on a field that never decreases with the base row index (so it holds on an interval)."""
    if not isinstance(term, soql.Comparison) or term.field not in _ASCENDING_FIELDS:
        return False
    if term.op not in ("<", "<=", ">", ">="):
        return False
    return isinstance(term.value, str) if term.field == "Id" else isinstance(term.value, date)


@dataclass
class _Position:
    base: int  # next base row index
    overlay: int  # next row of the overlay snapshot
    delivered: int = 0


@dataclass
class _Plan:
    """A parsed query bound to one object, with the overlay snapshot its cursor walks."""

    query: soql.Query
    sobject: SObject
    include_deleted: bool
    overlay: list[dict[str, Any]]
    overlaid: frozenset[int]
    start: int
    stop: int
    #: The SOQL as asked (what ``query_timeout_when`` and ``query_more_timeout_when`` are given).
    text: str = ""


@dataclass
class _BulkJob:
    id: str
    plan: _Plan
    operation: str
    created: str
    polls: int = 0
    state: str = "UploadComplete"
    processed: int = 0
    #: ``time.monotonic()`` at creation: the job is done ``bulk_job_seconds`` later.
    created_at: float = field(default_factory=time.monotonic)
    locators: dict[str, _Position] = field(default_factory=dict)
    #: Set when the job will fail while processing (Bulk jobs fail after creation, not at POST).
    error: str | None = None


#: "In each REST call, the maximum length for the combined URI and headers is 16,384 bytes" (limits cheatsheet).
MAX_URI_AND_HEADERS = 16_384


def _uri_and_headers_bytes(request: Request) -> int:
    uri = len(request.url.path) + (len(request.url.query) + 1 if request.url.query else 0)
    return uri + sum(len(name) + len(value) + 4 for name, value in request.headers.items())


class SalesforceEmulator(ProductEmulator):
    product_id = PRODUCT
    title = "Salesforce (REST, Bulk API 1.0 and 2.0, OAuth)"
    keep_alive_seconds = KEEP_ALIVE_SECONDS

    def __init__(self, ctx: SandboxContext) -> None:
        from xlr8_sandbox.products.salesforce.bulk1 import BulkV1  # imports this package: loaded once it is complete

        super().__init__(ctx)
        self.bulk1 = BulkV1(self)
        #: Bulk API 1.0 batches created today (the ``DailyBulkApiBatches`` limit).
        self.bulk1_batches = 0
        options = ctx.options.get(PRODUCT, {})
        self.objects = build_objects(ctx.company, options.get("counts"))
        for name, extra in (options.get("wide_fields") or {}).items():  # opt-in: as wide as real objects get
            obj = self.objects[name]
            wide = [describe_field(f"Wide_Custom_Field_{n:04d}_Txt__c", "string") for n in range(extra)]
            self.objects[name] = dataclasses.replace(obj, fields=[*obj.fields, *wide])
        self.api_limit: int = options.get("api_limit", 1_000_000)
        self.api_used: int = 0
        self.query_timeout_rows: int | None = options.get("query_timeout_rows")
        #: The ``errorMessage`` of a Bulk job too big to finish (``query_timeout_rows``); None: QUERY_TIMEOUT's. Bulk
        #: 2.0 also fails as "Retried more than 15 times" when its chunks keep timing out (opt-in, audit24a M3).
        self.bulk_timeout_message: str | None = None
        #: Stamp a Bulk job's ``createdDate`` with the sandbox clock, the clock its rows' SystemModstamp comes from, as
        #: one org's clock does (opt-in; by default the wall clock, as before).
        self.bulk_created_at_sandbox_time = False
        #: QUERY_TIMEOUT for the REST queries (SOQL text, rows scanned) it answers True for, at their first request:
        #: one query of several (a range of a ranged read) timing out while the others run, as under an org's load.
        self.query_timeout_when: Callable[[str, int], bool] | None = None
        #: QUERY_TIMEOUT for the later pages (``nextRecordsUrl``) of the REST queries it answers True for (SOQL text,
        #: rows the cursor served before the page): a query slowing down while a client pages through it. The
        #: cursor is not continued after it (the client re-issues a query).
        self.query_more_timeout_when: Callable[[str, int], bool] | None = None
        self.bulk_polls_before_complete = 1
        #: Bulk API 2.0 query jobs run this long after creation (``BULK_JOB_SECONDS``; option ``bulk_job_seconds``).
        self.bulk_job_seconds: float = options.get("bulk_job_seconds", BULK_JOB_SECONDS)
        #: A Bulk API 2.0 job stays InProgress for at least this many polls, however long it ran (a test holding a
        #: job open without waiting in real time); 0: time alone decides, as on a real org.
        self.bulk2_polls_before_complete = 0
        self.session_ttl: float | None = 7200.0
        self.rotate_refresh_tokens = False
        #: Revoke every session when the n-th data request arrives (token revocation mid-run).
        self.revoke_sessions_at_request: int | None = None
        #: Forget every open query cursor when the n-th data request arrives (INVALID_QUERY_LOCATOR mid-run).
        self.expire_cursors_at_request: int | None = None
        #: Rows per query page at most, whatever batchSize asks (None: as asked). Salesforce does not guarantee
        #: the asked size: a query selecting two or more custom long text fields gets 200.
        self.page_rows_cap: int | None = None
        self.data_requests = 0
        self._lock = threading.Lock()
        self._overlays: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in self.objects}
        self._inserted: dict[str, int] = {}
        self._last_queried: str | None = None
        self._cursors: dict[str, tuple[_Plan, int]] = {}
        self._cursor_positions: dict[tuple[str, int], _Position] = {}
        self._jobs: dict[str, _BulkJob] = {}
        self._refresh_tokens = {REFRESH_TOKEN}
        self.request_log: list[tuple[str, str]] = []
        #: Base rows' wire bytes per request shape and data version (``XLR8_SANDBOX_CACHE=0`` turns it off).
        self.row_cache = RowCache()
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwt_private_key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        self._jwt_public_keys = [key.public_key()]
        #: The org's clock minus ours, in seconds: a JWT's ``exp``, ``nbf`` and ``iat`` are checked against it (a
        #: tenant clock a few seconds behind rejects an assertion issued in its future).
        self.clock_offset_s = 0.0

    # --- test switches -------------------------------------------------------------------------------------
    def test_credentials(self) -> dict[str, str]:
        return {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "username": USERNAME,
            "password": PASSWORD,
            "security_token": SECURITY_TOKEN,
            "refresh_token": REFRESH_TOKEN,
            "private_key": self.jwt_private_key_pem,
        }

    def register_jwt_key(self, public_key_pem: str) -> None:
        """Register a connected app certificate's public key (JWT bearer flow)."""
        key = serialization.load_pem_public_key(public_key_pem.encode())
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("the JWT bearer flow needs an RSA public key")
        self._jwt_public_keys.append(key)

    def reset(self) -> None:
        """Test switches back to their start values; touched and deleted rows, open cursors, Bulk jobs, rotated
        refresh tokens, registered JWT keys, API usage and the request counters forgotten."""
        options = self.ctx.options.get(PRODUCT, {})
        with self._lock:
            self.api_limit = options.get("api_limit", 1_000_000)
            self.api_used = 0
            self.query_timeout_rows = options.get("query_timeout_rows")
            self.bulk_timeout_message = None
            self.bulk_created_at_sandbox_time = False
            self.query_timeout_when = None
            self.query_more_timeout_when = None
            self.bulk_polls_before_complete = 1
            self.bulk_job_seconds = options.get("bulk_job_seconds", BULK_JOB_SECONDS)
            self.bulk2_polls_before_complete = 0
            self.session_ttl = 7200.0
            self.rotate_refresh_tokens = False
            self.revoke_sessions_at_request = None
            self.expire_cursors_at_request = None
            self.page_rows_cap = None
            self.data_requests = 0
            for overlay in self._overlays.values():
                overlay.clear()
            self._inserted.clear()
            self._last_queried = None
            self._cursors.clear()
            self._cursor_positions.clear()
            self._jobs.clear()
            self.bulk1.reset()
            self.bulk1_batches = 0
            self._refresh_tokens = {REFRESH_TOKEN}
            self.request_log.clear()
            self.row_cache.clear()
            del self._jwt_public_keys[1:]  # the emulator's own key stays; registered ones go

    # --- fault hooks (vendor shapes) -----------------------------------------------------------------------
    def quota_error_response(self) -> FaultResponse:
        """What an org answers once its daily API requests are spent: 403 REQUEST_LIMIT_EXCEEDED."""
        body = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED", "fields": []}]
        with self._lock:
            headers = {"Sforce-Limit-Info": f"api-usage={max(self.api_used, self.api_limit)}/{self.api_limit}"}
        return FaultResponse(403, json.dumps(body), headers=headers)

    def error_body_response(self) -> FaultResponse:
        """A 200 that is not API data: the HTML login page an org serves when a request lands outside the API."""
        page = (
            "<!DOCTYPE html><html><head><title>Login | Salesforce</title></head>"
            '<body><form name="login" action="https://login.salesforce.com/"></form></body></html>'
        )
        return FaultResponse(200, page, content_type="text/html;charset=UTF-8")

    def insert_records(self, count: int) -> None:
        """Rows another user creates now in the object being paged (the latest one queried), with new Ids after
        the org's own and SystemModstamp at the sandbox clock, so they sort last (RELIABILITY E7)."""
        with self._lock:
            name = self._last_queried or "Account"
        obj = self.objects[name]
        stamp = sf_datetime(self.ctx.clock.now())
        with self._lock:
            for _ in range(count):
                self._inserted[name] = self._inserted.get(name, 0) + 1
                index = obj.count + self._inserted[name] - 1
                record = dict(obj.base_record(index))
                record.update(CreatedDate=stamp, LastModifiedDate=stamp, SystemModstamp=stamp)
                self._overlays[name][index] = record

    def touch(self, sobject: str, index: int, **changes: Any) -> dict[str, Any]:
        """Modify a row now: SystemModstamp and LastModifiedDate move to the sandbox clock."""
        obj = self.objects[sobject]
        with self._lock:
            record = dict(self._overlays[sobject].get(index) or obj.base_record(index))
            stamp = sf_datetime(self.ctx.clock.now())
            record.update(changes, SystemModstamp=stamp, LastModifiedDate=stamp)
            self._overlays[sobject][index] = record
        return record

    def commit_late(self, sobject: str, index: int, written_at: datetime, **changes: Any) -> dict[str, Any]:
        """Make visible now a row written at ``written_at`` by a transaction that commits only now (a data load, an
        Apex batch): a real org stamps SystemModstamp at the write, so the row appears with an older stamp than
        rows edited meanwhile. Test hook (audit24a H4); nothing else calls it."""
        obj = self.objects[sobject]
        with self._lock:
            record = dict(self._overlays[sobject].get(index) or obj.base_record(index))
            stamp = sf_datetime(written_at)
            record.update(changes, SystemModstamp=stamp, LastModifiedDate=stamp)
            self._overlays[sobject][index] = record
        return record

    def touch_into_running_jobs(self, sobject: str, index: int, **changes: Any) -> dict[str, Any]:
        """``touch`` a row, and let the object's Bulk jobs still running return the edit. A real job reads its PK
        chunks one after another, so a row of a later chunk comes with an edit made after the job was created,
        while an earlier chunk's row edited then does not (jobs here read a snapshot taken at their creation).
        Test hook (audit24a M3); nothing else calls it."""
        record = self.touch(sobject, index, **changes)
        with self._lock:
            for job in self._jobs.values():
                plan = job.plan
                if plan.sobject.name != sobject or job.state in ("JobComplete", "Failed", "Aborted"):
                    continue
                kept = [r for r in plan.overlay if r["Id"] != record["Id"]]
                plan.overlay = sorted([*kept, record], key=lambda r: (r["SystemModstamp"], r["Id"]))
                plan.overlaid = plan.overlaid | {index}
        return record

    def delete(self, sobject: str, index: int) -> dict[str, Any]:
        """Delete a row (to the recycle bin): only queryAll sees it afterwards, with IsDeleted = true."""
        return self.touch(sobject, index, IsDeleted=True)

    # --- routing ---------------------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        data = "/services/data/v{version}"
        return [
            Route("/services/oauth2/token", self.token, methods=["POST"]),
            Route("/services/data", self.versions, methods=["GET"]),
            Route(data + "/sobjects", self._api(self.global_describe), methods=["GET"]),
            Route(data + "/sobjects/{name}/describe", self._api(self.describe), methods=["GET"]),
            Route(data + "/sobjects/{name}/{record_id}/{field}", self._api(self.blob), methods=["GET"]),
            Route(data + "/composite/batch", self._api(self.composite_batch), methods=["POST"]),
            Route(data + "/limits", self._api(self.limits), methods=["GET"]),
            Route(data + "/query", self._api(self.query), methods=["GET"]),
            Route(data + "/queryAll", self._api(self.query), methods=["GET"]),
            Route(data + "/query/{locator}", self._api(self.query_more), methods=["GET"]),
            Route(data + "/queryAll/{locator}", self._api(self.query_more), methods=["GET"]),
            Route(data + "/jobs/query", self._api(self.create_job), methods=["POST"]),
            Route(data + "/jobs/query/{job_id}", self._api(self.get_job), methods=["GET"]),
            Route(data + "/jobs/query/{job_id}", self._api(self.abort_job), methods=["PATCH"]),
            Route(data + "/jobs/query/{job_id}/results", self._api(self.job_results), methods=["GET"]),
            *self.bulk1.routes(),
        ]

    def _limit_header(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.api_limit}"}

    def _api(self, handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            self.request_log.append((request.method, request.url.path))
            with self._lock:
                self.data_requests += 1
                if self.revoke_sessions_at_request == self.data_requests:
                    self.ctx.tokens.revoke_all(PRODUCT)
                if self.expire_cursors_at_request == self.data_requests:
                    self._cursors.clear()
                    self._cursor_positions.clear()
            auth = request.headers.get("authorization", "")
            token = auth[7:] if auth.lower().startswith("bearer ") else None
            if self.ctx.tokens.check(PRODUCT, token) is None:
                return _sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
            if request.path_params.get("version") not in API_VERSIONS:
                return _sf_error(404, "NOT_FOUND", "The requested resource does not exist")
            if _uri_and_headers_bytes(request) > MAX_URI_AND_HEADERS:
                return _sf_error(414, "URI_TOO_LONG", "URI Too Long")
            with self._lock:
                if self.api_used >= self.api_limit:
                    response: Response = _sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
                    response.headers.update(self._limit_header())
                    return response
                self.api_used += 1
            try:
                response = await handler(request)
            except SalesforceError as exc:
                response = _sf_error(exc.status, exc.code, exc.message)
            except soql.SoqlError as exc:
                response = _sf_error(400, "MALFORMED_QUERY", str(exc))
            response.headers.update(self._limit_header())
            return response

        return endpoint

    # --- OAuth -----------------------------------------------------------------------------------------------
    async def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode(), keep_blank_values=True).items()}
        grant = str(form.get("grant_type", ""))
        base = str(request.base_url).rstrip("/")

        def fail(error: str, description: str) -> JSONResponse:
            return JSONResponse({"error": error, "error_description": description}, status_code=400)

        refresh_token: str | None = None
        if grant == "password":
            if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                return fail("invalid_client", "invalid client credentials")
            if form.get("username") != USERNAME or form.get("password") != PASSWORD + SECURITY_TOKEN:
                return fail("invalid_grant", "authentication failure")
        elif grant == "client_credentials":
            if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                return fail("invalid_client", "invalid client credentials")
        elif grant == "refresh_token":
            if form.get("client_id") != CLIENT_ID:
                return fail("invalid_client", "invalid client credentials")
            if form.get("client_secret") not in (None, CLIENT_SECRET):
                return fail("invalid_client", "invalid client credentials")
            if form.get("refresh_token") not in self._refresh_tokens:
                return fail("invalid_grant", "expired access/refresh token")
            if self.rotate_refresh_tokens:
                self._refresh_tokens.discard(str(form.get("refresh_token")))
                refresh_token = secrets.token_urlsafe(32)
                self._refresh_tokens.add(refresh_token)
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            error = self._verify_assertion(str(form.get("assertion", "")), base)
            if error:
                return fail("invalid_grant", error)
        else:
            return fail("unsupported_grant_type", "grant type not supported")
        issued = self.ctx.tokens.issue(PRODUCT, USERNAME, ttl=self.session_ttl)
        body = {
            "access_token": issued.token,
            "instance_url": base,
            "id": f"{base}/id/00D000000000001AAA/005000000000000AAA",
            "token_type": "Bearer",
            "issued_at": str(int(time.time() * 1000)),
            "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
        }
        if refresh_token:
            body["refresh_token"] = refresh_token
        return JSONResponse(body)

    def _verify_assertion(self, assertion: str, base: str) -> str | None:
        for key in self._jwt_public_keys:
            try:
                claims = jwt.decode(
                    assertion,
                    key=key,
                    algorithms=["RS256"],
                    audience=[*JWT_AUDIENCES, base],
                    options={"require": ["iss", "sub", "aud", "exp"], "verify_exp": False, "verify_iat": False,
                             "verify_nbf": False},
                )  # fmt: skip
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError as exc:
                return f"invalid assertion: {exc}"
            now = time.time() + self.clock_offset_s  # the org's clock, PyJWT's checks (no leeway) against it
            if not isinstance(claims["exp"], int | float) or claims["exp"] <= now:
                return "invalid assertion: Signature has expired"
            for claim in ("iat", "nbf"):
                if claim in claims and (not isinstance(claims[claim], int | float) or claims[claim] > now):
                    return f"invalid assertion: The token is not yet valid ({claim})"
            if claims["iss"] != CLIENT_ID:
                return "invalid client identifier"
            if claims["sub"] != USERNAME:
                return "user hasn't approved this consumer"
            return None
        return "invalid assertion signature"

    # --- metadata --------------------------------------------------------------------------------------------
    async def versions(self, request: Request) -> Response:
        del request
        return JSONResponse(
            [{"label": release_label(v), "url": f"/services/data/v{v}", "version": v} for v in API_VERSIONS]
        )

    async def global_describe(self, request: Request) -> Response:
        version = request.path_params["version"]
        sobjects = []
        for obj in self.objects.values():
            entry = {k: v for k, v in obj.describe(version).items() if k not in ("fields", "childRelationships")}
            sobjects.append(entry)
        return JSONResponse({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects})

    def _object(self, name: str) -> SObject:
        obj = self.objects.get(name)
        if obj is None:
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        return obj

    async def describe(self, request: Request) -> Response:
        obj = self._object(request.path_params["name"])
        return JSONResponse(obj.describe(request.path_params["version"]))

    async def blob(self, request: Request) -> Response:
        """sObject Blob Get: a base64 field's content as binary (what the URL a query returns points to)."""
        obj = self._object(request.path_params["name"])
        field_name = request.path_params["field"]
        if obj.field_types.get(field_name) not in BINARY_TYPES:
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        try:
            index = obj.index_of(request.path_params["record_id"])
        except ValueError:
            index = -1
        if not 0 <= index < obj.count or obj.record_id(index) != request.path_params["record_id"][:18]:
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        record = self._overlays[obj.name].get(index) or obj.base_record(index)
        return Response(base64.b64decode(record[field_name]), media_type="application/octetstream")

    async def composite_batch(self, request: Request) -> Response:
        body = await request.json()
        subrequests = body.get("batchRequests", [])
        if len(subrequests) > 25:
            raise SalesforceError(400, "INVALID_BATCH_REQUEST", "A batch can contain at most 25 subrequests")
        results: list[dict[str, Any]] = []
        for sub in subrequests:
            # Sub-request URLs come relative (``v60.0/sobjects/X/describe``) or absolute (``/services/data/v60.0/..``).
            url = str(sub.get("url", "")).split("?", 1)[0].strip("/").removeprefix("services/data/")
            parts = url.split("/")
            version = parts[0][1:] if parts[0].startswith("v") else ""
            if sub.get("method") == "GET" and version in API_VERSIONS:
                if len(parts) == 4 and parts[1] == "sobjects" and parts[3] == "describe" and parts[2] in self.objects:
                    results.append({"statusCode": 200, "result": self.objects[parts[2]].describe(version)})
                    continue
                if parts[1:] == ["limits"]:
                    results.append({"statusCode": 200, "result": self._limits()})
                    continue
            results.append(
                {
                    "statusCode": 404,
                    "result": [
                        {"errorCode": "NOT_FOUND", "message": "The requested resource does not exist", "fields": []}
                    ],
                }
            )
        return JSONResponse({"hasErrors": any(r["statusCode"] >= 400 for r in results), "results": results})

    async def limits(self, request: Request) -> Response:
        del request
        return JSONResponse(self._limits())

    def _limits(self) -> dict[str, Any]:
        """Every key a real org's ``/limits`` returns, each with Max and Remaining, sorted as the API sorts them."""
        counted = {
            "DailyApiRequests": _limit(self.api_limit, self.api_limit - self.api_used),
            "DailyBulkApiBatches": _limit(15000, 15000 - self.bulk1_batches),
            "DailyBulkV2QueryJobs": _limit(10000, 10000 - len(self._jobs)),
            "DailyBulkV2QueryFileStorageMB": _limit(976562),
        }
        static = {name: _limit(maximum) for name, maximum in _STATIC_LIMITS.items()}
        return dict(sorted({**static, **counted}.items()))

    # --- query engine ----------------------------------------------------------------------------------------
    def _full_record(
        self, obj: SObject, record: dict[str, Any], wanted: frozenset[str] | None = None
    ) -> dict[str, Any]:
        """Add compound and formula values, which the real API computes at read time (compound ones only if
        ``wanted`` names them, when given: a page that does not select an address need not build it)."""
        full = dict(record)
        today = self.ctx.clock.now().date()
        for name, formula in obj.formulas.items():
            full[name] = formula(full, today)
        for name, sf_type in obj.compound_fields:
            if wanted is not None and name not in wanted:
                continue
            if sf_type == "address":
                prefix = name[: -len("Address")]
                full[name] = {
                    "street": record.get(prefix + "Street"),
                    "city": record.get(prefix + "City"),
                    "state": record.get(prefix + "State"),
                    "postalCode": record.get(prefix + "PostalCode"),
                    "country": record.get(prefix + "Country"),
                    "latitude": record.get(prefix + "Latitude"),
                    "longitude": record.get(prefix + "Longitude"),
                    "geocodeAccuracy": record.get(prefix + "GeocodeAccuracy"),
                }
            else:
                stem = name[: -len("__c")]
                lat, lon = record.get(stem + "__Latitude__s"), record.get(stem + "__Longitude__s")
                full[name] = None if lat is None else {"latitude": lat, "longitude": lon}
        return full

    def _plan(self, text: str, include_deleted: bool, *, check_timeout: bool = True) -> _Plan:
        query = soql.parse(text)
        obj = self.objects.get(query.sobject)
        if obj is None:
            raise SalesforceError(400, "INVALID_TYPE", f"sObject type '{query.sobject}' is not supported.")
        known = set(obj.field_names)
        for name in query.fields + [c for c, _ in query.order_by]:
            if name not in known:
                raise SalesforceError(400, "INVALID_FIELD", f"No such column '{name}' on entity '{obj.name}'.")
        descending = {flag for _column, flag in query.order_by}
        newest = descending == {True} and query.limit is not None and query.limit <= DEFAULT_BATCH
        for column, flag in query.order_by:
            if (flag and not newest) or column not in _ORDER_COLUMNS:
                raise SalesforceError(
                    400,
                    "MALFORMED_QUERY",
                    f"emulator supports ascending ORDER BY on SystemModstamp/LastModifiedDate/Id/CreatedDate (all "
                    f"descending only with a LIMIT of at most {DEFAULT_BATCH}), not {column}",
                )
        with self._lock:
            self._last_queried = obj.name
            overlay_map = dict(self._overlays[obj.name])
        overlay = sorted(overlay_map.values(), key=lambda r: (r["SystemModstamp"], r["Id"]))
        lower, upper = soql.bounds(query.where, "SystemModstamp")
        start = 0 if lower is None else obj.first_index_at_or_after(lower)
        stop = obj.count if upper is None else min(obj.count, obj.first_index_at_or_after(upper) + 3)
        plan = _Plan(query, obj, include_deleted, overlay, frozenset(overlay_map), start, max(start, stop), text)
        chosen = self.query_timeout_when
        if check_timeout and (
            self._too_big(plan) or (chosen is not None and chosen(text, plan.stop - plan.start + len(plan.overlay)))
        ):
            raise SalesforceError(400, "QUERY_TIMEOUT", "Your query request was running for too long.")
        return plan

    def _too_big(self, plan: _Plan) -> bool:
        scanned = plan.stop - plan.start + len(plan.overlay)
        return self.query_timeout_rows is not None and scanned > self.query_timeout_rows

    def _rows(self, plan: _Plan, position: _Position) -> Iterator[tuple[dict[str, Any], _Position]]:
        """Matching rows from ``position`` in (SystemModstamp, Id) order, each with the position after it."""
        obj = plan.sobject

        def base() -> Iterator[tuple[tuple[str, str], int, dict[str, Any]]]:
            for i in range(position.base, plan.stop):
                if i in plan.overlaid:
                    continue
                record = obj.base_record(i)
                yield (record["SystemModstamp"], record["Id"]), i, record

        def overlay() -> Iterator[tuple[tuple[str, str], int, dict[str, Any]]]:
            for j in range(position.overlay, len(plan.overlay)):
                record = plan.overlay[j]
                yield (record["SystemModstamp"], record["Id"]), -1 - j, record

        base_next, overlay_next = position.base, position.overlay
        delivered = position.delivered
        for _key, slot, record in heapq.merge(base(), overlay(), key=lambda item: item[0]):
            if slot >= 0:
                base_next = slot + 1
            else:
                overlay_next = -slot
            if record.get("IsDeleted") and not plan.include_deleted:
                continue
            full = self._full_record(obj, record)
            if not soql.matches(plan.query.where, full):
                continue
            if plan.query.limit is not None and delivered >= plan.query.limit:
                return
            delivered += 1
            yield full, _Position(base_next, overlay_next, delivered)

    def _base_window(self, plan: _Plan) -> tuple[int, int, Callable[[int], bool] | None] | None:
        """Where the base rows matching the plan's filter lie: (first, stop, test for each row in between or None),
        decided on system fields alone; None when the filter reads generated fields (then rows are built to test).

        Range terms on fields that ascend with the index (SystemModstamp, Id, ...) hold on an interval, found by
        bisection with the same ``soql.matches`` the full scan uses; other terms are tested row by row."""
        obj = plan.sobject
        first, stop = plan.start, plan.stop
        where = plan.query.where
        if where is None:
            return first, stop, None
        system = _SYSTEM_FIELDS if obj.has_is_deleted else _SYSTEM_FIELDS - {"IsDeleted"}
        if not _where_fields(where) <= system:
            return None
        rest: list[soql.Condition] = []
        for term in soql.conjuncts(where):
            if not _ascending_term(term):
                rest.append(term)
                continue

            def holds(i: int, term: soql.Condition = term) -> bool:
                return soql.matches(term, obj.system_record(i))

            if isinstance(term, soql.Comparison) and term.op in (">", ">="):
                first = bisect.bisect_left(range(obj.count), True, first, max(first, stop), key=holds)
            else:
                stop = bisect.bisect_left(range(obj.count), True, first, max(first, stop), key=lambda i: not holds(i))
        if not rest:
            return first, stop, None
        remaining = soql.BoolOp("AND", tuple(rest))
        return first, stop, lambda i: soql.matches(remaining, obj.system_record(i))

    def _collect(
        self,
        plan: _Plan,
        position: _Position,
        count: int,
        encode: Callable[[dict[str, Any]], Any],
        shape: tuple[Any, ...],
    ) -> tuple[list[Any], _Position, bool] | None:
        """What ``_rows`` yields from ``position`` (same rows, order and positions), at most ``count`` of them,
        each encoded; and whether more follow. Base rows are encoded once per (shape, data version) and kept in
        ``row_cache``; overlay rows (touched, deleted, inserted) are encoded on every read. None when the filter
        needs generated fields or the cache is off (the caller then scans with ``_rows``, the reference path)."""
        window = self._base_window(plan) if self.row_cache.enabled else None
        if window is None:
            return None
        first, stop, test = window
        obj = plan.sobject
        cached = self.row_cache.rows((obj.name, *shape), self.ctx.company.data_version())
        overlay, overlaid, limit, where = plan.overlay, plan.overlaid, plan.query.limit, plan.query.where
        i, j, delivered = max(position.base, first), position.overlay, position.delivered
        out: list[Any] = []
        last = position
        wanted = frozenset(plan.query.fields)  # what both callers' encoders read of a record
        while len(out) <= count:
            while i < stop and (i in overlaid or (test is not None and not test(i))):
                i += 1
            if j < len(overlay) and (i >= stop or (overlay[j]["SystemModstamp"], overlay[j]["Id"]) < obj.sort_key(i)):
                record = overlay[j]
                j += 1
                if record.get("IsDeleted") and not plan.include_deleted:
                    continue
                full = self._full_record(obj, record)
                if not soql.matches(where, full):
                    continue
                if limit is not None and delivered >= limit:
                    break
                value = encode(full)
            elif i < stop:
                if limit is not None and delivered >= limit:
                    break
                value = None if cached is None else cached.get(i)
                if value is None:
                    value = encode(self._full_record(obj, obj.base_record(i), wanted))
                    if cached is not None and self.row_cache.room_for(len(value)):
                        cached[i] = value
                i += 1
            else:
                break
            delivered += 1
            out.append(value)
            if len(out) == count:
                last = _Position(i, j, delivered)
        return out[:count], last, len(out) > count

    def _project(self, plan: _Plan, record: dict[str, Any], version: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributes": {
                "type": plan.sobject.name,
                "url": f"/services/data/v{version}/sobjects/{plan.sobject.name}/{record['Id']}",
            }
        }
        types = plan.sobject.field_types
        for name in plan.query.fields:
            if types.get(name) in BINARY_TYPES:
                # REST never inlines a blob: it returns the sObject Blob Get URL for the record's field.
                out[name] = f"/services/data/v{version}/sobjects/{plan.sobject.name}/{record['Id']}/{name}"
            else:
                out[name] = record.get(name)
        return out

    def _count(self, plan: _Plan) -> int:
        """COUNT(): a seek when the filter is only SystemModstamp bounds (large orgs), else a scan."""
        where = plan.query.where
        parts = where.parts if isinstance(where, soql.BoolOp) and where.op == "AND" else (where,) if where else ()
        if all(
            isinstance(p, soql.Comparison)
            and p.field == "SystemModstamp"
            and p.op in ("<", "<=", ">", ">=")
            and isinstance(p.value, datetime)
            for p in parts
        ):
            obj, lo, hi = plan.sobject, 0, plan.sobject.count
            tick = timedelta(microseconds=1)
            for p in parts:
                assert isinstance(p, soql.Comparison)
                if p.op in (">", ">="):
                    lo = max(lo, obj.first_index_at_or_after(p.value + (tick if p.op == ">" else timedelta(0))))
                else:
                    hi = min(hi, obj.first_index_at_or_after(p.value + (tick if p.op == "<=" else timedelta(0))))
            base = max(hi - lo, 0) - sum(1 for i in plan.overlaid if lo <= i < hi)
            overlay = sum(
                1
                for r in plan.overlay
                if (plan.include_deleted or not r.get("IsDeleted")) and soql.matches(where, self._full_record(obj, r))
            )
            return base + overlay
        return sum(1 for _ in self._rows(plan, _Position(plan.start, 0)))

    def _batch_size(self, request: Request) -> int:
        return min(self._asked_batch_size(request), self.page_rows_cap or DEFAULT_BATCH)

    @staticmethod
    def _asked_batch_size(request: Request) -> int:
        options = request.headers.get("sforce-query-options", "")
        for part in options.split(","):
            key, _, value = part.strip().partition("=")
            if key.strip() == "batchSize" and value.strip().isdigit():
                return max(200, min(DEFAULT_BATCH, int(value)))
        return DEFAULT_BATCH

    async def query(self, request: Request) -> Response:
        text = request.query_params.get("q")
        if not text:
            raise SalesforceError(400, "MALFORMED_QUERY", "query parameter q is required")
        include_deleted = request.url.path.endswith("/queryAll")
        plan = self._plan(text, include_deleted)
        if plan.query.count_only:
            return JSONResponse({"totalSize": self._count(plan), "done": True, "records": []})
        if plan.query.order_by and plan.query.order_by[0][1]:  # descending, with a LIMIT (``_plan``)
            version = request.path_params["version"]
            records = [self._project(plan, record, version) for record in self._newest(plan)]
            return _FastJSON({"totalSize": len(records), "done": True, "records": records})
        locator = "01g" + secrets.token_hex(8)
        self._cursors[locator] = (plan, self._batch_size(request))
        old_api = int(request.path_params["version"].split(".")[0]) < CURSORS_UNLIMITED_FROM
        while old_api and len(self._cursors) > MAX_OPEN_CURSORS:  # the oldest is released
            oldest = next(iter(self._cursors))
            del self._cursors[oldest]
            for key in [key for key in self._cursor_positions if key[0] == oldest]:
                del self._cursor_positions[key]
        return self._page(request, locator, 0, _Position(plan.start, 0))

    def _newest(self, plan: _Plan) -> list[dict[str, Any]]:
        """The matching rows in descending (SystemModstamp, Id) order, at most the plan's LIMIT: base rows walked
        down from the top of the window, merged with the overlay, so a LIMIT 1 builds a few rows, not the table."""
        obj = plan.sobject

        def base() -> Iterator[tuple[tuple[str, str], dict[str, Any]]]:
            for i in range(plan.stop - 1, plan.start - 1, -1):
                if i not in plan.overlaid:
                    yield obj.sort_key(i), obj.base_record(i)

        def overlay() -> Iterator[tuple[tuple[str, str], dict[str, Any]]]:
            for record in reversed(plan.overlay):
                yield (record["SystemModstamp"], record["Id"]), record

        found: list[dict[str, Any]] = []
        limit = plan.query.limit or 0
        for _key, record in heapq.merge(base(), overlay(), key=lambda item: item[0], reverse=True):
            if len(found) >= limit:
                break
            if record.get("IsDeleted") and not plan.include_deleted:
                continue
            full = self._full_record(obj, record)
            if soql.matches(plan.query.where, full):
                found.append(full)
        return found

    async def query_more(self, request: Request) -> Response:
        locator, _, offset = request.path_params["locator"].rpartition("-")
        position = self._cursor_positions.pop((locator, int(offset or 0)), None) if offset.isdigit() else None
        if position is None or locator not in self._cursors:
            raise SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        chosen = self.query_more_timeout_when
        if chosen is not None and chosen(self._cursors[locator][0].text, int(offset)):
            raise SalesforceError(400, "QUERY_TIMEOUT", "Your query request was running for too long.")
        return self._page(request, locator, int(offset), position)

    def _page(self, request: Request, locator: str, offset: int, position: _Position) -> Response:
        plan, batch = self._cursors[locator]
        version = request.path_params["version"]

        fields = plan.query.fields
        types = plan.sobject.field_types
        plain = not any(types.get(name) in BINARY_TYPES for name in fields)
        url = f"/services/data/v{version}/sobjects/{plan.sobject.name}/"

        def encode(record: dict[str, Any]) -> bytes:
            if plain:  # what _project builds, encoded by msgspec when that gives _ENCODER's bytes (issue 14)
                head = {"attributes": {"type": plan.sobject.name, "url": f"{url}{record['Id']}"}}
                fast = projected_bytes(head, record, fields, decimal_as_float=True)
                if fast is not None:
                    return fast
            return _ENCODER.encode(self._project(plan, record, version)).encode()

        fast = self._collect(plan, position, batch, encode, ("rest", tuple(plan.query.fields), version))
        if fast is not None:
            rows, last, more = fast
            head: dict[str, Any] = {"totalSize": offset + len(rows) + (1 if more else 0), "done": not more}
            self._next_page(plan, head, locator, offset + len(rows), last, version, more)
            # The bytes ``_FastJSON`` writes for the same dict: the head's keys, then the records in order.
            return Response(
                _ENCODER.encode(head)[:-1].encode() + b',"records":[' + b",".join(rows) + b"]}",
                media_type="application/json",
            )
        records: list[dict[str, Any]] = []
        last = position
        found = self._rows(plan, position)
        for record, after in itertools.islice(found, batch):
            records.append(self._project(plan, record, version))
            last = after
        more = len(records) == batch and next(found, None) is not None
        body: dict[str, Any] = {"totalSize": offset + len(records) + (1 if more else 0), "done": not more}
        self._next_page(plan, body, locator, offset + len(records), last, version, more)
        body["records"] = records
        return _FastJSON(body)

    def _next_page(
        self,
        plan: _Plan,
        body: dict[str, Any],
        locator: str,
        next_offset: int,
        last: _Position,
        version: str,
        more: bool,
    ) -> None:
        """Add nextRecordsUrl and keep the cursor when more rows follow; else forget the cursor."""
        if more:
            self._cursor_positions[(locator, next_offset)] = last
            endpoint = "queryAll" if plan.include_deleted else "query"
            body["nextRecordsUrl"] = f"/services/data/v{version}/{endpoint}/{locator}-{next_offset}"
        else:
            self._cursors.pop(locator, None)

    # --- Bulk API 2.0 ----------------------------------------------------------------------------------------
    def _job_info(self, job: _BulkJob) -> dict[str, Any]:
        return {
            "id": job.id,
            "operation": job.operation,
            "object": job.plan.sobject.name,
            "createdById": "005000000000000AAA",
            "createdDate": job.created,
            "state": job.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": 60.0,
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
            "numberRecordsProcessed": job.processed,
        }

    async def create_job(self, request: Request) -> Response:
        body = await request.json()
        operation = body.get("operation")
        if operation not in ("query", "queryAll"):
            raise SalesforceError(400, "INVALIDJOB", "operation must be query or queryAll")
        plan = self._plan(str(body.get("query", "")), include_deleted=operation == "queryAll", check_timeout=False)
        refusal = bulk_refusal(plan.sobject, plan.query.fields)
        if refusal:
            raise SalesforceError(400, "API_ERROR", refusal)
        created = self.ctx.clock.now() if self.bulk_created_at_sandbox_time else datetime.now(UTC)
        job = _BulkJob("750" + secrets.token_hex(7)[:15], plan, operation, sf_datetime(created))
        if self._too_big(plan):
            job.error = self.bulk_timeout_message or "QUERY_TIMEOUT: Your query request was running for too long."
        self._jobs[job.id] = job
        return JSONResponse(self._job_info(job))

    def _job(self, job_id: str) -> _BulkJob:
        job = self._jobs.get(job_id)
        if job is None:
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    def _advance(self, job: _BulkJob) -> None:
        """The job's state now: InProgress until ``bulk_job_seconds`` after its creation (and its first
        ``bulk2_polls_before_complete`` polls), then JobComplete, or Failed if it was to fail."""
        if job.state in ("JobComplete", "Failed", "Aborted"):
            return
        ran = time.monotonic() - job.created_at
        if ran >= self.bulk_job_seconds and job.polls >= self.bulk2_polls_before_complete:
            job.state = "Failed" if job.error else "JobComplete"
        else:
            job.state = "InProgress"

    async def get_job(self, request: Request) -> Response:
        job = self._job(request.path_params["job_id"])
        self._advance(job)  # after the polls answered before this one
        job.polls += 1
        info = self._job_info(job)
        if job.state == "Failed":
            info["errorMessage"] = job.error
        return JSONResponse(info)

    async def abort_job(self, request: Request) -> Response:
        """Abort a Query Job: ``{"state": "Aborted"}`` while it runs; a finished job cannot be aborted."""
        job = self._job(request.path_params["job_id"])
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "the request body is not a JSON object")
        if body.get("state") != "Aborted":
            raise SalesforceError(400, "INVALIDJOBSTATE", "state must be Aborted")
        self._advance(job)
        if job.state in ("JobComplete", "Failed", "Aborted"):
            raise SalesforceError(400, "INVALIDJOBSTATE", f"job {job.id} is {job.state}, it cannot be aborted")
        job.state = "Aborted"
        return JSONResponse(self._job_info(job))

    async def job_results(self, request: Request) -> Response:
        job = self._job(request.path_params["job_id"])
        self._advance(job)  # a job that ran its time has results, polled or not
        if job.state != "JobComplete":
            raise SalesforceError(400, "INVALIDJOBSTATE", f"job {job.id} is {job.state}, results not ready")
        locator = request.query_params.get("locator")
        if locator:
            position = job.locators.pop(locator, None)
            if position is None:
                raise SalesforceError(400, "INVALID_LOCATOR", "invalid locator")
        else:
            position = _Position(job.plan.start, 0)
        max_records = int(request.query_params.get("maxRecords") or 50_000)
        fields = job.plan.query.fields
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(fields)
        scales = {
            f["name"]: int(f.get("scale") or 0)
            for f in job.plan.sobject.fields
            if f["type"] in ("double", "currency", "percent")
        }
        line = io.StringIO()
        line_writer = csv.writer(line, lineterminator="\n")
        field_scales = [scales.get(name) for name in fields]

        def encode(record: dict[str, Any]) -> str:
            get = record.get
            cells = [
                value if type(value) is str else _csv_value(value, scale)
                for value, scale in zip([get(name) for name in fields], field_scales, strict=True)
            ]
            text = plain_csv_line(cells)
            if text is not None:
                return text
            line.seek(0)
            line.truncate()
            line_writer.writerow(cells)
            return line.getvalue()

        fast = self._collect(job.plan, position, max_records, encode, ("csv", tuple(fields)))
        if fast is not None:
            lines, last, more = fast
            count = len(lines)
            buffer.write("".join(lines))
        else:
            count = 0
            rows = self._rows(job.plan, position)
            last = position
            for record, after in itertools.islice(rows, max_records):
                writer.writerow([_csv_value(record.get(name), scales.get(name)) for name in fields])
                count += 1
                last = after
            more = count == max_records and next(rows, None) is not None
        job.processed += count
        next_locator = "null"
        if more:
            next_locator = base64.urlsafe_b64encode(json.dumps([job.id, last.delivered]).encode()).decode()
            job.locators[next_locator] = last
        return Response(
            buffer.getvalue(),
            media_type="text/csv; charset=UTF-8",
            headers={"Sforce-Locator": next_locator, "Sforce-NumberOfRecords": str(count)},
        )


def bulk_refusal(sobject: SObject, fields: list[str]) -> str | None:
    """Why a Bulk query (1.0 or 2.0) cannot select these fields, or None: no compound, no base64 fields."""
    types = sobject.field_types
    if any(types.get(name) in COMPOUND_TYPES for name in fields):
        return "Selecting compound data not supported in Bulk Query"
    binary = [name for name in fields if types.get(name) in BINARY_TYPES]
    if binary:
        return f"Binary field not supported in Bulk Query: {', '.join(binary)}"
    return None


def _csv_value(value: Any, scale: int | None = None) -> str:
    """A Bulk CSV cell; numbers padded to their field's scale as Bulk API 2.0 writes them (-33.868820000000000)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if scale is not None and isinstance(value, Decimal | int | float):
        return format(Decimal(str(value)), f".{scale}f")
    return str(value)
