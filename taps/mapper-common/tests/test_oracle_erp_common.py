"""Oracle ERP purchase orders into Common through mapper-common's and target-common's CLIs, both emulators over
HTTP: the orders as Fusion's ``purchaseOrders`` serves them with ``expand=lines.schedules`` (child ``lines``,
grandchild ``schedules``) land in Common with Oracle's item number, description, unit code, quantity, price and
the schedule's requested delivery date (review25b F5, Oracle half: the template read the delivery date from the
line, where Fusion has none, and the emulator served the SOAP service's line names)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from xlr8_sandbox.platform.server import Sandbox, run_sandbox
from xlr8_sandbox.products.common import EMAIL, PASSWORD, CommonEmulator
from xlr8_sandbox.products.oracle_fusion.erp import PASSWORD as ERP_PASSWORD
from xlr8_sandbox.products.oracle_fusion.erp import USERNAME as ERP_USER
from xlr8_sandbox.testing import fusion_lines_as_common, landed_as

BIN = Path(sys.executable).parent
ORDERS = "/fscmRestApi/resources/11.13.18.05/purchaseOrders"


@pytest.fixture(scope="module")
def both() -> Iterator[Sandbox]:
    with run_sandbox(["oracle_erp", "common"], scale=1000) as running:
        yield running


def fusion_orders(both: Sandbox) -> list[dict[str, Any]]:
    """Every purchase order with its lines and their schedules, paged as a client reads them."""
    orders: list[dict[str, Any]] = []
    while True:
        page = requests.get(
            both.url("oracle_erp") + ORDERS,
            params={"expand": "lines.schedules", "onlyData": "true", "limit": "100", "offset": str(len(orders))},
            auth=(ERP_USER, ERP_PASSWORD),
            timeout=30,
        )
        page.raise_for_status()
        body = page.json()
        orders.extend(body["items"])
        if not body["hasMore"]:
            return orders


#: mapper-common's settings for Oracle ERP orders into Common (each test adds its own).
FROM_ORACLE = {"template": "oracle_erp", "direction": "from_erp", "drop_other_streams": True}


def singer_orders(orders: list[dict[str, Any]]) -> str:
    """``orders`` as the Singer lines a tap writes for ``purchaseOrders`` (schema, records, a final STATE)."""
    messages = [
        {"type": "SCHEMA", "stream": "purchaseOrders", "schema": {"type": "object", "properties": {}},
         "key_properties": ["POHeaderId"]},
        *({"type": "RECORD", "stream": "purchaseOrders", "record": o} for o in orders),
        {"type": "STATE", "value": {"bookmarks": {"purchaseOrders": {"done": True}}}},
    ]  # fmt: skip
    return "\n".join(json.dumps(m) for m in messages) + "\n"


def common_target(both: Sandbox, tmp_path: Path) -> dict[str, Any]:
    """target-common's settings for the Common emulator, its dead letters in ``tc-dead.jsonl``."""
    return {"api_base_url": both.url("common"), "email": EMAIL, "password": PASSWORD,
            "dead_letter_path": str(tmp_path / "tc-dead.jsonl")}  # fmt: skip


def piped(tmp_path: Path, text: str, *steps: tuple[str, dict[str, Any]]) -> list[subprocess.CompletedProcess[str]]:
    """``text`` through each (console script, config) in turn, each fed the one before's stdout, as a shell pipe
    runs them; every run, its exit code left to the caller."""
    runs = []
    for exe, config in steps:
        path = tmp_path / f"{exe}.json"
        path.write_text(json.dumps(config))
        run = subprocess.run(
            [str(BIN / exe), "--config", str(path)], input=text, capture_output=True, text=True, check=False
        )
        runs.append(run)
        text = run.stdout
    return runs


