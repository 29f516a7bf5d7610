"""mapper-common: Common -> ERP -> Common round trips equal on every field a template covers (S/4HANA, Oracle ERP,
Workday Financials), the 3/2 decimal rules exact, dates and currencies normalised, and an unmapped status (or a
value that would need rounding, or a second PO line) failing with the value named, through the real CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from xlr8_kit.testing.residue import Canary, scan
from xlr8_kit.testing.singer_cli import parse_singer_messages
from xlr8_mapper_common.templates import MappingError, load_template, parse_template
from xlr8_sandbox.company import Company
from xlr8_sandbox.products.common.data import CommonData

BIN = Path(sys.executable).parent
TEMPLATES = ["s4hana", "oracle_erp", "workday_fins"]


def common_purchase_orders() -> list[dict[str, Any]]:
    """The Common emulator's purchase orders as tap-common emits them (decimals exact), with supplier numbers."""
    data = CommonData(Company(seed=42, scale=200))
    suppliers = {c["id"]: c.get("erp_supplier_id") for c in data.companies()}
    rows = []
    for po in data.purchase_orders():
        row = dict(po)
        for name in ("quantity", "unit_price", "total_amount"):
            row[name] = Decimal(row[name])
        row["supplier_number"] = suppliers[row["seller_company_id"]]
        rows.append(row)
    return rows


def run_mapper(config: dict[str, Any], messages: list[dict[str, Any]], tmp: Path) -> subprocess.CompletedProcess[str]:
    path = tmp / "mapper.json"
    path.write_text(json.dumps(config))
    text = "\n".join(json.dumps(m, default=str) for m in messages) + "\n"
    return subprocess.run(
        [str(BIN / "mapper-common"), "--config", str(path)], input=text, capture_output=True, text=True, check=False
    )


def singer(stream: str, records: list[dict[str, Any]], key: list[str]) -> list[dict[str, Any]]:
    return [
        {"type": "SCHEMA", "stream": stream, "schema": {"type": "object", "properties": {}}, "key_properties": key},
        *({"type": "RECORD", "stream": stream, "record": r} for r in records),
        {"type": "STATE", "value": {"bookmarks": {stream: {"done": True}}}},
    ]


@pytest.mark.parametrize("name", TEMPLATES)
def test_round_trip_common_erp_common_equals_the_original(name: str, tmp_path: Path) -> None:
    template = load_template(name)
    covered_statuses = {common for common, _ in next(r for r in template.fields if r.common == "status").values}
    orders = [o for o in common_purchase_orders() if o["status"] in covered_statuses]
    assert len(orders) >= 20
    to_erp = run_mapper({"template": name, "direction": "to_erp"}, singer("purchase_orders", orders, ["id"]), tmp_path)
    assert to_erp.returncode == 0, to_erp.stderr[-2000:]
    erp_messages = parse_singer_messages(to_erp.stdout, exact_decimals=True)
    erp_records = [m["record"] for m in erp_messages if m["type"] == "RECORD"]
    assert {m["stream"] for m in erp_messages if m["type"] == "RECORD"} == {template.erp_stream}
    assert erp_messages[-1] == {"type": "STATE", "value": {"bookmarks": {"purchase_orders": {"done": True}}}}
    back = run_mapper(
        {"template": name, "direction": "from_erp"}, singer(template.erp_stream, erp_records, list(template.erp_key)),
        tmp_path,
    )  # fmt: skip
    assert back.returncode == 0, back.stderr[-2000:]
    common_again = [
        m["record"] for m in parse_singer_messages(back.stdout, exact_decimals=True) if m["type"] == "RECORD"
    ]
    covered = [r.common for r in template.fields]
    assert [{f: r[f] for f in covered} for r in common_again] == [{f: o[f] for f in covered} for o in orders]
    for record in common_again:  # exactly representable, scale kept
        assert isinstance(record["quantity"], Decimal)
        assert record["quantity"].as_tuple().exponent == -3
        assert record["unit_price"].as_tuple().exponent == -2


