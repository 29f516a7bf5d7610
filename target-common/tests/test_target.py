"""target-common against the Common emulator through the real CLIs: S/4HANA purchase orders (a Singer file, as
tap-sap-s4hana would emit them) through mapper-common into Common; a re-run changes nothing; a confirmed PO's
commercial change becomes a proposal (the amendment workflow), its decision an approval; Common's 422 lands in the
dead letters with its request_id; a canary password appears nowhere."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

from xlr8_kit.testing.residue import Canary, scan
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.common import EMAIL, CommonEmulator

from .conftest import BIN, pipeline, singer, target_config

MAPPER = {"template": "s4hana", "direction": "from_erp", "drop_other_streams": True}


def s4_orders(emulator: CommonEmulator, count: int) -> list[dict[str, Any]]:
    """New S/4 purchase orders (numbers Common does not have) for the company's real suppliers."""
    company = emulator.ctx.company
    orders = []
    for n in range(count):
        supplier = company.supplier(n % company.supplier_count)
        orders.append(
            {
                "PurchaseOrder": f"45000{n:05d}",
                "Supplier": supplier.supplier_id,
                "PurchaseOrderDate": "/Date(1767571200000)/",
                "DocumentCurrency": supplier.currency,
                "PurchasingProcessingStatus": "03",
                "to_PurchaseOrderItem": {
                    "results": [
                        {
                            "Material": "MAT-1001",
                            "PurchaseOrderItemText": "Steel fasteners",
                            "PurchaseOrderQuantityUnit": "KG",
                            "OrderPriceUnit": "KG",
                            "OrderQuantity": "12.125",
                            "NetPriceAmount": "4.10",
                            "NetPriceQuantity": "1",
                            "to_ScheduleLine": {"results": [{"ScheduleLineDeliveryDate": "2026-02-01"}]},
                        }
                    ]
                },
            }
        )
    return orders


def _writes(sandbox: Sandbox) -> list[str]:
    return [
        f"{r.method} {r.path}"
        for r in sandbox.requests("common")
        if r.method in ("POST", "PUT", "PATCH") and not r.path.startswith("/api/v1/auth/")
    ]


