"""Common emulator: the purchase-order collaboration platform between buyers and suppliers (``/api/v1``).

Auth: ``POST /api/v1/auth/login`` (JSON ``email``/``password``) returns a JWT-style bearer token;
``POST /api/v1/auth/refresh`` exists in the seed's variant only (the public implementation has none: 404);
``POST /api/v1/auth/token`` is the OAuth client-credentials grant (``client_id``, ``client_secret``,
``company_id``). Every other call needs ``Authorization: Bearer``.

Two route variants (``variant``): ``seed`` (``/erp-sync/acknowledge``, ``/erp-sync/webhook-test``, refresh present)
and ``public`` (``/erp-sync/mark-synced``, ``/erp-sync/test-webhook``, no refresh). The other variant's paths answer
404 in Common's error format: ``{"error_code", "detail", "request_id", "timestamp"}`` with ``X-Request-ID``.

Lists answer ``{"data": [...], "has_more": bool, "next_cursor": str | null}``, ordered by ``(updated_at, id)``
(pending updates by ``(created_at, id)``), ``limit`` at most 500, ``cursor`` an opaque keyset position, so rows
written while a client pages are neither skipped nor repeated. Money and quantities are decimal strings
(2 and 3 places). Data: ``xlr8_sandbox.products.common.data``; webhooks: ``.webhooks``.
"""

from __future__ import annotations

import base64
import bisect
import json
import secrets
import threading
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from xlr8_sandbox.platform import wirejson
from xlr8_sandbox.platform.emulator import FaultResponse, ProductEmulator, SandboxContext
from xlr8_sandbox.products.common.data import (
    AMENDMENT_STATUSES,
    ERP_SYNC_STATUSES,
    PO_STATUSES,
    CommonApiError,
    CommonData,
    iso,
    money,
    quantity,
)
from xlr8_sandbox.products.common.webhooks import WebhookSender

EMAIL = "erp-integration@acme.example"
PASSWORD = "sandbox-common-password"  # emulator test credential, not a real secret
CLIENT_ID = "xlr8-common-client"
CLIENT_SECRET = "sandbox-common-client-secret"  # emulator test credential
WEBHOOK_SECRET = "sandbox-common-webhook-secret"  # emulator test credential
TOKEN_TTL = 1800.0
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
API = "/api/v1"
Handler = Callable[[Request], Awaitable[Response]]


def _method_not_allowed(allow: str) -> Handler:
    """FastAPI's answer to a method a route does not have (its JSON ``detail``, not Common's error format)."""

    async def endpoint(request: Request) -> Response:
        return JSONResponse({"detail": "Method Not Allowed"}, 405, headers={"Allow": allow})

    return endpoint