def test_s4_fields_and_decimal_rules_exact() -> None:
    template = load_template("s4hana")
    order = {"po_number": "PO1", "supplier_number": "S0000007", "order_date": "2024-02-14", "currency": "usd",
             "status": "confirmed", "quantity": "12.5", "unit_price": 4.1, "total_amount": "51.25",
             "delivery_date": "2024-03-01T00:00:00Z", "product_id": None, "product_name": None,
             "unit": None}  # fmt: skip
    s4 = template.map_record(order, "to_erp")
    item = s4["to_PurchaseOrderItem"][0]
    assert (s4["PurchaseOrder"], s4["Supplier"], s4["DocumentCurrency"]) == ("PO1", "S0000007", "USD")
    assert s4["PurchasingProcessingStatus"] == "05"
    assert str(item["OrderQuantity"]) == "12.500"
    assert str(item["NetPriceAmount"]) == "4.10"
    assert item["to_ScheduleLine"][0]["ScheduleLineDeliveryDate"] == "2024-03-01"  # the schedule line's
    assert "NetAmount" not in item  # API_PURCHASEORDER_PROCESS_SRV's item has no net amount
    assert item["NetPriceQuantity"] == Decimal(1)  # the price is per one unit
    assert "OrderPriceUnit" in item  # written as the order unit: the price is per the order unit
    assert item["OrderPriceUnit"] == item["PurchaseOrderQuantityUnit"]
    with pytest.raises(
        MappingError, match=r"'quantity' of po_number='PO1'.*'1.2345' has 4 decimal places, more than 3"
    ):
        template.map_record({**order, "quantity": "1.2345"}, "to_erp")
    with pytest.raises(MappingError, match="3 decimal places, more than 2; refusing to round"):
        template.map_record({**order, "unit_price": "3.999"}, "to_erp")
    item = {"OrderQuantity": "3.000", "NetPriceAmount": "10.00", "Material": None, "PurchaseOrderItemText": None,
            "PurchaseOrderQuantityUnit": "EA", "OrderPriceUnit": "EA", "NetPriceQuantity": "1",
            "to_ScheduleLine": {"results": [{"ScheduleLineDeliveryDate": "/Date(1709251200000)/"}]}}  # fmt: skip
    odata = {"PurchaseOrder": "4500000001", "PurchaseOrderDate": "/Date(1707868800000)/", "DocumentCurrency": "EUR",
             "PurchasingProcessingStatus": "01", "Supplier": None,
             "to_PurchaseOrderItem": {"results": [item]}}  # fmt: skip
    common = template.map_record(odata, "from_erp")
    assert common["order_date"] == "2024-02-14"
    assert common["status"] == "draft"
    assert common["quantity"] == Decimal("3.000")
    assert common["delivery_date"] == "2024-03-01"
    per_hundred = {**odata, "to_PurchaseOrderItem": {"results": [{**item, "NetPriceQuantity": "100"}]}}
    with pytest.raises(MappingError, match=r"NetPriceQuantity is 100, not 1: NetPriceAmount is then not a price per"):
        template.map_record(per_hundred, "from_erp")  # 10.00 per 100 units would reach Common as 10.00 per unit
    unread = {
        **odata,
        "to_PurchaseOrderItem": {"results": [{k: v for k, v in item.items() if k != "NetPriceQuantity"}]},
    }
    with pytest.raises(MappingError, match=r"'to_PurchaseOrderItem\[0\].NetPriceQuantity' of .* is absent"):
        template.map_record(unread, "from_erp")
    two_items = {**odata, "to_PurchaseOrderItem": {"results": [{}, {}]}}
    with pytest.raises(MappingError, match="to_PurchaseOrderItem has 2 items"):
        template.map_record(two_items, "from_erp")
    two_dates = {**item, "to_ScheduleLine": {"results": [{}, {}]}}  # a delivery split in two: no one date for Common
    with pytest.raises(MappingError, match=r"to_PurchaseOrderItem\[0\].to_ScheduleLine has 2 items"):
        template.map_record({**odata, "to_PurchaseOrderItem": {"results": [two_dates]}}, "from_erp")


def test_an_absent_source_field_is_an_error_not_a_null() -> None:
    """A null stays null, but a field the source never carried (an unexpanded item list, a deselected column) would
    reach Common as null, which target-common reads as "leave as it is": the value is lost without a word."""
    template = load_template("s4hana")
    header = {"PurchaseOrder": "4500000001", "Supplier": "S0000007", "PurchaseOrderDate": "2024-02-14",
              "DocumentCurrency": "EUR", "PurchasingProcessingStatus": "01"}  # fmt: skip
    with pytest.raises(MappingError, match=r"PurchaseOrder='4500000001': to_PurchaseOrderItem is absent.*'expand'"):
        template.map_record(header, "from_erp")
    with pytest.raises(MappingError, match=r"to_ScheduleLine is absent.*\[to_PurchaseOrderItem/to_ScheduleLine\]"):
        template.map_record({**header, "to_PurchaseOrderItem": {"results": [{"OrderQuantity": "1"}]}}, "from_erp")
    lines = {"to_ScheduleLine": {"results": [{"ScheduleLineDeliveryDate": None}]}, "NetPriceQuantity": 1,
             "OrderPriceUnit": "EA", "PurchaseOrderQuantityUnit": "EA"}  # fmt: skip
    with pytest.raises(MappingError, match=r"field 'to_PurchaseOrderItem\[0\].Material' of .* is absent"):
        template.map_record({**header, "to_PurchaseOrderItem": {"results": [{"OrderQuantity": "1", **lines}]}},
                            "from_erp")  # fmt: skip
    nulls = {**header, "Supplier": None, "to_PurchaseOrderItem": None}
    assert template.map_record(nulls, "from_erp")["quantity"] is None  # present but null: stays null
    with pytest.raises(MappingError, match=r"field 'unit' of po_number='PO1' is absent"):
        template.map_record({"po_number": "PO1", "supplier_number": None, "order_date": None, "currency": None,
                             "status": None, "product_id": None, "product_name": None}, "to_erp")  # fmt: skip


def test_unknown_status_fails_naming_the_value(tmp_path: Path) -> None:
    order = dict.fromkeys(("supplier_number", "order_date", "product_id", "product_name", "unit", "quantity",
                           "unit_price", "total_amount", "delivery_date"))  # fmt: skip
    order |= {"po_number": "PO9", "status": "in_transit", "currency": "USD"}
    result = run_mapper(
        {"template": "s4hana", "direction": "to_erp"}, singer("purchase_orders", [order], ["id"]), tmp_path
    )
    assert result.returncode != 0
    assert "'in_transit' has no mapping in template 's4hana'" in result.stderr
    assert "po_number='PO9'" in result.stderr
    s4 = {"PurchaseOrder": "45", "Supplier": None, "PurchaseOrderDate": None, "DocumentCurrency": None,
          "PurchasingProcessingStatus": "99", "to_PurchaseOrderItem": None}  # fmt: skip
    back = run_mapper({"template": "s4hana", "direction": "from_erp"}, singer("A_PurchaseOrder", [s4], []), tmp_path)
    assert back.returncode != 0
    assert "value '99' has no mapping" in back.stderr


def test_templates_are_checked_when_loaded(tmp_path: Path) -> None:
    base = {"name": "x", "common_stream": "purchase_orders", "erp_stream": "po", "common_key": ["po_number"],
            "erp_key": ["N"]}  # fmt: skip
    with pytest.raises(MappingError, match="maps two Common values to one ERP value"):
        parse_template(
            {**base, "fields": [{"common": "status", "erp": "S", "type": "enum", "values": {"a": 1, "b": 1}}]}
        )
    with pytest.raises(MappingError, match="needs an integer 'scale'"):
        parse_template({**base, "fields": [{"common": "quantity", "erp": "Q", "type": "decimal"}]})
    with pytest.raises(MappingError, match="unknown template 'sap_r3'"):
        load_template("sap_r3")
    custom = tmp_path / "mine.yaml"
    custom.write_text(json.dumps({**base, "fields": [{"common": "po_number", "erp": "N"}]}))
    assert load_template(str(custom)).map_record({"po_number": "A"}, "to_erp") == {"N": "A"}