def test_s4_orders_through_mapper_into_common_and_rerun_changes_nothing(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    orders = s4_orders(emulator, 5)
    steps = [("mapper-common", MAPPER), ("target-common", target_config(url, tmp_path))]
    first = pipeline(steps, singer("A_PurchaseOrder", orders, ["PurchaseOrder"]), tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert json.loads(first.stdout.splitlines()[-1]) == {"bookmarks": {"A_PurchaseOrder": {"done": True}}}
    landed = {p["po_number"]: p for p in emulator.data.purchase_orders()}
    suppliers = {c["id"]: c.get("erp_supplier_id") for c in emulator.data.companies()}
    for order in orders:
        po = landed[order["PurchaseOrder"]]
        assert (po["quantity"], po["unit_price"], po["total_amount"]) == ("12.125", "4.10", "49.71")
        assert po["status"] == "pending"
        assert po["order_date"] == "2026-01-05"
        assert suppliers[po["seller_company_id"]] == order["Supplier"]
    writes = _writes(sandbox)
    assert writes.count("POST /api/v1/purchase-orders") == 5
    second = pipeline(steps, singer("A_PurchaseOrder", orders, ["PurchaseOrder"]), tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert _writes(sandbox) == writes  # idempotent: looked up by po_number, nothing sent
    assert not (tmp_path / "dead-letters.jsonl").exists()


def _as_s4(emulator: CommonEmulator, po: dict[str, Any], status: str) -> dict[str, Any]:
    """Common's PO as the S/4 ERP holds it (same line), with the ERP's processing status ``status``."""
    suppliers = {c["id"]: c.get("erp_supplier_id") for c in emulator.data.companies()}
    item = {"Material": po["product_id"], "PurchaseOrderItemText": po["product_name"],
            "PurchaseOrderQuantityUnit": po["unit"], "OrderPriceUnit": po["unit"], "OrderQuantity": po["quantity"],
            "NetPriceAmount": po["unit_price"], "NetPriceQuantity": "1",
            "to_ScheduleLine": {"results": [{"ScheduleLineDeliveryDate": po["delivery_date"]}]}}  # fmt: skip
    return {"PurchaseOrder": po["po_number"], "Supplier": suppliers[po["seller_company_id"]],
            "PurchaseOrderDate": po["order_date"], "DocumentCurrency": po["currency"],
            "PurchasingProcessingStatus": status, "to_PurchaseOrderItem": {"results": [item]}}  # fmt: skip


def test_erp_status_never_moves_common_backwards(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """S/4 knows draft (01), released (05 -> confirmed) and cancelled (08); shipping to receipt happen in Common and
    confirmation is the supplier's: those are never overwritten, and only the buyer's steps go forward."""
    pos = [p for p in emulator.data.purchase_orders() if p["amendment_status"] != "proposed"]
    later = [p for p in pos if p["status"] in ("in_transit", "shipped", "delivered", "received")][:4]
    pending = next(p for p in pos if p["status"] == "pending")
    draft = next(p for p in pos if p["status"] == "draft")
    confirmed = next(p for p in pos if p["status"] == "confirmed")
    cancel = next(p for p in pos if p["status"] == "pending" and p["id"] != pending["id"])
    assert len(later) == 4
    orders = [*(_as_s4(emulator, p, "05") for p in later), _as_s4(emulator, pending, "01"),
              _as_s4(emulator, confirmed, "01"), _as_s4(emulator, draft, "03"),
              _as_s4(emulator, cancel, "08")]  # fmt: skip
    steps = [("mapper-common", MAPPER), ("target-common", target_config(url, tmp_path))]
    result = pipeline(steps, singer("A_PurchaseOrder", orders, ["PurchaseOrder"]), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    now = {p["id"]: p["status"] for p in emulator.data.purchase_orders()}
    assert [now[p["id"]] for p in later] == [p["status"] for p in later]  # not set back to confirmed
    assert now[pending["id"]] == "pending"  # not set back to draft
    assert now[confirmed["id"]] == "confirmed"
    assert now[draft["id"]] == "pending"  # released in the ERP: forward
    assert now[cancel["id"]] == "cancelled"
    assert not (tmp_path / "dead-letters.jsonl").exists()


def test_an_erp_cancellation_that_cannot_be_written_is_dead_lettered_never_dropped(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """review25b F3: a cancellation over an open amendment (Common's pre-amendment status given or not) or past
    delivery was dropped (exit 0, no letter, STATE past it); Common kept the PO live for the supplier."""
    pos = [p for p in emulator.data.purchase_orders() if p["amendment_status"] != "proposed"]
    amended, blind = [p for p in pos if p["status"] == "confirmed"][:2]
    delivered = next(p for p in pos if p["status"] == "delivered")
    cancel = next(p for p in pos if p["status"] == "pending")
    raised = {p["id"]: str(Decimal(p["quantity"]) + 1) for p in (amended, blind)}
    target = ("target-common", target_config(url, tmp_path))
    proposals = [{"po_number": p["po_number"], "quantity": raised[p["id"]]} for p in (amended, blind)]
    first = pipeline([target], singer("purchase_orders", proposals, ["po_number"]), tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    hidden = emulator.data.find_po(blind["id"])
    del hidden["status_before_amendment"]  # a Common that does not say what the amendment was proposed from
    emulator.data.save_po(hidden, created=False, update_type="po_updated", changes={})
    amended, blind = emulator.data.find_po(amended["id"]), emulator.data.find_po(blind["id"])
    assert amended["status"] == blind["status"] == "amendment_pending"
    orders = [_as_s4(emulator, p, "08") for p in (amended, blind, delivered, cancel)]
    for order, po in zip(orders[:2], (amended, blind), strict=True):  # the ERP holds the quantity it proposed
        order["to_PurchaseOrderItem"]["results"][0]["OrderQuantity"] = raised[po["id"]]
    writes = len(_writes(sandbox))
    steps = [("mapper-common", MAPPER), target]
    result = pipeline(steps, singer("A_PurchaseOrder", orders, ["PurchaseOrder"]), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]  # dead letters under the ceiling: the run goes on
    now = {p["id"]: p["status"] for p in emulator.data.purchase_orders()}
    assert [now[p["id"]] for p in (amended, blind, delivered, cancel)] == [
        "amendment_pending", "amendment_pending", "delivered", "cancelled"]  # fmt: skip
    assert _writes(sandbox)[writes:] == [f"PUT /api/v1/purchase-orders/{cancel['id']}"]
    letters = {
        line["po_number"]: line for line in map(json.loads, (tmp_path / "dead-letters.jsonl").read_text().splitlines())
    }
    assert sorted(letters) == sorted(p["po_number"] for p in (amended, blind, delivered))
    assert {line["error_code"] for line in letters.values()} == {"UNWRITABLE"}
    for po in (amended, blind):
        assert "decide the open amendment first" in letters[po["po_number"]]["detail"]
    assert "shows as delivered" in letters[delivered["po_number"]]["detail"]
    assert "3 record(s) dead-lettered" in result.stderr


def test_a_new_po_is_created_with_the_erps_status(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """review25b F9: a first sync of ERP history created received/delivered/confirmed orders as `pending`, open
    for the supplier for good. The plan's create carries the status; only Common's own amendment_pending is refused."""
    order = s4_orders(emulator, 1)[0]
    statuses = ("draft", "pending", "confirmed", "in_transit", "shipped", "delivered", "received", "cancelled",
                "amendment_pending")  # fmt: skip
    records = [
        {"po_number": f"TC25-{status}", "supplier_number": order["Supplier"], "order_date": "2025-01-05",
         "currency": order["DocumentCurrency"], "status": status, "product_id": "MAT-1", "product_name": "bolts",
         "unit": "EA", "quantity": "2.000", "unit_price": "3.00", "total_amount": "6.00",
         "delivery_date": "2025-02-01"}
        for status in statuses
    ]  # fmt: skip
    steps = [("target-common", target_config(url, tmp_path))]
    result = pipeline(steps, singer("purchase_orders", records, ["po_number"]), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    landed = {p["po_number"]: p["status"] for p in emulator.data.purchase_orders()}
    assert {s: landed.get(f"TC25-{s}") for s in statuses} == {
        **{s: s for s in statuses[:-1]},
        "amendment_pending": None,
    }
    letters = [json.loads(line) for line in (tmp_path / "dead-letters.jsonl").read_text().splitlines()]
    assert [(x["po_number"], x["error_code"]) for x in letters] == [("TC25-amendment_pending", "UNWRITABLE")]
    assert "cannot create a PO as amendment_pending" in letters[0]["detail"]
    writes = _writes(sandbox)
    again = pipeline(steps, singer("purchase_orders", records[:-1], ["po_number"]), tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert _writes(sandbox) == writes  # re-read: the same statuses, nothing sent


def test_amendment_workflow_respected(url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path) -> None:
    po = next(p for p in emulator.data.purchase_orders() if p["status"] == "confirmed")
    changed = {"po_number": po["po_number"], "quantity": Decimal(po["quantity"]) + 1, "notes": "ERP raised quantity"}
    steps = [("target-common", target_config(url, tmp_path))]
    result = pipeline(steps, singer("purchase_orders", [changed], ["po_number"]), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    now = emulator.data.find_po(po["id"])
    assert now["quantity"] == po["quantity"]  # not overwritten: proposed
    assert now["status"] == "amendment_pending"
    proposals = [
        a for a in emulator.data.amendments() if a["purchase_order_id"] == po["id"] and a["status"] == "proposed"
    ]
    assert [a["proposed_quantity"] for a in proposals] == [str(Decimal(po["quantity"]) + 1)]
    again = pipeline(steps, singer("purchase_orders", [changed], ["po_number"]), tmp_path)
    assert again.returncode == 0
    assert sum(1 for w in _writes(sandbox) if w.endswith("/propose-changes")) == 1  # the same proposal: not again
    decision = {"po_number": po["po_number"], "status": "approved", "decision_notes": "supplier agreed"}
    decided = pipeline(steps, singer("amendments", [decision], ["po_number"]), tmp_path)
    assert decided.returncode == 0, decided.stderr[-3000:]
    final = emulator.data.find_po(po["id"])
    assert final["quantity"] == str(Decimal(po["quantity"]) + 1)
    assert final["amendment_status"] == "approved"
    assert [w for w in _writes(sandbox) if w.endswith("-changes")] == [
        f"PUT /api/v1/purchase-orders/{po['id']}/propose-changes",
        f"PUT /api/v1/purchase-orders/{po['id']}/approve-changes",
    ]  # Common's method for both (a POST is its 405)
    decided = [a for a in emulator.data.amendments() if a["purchase_order_id"] == po["id"] and a["decided_at"]]
    assert decided[-1]["decision_notes"] == "supplier agreed"  # sent as the plan's buyer_notes


def test_a_405_on_an_amendment_call_stops_the_run(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """A tenant without the method refuses every amendment: that is a configuration error (exit 1, no STATE), not a
    dead letter per record behind an exit 0."""
    from xlr8_sandbox.platform.faults import FaultSpec

    po = next(
        p for p in emulator.data.purchase_orders() if p["status"] == "confirmed" and p["amendment_status"] != "proposed"
    )
    body = '{"detail": "Method Not Allowed"}'
    sandbox.faults.add(
        "common",
        "/api/v1/purchase-orders/*/propose-changes",
        FaultSpec("status", status=405, body=body, headers={"Allow": "POST"}, times=1),
    )
    changed = {"po_number": po["po_number"], "quantity": Decimal(po["quantity"]) + 2}
    result = pipeline(
        [("target-common", target_config(url, tmp_path))], singer("purchase_orders", [changed], ["po_number"]), tmp_path
    )
    assert result.returncode != 0
    assert "bookmarks" not in result.stdout  # no STATE past the record
    assert "HTTP 405" in result.stderr
    assert "propose-changes" in result.stderr
    assert not (tmp_path / "dead-letters.jsonl").exists()
    assert emulator.data.find_po(po["id"])["amendment_status"] != "proposed"


def test_422_lands_in_dead_letters_with_request_id(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    supplier = emulator.ctx.company.supplier(0)
    good = {"po_number": "DL-1", "supplier_number": supplier.supplier_id, "quantity": "1.000", "unit_price": "2.00",
            "currency": "USD", "order_date": "2026-01-05"}  # fmt: skip
    bad = {**good, "po_number": "DL-2", "currency": "dollars"}
    unknown = {**good, "po_number": "DL-3", "supplier_number": "S9999999"}
    steps = [("target-common", target_config(url, tmp_path))]
    result = pipeline(steps, singer("purchase_orders", [good, bad, unknown], ["po_number"]), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]  # under dead_letter_ceiling (100): counted, said, exit 0
    assert "WARNING" in result.stderr
    assert "2 record(s) dead-lettered" in result.stderr
    letters = [json.loads(line) for line in (tmp_path / "dead-letters.jsonl").read_text().splitlines()]
    assert [(d["po_number"], d["error_code"], d["status"]) for d in letters] == [
        ("DL-2", "VALIDATION_ERROR", 422), ("DL-3", "UNWRITABLE", None)
    ]  # fmt: skip
    assert "currency" in letters[0]["detail"]
    assert letters[0]["request_id"].startswith("req_")
    assert {p["po_number"] for p in emulator.data.purchase_orders()} >= {"DL-1"}
    over = pipeline(
        [("target-common", target_config(url, tmp_path, dead_letter_ceiling=0))],
        singer("purchase_orders", [bad], ["po_number"]),
        tmp_path,
    )
    assert over.returncode != 0
    assert "dead_letter_ceiling" in over.stderr


def test_load_method_other_than_upsert_is_refused_by_name(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """Meltano's standard ``load_method`` was accepted and ignored: 'append-only' (the SDK's default, every record
    kept as a new one) and 'overwrite' (the destination's rows replaced) both landed as upserts by po_number. Only
    'upsert' runs; the others stop at start-up naming the setting, before any call to Common or a STATE."""
    orders = s4_orders(emulator, 2)
    numbers = {o["PurchaseOrder"] for o in orders}
    messages = singer("A_PurchaseOrder", orders, ["PurchaseOrder"])
    assert not numbers & {p["po_number"] for p in emulator.data.purchase_orders()}
    for method in ("append-only", "overwrite"):
        calls = len(sandbox.requests("common"))
        steps = [("mapper-common", MAPPER), ("target-common", target_config(url, tmp_path, load_method=method))]
        run = pipeline(steps, messages, tmp_path)
        assert run.returncode != 0, method
        assert f"setting 'load_method' is '{method}'" in run.stderr, run.stderr[-2000:]
        assert run.stdout == ""  # no STATE
        assert len(sandbox.requests("common")) == calls  # not even a login
        assert not numbers & {p["po_number"] for p in emulator.data.purchase_orders()}
    steps = [("mapper-common", MAPPER), ("target-common", target_config(url, tmp_path, load_method="upsert"))]
    run = pipeline(steps, messages, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert numbers <= {p["po_number"] for p in emulator.data.purchase_orders()}


def test_canary_password_appears_nowhere(url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path) -> None:
    canary = 'CANARY-tc/8d41+Q="k&p'
    emulator.password = canary
    bad = {"po_number": "DL-9", "currency": "xx"}
    config = target_config(url, tmp_path, password=canary, audit_log_path=str(tmp_path / "audit.jsonl"))
    result = pipeline([("target-common", config)], singer("purchase_orders", [bad], ["po_number"]), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    blobs = {
        "stdout": result.stdout.encode(),
        "stderr": result.stderr.encode(),
        "dead letters": (tmp_path / "dead-letters.jsonl").read_bytes(),
        "audit": (tmp_path / "audit.jsonl").read_bytes(),
    }
    tokens = [Canary(f"token{i}", tok) for i, tok in enumerate(sandbox.ctx.tokens._tokens)]
    assert scan([Canary("password", canary, user=EMAIL), *tokens], blobs) == []
    assert b"DL-9" in blobs["dead letters"]  # positive control


def test_transient_errors_are_retried_by_the_kit_and_create_once(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    from xlr8_sandbox.platform.faults import FaultSpec

    sandbox.faults.add("common", "/api/v1/purchase-orders", FaultSpec("status", status=503, times=2, method="POST"))
    sandbox.faults.add("common", "/api/v1/purchase-orders", FaultSpec("rate_limit", retry_after=0, times=1))
    orders = s4_orders(emulator, 2)
    config = target_config(url, tmp_path, http={"max_attempts": 4, "backoff_base": 0.01, "backoff_max": 0.05})
    result = pipeline(
        [("mapper-common", MAPPER), ("target-common", config)], singer("A_PurchaseOrder", orders, []), tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    numbers = [p["po_number"] for p in emulator.data.purchase_orders()]
    assert all(numbers.count(o["PurchaseOrder"]) == 1 for o in orders)
    assert [
        r.status for r in sandbox.requests("common") if r.method == "POST" and r.path == "/api/v1/purchase-orders"
    ] == [503, 503, 201, 201]
    assert not (tmp_path / "dead-letters.jsonl").exists()


def test_a_retried_proposal_and_decision_that_landed_are_not_dead_lettered(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """The first attempt lands but its answer is lost (read timeout); the kit's retry meets Common's 409 (our own
    proposal open / no proposal left to decide). Re-read, Common holds exactly ours: counted, not a dead letter that
    would send someone to redo what is done (audit25c F12)."""
    from xlr8_sandbox.platform.faults import FaultSpec

    po = next(
        p for p in emulator.data.purchase_orders() if p["status"] == "confirmed" and p["amendment_status"] == "none"
    )
    config = target_config(url, tmp_path, http={"max_attempts": 3, "backoff_base": 0, "read_timeout": 1})
    for path in ("propose-changes", "approve-changes"):
        slow = FaultSpec("slow_answer", seconds=3, times=1)
        sandbox.faults.add("common", f"/api/v1/purchase-orders/*/{path}", slow)
    changed = {"po_number": po["po_number"], "quantity": Decimal(po["quantity"]) + 3}
    proposed = pipeline([("target-common", config)], singer("purchase_orders", [changed], ["po_number"]), tmp_path)
    assert proposed.returncode == 0, proposed.stderr[-3000:]
    assert "'proposed': 1" in proposed.stderr
    decision = {"po_number": po["po_number"], "status": "rejected", "decision_notes": "no"}
    decided = pipeline([("target-common", config)], singer("amendments", [decision], ["po_number"]), tmp_path)
    assert decided.returncode == 0, decided.stderr[-3000:]
    assert "'rejected': 1" in decided.stderr
    import time

    deadline = time.monotonic() + 10  # the held first answers are logged when served (3 s), maybe after the run
    while True:
        calls = [(r.path.rsplit("/", 1)[-1], r.status) for r in sandbox.requests("common") if r.method == "PUT"]
        if ("propose-changes", 201) in calls or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    # the retries met Common's 409
    assert sorted(c for c in calls if c[0] == "propose-changes") == [("propose-changes", 201), ("propose-changes", 409)]
    assert ("approve-changes", 409) in calls
    assert not (tmp_path / "dead-letters.jsonl").exists()
    ours = [a for a in emulator.data.amendments() if a["purchase_order_id"] == po["id"]]
    assert [(a["status"], a["proposed_quantity"]) for a in ours] == [("rejected", str(Decimal(po["quantity"]) + 3))]


def test_a_dead_lettered_records_personal_and_secret_fields_are_masked_in_every_file_and_log(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """loose24 "left": ``DeadLetters.add`` wrote the refused record whole. A record Common refuses (422) and one the
    target cannot send (unknown supplier) keep PII-named and secret-named fields, at any depth, only masked, as the
    target's and mapper-common's letters do (``xlr8_kit.dead_letters``); the letter still names the stream, the key
    and the failing field, and no canary is in any file the run leaves or in its output."""
    supplier = emulator.ctx.company.supplier(0)
    canaries = {
        "supplier_tax_id": "CANARY-TC-TIN-2b41c9e0",
        "home_address": "CANARY-TC-ADDR-8f0d17aa",
        "personal_email": "canary.tc.7c1e@example.org",
        "bank_account": "CANARY-TC-BANK-51f3e2d4",
        "api_token": "CANARY-TC-TOKEN-e0a9b6c3",
    }
    line = {"line": 1, "bank_account": canaries["bank_account"], "api_token": canaries["api_token"]}
    refused = {"po_number": "DL-PII-1", "supplier_number": supplier.supplier_id, "quantity": "1.000",
               "unit_price": "2.00", "currency": "xx", "order_date": "2026-01-05",
               "supplier_tax_id": canaries["supplier_tax_id"],
               "requester": {"name": "Ada", "home_address": canaries["home_address"],
                             "contact": {"personal_email": canaries["personal_email"]}},
               "lines": [line]}  # fmt: skip
    unwritable = {**refused, "po_number": "DL-PII-2", "currency": "USD", "supplier_number": "S9999999"}
    steps = [("target-common", target_config(url, tmp_path, audit_log_path=str(tmp_path / "audit.jsonl")))]
    result = pipeline(steps, singer("purchase_orders", [refused, unwritable], ["po_number"]), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    blobs = {str(p): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    blobs |= {"stdout": result.stdout.encode(), "stderr": result.stderr.encode()}
    assert scan([Canary(name, value) for name, value in canaries.items()], blobs) == []
    letters = [json.loads(line) for line in (tmp_path / "dead-letters.jsonl").read_text().splitlines()]
    assert [(d["stream"], d["po_number"], d["error_code"]) for d in letters] == [
        ("purchase_orders", "DL-PII-1", "VALIDATION_ERROR"), ("purchase_orders", "DL-PII-2", "UNWRITABLE")
    ]  # fmt: skip
    assert "currency" in letters[0]["detail"]
    assert "supplier_number" in letters[1]["detail"]
    kept = letters[0]["record"]
    assert (kept["po_number"], kept["currency"], kept["requester"]["name"]) == ("DL-PII-1", "xx", "Ada")  # readable
    assert kept["supplier_tax_id"] == "[PII]"
    assert kept["requester"]["home_address"] == "[PII]"
    assert kept["requester"]["contact"]["personal_email"] == "[PII]"
    assert kept["lines"] == [{"line": 1, "bank_account": "[PII]", "api_token": "***"}]


def test_a_record_failing_its_schema_is_dead_lettered_naming_the_path_never_the_value(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """loose25 task 1: a record that failed its stream's schema stopped the run with the SDK's validator text, which
    quotes the value (a PII-named field's here), in the ERROR log. It is dead-lettered (``INVALID_RECORD``, the
    field's JSON path and the rule), masked, and the records after it are still written."""
    supplier = emulator.ctx.company.supplier(0)
    canaries = {"supplier_tax_id": "CANARY-TC-TIN-schema-4b7e", "requester_birth_date": "CANARY-TC-DOB-9d03"}
    schema = {"type": "object", "properties": {
        "po_number": {"type": "string"}, "supplier_number": {"type": ["string", "null"]},
        "quantity": {"type": ["string", "null"]}, "unit_price": {"type": ["string", "null"]},
        "currency": {"type": ["string", "null"]}, "order_date": {"type": ["string", "null"], "format": "date"},
        "supplier_tax_id": {"type": ["integer", "null"]},
        "requester_birth_date": {"type": ["string", "null"], "format": "date"}}}  # fmt: skip
    good = {"po_number": "DL-SCH-3", "supplier_number": supplier.supplier_id, "quantity": "1.000",
            "unit_price": "2.00", "currency": "USD", "order_date": "2026-01-05"}  # fmt: skip
    records = [
        {**good, "po_number": "DL-SCH-1", "supplier_tax_id": canaries["supplier_tax_id"]},
        {**good, "po_number": "DL-SCH-2", "requester_birth_date": canaries["requester_birth_date"]},
        good,
    ]
    messages = [{"type": "SCHEMA", "stream": "purchase_orders", "schema": schema, "key_properties": ["po_number"]},
                *({"type": "RECORD", "stream": "purchase_orders", "record": r} for r in records),
                {"type": "STATE", "value": {"bookmarks": {"purchase_orders": {"done": True}}}}]  # fmt: skip
    result = pipeline([("target-common", target_config(url, tmp_path))], messages, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.splitlines()[-1]) == {"bookmarks": {"purchase_orders": {"done": True}}}
    blobs = {str(p): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    blobs |= {"stdout": result.stdout.encode(), "stderr": result.stderr.encode()}
    assert scan([Canary(name, value) for name, value in canaries.items()], blobs) == []
    letters = [json.loads(line) for line in (tmp_path / "dead-letters.jsonl").read_text().splitlines()]
    assert [(d["stream"], d["po_number"], d["error_code"], d["detail"]) for d in letters] == [
        ("purchase_orders", "DL-SCH-1", "INVALID_RECORD", "schema violation (type) at $.supplier_tax_id"),
        ("purchase_orders", "DL-SCH-2", "INVALID_RECORD", "unparseable date value at $.requester_birth_date"),
    ]
    assert letters[0]["record"]["supplier_tax_id"] == "[PII]"
    assert letters[1]["record"]["requester_birth_date"] == "[PII]"
    landed = {p["po_number"] for p in emulator.data.purchase_orders()}
    assert "DL-SCH-3" in landed  # the run went on past them
    assert not {"DL-SCH-1", "DL-SCH-2"} & landed


def test_an_announcement_of_sets_read_whole_is_ignored(url: str, emulator: CommonEmulator, tmp_path: Path) -> None:
    """review26c L5: a tap's ``_xlr8_sets_read`` stream (not a PO) reaching target-common without mapper-common's
    ``drop_other_streams`` stopped the run; it is ignored, and the POs beside it land, STATE out."""
    from xlr8_kit.vocabulary.annotations import SETS_READ_STREAM

    po = next(p for p in emulator.data.purchase_orders() if p["status"] == "confirmed")
    changed = {"po_number": po["po_number"], "quantity": Decimal(po["quantity"]) + 1, "notes": "ERP raised quantity"}
    messages = singer("purchase_orders", [changed], ["po_number"])
    announced = [
        {"type": "SCHEMA", "stream": SETS_READ_STREAM, "schema": {"type": "object", "properties": {}},
         "key_properties": []},
        {"type": "RECORD", "stream": SETS_READ_STREAM,
         "record": {"stream": "purchase_orders", "sets": {"po_number": [po["po_number"]]}}},
    ]  # fmt: skip
    result = pipeline([("target-common", target_config(url, tmp_path))], [*messages[:-1], *announced, messages[-1]],
                      tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert '"done": true' in result.stdout
    assert emulator.data.find_po(po["id"])["status"] == "amendment_pending"


def test_a_data_stream_other_than_common_s_is_refused_by_name(
    url: str, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """review26c L5, the other half: only the kit's control stream is skipped; a tap's own data stream reaching
    target-common unmapped (an Oracle ``purchaseOrders``) stops the run naming the stream and mapper-common, before
    the STATE after it (its rows would otherwise be dropped unseen). Before, the refusal said only "Config validation
    failed". Orders before it are written as they come (one call per PO, idempotent by po_number)."""
    from xlr8_kit.vocabulary.annotations import SETS_READ_STREAM

    po = next(p for p in emulator.data.purchase_orders() if p["status"] == "confirmed")
    changed = {"po_number": po["po_number"], "quantity": Decimal(po["quantity"]) + 1, "notes": "ERP raised quantity"}
    messages = singer("purchase_orders", [changed], ["po_number"])
    unmapped = singer("purchaseOrders", [{"OrderNumber": po["po_number"], "Status": "Open"}], ["OrderNumber"])
    announced = [
        {"type": "SCHEMA", "stream": SETS_READ_STREAM, "schema": {"type": "object", "properties": {}},
         "key_properties": []},
        {"type": "RECORD", "stream": SETS_READ_STREAM, "record": {"stream": "purchaseOrders", "sets": {}}},
    ]  # fmt: skip
    result = pipeline([("target-common", target_config(url, tmp_path))],
                      [*messages[:-1], *announced, *unmapped[:-1], messages[-1]], tmp_path)  # fmt: skip
    assert result.returncode != 0
    assert "got stream 'purchaseOrders' (map it with mapper-common first" in result.stderr, result.stderr[-3000:]
    assert SETS_READ_STREAM not in result.stderr  # the control stream was skipped, not the reason
    assert '"done": true' not in result.stdout  # no STATE past rows that did not land
    assert emulator.data.find_po(po["id"])["status"] == "amendment_pending"  # the PO before it, as it came


def test_an_unknown_http_setting_is_refused_by_name(url: str, emulator: CommonEmulator, tmp_path: Path) -> None:
    """The SDK's CLI logs a ConfigValidationError's ``errors`` only: the refusal of a misspelt ``http`` key said
    just "Config validation failed"; it names the setting, and nothing is written."""
    po = next(p for p in emulator.data.purchase_orders() if p["status"] == "confirmed")
    changed = {"po_number": po["po_number"], "quantity": Decimal(po["quantity"]) + 1, "notes": "ERP raised quantity"}
    config = target_config(url, tmp_path, http={"max_atempts": 2})
    result = pipeline([("target-common", config)], singer("purchase_orders", [changed], ["po_number"]), tmp_path)
    assert result.returncode != 0
    assert "unknown setting(s) http.max_atempts" in result.stderr, result.stderr[-3000:]
    assert emulator.data.find_po(po["id"])["status"] == "confirmed"


def test_a_rounded_s4_price_lands_with_s4s_line_value_as_the_total(
    url: str, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """review27e M2: with ``price_rounding: half_up`` an S/4 price of 3 places (NetPriceAmount is Edm.Decimal 16,3)
    lands rounded to cents, and Common worked the total out of quantity x the rounded price: 1000 x 1.255 landed as
    1260.00, 5.00 more than S/4's line value. The mapper now sends the total as quantity x S/4's own price, rounded
    once: 1255.00. A price that needs no rounding still leaves the total to Common (quantity x price)."""
    rounded, exact = s4_orders(emulator, 2)
    for order, price in ((rounded, "1.255"), (exact, "4.10")):
        order["PurchaseOrder"] = f"46{order['PurchaseOrder']}"
        order["to_PurchaseOrderItem"]["results"][0].update(OrderQuantity="1000", NetPriceAmount=price)
    mapper = {**MAPPER, "price_rounding": "half_up"}
    steps = [("mapper-common", mapper), ("target-common", target_config(url, tmp_path))]
    result = pipeline(steps, singer("A_PurchaseOrder", [rounded, exact], ["PurchaseOrder"]), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    landed = {p["po_number"]: p for p in emulator.data.purchase_orders()}
    got = {
        n: (Decimal(landed[n]["unit_price"]), Decimal(landed[n]["total_amount"]))
        for n in (rounded["PurchaseOrder"], exact["PurchaseOrder"])
    }
    assert got == {
        rounded["PurchaseOrder"]: (Decimal("1.26"), Decimal("1255.00")),
        exact["PurchaseOrder"]: (Decimal("4.10"), Decimal("4100.00")),
    }


def _s4_item(order: dict[str, Any], number: str, **extra: Any) -> dict[str, Any]:
    item = json.loads(json.dumps(order["to_PurchaseOrderItem"]["results"][0]))
    item.update(PurchaseOrderItem=number, **extra)
    return dict(item)


def _deleted_first_item(emulator: CommonEmulator, number: str) -> dict[str, Any]:
    """S/4 order ``number`` whose item 00010 (quantity 5) is deleted and whose item 00020 (quantity 7, the same
    material) is live: the shape an older ``refuse`` landed under the order's number with item 20's values."""
    [order] = s4_orders(emulator, 1)
    order["PurchaseOrder"] = number
    items = order["to_PurchaseOrderItem"]["results"]
    items[0].update(PurchaseOrderItem="00010", PurchasingDocumentDeletionCode="L", OrderQuantity="5")
    items.append(_s4_item(order, "00020", PurchasingDocumentDeletionCode="", OrderQuantity="7"))
    return order


def _as_refuse_landed_it_before(order: dict[str, Any]) -> list[dict[str, Any]]:
    """``order`` as ``refuse`` landed it before review29f (the Singer records): its deleted items dropped, so its one
    live item landed under the order's own number even when a deleted item is numbered lower. refuse now letters
    such an order (mapper-common's tests); a PO landed so by an older mapper is what these guards still meet."""
    items = order["to_PurchaseOrderItem"]["results"]
    live = [item for item in items if item.get("PurchasingDocumentDeletionCode") not in ("L", "S")]
    return singer("A_PurchaseOrder", [{**order, "to_PurchaseOrderItem": {"results": live}}], ["PurchaseOrder"])


def test_split_keeps_a_grown_orders_live_po_and_cancels_nothing(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """review28f H1, M1, M2 through the mapper-common and target-common CLIs: with ``multi_line: split`` the order's
    first line keeps the order's own number, so a one-item order that the supplier has shipped and that then gains
    an item in S/4 keeps its PO as it was (in transit, not cancelled, not re-created) and gains one PO for the new
    item; an order that grows items the mapper refuses is left as Common holds it; without a prefix, a Common PO of
    the order's number is never cancelled. Before, split sent a cancellation of the order's own number for every
    order of several items: the shipped PO was cancelled and item 10 re-created as a new pending PO."""
    split = {**MAPPER, "multi_line": "split", "po_number_prefix": "S4-", "dead_letter_path": str(tmp_path / "m.jsonl")}
    steps = [("mapper-common", split), ("target-common", target_config(url, tmp_path))]
    shipped, refused = s4_orders(emulator, 2)
    for order, number in ((shipped, "4700000001"), (refused, "4700000002")):
        order["PurchaseOrder"] = number
        order["to_PurchaseOrderItem"]["results"][0]["PurchaseOrderItem"] = "00010"
    first = pipeline(steps, singer("A_PurchaseOrder", [shipped, refused], ["PurchaseOrder"]), tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    landed = {p["po_number"]: p for p in emulator.data.purchase_orders()}
    live = emulator.data.find_po(landed["S4-4700000001"]["id"])
    live["status"] = "in_transit"  # the supplier confirmed and shipped it in Common
    emulator.data.save_po(live, created=False, update_type="po_updated", changes={})
    before = {n: dict(p) for n, p in ((n, emulator.data.find_po(p["id"])) for n, p in landed.items())}

    shipped["to_PurchaseOrderItem"]["results"].append(_s4_item(shipped, "00020", Material="M-NEW"))
    items = refused["to_PurchaseOrderItem"]["results"]
    items[0]["OrderPriceUnit"] = "EA"  # a price per another unit: both items refused by the template
    items.append(_s4_item(refused, "00020", OrderPriceUnit="EA"))
    mapped = pipeline(steps[:1], singer("A_PurchaseOrder", [shipped, refused], ["PurchaseOrder"]), tmp_path)
    assert mapped.returncode == 1  # the mapper refused order 4700000002's two items, by name, and sent on the rest
    assert "PurchaseOrder='4700000002', PurchaseOrderItem='00010'" in mapped.stderr
    config = tmp_path / "target-grown.json"
    config.write_text(json.dumps(steps[1][1]))
    grown = subprocess.run(  # the mapper's output as it is (a re-parse would turn 4.10 into 4.1)
        [str(BIN / "target-common"), "--config", str(config)],
        input=mapped.stdout, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert grown.returncode == 0, grown.stderr[-3000:]
    after = {p["po_number"]: p for p in emulator.data.purchase_orders()}
    assert set(after) - set(before) == {"S4-4700000001-00020"}, grown.stderr[-3000:]  # one new PO, the new item
    assert after["S4-4700000001-00020"]["product_id"] == "M-NEW"
    assert after["S4-4700000001-00020"]["status"] == "pending"  # S/4 03, as the order landed
    moved = {(n, k): (v, after[n].get(k)) for n, p in before.items() for k, v in p.items() if after[n].get(k) != v}
    assert moved == {}  # the shipped PO and the refused order's PO as they were
    assert not (tmp_path / "dead-letters.jsonl").exists()  # target-common refused nothing: nothing to refuse

    own = next(
        p for p in emulator.data.purchase_orders() if p["status"] == "confirmed" and p["amendment_status"] != "proposed"
    )
    mine = _as_s4(emulator, own, "05")
    mine["PurchaseOrder"] = own["po_number"]
    mine["to_PurchaseOrderItem"]["results"][0]["PurchaseOrderItem"] = "00010"
    mine["to_PurchaseOrderItem"]["results"].append(_s4_item(mine, "00020"))
    unprefixed = [("mapper-common", {**MAPPER, "multi_line": "split"}), ("target-common", target_config(url, tmp_path))]
    third = pipeline(unprefixed, singer("A_PurchaseOrder", [mine], ["PurchaseOrder"]), tmp_path)
    assert third.returncode == 0, third.stderr[-3000:]
    assert emulator.data.find_po(own["id"])["status"] == "confirmed"  # not cancelled (M1)


def test_a_total_change_on_a_confirmed_po_is_refused_not_written_behind_the_suppliers_back(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """review28f M3: S/4's price 1.255 -> 1.258 on a confirmed PO keeps unit_price 1.26 (half_up) and changes only
    the total the mapper sends (1255.00 -> 1258.00). Common's amendments carry no total, so it is not PUT onto the
    confirmed PO (before: written directly, a price change the supplier never saw): the record is dead-lettered
    naming the PO and both totals, and Common keeps 1255.00. Before, target-common PUT total_amount 1258.00."""
    [order] = s4_orders(emulator, 1)
    order["PurchaseOrder"] = "4700000004"
    order["PurchasingProcessingStatus"] = "05"  # confirmed
    order["to_PurchaseOrderItem"]["results"][0].update(OrderQuantity="1000", NetPriceAmount="1.255")
    mapper = {**MAPPER, "price_rounding": "half_up", "po_number_prefix": "S4-"}
    steps = [("mapper-common", mapper), ("target-common", target_config(url, tmp_path))]
    first = pipeline(steps, singer("A_PurchaseOrder", [order], ["PurchaseOrder"]), tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    po = next(p for p in emulator.data.purchase_orders() if p["po_number"] == "S4-4700000004")
    assert (po["status"], Decimal(po["total_amount"])) == ("confirmed", Decimal("1255.00"))
    writes = len(_writes(sandbox))
    order["to_PurchaseOrderItem"]["results"][0].update(NetPriceAmount="1.258")
    second = pipeline(steps, singer("A_PurchaseOrder", [order], ["PurchaseOrder"]), tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert _writes(sandbox)[writes:] == []  # nothing written onto the confirmed PO
    now = emulator.data.find_po(po["id"])
    assert (now["status"], Decimal(now["unit_price"]), Decimal(now["total_amount"])) == (
        "confirmed", Decimal("1.26"), Decimal("1255.00"))  # fmt: skip
    [letter] = [json.loads(line) for line in (tmp_path / "dead-letters.jsonl").read_text().splitlines()]
    assert "S4-4700000004" in letter["detail"]
    assert "1258.00" in letter["detail"]
    assert "1255.00" in letter["detail"]


def _letters(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "dead-letters.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _ship(emulator: CommonEmulator, number: str) -> dict[str, Any]:
    """Common's PO ``number`` as the supplier left it after confirming and shipping it; a copy as it then stood."""
    po = next(p for p in emulator.data.purchase_orders() if p["po_number"] == number)
    live = emulator.data.find_po(po["id"])
    live["status"] = "in_transit"
    emulator.data.save_po(live, created=False, update_type="po_updated", changes={})
    return dict(emulator.data.find_po(po["id"]))


def test_a_deleted_first_item_after_refuse_never_cancels_the_po_landed_for_the_live_item(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """review28h H1 through the mapper-common and target-common CLIs: S/4 order 4700000011 with item 00010 deleted
    (ME22N, deletion code L) and item 00020 live landed under ``refuse`` (before review29f: now it is lettered) whole
    as ``S4-4700000011`` with item 20's values; the supplier ships it. Switched to ``multi_line: split``, item 10 is
    the order's first line and its piece (``status: cancelled``, item 10's material) goes to ``S4-4700000011``: it
    is another line, so the shipped PO is neither cancelled nor given item 10's material; the record is
    dead-lettered naming the PO and the field.
    Before, target-common PUT ``status: cancelled`` and item 10's product onto the shipped PO, exit 0, no letter."""
    [order] = s4_orders(emulator, 1)
    order["PurchaseOrder"] = "4700000011"
    items = order["to_PurchaseOrderItem"]["results"]
    items[0].update(PurchaseOrderItem="00010", Material="M-10", PurchasingDocumentDeletionCode="L")
    items.append(_s4_item(order, "00020", Material="M-20", PurchasingDocumentDeletionCode="", OrderQuantity="7"))
    refuse = {**MAPPER, "po_number_prefix": "S4-"}
    target = ("target-common", target_config(url, tmp_path))
    records = singer("A_PurchaseOrder", [order], ["PurchaseOrder"])
    first = pipeline([("mapper-common", refuse), target], _as_refuse_landed_it_before(order), tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    shipped = _ship(emulator, "S4-4700000011")
    assert (shipped["product_id"], Decimal(shipped["quantity"])) == ("M-20", Decimal("7"))  # item 20, by refuse

    split = {**refuse, "multi_line": "split"}
    second = pipeline([("mapper-common", split), target], records, tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    now = emulator.data.find_po(shipped["id"])
    moved = {k: (v, now.get(k)) for k, v in shipped.items() if now.get(k) != v}
    assert moved == {}  # still in transit, still item 20's material and quantity
    [letter] = [line for line in _letters(tmp_path) if line["po_number"] == "S4-4700000011"]
    assert letter["error_code"] == "UNWRITABLE"
    assert all(part in letter["detail"] for part in ("product_id", "'M-20'", "'M-10'")), letter["detail"]
    # review29a H2: item 20, which the shipped PO carries, is not created a second time under its own number
    assert [p["po_number"] for p in emulator.data.purchase_orders() if p["po_number"].startswith("S4-4700000011")] == [
        "S4-4700000011"
    ]
    [held] = [line for line in _letters(tmp_path) if line["po_number"] == "S4-4700000011-00020"]
    assert held["error_code"] == "UNWRITABLE"
    assert "is not created" in held["detail"], held["detail"]
    assert "S4-4700000011 (in_transit)" in held["detail"], held["detail"]


def test_an_item_added_in_front_of_a_shipped_order_is_not_written_onto_its_po(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """review28h M1 through the CLIs: ``S4-4700000012`` (item 00010, shipped in Common) gains item 00005 in ME22N
    (the item number is the user's to type). Under ``split`` item 5 is now the order's lowest line and its piece goes
    to ``S4-4700000012``: its material and unit are not the PO's, so nothing of it is written (no product PUT, no
    proposal) and the record is dead-lettered naming the PO and the field. Before, item 5's product, name and unit
    were PUT straight onto the shipped PO and its quantity proposed, exit 0, no letter."""
    split = {**MAPPER, "multi_line": "split", "po_number_prefix": "S4-"}
    steps = [("mapper-common", split), ("target-common", target_config(url, tmp_path))]
    [order] = s4_orders(emulator, 1)
    order["PurchaseOrder"] = "4700000012"
    order["to_PurchaseOrderItem"]["results"][0]["PurchaseOrderItem"] = "00010"
    first = pipeline(steps, singer("A_PurchaseOrder", [order], ["PurchaseOrder"]), tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    shipped = _ship(emulator, "S4-4700000012")

    added = _s4_item(order, "00005", Material="M-5", PurchaseOrderQuantityUnit="EA", OrderPriceUnit="EA",
                     OrderQuantity="3")  # fmt: skip
    order["to_PurchaseOrderItem"]["results"].insert(0, added)
    writes = len(_writes(sandbox))
    second = pipeline(steps, singer("A_PurchaseOrder", [order], ["PurchaseOrder"]), tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    now = emulator.data.find_po(shipped["id"])
    moved = {k: (v, now.get(k)) for k, v in shipped.items() if now.get(k) != v}
    assert moved == {}  # item 10's material, unit and quantity, in transit, no proposal open
    assert [w for w in _writes(sandbox)[writes:] if f"/{shipped['id']}" in w] == []
    [letter] = [line for line in _letters(tmp_path) if line["po_number"] == "S4-4700000012"]
    assert letter["error_code"] == "UNWRITABLE"
    assert all(part in letter["detail"] for part in ("product_id", "'MAT-1001'", "'M-5'")), letter["detail"]


def _fusion_order(emulator: CommonEmulator, number: str, status: str, quantity: str, amount: str) -> dict[str, Any]:
    """An Oracle Fusion purchase order of one line (price 5.00) as tap-oracle-erp serves it, expanded."""
    supplier = emulator.ctx.company.supplier(0)
    line = {"LineNumber": 1, "Item": "ITM-7", "Description": "Hex bolts", "UOMCode": "EA", "Quantity": quantity,
            "Price": "5.00", "Amount": amount, "schedules": [{"RequestedDeliveryDate": "2026-03-02"}]}  # fmt: skip
    return {"OrderNumber": number, "SupplierNumber": supplier.supplier_id, "CreationDate": "2026-01-05",
            "CurrencyCode": supplier.currency, "StatusCode": status, "lines": [line]}  # fmt: skip


def test_a_total_that_follows_a_proposed_quantity_is_not_lettered(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """review28h M2 through the CLIs: the buyer changes the quantity of a confirmed (OPEN) Fusion order 10 -> 12,
    and Fusion's line Amount moves with it (50.00 -> 60.00): the quantity is proposed and the total is what
    Common's approval will work out (12 x 5.00), so there is no dead letter. Before, the record was dead-lettered
    ("settle the total in Common") on every run while the proposal was open. (A total change after delivery stays
    lettered: review29a M2, below.)"""
    mapper = {"template": "oracle_erp", "direction": "from_erp", "drop_other_streams": True, "po_number_prefix": "ORA-"}
    steps = [("mapper-common", mapper), ("target-common", target_config(url, tmp_path))]
    orders = [_fusion_order(emulator, "US-8001", "OPEN", "10", "50.00")]
    first = pipeline(steps, singer("purchaseOrders", orders, ["OrderNumber"]), tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    landed = {p["po_number"]: p for p in emulator.data.purchase_orders()}
    assert landed["ORA-US-8001"]["status"] == "confirmed"
    orders[0]["lines"][0].update(Quantity="12", Amount="60.00")
    second = pipeline(steps, singer("purchaseOrders", orders, ["OrderNumber"]), tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert _letters(tmp_path) == []
    confirmed = emulator.data.find_po(landed["ORA-US-8001"]["id"])
    assert (confirmed["status"], confirmed["amendment_status"]) == ("amendment_pending", "proposed")
    proposal = emulator.data.open_amendment(confirmed["id"])
    assert proposal is not None
    assert Decimal(proposal["proposed_quantity"]) == Decimal("12")


def _order_pos(emulator: CommonEmulator, number: str) -> dict[str, dict[str, Any]]:
    return {p["po_number"]: p for p in emulator.data.purchase_orders() if p["po_number"].startswith(number)}


def test_a_deleted_first_item_of_the_same_material_never_cancels_the_po_landed_for_the_live_item(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """review29a H1, H2 through the CLIs: the usual reason for a deleted item 00010 beside a live item 00020 is that
    the buyer re-entered the same material. ``refuse`` landed the order as ``S4-4700000021`` with item 20's values
    (quantity 7) and the supplier shipped it; switched to ``split``, item 10's cancellation (quantity 5) goes to
    that PO. Its quantity is not Common's, so it is not known to be the same line: the shipped PO is not cancelled,
    and item 20 is not created again as ``S4-4700000021-00020`` (a second order for goods in transit); both are
    lettered. Before, the shipped PO was cancelled and item 20 re-created pending, exit 0, the only letter a 409 on
    the follow-up proposal."""
    order = _deleted_first_item(emulator, "4700000021")
    refuse = {**MAPPER, "po_number_prefix": "S4-"}
    target = ("target-common", target_config(url, tmp_path))
    records = singer("A_PurchaseOrder", [order], ["PurchaseOrder"])
    first = pipeline([("mapper-common", refuse), target], _as_refuse_landed_it_before(order), tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    shipped = _ship(emulator, "S4-4700000021")
    assert Decimal(shipped["quantity"]) == Decimal("7")

    second = pipeline([("mapper-common", {**refuse, "multi_line": "split"}), target], records, tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    now = emulator.data.find_po(shipped["id"])
    assert {k: (v, now.get(k)) for k, v in shipped.items() if now.get(k) != v} == {}  # in transit, quantity 7
    assert list(_order_pos(emulator, "S4-4700000021")) == ["S4-4700000021"]
    letters = {line["po_number"]: line for line in _letters(tmp_path)}
    assert set(letters) == {"S4-4700000021", "S4-4700000021-00020"}
    assert {line["error_code"] for line in letters.values()} == {"UNWRITABLE"}
    detail = letters["S4-4700000021"]["detail"]
    assert "cancellation" in detail, detail
    assert "quantity '7.000' in Common, '5.000' in the ERP's record" in detail, detail
    assert "is not created" in letters["S4-4700000021-00020"]["detail"]


def test_an_item_added_in_front_of_a_shipped_order_does_not_land_its_first_line_twice(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """review29a H2 (proof 2) through the CLIs: ``S4-4700000023`` (item 00010, shipped) gains item 00005 of another
    material. Item 5 now goes to ``S4-4700000023`` and is refused as another line (review28h M1); item 10, which
    that PO carries, is not created again as ``S4-4700000023-00010``. Item 5 cannot land under any number until the
    order is settled, and the letter says so; a second read letters the same, nothing lands. Before, item 10 was
    created as a new pending PO beside the shipped one, exit 0."""
    split = {**MAPPER, "multi_line": "split", "po_number_prefix": "S4-"}
    steps = [("mapper-common", split), ("target-common", target_config(url, tmp_path))]
    [order] = s4_orders(emulator, 1)
    order["PurchaseOrder"] = "4700000023"
    order["to_PurchaseOrderItem"]["results"][0]["PurchaseOrderItem"] = "00010"
    assert pipeline(steps, singer("A_PurchaseOrder", [order], ["PurchaseOrder"]), tmp_path).returncode == 0
    shipped = _ship(emulator, "S4-4700000023")
    added = _s4_item(order, "00005", Material="M-5", OrderQuantity="3")
    order["to_PurchaseOrderItem"]["results"].insert(1, added)  # listed after item 10: sent first all the same
    for _ in range(2):
        run = pipeline(steps, singer("A_PurchaseOrder", [order], ["PurchaseOrder"]), tmp_path)
        assert run.returncode == 0, run.stderr[-3000:]
    assert list(_order_pos(emulator, "S4-4700000023")) == ["S4-4700000023"]
    now = emulator.data.find_po(shipped["id"])
    assert {k: (v, now.get(k)) for k, v in shipped.items() if now.get(k) != v} == {}
    letters = [(line["po_number"], line["error_code"]) for line in _letters(tmp_path)]
    assert letters == [("S4-4700000023", "UNWRITABLE"), ("S4-4700000023-00010", "UNWRITABLE")] * 2
    detail = _letters(tmp_path)[0]["detail"]
    assert "'M-5'" in detail, detail
    assert "a new line of the order cannot land under this number" in detail, detail


def test_a_re_spelled_unit_does_not_stop_the_erps_cancellation_under_refuse(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """review29a M1 through the CLIs, the default ``refuse``: a shipped one-item order comes back with its unit
    spelled otherwise (tap-sap-s4hana's ``language`` changes S/4's commercial unit) and deleted by the buyer. Its
    material, quantity, price and date are Common's, so it is the same line: the cancellation is written, nothing
    lettered, and the unit's new spelling is not written with it. Before, the guard refused the whole record as
    "not the same line (the ERP's first line was deleted ...)": the supplier kept a live PO the buyer deleted."""
    steps = [("mapper-common", {**MAPPER, "po_number_prefix": "S4-"}), ("target-common", target_config(url, tmp_path))]
    [order] = s4_orders(emulator, 1)
    order["PurchaseOrder"] = "4700000024"
    order["to_PurchaseOrderItem"]["results"][0]["PurchaseOrderItem"] = "00010"
    assert pipeline(steps, singer("A_PurchaseOrder", [order], ["PurchaseOrder"]), tmp_path).returncode == 0
    shipped = _ship(emulator, "S4-4700000024")
    order["to_PurchaseOrderItem"]["results"][0].update(PurchaseOrderQuantityUnit="KGM", OrderPriceUnit="KGM")
    order["PurchasingDocumentDeletionCode"] = "L"
    run = pipeline(steps, singer("A_PurchaseOrder", [order], ["PurchaseOrder"]), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    now = emulator.data.find_po(shipped["id"])
    assert {k: (v, now.get(k)) for k, v in shipped.items() if now.get(k) != v and k != "updated_at"} == {
        "status": ("in_transit", "cancelled")
    }
    assert _letters(tmp_path) == []


def test_a_total_change_after_delivery_is_lettered_and_on_a_cancelled_po_only_counted(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """review29a M2 through the CLIs: S/4's price 1.255 -> 1.258 after goods receipt (``price_rounding: half_up``
    keeps unit_price 1.26, only the total moves 1255.00 -> 1258.00). On a delivered or received PO that is money to
    settle, so it is lettered and nothing written; on a cancelled PO it is left as Common has it and counted. Before,
    all three were only counted at INFO."""
    orders = s4_orders(emulator, 3)
    numbers = ("4700000031", "4700000032", "4700000033")
    for order, number in zip(orders, numbers, strict=True):
        order["PurchaseOrder"] = number
        order["PurchasingProcessingStatus"] = "05"
        order["to_PurchaseOrderItem"]["results"][0].update(OrderQuantity="1000", NetPriceAmount="1.255")
    mapper = {**MAPPER, "price_rounding": "half_up", "po_number_prefix": "S4-"}
    steps = [("mapper-common", mapper), ("target-common", target_config(url, tmp_path))]
    assert pipeline(steps, singer("A_PurchaseOrder", orders, ["PurchaseOrder"]), tmp_path).returncode == 0
    pos = {}
    for number, status in zip(numbers, ("delivered", "received", "cancelled"), strict=True):
        po = emulator.data.find_po(_order_pos(emulator, f"S4-{number}")[f"S4-{number}"]["id"])
        po["status"] = status
        emulator.data.save_po(po, created=False, update_type="po_updated", changes={})
        pos[number] = dict(emulator.data.find_po(po["id"]))
    writes = len(_writes(sandbox))
    for order in orders:
        order["to_PurchaseOrderItem"]["results"][0].update(NetPriceAmount="1.258")
    run = pipeline(steps, singer("A_PurchaseOrder", orders, ["PurchaseOrder"]), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert _writes(sandbox)[writes:] == []
    for number, po in pos.items():
        assert Decimal(emulator.data.find_po(po["id"])["total_amount"]) == Decimal("1255.00"), number
    letters = {line["po_number"]: line for line in _letters(tmp_path)}
    assert set(letters) == {"S4-4700000031", "S4-4700000032"}
    for number, status in (("S4-4700000031", "delivered"), ("S4-4700000032", "received")):
        detail = letters[number]["detail"]
        assert "1258.00" in detail, detail
        assert f"the PO is {status}: settle the total with the supplier" in detail, detail
    assert "'total_left_to_common': 1" in run.stderr, run.stderr[-3000:]


def test_a_product_is_not_put_onto_a_po_past_pending_that_has_none(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """review29a L2 through the CLIs: a text item (S/4 Material "", Common's product_id null) landed and shipped;
    the ERP's record for that number now names a material (another line moved in front, or a material entered). It
    is not known to be the same line, so nothing is written and it is lettered. Before, the guard skipped a PO
    without a product and the material was PUT straight onto the shipped PO."""
    steps = [("mapper-common", {**MAPPER, "po_number_prefix": "S4-"}), ("target-common", target_config(url, tmp_path))]
    [order] = s4_orders(emulator, 1)
    order["PurchaseOrder"] = "4700000041"
    order["to_PurchaseOrderItem"]["results"][0].update(PurchaseOrderItem="00010", Material="")
    assert pipeline(steps, singer("A_PurchaseOrder", [order], ["PurchaseOrder"]), tmp_path).returncode == 0
    shipped = _ship(emulator, "S4-4700000041")
    assert shipped["product_id"] is None
    order["to_PurchaseOrderItem"]["results"][0].update(Material="M-41")
    writes = len(_writes(sandbox))
    run = pipeline(steps, singer("A_PurchaseOrder", [order], ["PurchaseOrder"]), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert _writes(sandbox)[writes:] == []
    assert emulator.data.find_po(shipped["id"])["product_id"] is None
    [letter] = _letters(tmp_path)
    assert letter["error_code"] == "UNWRITABLE"
    assert "product_id None in Common, 'M-41' in the ERP's record" in letter["detail"], letter["detail"]


def test_a_delivered_po_landed_for_the_live_item_is_not_ordered_again_under_its_own_number(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """review29a H2 where Common's PO is already delivered: item 00010 (deleted, quantity 5) and item 00020 (live,
    quantity 7, the same material) landed by ``refuse`` as ``S4-4700000042`` with item 20's values, then delivered.
    Switched to ``split``: the cancellation is refused as past delivery, and item 20 is not created again as
    ``S4-4700000042-00020`` either (a second order for goods already delivered)."""
    order = _deleted_first_item(emulator, "4700000042")
    refuse = {**MAPPER, "po_number_prefix": "S4-"}
    target = ("target-common", target_config(url, tmp_path))
    records = singer("A_PurchaseOrder", [order], ["PurchaseOrder"])
    assert pipeline([("mapper-common", refuse), target], _as_refuse_landed_it_before(order), tmp_path).returncode == 0
    po = emulator.data.find_po(_order_pos(emulator, "S4-4700000042")["S4-4700000042"]["id"])
    po["status"] = "delivered"
    emulator.data.save_po(po, created=False, update_type="po_updated", changes={})
    second = pipeline([("mapper-common", {**refuse, "multi_line": "split"}), target], records, tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert {n: p["status"] for n, p in _order_pos(emulator, "S4-4700000042").items()} == {"S4-4700000042": "delivered"}
    letters = {line["po_number"]: line["detail"] for line in _letters(tmp_path)}
    assert "past delivery it cannot be cancelled" in letters["S4-4700000042"], letters
    assert "is not created" in letters["S4-4700000042-00020"], letters


def test_a_decimal_written_with_other_places_than_commons_is_unchanged_not_proposed(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """An ERP's ``4.1`` is Common's ``4.10`` (and ``5.0`` its ``5.000``): a record carrying a confirmed PO's own
    quantity, unit price and total with fewer places changes nothing, through the real target-common CLI. Before,
    they were compared as text: the unchanged price and quantity were proposed to the supplier (amendment_pending)."""
    pos = emulator.data.purchase_orders()
    open_ = [p for p in pos if (p["status"], p["amendment_status"]) == ("confirmed", "none")]
    po = emulator.data.find_po(open_[-1]["id"])
    po.update(quantity="5.000", unit_price="4.10", total_amount="20.50")  # as Common serves them: at their scale
    emulator.data.save_po(po, created=False, update_type="po_updated", changes={})
    same = {"po_number": po["po_number"], "quantity": float(po["quantity"]), "unit_price": float(po["unit_price"]),
            "total_amount": float(po["total_amount"])}  # fmt: skip
    text = json.dumps(same)
    assert f'"unit_price": {po["unit_price"]}' not in text  # the places differ on the wire
    writes = len(_writes(sandbox))
    result = pipeline([("target-common", target_config(url, tmp_path))], singer("purchase_orders", [same],
                      ["po_number"]), tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert _writes(sandbox)[writes:] == []
    now = emulator.data.find_po(po["id"])
    assert (now["status"], now["amendment_status"]) == ("confirmed", "none")
    assert not (tmp_path / "dead-letters.jsonl").exists()