def test_one_line_orders_land_with_oracles_line_and_schedule_values(both: Sandbox, tmp_path: Path) -> None:
    orders = fusion_orders(both)
    # Open orders of one line with one schedule (a Common PO carries one line), numbered apart from the POs
    # Common already holds. Fusion's prices carry up to 4 decimals, Common's 2: those orders are refused by key.
    chosen = [
        {**o, "OrderNumber": f"ORA-{o['OrderNumber']}"}
        for o in orders
        if len(o["lines"]) == 1 and len(o["lines"][0]["schedules"]) == 1 and o["StatusCode"] == "OPEN"
    ]  # fmt: skip
    cents = [o for o in chosen if Decimal(str(o["lines"][0]["Price"])).as_tuple().exponent >= -2]  # type: ignore[operator]
    assert len(cents) >= 2, len(cents)
    assert len(chosen) > len(cents), len(chosen)
    mapped, written = piped(
        tmp_path,
        singer_orders(chosen),
        ("mapper-common", {**FROM_ORACLE, "dead_letter_path": str(tmp_path / "map-dead.jsonl")}),
        ("target-common", common_target(both, tmp_path)),
    )
    # the orders the mapper refused are lettered and named; the others go on
    assert mapped.returncode == 1, mapped.stderr[-3000:]
    assert "dead_letter_path" in mapped.stderr, mapped.stderr[-3000:]
    assert written.returncode == 0, written.stderr[-3000:]
    assert json.loads(written.stdout.splitlines()[-1]) == {"bookmarks": {"purchaseOrders": {"done": True}}}
    assert not (tmp_path / "tc-dead.jsonl").exists()
    common_emulator = both.emulator("common")
    assert isinstance(common_emulator, CommonEmulator)
    landed = {p["po_number"]: p for p in common_emulator.data.purchase_orders()}
    suppliers = {c["id"]: c.get("erp_supplier_id") for c in common_emulator.data.companies()}
    letters = [json.loads(x) for x in (tmp_path / "map-dead.jsonl").read_text().splitlines()]
    refused = {o["OrderNumber"] for o in chosen} - {o["OrderNumber"] for o in cents}
    assert {d["key"] for d in letters} == {f"OrderNumber={n!r}" for n in refused}
    for letter in letters:  # the order (key), the field and the value's places; and the setting that would round
        price = Decimal(
            str(next(o for o in chosen if f"OrderNumber={o['OrderNumber']!r}" == letter["key"])["lines"][0]["Price"])
        )
        places = -price.normalize().as_tuple().exponent  # type: ignore[operator]
        assert (
            f"'lines[0].Price' of {letter['key']}: '{price}' has {places} decimal places, more than 2; refusing "
            "to round" in letter["error"]
        )
        assert "price_rounding: half_up" in letter["error"]
    assert not refused & set(landed)
    for order in cents:
        line = order["lines"][0]
        po = landed[order["OrderNumber"]]
        assert (po["product_id"], po["product_name"], po["unit"]) == (line["Item"], line["Description"],
                                                                      line["UOMCode"])  # fmt: skip
        assert Decimal(po["quantity"]) == Decimal(str(line["Quantity"]))
        assert Decimal(po["unit_price"]) == Decimal(str(line["Price"]))
        assert po["delivery_date"] == line["schedules"][0]["RequestedDeliveryDate"]
        assert po["order_date"] == order["CreationDate"][:10]
        assert po["currency"] == order["CurrencyCode"]
        assert suppliers[po["seller_company_id"]] == order["SupplierNumber"]