def _batch_file(path: Path, records: list[dict[str, Any]], compression: str) -> None:
    import gzip

    text = "".join(json.dumps(r, default=str) + "\n" for r in records).encode()
    path.write_bytes(gzip.compress(text) if compression == "gzip" else text)


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_batch_messages_become_the_record_messages_record_mode_gives(tmp_path: Path, compression: str) -> None:
    """Taps send BATCH files (meltano.yml's batch_config); target-common reads RECORDs only, so the mapper sends the
    files' records on as RECORD messages, mapped exactly as the same records sent as RECORDs are. Files the tap wrote
    for this run are deleted once read; an older file is kept; a file outside ``batch_locations`` is refused."""
    covered = {"draft", "pending", "confirmed", "amendment_pending", "cancelled"}
    orders = [o for o in common_purchase_orders() if o["status"] in covered][:40]
    assert len(orders) == 40
    config = {"template": "s4hana", "direction": "to_erp"}
    by_record = run_mapper(config, singer("purchase_orders", orders, ["id"]), tmp_path)
    assert by_record.returncode == 0, by_record.stderr[-2000:]

    batches = tmp_path / "batches"
    batches.mkdir()
    suffix = ".json.gz" if compression == "gzip" else ".jsonl"
    first, second, kept = (batches / f"{n}{suffix}" for n in ("first", "second", "kept"))
    _batch_file(first, orders[:25], compression)
    _batch_file(second, orders[25:], compression)
    _batch_file(kept, [], compression)
    os.utime(kept, (1_000_000_000, 1_000_000_000))  # written long before this run: not the tap's file for it
    messages = singer("purchase_orders", [], ["id"])
    batch = {"type": "BATCH", "stream": "purchase_orders", "encoding": {"format": "jsonl", "compression": compression}}
    messages[1:1] = [
        {**batch, "manifest": [first.as_uri(), second.as_uri()]},
        {**batch, "manifest": [kept.as_uri()]},
    ]
    by_batch = run_mapper({**config, "batch_locations": [str(batches)]}, messages, tmp_path)
    assert by_batch.returncode == 0, by_batch.stderr[-2000:]
    assert parse_singer_messages(by_batch.stdout) == parse_singer_messages(by_record.stdout)
    assert sorted(p.name for p in batches.iterdir()) == [kept.name]

    outside = tmp_path / f"outside{suffix}"
    _batch_file(outside, orders[:1], compression)
    messages[1:3] = [{**batch, "manifest": [outside.as_uri()]}]
    refused = run_mapper({**config, "batch_locations": [str(batches)]}, messages, tmp_path)
    assert refused.returncode != 0
    assert "outside setting 'batch_locations'" in refused.stderr
    assert outside.exists()


def test_an_unwritable_dead_letter_path_fails_at_start_naming_the_setting(tmp_path: Path) -> None:
    """A directory (or a path that cannot be made) fails before any record goes on, naming the setting (review23a
    finding 4); before, the first refused record raised a bare IsADirectoryError after a record had gone on."""
    good = {"po_number": "PO1", "status": "draft", "currency": "USD"}
    bad = {"po_number": "PO9", "status": "shipped", "currency": "USD"}
    messages = singer("purchase_orders", [good, bad], ["id"])
    (tmp_path / "blocker").write_text("")  # a file where the path needs a directory
    for where in (tmp_path, tmp_path / "blocker" / "letters.jsonl"):
        config = {"template": "s4hana", "direction": "to_erp", "dead_letter_path": str(where)}
        result = run_mapper(config, messages, tmp_path)
        assert result.returncode != 0
        assert f"setting 'dead_letter_path' {str(where)!r} cannot be written" in result.stderr, result.stderr[-800:]
        assert '"type":"RECORD"' not in result.stdout.replace(" ", "")


def test_a_changed_refused_record_is_lettered_again(tmp_path: Path) -> None:
    """Only the same record (stream, key, content) counts as set aside: a changed one is written and exits 1."""
    dead = tmp_path / "letters.jsonl"
    config = {"template": "s4hana", "direction": "to_erp", "dead_letter_path": str(dead)}
    bad = {"po_number": "PO9", "status": "shipped", "currency": "USD", "total_amount": Decimal("10.50")}
    first = run_mapper(config, singer("purchase_orders", [bad], ["id"]), tmp_path)
    assert first.returncode == 1
    again = run_mapper(config, singer("purchase_orders", [bad], ["id"]), tmp_path)
    assert again.returncode == 0, again.stderr[-800:]
    assert "1 record(s) refused again" in again.stderr
    changed = run_mapper(config, singer("purchase_orders", [{**bad, "status": "received"}], ["id"]), tmp_path)
    assert changed.returncode == 1
    assert len(dead.read_text().splitlines()) == 2


def test_a_record_changed_back_is_lettered_again(tmp_path: Path) -> None:
    """review23h finding 4: a refused PO going A -> B -> A is lettered each time (the third run exits 1), so the
    file's latest letter for the key is the record as it stands, not B."""
    dead = tmp_path / "letters.jsonl"
    config = {"template": "s4hana", "direction": "to_erp", "dead_letter_path": str(dead)}
    shipped = {"po_number": "PO9", "status": "shipped", "currency": "USD", "total_amount": Decimal("10.50")}
    for record in (shipped, {**shipped, "status": "received"}, shipped):
        run = run_mapper(config, singer("purchase_orders", [record], ["id"]), tmp_path)
        assert run.returncode == 1, run.stderr[-800:]
    assert [json.loads(line)["record"]["status"] for line in dead.read_text().splitlines()] == [
        "shipped",
        "received",
        "shipped",
    ]
    again = run_mapper(config, singer("purchase_orders", [shipped], ["id"]), tmp_path)
    assert again.returncode == 0, again.stderr[-800:]
    assert "1 record(s) refused again" in again.stderr


