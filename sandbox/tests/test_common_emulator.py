"""The Common emulator over real HTTP: both auth flows and route variants, error format, POs consistent with the
company, decimals, amendments, ERP-sync updates following sandbox time, idempotent acknowledgements, and the
signed webhook sender with retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import requests

from xlr8_sandbox.platform.server import Sandbox, run_sandbox
from xlr8_sandbox.products import common
from xlr8_sandbox.products.common import CommonEmulator
from xlr8_sandbox.products.common.data import PO_STATUSES

TIMEOUT = 10


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with run_sandbox(["common"], scale=60) as running:
        yield running


@pytest.fixture
def emulator(sandbox: Sandbox) -> Iterator[CommonEmulator]:
    emulator = sandbox.emulator("common")
    assert isinstance(emulator, CommonEmulator)
    yield emulator
    sandbox.reset()


@pytest.fixture
def api(sandbox: Sandbox, emulator: CommonEmulator) -> requests.Session:
    del emulator
    session = requests.Session()
    login = session.post(
        sandbox.url("common") + "/api/v1/auth/login",
        json={"email": common.EMAIL, "password": common.PASSWORD},
        timeout=TIMEOUT,
    )
    assert login.status_code == 200, login.text
    session.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    return session


def _all(api: requests.Session, url: str, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        body = api.get(url, params={**params, **({"cursor": cursor} if cursor else {})}, timeout=TIMEOUT).json()
        rows.extend(body["data"])
        if not body["has_more"]:
            return rows
        cursor = body["next_cursor"]


def test_purchase_orders_match_the_company_and_carry_exact_decimals(sandbox: Sandbox, api: requests.Session) -> None:
    rows = _all(api, sandbox.url("common") + "/api/v1/purchase-orders", limit=7)
    company = sandbox.ctx.company
    assert len(rows) == company.purchase_order_count
    by_number = {r["po_number"]: r for r in rows}
    companies = {c["id"]: c for c in _all(api, sandbox.url("common") + "/api/v1/companies")}
    for po in company.purchase_orders():
        row = by_number[po.po_id]
        assert Decimal(row["total_amount"]) == po.amount
        assert row["currency"] == po.currency
        assert row["order_date"] == po.order_date.isoformat()
        assert companies[row["seller_company_id"]]["erp_supplier_id"] == po.supplier_id
        assert companies[row["buyer_company_id"]]["company_type"] == "buyer"
        assert len(row["quantity"].split(".")[1]) == 3
        assert len(row["unit_price"].split(".")[1]) == 2
        assert row["status"] in PO_STATUSES
    keys = [(r["updated_at"], r["id"]) for r in rows]
    assert keys == sorted(keys)


def test_errors_use_commons_format_with_request_id(sandbox: Sandbox, api: requests.Session) -> None:
    response = api.post(
        sandbox.url("common") + "/api/v1/purchase-orders",
        json={"po_number": "X-1", "seller_company_id": "nobody", "quantity": "1.5", "unit_price": "2"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"error_code", "detail", "request_id", "timestamp"}
    assert body["error_code"] == "VALIDATION_ERROR"
    assert "seller_company_id" in body["detail"]
    assert response.headers["X-Request-ID"] == body["request_id"]
    unauthenticated = requests.get(sandbox.url("common") + "/api/v1/purchase-orders", timeout=TIMEOUT)
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error_code"] == "AUTHENTICATION_REQUIRED"


def test_route_variants_and_refresh(sandbox: Sandbox, emulator: CommonEmulator, api: requests.Session) -> None:
    url = sandbox.url("common") + "/api/v1"
    pending = api.get(url + "/erp-sync/pending-updates", timeout=TIMEOUT).json()["data"]
    first = pending[0]["id"]
    assert api.post(url + "/erp-sync/mark-synced", json={"update_ids": [first]}, timeout=TIMEOUT).status_code == 404
    assert api.post(url + "/erp-sync/acknowledge", json={"update_ids": [first]}, timeout=TIMEOUT).status_code == 200
    login = requests.post(url + "/auth/login", json={"email": common.EMAIL, "password": common.PASSWORD}, timeout=10)
    refreshed = requests.post(url + "/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}, timeout=10)
    assert refreshed.status_code == 200
    emulator.variant = "public"
    second = pending[1]["id"]
    assert api.post(url + "/erp-sync/acknowledge", json={"update_ids": [second]}, timeout=TIMEOUT).status_code == 404
    answer = api.post(url + "/erp-sync/mark-synced", json={"update_ids": [second, first]}, timeout=TIMEOUT).json()
    assert answer == {"acknowledged": [second], "already_acknowledged": [first], "unknown": []}
    login = requests.post(url + "/auth/login", json={"email": common.EMAIL, "password": common.PASSWORD}, timeout=10)
    assert "refresh_token" not in login.json()
    assert requests.post(url + "/auth/refresh", json={"refresh_token": "x"}, timeout=10).status_code == 404


def test_client_credentials_token_is_scoped_to_the_company(sandbox: Sandbox, emulator: CommonEmulator) -> None:
    url = sandbox.url("common") + "/api/v1/auth/token"
    form = {"grant_type": "client_credentials", "client_id": common.CLIENT_ID, "client_secret": common.CLIENT_SECRET}
    good = requests.post(url, data={**form, "company_id": emulator.buyer_company_id}, timeout=TIMEOUT)
    assert good.status_code == 200
    assert good.json()["token_type"] == "bearer"
    assert requests.post(url, data={**form, "client_secret": "wrong"}, timeout=TIMEOUT).status_code == 401
    assert requests.post(url, data={**form, "company_id": "not-mine"}, timeout=TIMEOUT).status_code == 403


def test_pending_updates_appear_with_sandbox_time_and_acks_are_idempotent(
    sandbox: Sandbox, emulator: CommonEmulator, api: requests.Session
) -> None:
    url = sandbox.url("common") + "/api/v1/erp-sync"
    before = _all(api, url + "/pending-updates", limit=2)
    sandbox.ctx.clock.advance(timedelta(hours=5))
    after = _all(api, url + "/pending-updates", limit=2)
    assert len(after) == len(before) + 5
    assert [u["id"] for u in after[: len(before)]] == [u["id"] for u in before]
    ids = [u["id"] for u in after]
    api.post(url + "/acknowledge", json={"update_ids": ids}, timeout=TIMEOUT)
    again = api.post(url + "/acknowledge", json={"update_ids": ids}, timeout=TIMEOUT).json()
    assert again["acknowledged"] == []
    assert again["already_acknowledged"] == ids
    assert _all(api, url + "/pending-updates") == []
    assert all(emulator.data.state.ack_calls[i] == 2 for i in ids)
    # the PO an update names shows the change, moved to when the update appeared
    update = after[-1]
    po = api.get(sandbox.url("common") + f"/api/v1/purchase-orders/{update['purchase_order_id']}", timeout=10).json()
    field, change = next(iter(update["changes"].items()))
    assert po[field] == change["to"] or po["updated_at"] > update["created_at"]
    assert po["updated_at"] >= update["created_at"]


def test_amendment_workflow(sandbox: Sandbox, api: requests.Session) -> None:
    url = sandbox.url("common") + "/api/v1/purchase-orders"
    po = next(p for p in _all(api, url) if p["status"] == "confirmed" and p["amendment_status"] != "proposed")
    posted = api.post(f"{url}/{po['id']}/propose-changes", json={"proposed_quantity": "1.000"}, timeout=TIMEOUT)
    assert (posted.status_code, posted.headers["Allow"], posted.json()) == (
        405,
        "PUT",
        {"detail": "Method Not Allowed"},
    )
    assert api.post(f"{url}/{po['id']}/approve-changes", json={"approve": True}, timeout=TIMEOUT).status_code == 405
    proposed = api.put(
        f"{url}/{po['id']}/propose-changes",
        json={"proposed_quantity": "12.125", "proposed_unit_price": "4.10", "amendment_reason": "capacity"},
        timeout=TIMEOUT,
    )
    assert proposed.status_code == 201, proposed.text
    blocked = api.put(f"{url}/{po['id']}", json={"notes": "x"}, timeout=TIMEOUT)
    assert blocked.status_code == 409
    assert blocked.json()["error_code"] == "AMENDMENT_PENDING"
    assert api.get(f"{url}/{po['id']}", timeout=TIMEOUT).json()["status"] == "amendment_pending"
    approved = api.put(
        f"{url}/{po['id']}/approve-changes", json={"approve": True, "buyer_notes": "ok"}, timeout=10
    ).json()
    assert approved["quantity"] == "12.125"
    assert approved["unit_price"] == "4.10"
    assert approved["total_amount"] == "49.71"  # 12.125 * 4.10 = 49.7125, rounded half up to cents
    assert approved["status"] == "confirmed"
    assert approved["amendment_status"] == "approved"
    decided = [a for a in api.get(f"{url}/{po['id']}/amendments", timeout=TIMEOUT).json()["data"] if a["decided_at"]]
    assert decided[-1]["decision_notes"] == "ok"
    too_precise = api.put(f"{url}/{po['id']}/propose-changes", json={"proposed_quantity": "1.0001"}, timeout=10)
    assert too_precise.status_code == 422
    assert "proposed_quantity" in too_precise.json()["detail"]


class _Receiver(BaseHTTPRequestHandler):
    answers: list[int] = []
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        status = type(self).answers.pop(0) if type(self).answers else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


def test_webhook_sender_signs_and_retries(sandbox: Sandbox, emulator: CommonEmulator, api: requests.Session) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Receiver.answers = [500, 503]
    _Receiver.received = []
    emulator.webhooks.sleep = lambda seconds: None
    try:
        url = sandbox.url("common") + "/api/v1/erp-sync"
        configured = api.post(
            url + "/webhooks", json={"url": f"http://127.0.0.1:{server.server_port}/hook"}, timeout=10
        )
        assert configured.status_code == 200
        result = api.post(url + "/webhook-test", timeout=TIMEOUT).json()
        assert result["delivered"] is True
        assert result["attempts"] == 3
        ids = {headers["Common-Event-Id"] for headers, _ in _Receiver.received}
        assert ids == {result["event_id"]}
        for headers, body in _Receiver.received:
            stamp, signature = (part.split("=", 1)[1] for part in headers["Common-Signature"].split(","))
            expected = hmac.new(common.WEBHOOK_SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
            assert hmac.compare_digest(signature, expected.hexdigest())
            assert json.loads(body)["type"] == "webhook.test"
        sandbox.ctx.clock.advance(timedelta(hours=2))
        _Receiver.received = []
        sent = emulator.deliver_webhooks()
        assert sent == len(emulator.data.pending_updates())
        assert {json.loads(body)["type"] for _, body in _Receiver.received} == {"erp_sync.pending_update"}
        # a write pushes its event on its own, as the platform does
        _Receiver.received = []
        supplier = next(
            c for c in _all(api, sandbox.url("common") + "/api/v1/companies") if c["company_type"] == "supplier"
        )
        created = api.post(
            sandbox.url("common") + "/api/v1/purchase-orders",
            json={"po_number": "PUSH-1", "seller_company_id": supplier["id"], "quantity": "1.000",
                  "unit_price": "1.00", "currency": "USD", "order_date": "2026-01-05"},
            timeout=TIMEOUT,
        )  # fmt: skip
        assert created.status_code == 201, created.text
        deadline = time.monotonic() + 30
        while len(_Receiver.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        pushed = sorted((e["type"], e["data"]["po_number"]) for e in (json.loads(b) for _, b in _Receiver.received))
        # the write's own event, and the ERP-sync update it created
        assert pushed == [("erp_sync.pending_update", "PUSH-1"), ("purchase_order.created", "PUSH-1")]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("kind", [None, "supplier", "buyer"])
def test_companies_pages_are_every_company_of_the_kind_once_in_key_order(
    sandbox: Sandbox, api: requests.Session, emulator: CommonEmulator, kind: str | None
) -> None:
    """The companies are built once and paged by bisection; the pages must still be every company of the kind,
    each once, in ``(updated_at, id)`` order, as a fresh build filtered and sorted per request gives them."""
    expected = sorted(
        (c for c in emulator.data._build_companies() if kind is None or c["company_type"] == kind),
        key=lambda c: (c["updated_at"], c["id"]),
    )
    limit = 1 if kind == "buyer" else 7  # a handful of buyers: one a page, so they still take several pages
    params = {"limit": limit} if kind is None else {"limit": limit, "company_type": kind}
    first = _all(api, sandbox.url("common") + "/api/v1/companies", **params)
    again = _all(api, sandbox.url("common") + "/api/v1/companies", **params)  # served from what was built
    assert first == again == expected
    assert len(expected) > limit