def test_the_tap_embeds_each_lines_schedules_and_the_mapper_reads_the_date_from_them(
    both: Sandbox, tmp_path: Path
) -> None:
    """``tap-oracle-erp`` (``child_mode: embed``) reads each order's lines with their schedules, as Fusion serves
    them; through ``mapper-common`` an order of one line gets its schedule's requested delivery date. Before, the
    tap embedded the lines only, and the template read a delivery date from the line."""
    served = {o["OrderNumber"]: o for o in fusion_orders(both)}
    tap = {"base_url": both.url("oracle_erp"), "username": ERP_USER, "password": ERP_PASSWORD,
           "resources": ["purchaseOrders"], "child_mode": "embed"}  # fmt: skip
    mapping = {**FROM_ORACLE, "dead_letter_path": str(tmp_path / "map-dead.jsonl")}
    (tmp_path / "tap.json").write_text(json.dumps(tap))
    (tmp_path / "map.json").write_text(json.dumps(mapping))
    read = subprocess.run([str(BIN / "tap-oracle-erp"), "--config", str(tmp_path / "tap.json")],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert read.returncode == 0, read.stderr[-3000:]
    messages = [json.loads(x) for x in read.stdout.splitlines() if x.startswith("{")]
    orders = [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "purchaseOrders"]
    assert len(orders) == len(served)
    for order in orders:
        want = served[order["OrderNumber"]]["lines"]
        got = [
            [(s["LineLocationId"], s["RequestedDeliveryDate"]) for s in line["schedules"]] for line in order["lines"]
        ]
        assert got == [[(s["LineLocationId"], s["RequestedDeliveryDate"]) for s in line["schedules"]] for line in want]
    mapped = subprocess.run([str(BIN / "mapper-common"), "--config", str(tmp_path / "map.json")], input=read.stdout,
                            capture_output=True, text=True, check=False)  # fmt: skip
    out = {
        r["record"]["po_number"]: r["record"]
        for r in map(json.loads, mapped.stdout.splitlines())
        if r.get("type") == "RECORD"
    }
    cents = [
        o for o in orders
        if len(o["lines"]) == 1 and Decimal(str(o["lines"][0]["Price"])).as_tuple().exponent >= -2  # type: ignore[operator]
    ]  # fmt: skip
    assert cents
    for order in cents:
        assert out[order["OrderNumber"]]["delivery_date"] == order["lines"][0]["schedules"][0]["RequestedDeliveryDate"]
        assert out[order["OrderNumber"]]["product_id"] == order["lines"][0]["Item"]


def test_split_with_half_up_rounding_lands_every_line_and_says_how_many_prices_it_rounded(
    both: Sandbox, tmp_path: Path
) -> None:
    """The two explicit choices (``multi_line: split``, ``price_rounding: half_up``): every line of every order
    lands as its own Common PO (<OrderNumber>/<LineNumber>, the first line <OrderNumber>) with its price rounded
    half up to cents, its own amount and its schedule's date, and the mapper logs how many prices it rounded. The
    defaults refuse both (above); before, there was no choice at all."""
    common = both.emulator("common")
    assert isinstance(common, CommonEmulator)
    common.reset()
    orders = [{**o, "OrderNumber": f"ORA-{o['OrderNumber']}"} for o in fusion_orders(both)]
    expected = fusion_lines_as_common(orders)
    prices = [Decimal(str(line["Price"])).normalize() for o in orders for line in o["lines"]]
    rounded = [price for price in prices if price.as_tuple().exponent < -2]  # type: ignore[operator]
    assert len(expected) > len(orders)
    assert rounded
    mapped, written = piped(
        tmp_path,
        singer_orders(orders),
        ("mapper-common", {**FROM_ORACLE, "multi_line": "split", "price_rounding": "half_up"}),
        ("target-common", common_target(both, tmp_path)),
    )
    for run in (mapped, written):
        assert run.returncode == 0, run.stderr[-3000:]
    assert f"price_rounding half_up rounded {len(rounded)} price(s)" in mapped.stderr
    assert not (tmp_path / "tc-dead.jsonl").exists()
    landed = {p["po_number"]: p for p in common.data.purchase_orders()}
    assert {number: landed_as(landed[number], want) for number, want in expected.items()} == expected


def test_a_line_cancelled_on_an_open_order_cancels_its_po_while_common_can_and_letters_it_past_delivery(
    both: Sandbox, tmp_path: Path
) -> None:
    """review28h M4 / review27e M1 through ``tap-oracle-erp``, ``mapper-common`` (split, half_up, ``ORA-``) and
    ``target-common``: Fusion cancels a line of an approved order with a change order (the line's ``CancelFlag``
    true, ``CancelReason``) while the order stays OPEN. That line's Common PO is cancelled: created cancelled when
    Common never had it, cancelled when Common holds it confirmed, and lettered by its number (never cancelled,
    never dropped) when Common shows it delivered; the order's other lines stay as they are. Before, the template
    read no line cancellation, so the line landed (and stayed) confirmed with its money."""
    tap = {"base_url": both.url("oracle_erp"), "username": ERP_USER, "password": ERP_PASSWORD,
           "resources": ["purchaseOrders"], "child_mode": "embed"}  # fmt: skip
    (tmp_path / "tap.json").write_text(json.dumps(tap))
    read = subprocess.run([str(BIN / "tap-oracle-erp"), "--config", str(tmp_path / "tap.json")],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert read.returncode == 0, read.stderr[-3000:]
    messages = [json.loads(x) for x in read.stdout.splitlines() if x.startswith("{")]
    records = [m for m in messages if m["type"] == "RECORD" and m["stream"] == "purchaseOrders"]
    with_cancelled = [
        m["record"] for m in records
        if m["record"]["StatusCode"] == "OPEN" and any(x["CancelFlag"] is True for x in m["record"]["lines"])
    ]  # fmt: skip
    assert len(with_cancelled) >= 3, len(with_cancelled)
    chosen = with_cancelled[:3]
    numbers = {o["OrderNumber"] for o in chosen}
    cancelled = []  # Common's number of each chosen order's cancelled line, in the orders' order
    for order in chosen:
        (line,) = [x for x in order["lines"] if x["CancelFlag"] is True]
        assert line["CancelReason"]
        assert len(order["lines"]) > 1
        assert line["LineNumber"] != min(x["LineNumber"] for x in order["lines"])  # numbered, not the order's own
        cancelled.append(f"ORA-{order['OrderNumber']}/{line['LineNumber']}")
    schema = next(m for m in messages if m["type"] == "SCHEMA" and m["stream"] == "purchaseOrders")
    assert schema["schema"]["properties"]["lines"]["items"]["properties"]["CancelFlag"]["type"][0] == "boolean"

    def text(orders: list[dict[str, Any]]) -> str:
        kept = [schema, *({"type": "RECORD", "stream": "purchaseOrders", "record": o} for o in orders),
                {"type": "STATE", "value": {"bookmarks": {"purchaseOrders": {"done": True}}}}]  # fmt: skip
        return "\n".join(json.dumps(m) for m in kept) + "\n"

    split = {**FROM_ORACLE, "multi_line": "split", "price_rounding": "half_up", "po_number_prefix": "ORA-"}
    common = both.emulator("common")
    assert isinstance(common, CommonEmulator)
    common.reset()
    # Common as it was before the buyer cancelled: the first two orders landed with every line live
    uncancelled = [{**o, "lines": [{**x, "CancelFlag": False, "CancelReason": None} for x in o["lines"]]}
                   for o in chosen[:2]]  # fmt: skip
    target = ("target-common", common_target(both, tmp_path))
    seeded = piped(tmp_path, text(uncancelled), ("mapper-common", split), target)
    assert [r.returncode for r in seeded] == [0, 0], seeded[-1].stderr[-3000:]
    confirmed, delivered, fresh = cancelled
    landed = {p["po_number"]: p for p in common.data.purchase_orders()}
    assert landed[confirmed]["status"] == "confirmed"
    assert fresh not in landed
    shipped = common.data.find_po(landed[delivered]["id"])
    shipped["status"] = "delivered"  # the supplier delivered it in Common before the buyer cancelled the line
    common.data.save_po(shipped, created=False, update_type="po_updated", changes={})
    before = {n: dict(common.data.find_po(p["id"])) for n, p in landed.items()}

    mapped, written = piped(tmp_path, text(chosen), ("mapper-common", split), target)
    assert mapped.returncode == 0, mapped.stderr[-3000:]
    assert written.returncode == 0, written.stderr[-3000:]
    after = {p["po_number"]: p for p in common.data.purchase_orders()}
    assert after[confirmed]["status"] == "cancelled"
    assert after[fresh]["status"] == "cancelled"  # created cancelled, with its line's values
    fresh_order = chosen[2]
    (fresh_line,) = [x for x in fresh_order["lines"] if x["CancelFlag"] is True]
    assert (after[fresh]["product_id"], Decimal(after[fresh]["quantity"])) == (
        fresh_line["Item"], Decimal(str(fresh_line["Quantity"])))  # fmt: skip
    assert after[delivered] == before[delivered]  # past delivery: not cancelled from the ERP, lettered
    letters = [json.loads(x) for x in (tmp_path / "tc-dead.jsonl").read_text().splitlines()]
    assert [(d["po_number"], d["error_code"]) for d in letters] == [(delivered, "UNWRITABLE")]
    assert f"the ERP cancelled PO {delivered}, which Common shows as delivered" in letters[0]["detail"]
    live = {n for n in after if n.split("/")[0] in {f"ORA-{x}" for x in numbers}} - set(cancelled)
    assert live
    assert all(after[n]["status"] == "confirmed" for n in live)  # the orders' other lines stay live
    assert {n: after[n] for n in live if n in before} == {n: before[n] for n in live if n in before}


def _letters(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


#: refuse (the default) with ``ORA-`` numbers and a mapper dead-letter file, as an operator runs it
REFUSE_ORA = {**FROM_ORACLE, "po_number_prefix": "ORA-", "price_rounding": "half_up"}
SPLIT_ORA = {**REFUSE_ORA, "multi_line": "split"}


def _fresh_common(both: Sandbox, tmp_path: Path) -> tuple[CommonEmulator, dict[str, Any], tuple[str, dict[str, Any]]]:
    """Common reset, and the refuse mapper (letters in ``mc-dead.jsonl``) and target steps for ``piped``."""
    common = both.emulator("common")
    assert isinstance(common, CommonEmulator)
    common.reset()
    refuse = {**REFUSE_ORA, "dead_letter_path": str(tmp_path / "mc-dead.jsonl")}
    return common, refuse, ("target-common", common_target(both, tmp_path))


def test_an_order_refuse_landed_is_cancelled_when_the_buyer_cancels_every_line(both: Sandbox, tmp_path: Path) -> None:
    """review29f M1 (scratch f1): ``refuse`` lands an OPEN order whose lowest line is live and the other cancelled;
    when the buyer then cancels the whole order (every line's ``CancelFlag`` true, the order CANCELED) Common's PO
    is cancelled, with the values it was landed with. Before, the order was refused as "lines has 2 items" and
    Common's PO stayed confirmed: the supplier could ship an order the buyer cancelled."""
    order = next(o for o in fusion_orders(both) if o["StatusCode"] == "OPEN" and len(o["lines"]) == 2
                 and o["lines"][1]["CancelFlag"] is True)  # fmt: skip
    assert order["lines"][0]["LineNumber"] < order["lines"][1]["LineNumber"]
    common, refuse, target = _fresh_common(both, tmp_path)
    runs = piped(tmp_path, singer_orders([order]), ("mapper-common", refuse), target)
    assert [r.returncode for r in runs] == [0, 0], (runs[0].stderr[-3000:], runs[-1].stderr[-1500:])
    number = "ORA-" + order["OrderNumber"]
    landed = {p["po_number"]: p for p in common.data.purchase_orders() if p["po_number"].startswith(number)}
    assert set(landed) == {number}
    assert landed[number]["status"] == "confirmed"
    assert landed[number]["product_id"] == order["lines"][0]["Item"]
    gone = {**order, "StatusCode": "CANCELED", "Status": "Canceled",
            "lines": [{**x, "CancelFlag": True} for x in order["lines"]]}  # fmt: skip
    runs = piped(tmp_path, singer_orders([gone]), ("mapper-common", refuse), target)
    assert [r.returncode for r in runs] == [0, 0], (runs[0].stderr[-3000:], runs[-1].stderr[-1500:])
    after = {p["po_number"]: p for p in common.data.purchase_orders() if p["po_number"].startswith(number)}
    assert set(after) == {number}
    assert after[number]["status"] == "cancelled"
    assert {k: after[number][k] for k in ("product_id", "quantity", "unit_price")} == {
        k: landed[number][k] for k in ("product_id", "quantity", "unit_price")}  # fmt: skip
    assert _letters(tmp_path / "mc-dead.jsonl") == []
    assert _letters(tmp_path / "tc-dead.jsonl") == []


@pytest.mark.parametrize("equal", [False, True], ids=["other-quantity", "equal-values"])
def test_an_order_whose_lowest_line_is_cancelled_is_refused_by_name_and_split_lands_it_once(
    both: Sandbox, tmp_path: Path, equal: bool
) -> None:
    """review29f H1 (scratch f2, f3): line 1 cancelled (the same item as line 2: an item ordered on two lines,
    with another quantity, or with every value equal), line 2 live. ``refuse`` does not land it under the order's
    own number with line 2's values (``split`` later reads that number as line 1, cancels the PO, shipped or not,
    and creates line 2 again as ``<order>/2``): the mapper letters the order by name, saying ``split`` lands it;
    ``split`` then lands line 1 cancelled under the order's number and line 2 once, as ``<order>/2``. Before, refuse
    landed ``<order>`` with line 2's values and the switch cancelled it and ordered its goods a second time."""
    order = next(o for o in fusion_orders(both) if o["StatusCode"] == "OPEN" and len(o["lines"]) == 2)
    first, second = order["lines"]
    names: tuple[str, ...] = ("Item", "UOMCode", "UOM", "Description")
    if equal:
        names += ("Quantity", "Price", "Amount", "schedules")
    same = {k: second[k] for k in names}
    order = {**order, "lines": [{**first, **same, "CancelFlag": True, "CancelReason": "dup"},
                                {**second, "CancelFlag": False}]}  # fmt: skip
    common, refuse, target = _fresh_common(both, tmp_path)
    runs = piped(tmp_path, singer_orders([order]), ("mapper-common", refuse), target)
    assert [r.returncode for r in runs] == [1, 0], (runs[0].stderr[-3000:], runs[-1].stderr[-1500:])
    assert "1 record(s) the template 'oracle_erp' cannot carry" in runs[0].stderr
    number = "ORA-" + order["OrderNumber"]
    assert not [p for p in common.data.purchase_orders() if p["po_number"].startswith(number)]
    (letter,) = _letters(tmp_path / "mc-dead.jsonl")
    text = json.dumps(letter)
    assert order["OrderNumber"] in text
    assert f"its lowest line (LineNumber {first['LineNumber']}) is cancelled" in text
    assert f"multi_line: split lands the live line as <order>/{second['LineNumber']}" in text

    runs = piped(tmp_path, singer_orders([order]), ("mapper-common", SPLIT_ORA), target)
    assert [r.returncode for r in runs] == [0, 0], (runs[0].stderr[-3000:], runs[-1].stderr[-1500:])
    after = {p["po_number"]: p for p in common.data.purchase_orders() if p["po_number"].startswith(number)}
    assert set(after) == {number, f"{number}/{second['LineNumber']}"}
    assert after[number]["status"] == "cancelled"
    live = after[f"{number}/{second['LineNumber']}"]
    assert live["status"] == "confirmed"
    assert (live["product_id"], Decimal(live["quantity"])) == (second["Item"], Decimal(str(second["Quantity"])))
    assert _letters(tmp_path / "tc-dead.jsonl") == []


def test_a_cancel_flag_spelled_as_text_reads_as_the_boolean(both: Sandbox, tmp_path: Path) -> None:
    """review29f L4 through the mapper-common CLI: a source that writes the line's ``CancelFlag`` as text (an
    extract's Y/N, or "TRUE"/"true") cancels the line as the JSON boolean does, case-insensitively; "N"/"false" keep
    it live. Before, only ``true`` and the text "true" matched: a "Y" line read as live and the order was refused as
    two lines (or, with split, the cancelled line landed confirmed with its money)."""
    twos = [o for o in fusion_orders(both) if o["StatusCode"] == "OPEN" and len(o["lines"]) == 2]
    spellings = [("N", "Y"), ("false", "TRUE"), ("n", "y"), ("FALSE", "True")]
    assert len(twos) >= len(spellings)
    orders = [{**o, "lines": [{**o["lines"][0], "CancelFlag": live}, {**o["lines"][1], "CancelFlag": gone}]}
              for o, (live, gone) in zip(twos, spellings, strict=False)]  # fmt: skip
    (run,) = piped(tmp_path, singer_orders(orders), ("mapper-common", REFUSE_ORA))
    assert run.returncode == 0, run.stderr[-3000:]
    messages = [json.loads(x) for x in run.stdout.splitlines() if x.startswith("{")]
    out = [m["record"] for m in messages if m["type"] == "RECORD"]
    assert [(r["po_number"], r["product_id"], r["status"]) for r in out] == [
        ("ORA-" + o["OrderNumber"], o["lines"][0]["Item"], "confirmed") for o in orders
    ]