def test_the_dead_letter_file_is_not_held_in_memory_at_start(tmp_path: Path) -> None:
    """review23h finding 5: a large dead-letter file (many letters of one key) costs little memory at start: it is
    read line by line, keeping only each key's latest id (read whole, the peak grew by about twice the file)."""
    dead = tmp_path / "letters.jsonl"
    record = {"po_number": "PO9", "status": "shipped", "note": "x" * 3000}
    line = json.dumps({"stream": "purchase_orders", "key": "po_number='PO9'", "error": "e", "record": record})
    with dead.open("w") as handle:
        for n in range(20_000):  # about 60 MB
            handle.write(line.replace("PO9", f"PO9{n % 2}", 2) + "\n")
    peaks = []
    for path in (tmp_path / "empty.jsonl", dead):
        config = {"template": "s4hana", "direction": "to_erp", "dead_letter_path": str(path)}
        (tmp_path / "mapper.json").write_text(json.dumps(config))
        measure = (
            "import resource, subprocess, sys; "
            "subprocess.run(sys.argv[1:], input=b'', capture_output=True, check=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        )
        cmd = [sys.executable, "-c", measure, str(BIN / "mapper-common"), "--config", str(tmp_path / "mapper.json")]
        peaks.append(int(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout))
    assert peaks[1] - peaks[0] < 30 * 1024, peaks  # KiB: well under the file's 60 MB


def test_a_refused_order_reaches_the_dead_letter_file_masked(tmp_path: Path) -> None:
    """CLOSING23 "Left": the dead-letter file held whole records in clear. A refused order's secret-named and
    PII-named fields (any depth) are masked as the target's dead letters mask them; the rest stays readable, and the
    masked letter still counts as set aside on the next run."""
    dead = tmp_path / "letters.jsonl"
    config = {"template": "s4hana", "direction": "to_erp", "dead_letter_path": str(dead)}
    canaries = {
        "supplier_bank_account": "CANARY-PII-BANK-7f3c633a",
        "supplier_tax_id": "CANARY-PII-TIN-91ae6f7b",
        "api_token": "CANARY-SECRET-TOKEN-0797300c",
    }
    order = {
        "po_number": "PO9",
        "status": "shipped",  # unmapped in the S/4 template: refused
        "currency": "USD",
        "total_amount": Decimal("10.50"),
        "supplier_bank_account": canaries["supplier_bank_account"],
        "buyer": {"name": "Ada", "contact": {"SupplierTaxID": canaries["supplier_tax_id"]}},
        "lines": [{"line": 1, "api_token": canaries["api_token"]}],
    }
    first = run_mapper(config, singer("purchase_orders", [order], ["id"]), tmp_path)
    assert first.returncode == 1, first.stderr[-800:]
    text = dead.read_text()
    for name, canary in canaries.items():
        assert canary not in text, f"{name} reached the dead-letter file in clear"
        assert canary[7:] not in text
    (letter,) = [json.loads(line) for line in text.splitlines()]
    kept = letter["record"]
    assert kept["po_number"] == "PO9"  # what names and explains the letter stays readable
    assert kept["status"] == "shipped"
    assert kept["total_amount"] == "10.50"
    assert kept["buyer"]["name"] == "Ada"
    assert kept["supplier_bank_account"] == "[PII]"
    assert kept["buyer"]["contact"]["SupplierTaxID"] == "[PII]"
    assert kept["lines"] == [{"line": 1, "api_token": "***"}]
    again = run_mapper(config, singer("purchase_orders", [order], ["id"]), tmp_path)
    assert again.returncode == 0, again.stderr[-800:]
    assert "1 record(s) refused again" in again.stderr
    assert len(dead.read_text().splitlines()) == 1


@pytest.mark.parametrize(
    "name",
    [
        "national_id",
        "home_address",
        "personal_email",
        "personal_phone",
        "iban",
        "requesterIBAN",
        "nationalId",
        "HomeAddress1",
        "IBAN2",
    ],
)
def test_a_refused_orders_vocabulary_personal_field_is_masked_in_the_dead_letter(tmp_path: Path, name: str) -> None:
    """review24e finding 3: a field named after one of the vocabulary's personal-data fields (or an IBAN), at any
    depth, reached the letter file in clear; it is masked as the engine's PII patterns are."""
    dead = tmp_path / "letters.jsonl"
    config = {"template": "s4hana", "direction": "to_erp", "dead_letter_path": str(dead)}
    canary = f"CANARY-{name}-5d0e11c2"
    order = {"po_number": "PO9", "status": "shipped", "currency": "USD", "requester": {"name": "Jo", name: canary}}
    refused = run_mapper(config, singer("purchase_orders", [order], ["id"]), tmp_path)
    assert refused.returncode == 1, refused.stderr[-800:]
    text = dead.read_text()
    assert canary not in text, f"{name} reached the dead-letter file in clear"
    (letter,) = [json.loads(line) for line in text.splitlines()]
    assert letter["record"]["requester"] == {"name": "Jo", name: "[PII]"}


def test_a_refused_personal_value_is_named_by_field_and_template_never_quoted(tmp_path: Path) -> None:
    """loose24 "left": a ``MappingError`` quoted the failing value, and its text reaches the ERROR log and the
    letter's ``error``, where only registered secrets are masked. A custom template mapping PII-named fields (a
    birth date, a salary, a tax id, a currency of a bank account): each refusal names the template, the
    field, the key and the reason, and the value as its letter keeps it ([PII]); no canary in any file or log."""
    s4 = yaml.safe_load((resources.files("xlr8_mapper_common") / "templates" / "s4hana.yaml").read_text())
    s4["fields"] += [
        {"common": "requester_birth_date", "erp": "RequesterBirthDate", "type": "date"},
        {"common": "annual_salary", "erp": "Requester.Salary", "type": "decimal", "scale": 2},
        {"common": "supplier_tax_id", "erp": "SupplierTIN", "type": "enum", "values": {"A1": "1"}},
        {"common": "payee_bank_account_currency", "erp": "Payee.BankAccount.Currency", "type": "currency"},
    ]
    template = tmp_path / "with_pii.yaml"
    template.write_text(yaml.safe_dump(s4))
    canaries = {
        "requester_birth_date": "CANARY-DOB-0a1b2c3d",
        "annual_salary": "CANARY-SALARY-4e5f6a7b",
        "supplier_tax_id": "CANARY-TIN-8c9d0e1f",
        "payee_bank_account_currency": "CANARY-CUR-2a3b4c5d",
    }
    present = {f["common"]: None for f in s4["fields"]}  # a field absent from the record is refused first
    orders = [{**present, "po_number": f"PO-{field}", "status": "confirmed", "currency": "USD", field: canary}
              for field, canary in canaries.items()]  # fmt: skip
    dead = tmp_path / "letters.jsonl"
    config = {"template": str(template), "direction": "to_erp", "dead_letter_path": str(dead)}
    result = run_mapper(config, singer("purchase_orders", orders, ["po_number"]), tmp_path)
    assert result.returncode == 1, result.stderr[-800:]
    blobs = {str(p): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    blobs |= {"stdout": result.stdout.encode(), "stderr": result.stderr.encode()}
    assert scan([Canary(name, value) for name, value in canaries.items()], blobs) == []
    letters = {letter["key"]: letter for letter in map(json.loads, dead.read_text().splitlines())}
    reasons = {"requester_birth_date": "is not an ISO 8601 date", "annual_salary": "is not a decimal number",
               "supplier_tax_id": "has no mapping in template 's4hana'",
               "payee_bank_account_currency": "is not an ISO 4217"}  # fmt: skip
    for field, reason in reasons.items():
        letter = letters[f"po_number='PO-{field}'"]
        assert letter["stream"] == "purchase_orders"
        assert f"s4hana: field '{field}' of po_number='PO-{field}': " in letter["error"]
        assert "[PII]" in letter["error"]
        assert reason in letter["error"]
        assert f"{letter['error']}; purchase_orders po_number='PO-{field}' not sent on" in result.stderr
        assert letter["record"][field] == "[PII]"


def test_equal_and_deletion_rules_are_checked_when_loaded() -> None:
    base = {"name": "x", "common_stream": "purchase_orders", "erp_stream": "po", "common_key": ["po_number"],
            "erp_key": ["N"], "fields": [{"common": "po_number", "erp": "N"}]}  # fmt: skip
    with pytest.raises(MappingError, match="every equal rule needs 'erp' and 'other'"):
        parse_template({**base, "equal": [{"erp": "a"}]})
    with pytest.raises(MappingError, match="'deletion' needs 'erp', 'values' and a 'common' mapping"):
        parse_template({**base, "deletion": {"erp": "D", "values": ["L"]}})
    with pytest.raises(MappingError, match=r"deletion list 'a\[0\].b' must be a list of the record itself"):
        parse_template({**base, "deletion": {"erp": "D", "values": ["L"], "lists": ["a[0].b"], "common": {"s": "c"}}})


def test_lines_and_price_are_checked_when_loaded_and_split_needs_lines(tmp_path: Path) -> None:
    """A template's ``lines`` and ``price`` are checked when loaded, and ``multi_line: split`` on a template without
    ``lines`` (or an unknown choice) stops the mapper at start naming the setting, before any record goes on."""
    base = {"name": "x", "common_stream": "purchase_orders", "erp_stream": "po", "common_key": ["po_number"],
            "erp_key": ["N"], "fields": [{"common": "po_number", "erp": "N"}]}  # fmt: skip
    with pytest.raises(MappingError, match="'lines' needs 'list' and 'number'"):
        parse_template({**base, "lines": {"list": "items"}})
    with pytest.raises(MappingError, match=r"lines 'items\[0\]' must be a plain name"):
        parse_template({**base, "lines": {"list": "items[0]", "number": "No"}})
    with pytest.raises(MappingError, match="separator '1' must not be digits"):
        parse_template({**base, "lines": {"list": "items", "number": "No", "separator": "1"}})
    with pytest.raises(MappingError, match="a field must map the one to the other"):
        parse_template({**base, "erp_key": ["M"], "lines": {"list": "items", "number": "No"}})
    with pytest.raises(MappingError, match="'price' is true or false, on a decimal field"):
        parse_template({**base, "fields": [*base["fields"], {"common": "unit", "erp": "U", "price": True}]})
    orders = [{"type": "SCHEMA", "stream": "Goods", "schema": {"type": "object"}, "key_properties": ["ID"]},
              {"type": "RECORD", "stream": "Goods", "record": {"ID": "1"}}]  # fmt: skip
    for config, named in (
        ({"template": "workday_fins", "direction": "from_erp", "multi_line": "split"}, "'multi_line' is 'split'"),
        ({"template": "s4hana", "direction": "from_erp", "price_rounding": "up"}, "price_rounding"),
    ):
        run = run_mapper(config, orders, tmp_path)
        assert run.returncode != 0
        assert named in run.stderr
        assert run.stdout == ""


def test_split_numbers_each_line_and_to_erp_cuts_the_number_back() -> None:
    """``multi_line: split``: one Common PO per ERP line, po_number <order>-<line> (a deleted line's PO cancelled,
    a refused line named by its number); ``to_erp`` gives the order and the line number back, and refuses a
    po_number that is not so numbered. Without the choice the order of several lines is refused."""
    from xlr8_mapper_common.templates import MapOptions

    template = load_template("s4hana")
    split = MapOptions(split=True)

    def item(number: str, price: str, deleted: str = "") -> dict[str, Any]:
        return {"PurchaseOrderItem": number, "Material": f"M{number}", "PurchaseOrderItemText": "t",
                "PurchaseOrderQuantityUnit": "EA", "OrderPriceUnit": "EA", "NetPriceQuantity": "1",
                "OrderQuantity": "2", "NetPriceAmount": price, "PurchasingDocumentDeletionCode": deleted,
                "to_ScheduleLine": {"results": [{"ScheduleLineDeliveryDate": "2024-03-01"}]}}  # fmt: skip

    order = {"PurchaseOrder": "4501", "PurchaseOrderDate": "2024-02-01", "DocumentCurrency": "EUR",
             "PurchasingProcessingStatus": "05", "Supplier": "S1", "PurchasingDocumentDeletionCode": "",
             "to_PurchaseOrderItem": {"results": [item("00010", "4.10"), item("00020", "1.5", "L"),
                                                  item("00030", "1.255")]}}  # fmt: skip
    with pytest.raises(
        MappingError,
        match=r"has 2 items; .* multi_line: split lands one Common PO per line, numbered <order>-<line>; the "
        r"order's first line keeps the order's own number",
    ):
        template.map_record(order, "from_erp")
    pieces = template.pieces(order, "from_erp", split)
    assert [template.describe_key(p, "from_erp", split) for p in pieces] == [
        f"PurchaseOrder='4501', PurchaseOrderItem={n!r}" for n in ("00010", "00020", "00030")
    ]
    first, second = (template.map_record(p, "from_erp", split) for p in pieces[:2])
    assert (first["po_number"], first["product_id"], first["unit_price"], first["status"]) == (
        "4501", "M00010", Decimal("4.10"), "confirmed")  # fmt: skip  # the first item: the order's own number
    assert (second["po_number"], second["status"]) == ("4501-00020", "cancelled")  # a deleted item: cancelled
    with pytest.raises(MappingError, match=r"PurchaseOrderItem='00030'.*'1.255' has 3 decimal places"):
        template.map_record(pieces[2], "from_erp", split)
    rounded: list[str] = []
    third = template.map_record(pieces[2], "from_erp", MapOptions(split=True, round_prices=True), rounded)
    assert third["unit_price"] == Decimal("1.26")  # half up
    assert rounded == ["PurchaseOrder='4501', PurchaseOrderItem='00030' unit_price 1.255 -> 1.26"]
    back = template.map_record({**first, "po_number": "4501-00010"}, "to_erp", split)
    assert (back["PurchaseOrder"], back["to_PurchaseOrderItem"][0]["PurchaseOrderItem"]) == ("4501", "00010")
    assert template.target_schema("to_erp", split)["properties"]["to_PurchaseOrderItem"]["items"]["properties"][
        "PurchaseOrderItem"] == {"type": ["string", "null"]}  # fmt: skip
    whole = template.map_record({**first, "po_number": "4501"}, "to_erp", split)  # an order of one line
    assert (whole["PurchaseOrder"], whole["to_PurchaseOrderItem"][0].get("PurchaseOrderItem")) == ("4501", None)
    with pytest.raises(MappingError, match=r"po_number '4501-10' is not <order>-<line number>"):
        template.map_record({**first, "po_number": "4501-10"}, "to_erp", split)


def test_split_keeps_the_orders_own_number_for_its_first_line_and_numbers_the_others() -> None:
    """review27e H2 and M3, review28f H1 at the template: with ``multi_line: split`` an order of one line maps whole
    under its own number (as ``refuse`` lands it); an order of several lines maps its first line (the lowest
    number, wherever the ERP lists it) under the order's own number and the others as <order>/<line>, nothing
    else (no cancellation of the order's number). ``po_number_prefix`` goes before every number from the ERP;
    ``to_erp`` cuts it off and refuses a number without it, naming it."""
    from xlr8_mapper_common.templates import MapOptions

    template = load_template("oracle_erp")
    options = MapOptions(split=True, po_number_prefix="ORA-")

    def line(number: int) -> dict[str, Any]:
        return {"LineNumber": number, "Item": f"I{number}", "Description": "d", "UOMCode": "EA", "Quantity": 2,
                "Price": "1.25", "Amount": "2.50", "schedules": [{"RequestedDeliveryDate": "2024-03-01"}]}  # fmt: skip

    order = {"OrderNumber": "US-1001", "SupplierNumber": "S1", "CreationDate": "2024-02-01T10:00:00Z",
             "CurrencyCode": "USD", "StatusCode": "OPEN", "lines": [line(1)]}  # fmt: skip
    [one] = template.pieces(order, "from_erp", options)
    mapped = template.map_record(one, "from_erp", options)
    assert (mapped["po_number"], mapped["product_id"], mapped["status"]) == ("ORA-US-1001", "I1", "confirmed")
    grown = {**order, "lines": [line(2), line(1), line(3)]}
    landed = [template.map_record(p, "from_erp", options) for p in template.pieces(grown, "from_erp", options)]
    assert [(m["po_number"], m["product_id"]) for m in landed] == [  # the order's own number first (review29a H2)
        ("ORA-US-1001", "I1"), ("ORA-US-1001/2", "I2"), ("ORA-US-1001/3", "I3")]  # fmt: skip
    back = template.map_record(mapped, "to_erp", options)
    assert back["OrderNumber"] == "US-1001"
    line_two = template.map_record({**mapped, "po_number": "ORA-US-1001/2"}, "to_erp", options)
    assert (line_two["OrderNumber"], line_two["lines"][0]["LineNumber"]) == ("US-1001", 2)  # a number (L5)
    schema = template.target_schema("to_erp", options)["properties"]["lines"]["items"]["properties"]["LineNumber"]
    assert schema == {"type": ["integer", "null"]}  # Fusion's LineNumber is a number (review27e L5)
    for foreign in ("PO00000033", "S4-PO00000033", "ORA-"):  # Common's own, S/4's, the prefix alone
        with pytest.raises(MappingError, match=rf"po_number '{foreign}' does not start with po_number_prefix 'ORA-'"):
            template.map_record({**mapped, "po_number": foreign}, "to_erp", options)


def test_a_fusion_line_cancelled_in_an_open_order_is_no_line_of_it_and_its_split_po_is_cancelled() -> None:
    """review28h M4 at the template: a line whose ``CancelFlag`` is true (a JSON boolean) is not a line of the open
    order: by default an order of one live line and a cancelled one maps whole with the live line, confirmed (before:
    refused as two lines); split maps the cancelled line's PO ``cancelled`` with its own values; a false flag or none
    at all is a live line. Before, the template read no cancellation: the cancelled line mapped confirmed."""
    from xlr8_mapper_common.templates import REFUSE, MapOptions

    template = load_template("oracle_erp")

    def line(number: int, **flag: Any) -> dict[str, Any]:
        return {"LineNumber": number, "Item": f"I{number}", "Description": "d", "UOMCode": "EA", "Quantity": 2,
                "Price": "1.25", "Amount": "2.50", "schedules": [{"RequestedDeliveryDate": "2024-03-01"}],
                **flag}  # fmt: skip

    order = {"OrderNumber": "US-1001", "SupplierNumber": "S1", "CreationDate": "2024-02-01T10:00:00Z",
             "CurrencyCode": "USD", "StatusCode": "OPEN",
             "lines": [line(1, CancelFlag=False), line(2, CancelFlag=True, CancelReason="late")]}  # fmt: skip
    [whole] = template.pieces(order, "from_erp", REFUSE)
    mapped = template.map_record(whole, "from_erp", REFUSE)
    assert (mapped["po_number"], mapped["product_id"], mapped["status"]) == ("US-1001", "I1", "confirmed")
    split = MapOptions(split=True)
    landed = [template.map_record(p, "from_erp", split) for p in template.pieces(order, "from_erp", split)]
    assert [(m["po_number"], m["product_id"], m["status"]) for m in landed] == [
        ("US-1001", "I1", "confirmed"), ("US-1001/2", "I2", "cancelled")]  # fmt: skip
    unflagged = {**order, "lines": [line(1), line(2, CancelFlag=None)]}  # no flag, or a null one: a live line
    landed = [template.map_record(p, "from_erp", split) for p in template.pieces(unflagged, "from_erp", split)]
    assert [m["status"] for m in landed] == ["confirmed", "confirmed"]


@pytest.mark.parametrize(
    ("name", "po_number"),
    [
        ("oracle_erp", "ORA-1001"),  # an Oracle order of that number, landed whole: not order ORA, line 1001
        ("oracle_erp", "US-1001/0"),  # not a Fusion line number
        ("oracle_erp", "A/B/2"),  # two separators: which order?
        ("s4hana", "PO-2026-17"),  # a Common-native number: not order PO-2026, item 17 (S/4 items are NUMC 5)
        ("s4hana", "4500000001-10"),
        ("s4hana", "45-01-00010"),  # an order number holding the separator never comes from split
    ],
)
def test_to_erp_reverses_only_numbers_split_built_and_names_the_others(name: str, po_number: str) -> None:
    """review27e M4: ``to_erp`` cut any po_number at its last ``-digits`` (``ORA-1001`` -> order ``ORA``, line 1001,
    silently). Now a split number is <order><separator><line number of the ERP's shape>, with no separator in the
    order (one holding it is refused when split), so every other number is refused by name."""
    template = load_template(name)
    assert template.lines is not None
    with pytest.raises(MappingError, match=rf"po_number '{re.escape(po_number)}' is not <order>"):
        template.lines.parts(po_number, "here")
    good = {"oracle_erp": ("US-1001/2", ("US-1001", "2")), "s4hana": ("4500000001-00010", ("4500000001", "00010"))}
    assert template.lines.parts(good[name][0], "here") == good[name][1]
    assert template.lines.numbered(*good[name][1], "here") == good[name][0]
    with pytest.raises(MappingError, match=r"holds '[-/]', which multi_line: split puts between order and line"):
        template.lines.numbered(f"A{template.lines.separator}B", good[name][1][1], "here")


def test_an_unknown_template_is_named_on_the_command_line(tmp_path: Path) -> None:
    """The template is loaded at the first message: its refusal, a ``ConfigValidationError``, reached the SDK's CLI
    with no ``errors``, which logs only those and "Config validation failed" (tgtorch27): the setting was not named."""
    schema = {"type": "SCHEMA", "stream": "A_PurchaseOrder", "schema": {"type": "object", "properties": {}},
              "key_properties": []}  # fmt: skip
    result = run_mapper({"direction": "from_erp", "template": "nope"}, [schema], tmp_path)
    assert result.returncode == 1
    assert "setting 'template': unknown template 'nope'" in result.stderr, result.stderr


def test_a_long_run_keeps_only_the_rounded_prices_it_shows(caplog: pytest.LogCaptureFixture) -> None:
    """review27e L4: the mapper kept one string per rounded price until the end of the pipe, though the WARNING shows
    the first 20; a large Oracle backfill (most Fusion prices have 4 places) held them all. Now it keeps those 20
    and the count: the WARNING still says how many."""
    from xlr8_mapper_common.mapper import CommonMapper

    mapper = CommonMapper(config={"template": "oracle_erp", "direction": "from_erp", "price_rounding": "half_up"})

    def order(n: int) -> dict[str, Any]:
        line = {"LineNumber": 1, "Item": "I", "Description": "d", "UOMCode": "EA", "Quantity": 1, "Price": "1.2345",
                "Amount": "1.23", "schedules": [{"RequestedDeliveryDate": "2024-03-01"}]}  # fmt: skip
        return {"OrderNumber": f"O{n}", "SupplierNumber": "S1", "CreationDate": "2024-02-01T10:00:00Z",
                "CurrencyCode": "USD", "StatusCode": "OPEN", "lines": [line]}  # fmt: skip

    for n in range(50):
        assert len(list(mapper.map_record_message({"stream": "purchaseOrders", "record": order(n)}))) == 1
    assert len(mapper.rounded) == 20
    with caplog.at_level("WARNING"):
        mapper.process_endofpipe()
    assert "price_rounding half_up rounded 50 price(s)" in caplog.text
    assert "OrderNumber='O19'" in caplog.text  # the first 20 named
    assert "OrderNumber='O20'" not in caplog.text


def test_a_po_number_prefix_with_a_blank_stops_the_mapper_naming_the_setting(tmp_path: Path) -> None:
    """A prefix is part of every po_number this mapping lands; one with a blank (a stray space from a config file)
    would make numbers no user types back: refused at start, naming the setting, nothing sent on."""
    schema = {"type": "SCHEMA", "stream": "A_PurchaseOrder", "schema": {"type": "object", "properties": {}},
              "key_properties": []}  # fmt: skip
    config = {"template": "s4hana", "direction": "from_erp", "po_number_prefix": "S4 "}
    result = run_mapper(config, [schema], tmp_path)
    assert result.returncode == 1
    assert "setting 'po_number_prefix' is 'S4 ': a text without blanks" in result.stderr, result.stderr
    assert result.stdout == ""


def test_to_erp_with_a_prefix_skips_other_sources_pos_with_a_count_and_exits_0(tmp_path: Path) -> None:
    """review28f L2: ``common-to-s4hana`` (``po_number_prefix: S4-``) reads every Common PO from tap-common; one
    without the prefix is not wrong, just not S/4's (Common's own, or another ERP's ``ORA-``): it is skipped and
    counted at INFO, not refused, so the run exits 0 and its STATE goes on; a PO S/4's mapping landed goes to S/4
    without the prefix. Before, each such PO was refused: exit 1, and without ``dead_letter_path`` no STATE."""
    covered = {"draft", "pending", "confirmed", "amendment_pending", "cancelled"}
    own, other, ours = [o for o in common_purchase_orders() if o["status"] in covered][:3]
    ours = {**ours, "po_number": f"S4-{ours['po_number']}"}
    other = {**other, "po_number": f"ORA-{other['po_number']}"}
    config = {"template": "s4hana", "direction": "to_erp", "po_number_prefix": "S4-"}
    result = run_mapper(config, singer("purchase_orders", [own, other, ours], ["id"]), tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    messages = parse_singer_messages(result.stdout, exact_decimals=True)
    sent = [m["record"]["PurchaseOrder"] for m in messages if m["type"] == "RECORD"]
    assert sent == [ours["po_number"].removeprefix("S4-")]
    assert any(m["type"] == "STATE" for m in messages)
    assert "2 purchase order(s) without po_number_prefix 'S4-' skipped" in result.stderr
    assert f"({own['po_number']}; {other['po_number']})" in result.stderr
    assert "none carried the prefix" not in result.stderr  # one PO was S/4's: a mix of sources, said at INFO


def test_to_erp_that_skips_every_po_says_so_at_warning_with_the_upgrade_hint(tmp_path: Path) -> None:
    """review28h M3: after an upgrade that set ``po_number_prefix: ""`` on ``s4hana-to-common`` only,
    ``common-to-s4hana`` (still ``S4-``) meets bare numbers alone and skips them all: that is said at WARNING, with
    the fix (the same prefix on the to_erp mapping). Before, one INFO line, exactly as for a mix of sources."""
    covered = {"draft", "pending", "confirmed", "amendment_pending", "cancelled"}
    bare = [o for o in common_purchase_orders() if o["status"] in covered][:2]
    config = {"template": "s4hana", "direction": "to_erp", "po_number_prefix": "S4-"}
    result = run_mapper(config, singer("purchase_orders", bare, ["id"]), tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    [line] = [line for line in result.stderr.splitlines() if "without po_number_prefix 'S4-' skipped" in line]
    assert "WARNING" in line, line
    assert "none carried the prefix" in line
    assert "give this to_erp mapping the same" in line
    assert "re-read from before the upgrade" in line  # review29a L3: the STATE has passed the skipped changes


@pytest.mark.parametrize(("numbers", "reason"), [
    (["00020", "0001X"], "not all its to_PurchaseOrderItem have a well-formed PurchaseOrderItem"),
    (["00010", "00010"], "a PurchaseOrderItem appears twice in its to_PurchaseOrderItem"),  # a page served twice
])  # fmt: skip
def test_split_refuses_every_line_of_an_order_whose_first_line_is_not_known(numbers: list[str], reason: str) -> None:
    """review28h L1: with a malformed or repeated line number no line is the order's first; before, only the bad
    line was refused and the others landed numbered (``4501-00020``, one of the repeated ``4501-00010``), so the
    true first line landed a second time as ``4501`` once the order was well-formed. Now every line is refused."""
    from xlr8_mapper_common.templates import MapOptions

    template = load_template("s4hana")
    options = MapOptions(split=True)
    dates = {"results": [{"ScheduleLineDeliveryDate": "2024-03-01"}]}
    items = [{"PurchaseOrderItem": n, "Material": f"M{n}", "PurchaseOrderItemText": "t", "PurchaseOrderQuantityUnit":
              "EA", "OrderPriceUnit": "EA", "OrderQuantity": "2", "NetPriceAmount": "1.25", "NetPriceQuantity": "1",
              "to_ScheduleLine": dates} for n in numbers]  # fmt: skip
    order = {"PurchaseOrder": "4501", "Supplier": "S1", "PurchaseOrderDate": "2024-02-01", "DocumentCurrency": "EUR",
             "PurchasingProcessingStatus": "03", "to_PurchaseOrderItem": {"results": items}}  # fmt: skip
    pieces = template.pieces(order, "from_erp", options)
    assert len(pieces) == 2
    for piece in pieces:
        with pytest.raises(MappingError, match=r"PurchaseOrderItem") as refused:
            template.map_record(piece, "from_erp", options)
        well_formed = piece["to_PurchaseOrderItem"][0]["PurchaseOrderItem"] != "0001X"
        assert (reason in str(refused.value)) == well_formed, str(refused.value)
