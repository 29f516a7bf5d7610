"""target-common against the Common emulator through the real CLIs: S/4HANA purchase orders (a Singer file, as
tap-sap-s4hana would emit them) through mapper-common into Common; a re-run changes nothing; a confirmed PO's
commercial change becomes a proposal (the amendment workflow), its decision an approval; Common's 422 lands in the
dead letters with its request_id; a canary password appears nowhere."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from xlr8_kit.testing.residue import Canary, scan
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.common import EMAIL, CommonEmulator

from .conftest import pipeline, singer, target_config

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
                            "OrderQuantity": "12.125",
                            "NetPriceAmount": "4.10",
                            "NetAmount": "49.71",
                            "ScheduleLineDeliveryDate": "2026-02-01",
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
    assert result.returncode == 0, result.stderr[-3000:]
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