def error_response(status: int, error_code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    request_id = f"req_{uuid.uuid4().hex[:16]}"
    body = {
        "error_code": error_code,
        "detail": detail,
        "request_id": request_id,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    return JSONResponse(body, status, headers={"X-Request-ID": request_id, **(headers or {})})


def _cursor(key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _decode_cursor(raw: str) -> tuple[str, str]:
    try:
        first, second = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except (ValueError, TypeError) as exc:
        raise CommonApiError(400, "INVALID_CURSOR", "parameter 'cursor' is not a cursor this API issued") from exc
    return str(first), str(second)


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", str(DEFAULT_LIMIT))
    try:
        limit = int(raw)
    except ValueError:
        raise CommonApiError(422, "VALIDATION_ERROR", f"parameter 'limit' must be an integer, got {raw!r}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise CommonApiError(422, "VALIDATION_ERROR", f"parameter 'limit' must be between 1 and {MAX_LIMIT}")
    return limit


def page(request: Request, rows: list[dict[str, Any]], key_field: str, *, ordered: bool = False) -> Response:
    """Keyset page over ``rows`` (already in ``(key_field, id)`` order). ``ordered``: the caller sorted them by
    exactly that key, so the cursor is found by bisection instead of a scan of every row per page."""
    limit = _limit(request)
    raw = request.query_params.get("cursor")
    start = 0
    if raw:
        after = _decode_cursor(raw)
        if ordered:
            start = bisect.bisect_right(rows, after, key=lambda r: (r[key_field], r["id"]))
        else:
            rows = [r for r in rows if (r[key_field], r["id"]) > after]
    chunk = rows[start : start + limit]
    more = len(rows) - start > limit
    next_cursor = _cursor((chunk[-1][key_field], chunk[-1]["id"])) if more and chunk else None
    body = {"data": chunk, "has_more": more, "next_cursor": next_cursor}
    encoded = wirejson.content_bytes(body)  # JSONResponse's exact bytes, written by msgspec where they agree
    return JSONResponse(body) if encoded is None else Response(encoded, media_type="application/json")


def _since(request: Request, name: str = "updated_since") -> str | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise CommonApiError(422, "VALIDATION_ERROR", f"parameter {name!r} must be an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return iso(moment)


def _decimal(body: dict[str, Any], name: str, places: int, *, required: bool) -> str | None:
    raw = body.get(name)
    if raw is None:
        if required:
            raise CommonApiError(422, "VALIDATION_ERROR", f"field {name!r} is required")
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise CommonApiError(422, "VALIDATION_ERROR", f"field {name!r} must be a decimal number") from None
    exponent = value.normalize().as_tuple().exponent
    if not value.is_finite() or (isinstance(exponent, int) and -exponent > places):
        raise CommonApiError(422, "VALIDATION_ERROR", f"field {name!r} allows at most {places} decimal places")
    if value <= 0:
        raise CommonApiError(422, "VALIDATION_ERROR", f"field {name!r} must be greater than zero")
    return quantity(value) if places == 3 else money(value)


def _date(body: dict[str, Any], name: str, *, required: bool) -> str | None:
    raw = body.get(name)
    if raw is None:
        if required:
            raise CommonApiError(422, "VALIDATION_ERROR", f"field {name!r} is required")
        return None
    try:
        return date.fromisoformat(str(raw)).isoformat()
    except ValueError:
        raise CommonApiError(422, "VALIDATION_ERROR", f"field {name!r} must be an ISO 8601 date") from None


class CommonEmulator(ProductEmulator):
    product_id = "common"
    title = "Common (purchase orders, ERP sync, webhooks)"

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        self.data = CommonData(ctx.company)
        self.variant = "seed"
        self.webhooks = WebhookSender(secret=WEBHOOK_SECRET)
        self._published: set[str] = set()
        self._refresh_tokens: set[str] = set()
        #: Writes push their webhook events in a background thread when an endpoint is configured.
        self.push_webhooks = True
        self._push_lock = threading.Lock()
        #: Every refresh token handed out (secret-residue tests look for them).
        self.issued_refresh_tokens: list[str] = []
        #: The credentials this tenant accepts (tests set canaries here).
        self.password = PASSWORD
        self.client_secret = CLIENT_SECRET

    # --- platform hooks -----------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        g = self._guarded
        return [
            Route(f"{API}/auth/login", self._login, methods=["POST"]),
            Route(f"{API}/auth/refresh", self._refresh, methods=["POST"]),
            Route(f"{API}/auth/token", self._client_credentials, methods=["POST"]),
            Route(f"{API}/purchase-orders", g(self._list_pos), methods=["GET"]),
            Route(f"{API}/purchase-orders", g(self._create_po), methods=["POST"]),
            Route(f"{API}/purchase-orders/{{po_id}}", g(self._get_po), methods=["GET"]),
            Route(f"{API}/purchase-orders/{{po_id}}", g(self._update_po), methods=["PUT", "PATCH"]),
            Route(f"{API}/purchase-orders/{{po_id}}/seller-confirm", g(self._seller_confirm), methods=["POST"]),
            # PUT, as Common's API (and its plan) has them; any other method is FastAPI's 405, so a client that
            # POSTs fails here as it would against a tenant
            Route(f"{API}/purchase-orders/{{po_id}}/propose-changes", g(self._propose), methods=["PUT"]),
            Route(f"{API}/purchase-orders/{{po_id}}/approve-changes", g(self._approve), methods=["PUT"]),
            Route(
                f"{API}/purchase-orders/{{po_id}}/propose-changes",
                _method_not_allowed("PUT"),
                methods=["POST", "PATCH"],
            ),
            Route(
                f"{API}/purchase-orders/{{po_id}}/approve-changes",
                _method_not_allowed("PUT"),
                methods=["POST", "PATCH"],
            ),
            Route(f"{API}/purchase-orders/{{po_id}}/amendments", g(self._po_amendments), methods=["GET"]),
            Route(f"{API}/amendments", g(self._list_amendments), methods=["GET"]),
            Route(f"{API}/companies", g(self._list_companies), methods=["GET"]),
            Route(f"{API}/business-relationships", g(self._list_relationships), methods=["GET"]),
            Route(f"{API}/business-relationships/invite-supplier", g(self._invite), methods=["POST"]),
            Route(f"{API}/erp-sync/status", g(self._sync_status), methods=["GET"]),
            Route(f"{API}/erp-sync/pending-updates", g(self._pending), methods=["GET"]),
            Route(f"{API}/erp-sync/acknowledge", g(self._acknowledge("seed")), methods=["POST"]),
            Route(f"{API}/erp-sync/mark-synced", g(self._acknowledge("public")), methods=["POST"]),
            Route(f"{API}/erp-sync/webhook-test", g(self._webhook_test("seed")), methods=["POST"]),
            Route(f"{API}/erp-sync/test-webhook", g(self._webhook_test("public")), methods=["POST"]),
            Route(f"{API}/erp-sync/webhooks", g(self._configure_webhook), methods=["PUT", "POST"]),
        ]

    def test_credentials(self) -> dict[str, str]:
        return {
            "email": EMAIL,
            "password": self.password,
            "client_id": CLIENT_ID,
            "client_secret": self.client_secret,
            "company_id": self.buyer_company_id,
            "webhook_secret": WEBHOOK_SECRET,
        }

    @property
    def buyer_company_id(self) -> str:
        return self.data.buyer_id("C100")

    def quota_error_response(self) -> FaultResponse:
        body = {
            "error_code": "RATE_LIMIT_EXCEEDED",
            "detail": "Too many requests for this company; retry after the indicated delay",
            "request_id": f"req_{uuid.uuid4().hex[:16]}",
            "timestamp": iso(datetime.now(UTC)),
        }
        return FaultResponse(429, json.dumps(body), headers={"Retry-After": "1"})

    def error_body_response(self) -> FaultResponse:
        body = {
            "error_code": "INTERNAL_ERROR",
            "detail": "the request could not be processed",
            "request_id": f"req_{uuid.uuid4().hex[:16]}",
            "timestamp": iso(datetime.now(UTC)),
        }
        return FaultResponse(200, json.dumps(body))

    def insert_records(self, count: int) -> None:
        """Another buyer user creates ``count`` purchase orders now (they sort last by ``updated_at``)."""
        for _ in range(count):
            with self.data.lock:
                self.data.state.inserted += 1
                n = self.data.state.inserted
            supplier = self.ctx.company.supplier(n % self.ctx.company.supplier_count)
            self._create(
                {
                    "po_number": f"POX{n:07d}",
                    "seller_company_id": self.data.supplier_company_id(supplier.supplier_id),
                    "product_id": "MAT-1001",
                    "quantity": "10.500",
                    "unit_price": "12.25",
                    "currency": supplier.currency,
                    "order_date": self.data.now().date().isoformat(),
                },
                self.buyer_company_id,
            )

    def reset(self) -> None:
        self.data.reset()
        self.variant = "seed"
        self.webhooks.reset()
        self.webhooks.secret = WEBHOOK_SECRET
        self.push_webhooks = True
        self._published.clear()
        self._refresh_tokens.clear()
        self.issued_refresh_tokens.clear()
        self.password = PASSWORD
        self.client_secret = CLIENT_SECRET

    # --- auth ---------------------------------------------------------------------------------------------
    def _guarded(self, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            header = request.headers.get("authorization", "")
            token = header[7:].strip() if header.lower().startswith("bearer ") else ""
            issued = self.ctx.tokens.check(self.product_id, token)
            if issued is None:
                return error_response(401, "AUTHENTICATION_REQUIRED", "missing, invalid or expired bearer token")
            request.state.company_id = issued.extra.get("company_id", self.buyer_company_id)
            try:
                return await handler(request)
            except CommonApiError as exc:
                return error_response(exc.status, exc.error_code, exc.detail)

        return endpoint

    async def _json(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise CommonApiError(400, "INVALID_JSON", "request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise CommonApiError(400, "INVALID_JSON", "request body must be a JSON object")
        return body

    def _issue(self, subject: str, company_id: str, *, with_refresh: bool) -> dict[str, Any]:
        token = self.ctx.tokens.issue(self.product_id, subject, ttl=TOKEN_TTL, company_id=company_id)
        answer: dict[str, Any] = {"access_token": token.token, "token_type": "bearer", "expires_in": int(TOKEN_TTL)}
        if with_refresh and self.variant == "seed":
            refresh = secrets.token_urlsafe(24)
            self._refresh_tokens.add(refresh)
            self.issued_refresh_tokens.append(refresh)
            answer["refresh_token"] = refresh
        return answer

    async def _login(self, request: Request) -> Response:
        try:
            body = await self._json(request)
        except CommonApiError as exc:
            return error_response(exc.status, exc.error_code, exc.detail)
        if body.get("email") != EMAIL or body.get("password") != self.password:
            return error_response(401, "INVALID_CREDENTIALS", "incorrect email or password")
        return JSONResponse(self._issue(EMAIL, self.buyer_company_id, with_refresh=True))

    async def _refresh(self, request: Request) -> Response:
        if self.variant != "seed":
            return error_response(404, "NOT_FOUND", "Not Found")
        try:
            body = await self._json(request)
        except CommonApiError as exc:
            return error_response(exc.status, exc.error_code, exc.detail)
        presented = str(body.get("refresh_token") or "")
        if presented not in self._refresh_tokens:
            return error_response(401, "INVALID_REFRESH_TOKEN", "refresh token is invalid or expired")
        self._refresh_tokens.discard(presented)
        return JSONResponse(self._issue(EMAIL, self.buyer_company_id, with_refresh=True))

    async def _client_credentials(self, request: Request) -> Response:
        form = {k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        client_id = str(form.get("client_id") or "")
        client_secret = str(form.get("client_secret") or "")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                client_id, _, client_secret = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return error_response(401, "INVALID_CLIENT", "malformed Basic authorization")
        if form.get("grant_type") != "client_credentials":
            return error_response(400, "UNSUPPORTED_GRANT_TYPE", "grant_type must be client_credentials")
        if client_id != CLIENT_ID or client_secret != self.client_secret:
            return error_response(401, "INVALID_CLIENT", "client authentication failed")
        company_id = str(form.get("company_id") or self.buyer_company_id)
        if company_id not in {c["id"] for c in self.data.companies() if c["company_type"] == "buyer"}:
            return error_response(403, "COMPANY_ACCESS_DENIED", f"client has no access to company {company_id}")
        return JSONResponse(self._issue(client_id, company_id, with_refresh=False))

    # --- purchase orders ----------------------------------------------------------------------------------
    async def _list_pos(self, request: Request) -> Response:
        q = request.query_params
        since = _since(request)
        status = q.get("status")
        if status and status not in PO_STATUSES:
            raise CommonApiError(422, "VALIDATION_ERROR", f"parameter 'status' must be one of {', '.join(PO_STATUSES)}")
        rows = await run_in_threadpool(self.data.purchase_orders)
        filters = {
            "status": status,
            "buyer_company_id": q.get("buyer_company_id"),
            "seller_company_id": q.get("seller_company_id"),
            "po_number": q.get("po_number"),
            "erp_sync_status": q.get("erp_sync_status"),
        }
        order_from, order_to = q.get("order_date_from"), q.get("order_date_to")
        unfiltered = all(v is None for v in filters.values()) and since is None and order_from is order_to is None
        selected = (
            rows  # every order, as the snapshot sorted them (not copied: page() only slices)
            if unfiltered
            else [
                r
                for r in rows
                if all(v is None or r[k] == v for k, v in filters.items())
                and (since is None or r["updated_at"] >= since)
                and (order_from is None or r["order_date"] >= order_from)
                and (order_to is None or r["order_date"] <= order_to)
            ]
        )
        return page(request, selected, "updated_at", ordered=True)  # the snapshot is in (updated_at, id) order

    async def _get_po(self, request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(self.data.find_po, request.path_params["po_id"]))

    def _validated(self, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
        creating = existing is None
        record: dict[str, Any] = dict(existing or {})
        if creating:
            number = body.get("po_number")
            if not isinstance(number, str) or not number.strip():
                raise CommonApiError(422, "VALIDATION_ERROR", "field 'po_number' is required")
            record["po_number"] = number
        elif body.get("po_number") not in (None, record["po_number"]):
            raise CommonApiError(422, "VALIDATION_ERROR", "field 'po_number' cannot change")
        suppliers = {c["id"] for c in self.data.companies() if c["company_type"] == "supplier"}
        seller = body.get("seller_company_id", record.get("seller_company_id"))
        if seller not in suppliers:
            raise CommonApiError(422, "VALIDATION_ERROR", f"field 'seller_company_id': unknown supplier {seller!r}")
        record["seller_company_id"] = seller
        for name, places in (("quantity", 3), ("unit_price", 2), ("total_amount", 2)):
            value = _decimal(body, name, places, required=creating and name != "total_amount")
            if value is not None:
                record[name] = value
        if "total_amount" not in body and ("quantity" in body or "unit_price" in body):
            record["total_amount"] = money(Decimal(record["quantity"]) * Decimal(record["unit_price"]))
        for name in ("order_date", "delivery_date"):
            value = _date(body, name, required=creating and name == "order_date")
            if value is not None:
                record[name] = value
        status = body.get("status", record.get("status", "pending"))
        if status not in PO_STATUSES or status == "amendment_pending":
            raise CommonApiError(
                422, "VALIDATION_ERROR", f"field 'status': {status!r} is not a status a client may set"
            )
        record["status"] = status
        currency = body.get("currency", record.get("currency"))
        if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha() or not currency.isupper():
            raise CommonApiError(422, "VALIDATION_ERROR", "field 'currency' must be an ISO 4217 code such as USD")
        record["currency"] = currency
        for name in ("product_id", "product_name", "unit", "delivery_location", "notes", "buyer_contact_employee_id"):
            if name in body:
                record[name] = body[name]
        return record

    def _create(self, body: dict[str, Any], company_id: str) -> dict[str, Any]:
        record = self._validated(body, None)
        if any(p["po_number"] == record["po_number"] for p in self.data.purchase_orders()):
            raise CommonApiError(409, "DUPLICATE_PO_NUMBER", f"purchase order {record['po_number']} already exists")
        now = iso(self.data.now())
        record.update(
            id=self.data.new_po_id(record["po_number"]),
            buyer_company_id=body.get("buyer_company_id") or company_id,
            amendment_status="none",
            amendment_count=0,
            erp_sync_status="pending",
            seller_confirmed_at=None,
            created_at=now,
        )
        for name in ("product_id", "product_name", "unit", "delivery_location", "notes", "buyer_contact_employee_id"):
            record.setdefault(name, None)
        record.setdefault("delivery_date", None)
        self.data.save_po(record, created=True, update_type="po_created", changes={})
        self._event("purchase_order.created", {"id": record["id"], "po_number": record["po_number"]}, now)
        return record

    async def _create_po(self, request: Request) -> Response:
        body = await self._json(request)
        record = await run_in_threadpool(self._create, body, request.state.company_id)
        return JSONResponse(record, 201)

    def _update(self, po_id: str, body: dict[str, Any]) -> dict[str, Any]:
        existing = self.data.find_po(po_id)
        if existing["amendment_status"] == "proposed":
            raise CommonApiError(
                409,
                "AMENDMENT_PENDING",
                f"purchase order {existing['po_number']} has a proposed amendment; approve or reject it first",
            )
        record = self._validated(body, existing)
        changes = {k: {"from": existing.get(k), "to": v} for k, v in record.items() if existing.get(k) != v}
        if not changes:
            return existing
        self.data.save_po(record, created=False, update_type="po_updated", changes=changes)
        self._event("purchase_order.updated", {"id": po_id, "po_number": record["po_number"]}, iso(self.data.now()))
        return record

    async def _update_po(self, request: Request) -> Response:
        body = await self._json(request)
        return JSONResponse(await run_in_threadpool(self._update, request.path_params["po_id"], body))

    async def _seller_confirm(self, request: Request) -> Response:
        body = await self._json(request)
        po = await run_in_threadpool(self.data.find_po, request.path_params["po_id"])
        if po["status"] not in ("pending", "draft"):
            raise CommonApiError(409, "INVALID_STATUS_TRANSITION", f"cannot confirm a {po['status']} purchase order")
        po["status"] = "confirmed"
        po["seller_confirmed_at"] = iso(self.data.now())
        if body.get("seller_notes"):
            po["notes"] = body["seller_notes"]
        self.data.save_po(po, created=False, update_type="seller_confirmed", changes={"status": "confirmed"})
        return JSONResponse(po)

    # --- amendments ---------------------------------------------------------------------------------------
    async def _propose(self, request: Request) -> Response:
        body = await self._json(request)
        po = await run_in_threadpool(self.data.find_po, request.path_params["po_id"])
        if po["amendment_status"] == "proposed":
            raise CommonApiError(409, "AMENDMENT_PENDING", f"purchase order {po['po_number']} already has a proposal")
        if po["status"] in ("cancelled", "received"):
            raise CommonApiError(409, "INVALID_STATUS_TRANSITION", f"cannot amend a {po['status']} purchase order")
        proposal = {
            "proposed_quantity": _decimal(body, "proposed_quantity", 3, required=False),
            "proposed_unit_price": _decimal(body, "proposed_unit_price", 2, required=False),
            "proposed_delivery_date": _date(body, "proposed_delivery_date", required=False),
        }
        if not any(proposal.values()):
            raise CommonApiError(422, "VALIDATION_ERROR", "propose at least one of quantity, unit price, delivery date")
        now = iso(self.data.now())
        with self.data.lock:
            n = len(self.data.state.amendments)
        amendment = {
            "id": self.data.uid("amendment-api", f"{po['id']}:{n}"),
            "purchase_order_id": po["id"],
            "po_number": po["po_number"],
            "status": "proposed",
            "proposed_by": str(body.get("proposed_by") or "seller"),
            **proposal,
            "amendment_reason": body.get("amendment_reason"),
            "decision_notes": None,
            "proposed_at": now,
            "decided_at": None,
        }
        self.data.save_amendment(amendment)
        po["status_before_amendment"] = po["status"]
        po["status"] = "amendment_pending"
        po["amendment_status"] = "proposed"
        self.data.save_po(
            po, created=False, update_type="amendment_proposed", changes={"amendment_id": amendment["id"]}
        )
        self._event("amendment.proposed", {"id": amendment["id"], "purchase_order_id": po["id"]}, now)
        return JSONResponse(amendment, 201)

    async def _approve(self, request: Request) -> Response:
        body = await self._json(request)
        po = await run_in_threadpool(self.data.find_po, request.path_params["po_id"])
        amendment = self.data.open_amendment(po["id"])
        if amendment is None:
            raise CommonApiError(409, "NO_PENDING_AMENDMENT", f"purchase order {po['po_number']} has no proposal")
        approve = body.get("approve")
        if not isinstance(approve, bool):
            raise CommonApiError(422, "VALIDATION_ERROR", "field 'approve' must be true or false")
        amendment = dict(amendment)
        amendment["status"] = "approved" if approve else "rejected"
        amendment["decision_notes"] = body.get("buyer_notes")  # the plan's field; a pydantic server drops others
        amendment["decided_at"] = iso(self.data.now())
        if approve:
            if amendment["proposed_quantity"]:
                po["quantity"] = amendment["proposed_quantity"]
            if amendment["proposed_unit_price"]:
                po["unit_price"] = amendment["proposed_unit_price"]
            if amendment["proposed_delivery_date"]:
                po["delivery_date"] = amendment["proposed_delivery_date"]
            po["total_amount"] = money(Decimal(po["quantity"]) * Decimal(po["unit_price"]))
        po["status"] = po.pop("status_before_amendment", "confirmed")
        po["amendment_status"] = amendment["status"]
        po["amendment_count"] = int(po.get("amendment_count") or 0) + 1
        self.data.save_amendment(amendment)
        self.data.save_po(
            po, created=False, update_type=f"amendment_{amendment['status']}", changes={"amendment_id": amendment["id"]}
        )
        self._event(f"amendment.{amendment['status']}", {"id": amendment["id"]}, amendment["decided_at"])
        return JSONResponse(po)

    async def _po_amendments(self, request: Request) -> Response:
        po_id = request.path_params["po_id"]
        rows = await run_in_threadpool(self.data.amendments)
        return JSONResponse({"data": [a for a in rows if a["purchase_order_id"] == po_id]})

    async def _list_amendments(self, request: Request) -> Response:
        since = _since(request)
        po_id = request.query_params.get("purchase_order_id")
        status = request.query_params.get("status")
        if status and status not in AMENDMENT_STATUSES:
            raise CommonApiError(422, "VALIDATION_ERROR", f"parameter 'status' must be one of {AMENDMENT_STATUSES}")
        rows = await run_in_threadpool(self.data.amendments)
        selected = sorted(
            (
                a
                for a in rows
                if (since is None or a["updated_at"] >= since)
                and (po_id is None or a["purchase_order_id"] == po_id)
                and (status is None or a["status"] == status)
            ),
            key=lambda a: (a["updated_at"], a["id"]),
        )
        return page(request, selected, "updated_at")

    # --- companies and relationships ----------------------------------------------------------------------
    async def _list_companies(self, request: Request) -> Response:
        rows = self.data.companies_in_order(request.query_params.get("company_type"))
        return page(request, rows, "updated_at", ordered=True)

    async def _list_relationships(self, request: Request) -> Response:
        rows = sorted(self.data.relationships(), key=lambda r: (r["updated_at"], r["id"]))
        return page(request, rows, "updated_at")

    async def _invite(self, request: Request) -> Response:
        body = await self._json(request)
        email = body.get("supplier_email")
        name = body.get("supplier_name")
        if not isinstance(email, str) or "@" not in email:
            raise CommonApiError(422, "VALIDATION_ERROR", "field 'supplier_email' must be an email address")
        now = iso(self.data.now())
        record = {
            "id": self.data.uid("relationship-invite", email),
            "buyer_company_id": request.state.company_id,
            "seller_company_id": None,
            "relationship_type": "supplier",
            "status": "pending",
            "invited_email": email,
            "invited_name": name,
            "created_at": now,
            "updated_at": now,
        }
        self.data.add_relationship(record)
        return JSONResponse(record, 201)

    # --- ERP sync -----------------------------------------------------------------------------------------
    async def _sync_status(self, request: Request) -> Response:
        del request
        pos, updates = await run_in_threadpool(self.data.snapshot)
        pending = await run_in_threadpool(self.data.pending_updates)
        counts = {s: 0 for s in ERP_SYNC_STATUSES}
        for po in pos:
            counts[po["erp_sync_status"]] += 1
        return JSONResponse(
            {
                "company_id": self.buyer_company_id,
                "pending_updates": len(pending),
                "total_updates": len(updates),
                "purchase_orders_by_erp_sync_status": counts,
                "webhook_configured": bool(self.webhooks.url),
                "checked_at": iso(self.data.now()),
            }
        )

    async def _pending(self, request: Request) -> Response:
        updates = await run_in_threadpool(self.data.pending_updates)
        rows = [u.json() for u in updates]
        return page(request, rows, "created_at")

    def _acknowledge(self, variant: str) -> Handler:
        async def handler(request: Request) -> Response:
            if self.variant != variant:
                raise CommonApiError(404, "NOT_FOUND", "Not Found")
            body = await self._json(request)
            ids = body.get("update_ids")
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or not ids:
                raise CommonApiError(422, "VALIDATION_ERROR", "field 'update_ids' must be a non-empty list of ids")
            result = await run_in_threadpool(self.data.acknowledge, ids)
            return JSONResponse(result)

        return handler

    def _webhook_test(self, variant: str) -> Handler:
        async def handler(request: Request) -> Response:
            if self.variant != variant:
                raise CommonApiError(404, "NOT_FOUND", "Not Found")
            if not self.webhooks.url:
                raise CommonApiError(409, "WEBHOOK_NOT_CONFIGURED", "configure a webhook endpoint first")
            event = self.webhooks.enqueue("webhook.test", {"message": "test delivery"}, iso(self.data.now()))
            attempts = await run_in_threadpool(self.webhooks.deliver, event)
            with self.webhooks._lock:
                if event in self.webhooks.outbox:
                    self.webhooks.outbox.remove(event)
            last = attempts[-1] if attempts else None
            return JSONResponse(
                {
                    "event_id": event.id,
                    "delivered": bool(last and last.status and 200 <= last.status < 300),
                    "attempts": len(attempts),
                    "last_status": last.status if last else None,
                }
            )

        return handler

    async def _configure_webhook(self, request: Request) -> Response:
        body = await self._json(request)
        url = body.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise CommonApiError(422, "VALIDATION_ERROR", "field 'url' must be an https URL")
        self.webhooks.url = url
        if isinstance(body.get("secret"), str) and body["secret"]:
            self.webhooks.secret = body["secret"]
        return JSONResponse({"url": url, "configured": True})

    # --- for scenarios ------------------------------------------------------------------------------------
    def publish_pending_updates(self) -> int:
        """Queue one ``erp_sync.pending_update`` event per update that appeared since the last call."""
        fresh = [u for u in self.data.pending_updates() if u.id not in self._published]
        for update in fresh:
            self._published.add(update.id)
            self.webhooks.enqueue("erp_sync.pending_update", update.json(), iso(update.created_at))
        return len(fresh)

    def _event(self, event_type: str, data: dict[str, Any], at: str) -> None:
        """Queue a webhook event for a write and, with an endpoint configured, push it in the background (as the
        platform does), one delivery round at a time."""
        self.webhooks.enqueue(event_type, data, at)
        if self.webhooks.url and self.push_webhooks:
            threading.Thread(target=self._push_round, daemon=True).start()

    def _push_round(self) -> None:
        with self._push_lock:
            self.deliver_webhooks()

    def deliver_webhooks(self) -> int:
        """Publish what is due and deliver the outbox; returns how many events were sent (retries not counted)."""
        self.publish_pending_updates()
        return len({d.event_id for d in self.webhooks.flush()})


__all__ = ["CLIENT_ID", "CLIENT_SECRET", "EMAIL", "PASSWORD", "WEBHOOK_SECRET", "CommonEmulator", "error_response"]
