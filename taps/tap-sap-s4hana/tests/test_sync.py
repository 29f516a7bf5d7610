"""Discovery and syncs through the tap against the S/4HANA emulator over real HTTP: what lands, exactly."""

from __future__ import annotations

import typing as t
from datetime import timedelta
from decimal import Decimal

import pytest

from xlr8_kit.odata import ODataPagingError
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.s4hana import S4HanaEmulator
from xlr8_sandbox.testing import S4_JOURNAL_GRAIN, s4_journal_balances
from xlr8_tap_sap_s4hana.discovery import DIMENSION_KEY_COLUMN, HEADER_CHANGE_COLUMN
from xlr8_tap_sap_s4hana.tap import TapSapS4Hana

from .conftest import V4_SERVICE, basic_config, run_tap


def test_discovery_covers_every_default_service(url: str) -> None:
    tap = TapSapS4Hana(config=basic_config(url), parse_env_config=False)
    catalog = {s.tap_stream_id: s for s in tap.catalog.streams}
    for name in ("A_BusinessPartner", "A_Supplier", "A_Customer", "A_PurchaseOrder", "A_PurchaseOrderItem",
                 "A_CostCenter", "A_JournalEntryItemBasic", "A_GLAccountInChartOfAccounts"):  # fmt: skip
        assert name in catalog
    assert catalog["A_PurchaseOrder"].replication_key == "LastChangeDateTime"
    assert catalog["A_BusinessPartner"].replication_key == "LastChangeDate"
    assert catalog["A_Supplier"].replication_key is None  # only a creation date: read in full
    assert catalog["A_Customer"].replication_key is None
    assert catalog["A_PurchaseOrderItem"].replication_key == HEADER_CHANGE_COLUMN
    assert catalog["A_CostCenter"].replication_key is None
    assert catalog["A_JournalEntryItemBasic"].key_properties == [DIMENSION_KEY_COLUMN]  # an analytical set
    assert catalog["A_JournalEntryItemBasic"].replication_key is None
    methods = {
        name: next(m for m in stream.metadata.root.to_dict().items() if m[0] == "forced-replication-method")[1]
        for name, stream in catalog.items()
        if "forced-replication-method" in stream.metadata.root.to_dict()
    }
    assert methods["A_PurchaseOrder"] == "INCREMENTAL"
    assert methods["A_CostCenter"] == "FULL_TABLE"
    schema = catalog["A_PurchaseOrder"].schema.to_dict()["properties"]
    assert "to_PurchaseOrderItem" not in schema  # navigation properties are not expanded
    assert "PurchaseOrderNetAmount" not in schema  # API_PURCHASEORDER_PROCESS_SRV's header has no net value
    assert "multipleOf" not in catalog["A_PurchaseOrderItem"].schema.to_dict()["properties"]["NetPriceAmount"]


def test_po_items_land_exact_with_their_order(url: str, sandbox: Sandbox) -> None:
    config = basic_config(url, entity_sets=["A_PurchaseOrder", "A_PurchaseOrderItem"], page_size=40)
    output = run_tap(config)
    orders = output.records("A_PurchaseOrder")
    items = output.records("A_PurchaseOrderItem")
    company = sandbox.ctx.company
    assert len(orders) == company.purchase_order_count
    assert len(items) == sum(company.purchase_order(i).line_count for i in range(company.purchase_order_count))
    first = company.purchase_order_items(0)
    landed = [i for i in items if i["PurchaseOrder"] == "PO00000001"]
    assert [(i["NetPriceAmount"], i["OrderQuantity"]) for i in landed] == [(x.net_price, x.quantity) for x in first]
    assert all(isinstance(i["OrderQuantity"], Decimal) for i in landed)
    assert all("NetAmount" not in i for i in landed)  # the real v2 item has no net value, only its price
    assert {i[HEADER_CHANGE_COLUMN] for i in landed} == {
        o["LastChangeDateTime"] for o in orders if o["PurchaseOrder"] == "PO00000001"
    }


def test_server_driven_paging_follows_next_links(url: str, emulator: S4HanaEmulator, sandbox: Sandbox) -> None:
    emulator.server_page_size = 7
    output = run_tap(basic_config(url, entity_sets=["A_Supplier"], page_size=0))
    suppliers = output.records("A_Supplier")
    assert [s["Supplier"] for s in suppliers] == [s.supplier_id for s in sandbox.ctx.company.suppliers()]
    asked = [q for p, q in emulator.queries if p.endswith("/A_Supplier")]
    assert len(asked) == -(-len(suppliers) // 7)
    assert "$top" not in asked[0]
    assert all("$skiptoken" in q for q in asked[1:])
    assert all("sap-client=100" in q for q in asked)


def test_client_paging_with_server_cap_inside_windows(url: str, emulator: S4HanaEmulator, sandbox: Sandbox) -> None:
    emulator.server_page_size = 3
    emulator.shuffle_ties = True  # ties in another order per window: only a complete $orderby lands each row once
    output = run_tap(basic_config(url, entity_sets=["A_JournalEntryItemBasic"], page_size=10))
    rows = output.records("A_JournalEntryItemBasic")
    expected = s4_journal_balances(sandbox.ctx.company)
    assert len({r[DIMENSION_KEY_COLUMN] for r in rows}) == len(rows) == len(expected)
    assert {tuple(r[k] for k in S4_JOURNAL_GRAIN): r["AmountInCompanyCodeCurrency"] for r in rows} == expected
    queries = [q for p, q in emulator.queries if p.endswith("/A_JournalEntryItemBasic")]
    assert any("$skip=10" in q for q in queries)
    assert any("$skiptoken" in q for q in queries)


def test_repeated_next_link_is_an_error_not_a_loop(url: str, emulator: S4HanaEmulator, sandbox: Sandbox) -> None:
    emulator.server_page_size = 5
    emulator.repeat_next_link = True
    with pytest.raises(ODataPagingError, match="same next link twice"):
        run_tap(basic_config(url, entity_sets=["A_Supplier"], page_size=0))
    assert (
        len([r for r in sandbox.requests("s4hana") if r.path.endswith("/A_Supplier")]) == 2
    )  # the second page repeats the first link


def test_ignored_skip_is_an_error_not_a_loop(url: str, emulator: S4HanaEmulator) -> None:
    emulator.ignore_skip = True
    with pytest.raises(ODataPagingError, match=r"\$skip"):
        run_tap(basic_config(url, entity_sets=["A_Supplier"], page_size=4))


def test_changed_po_is_read_again_once_with_its_items(url: str, sandbox: Sandbox, emulator: S4HanaEmulator) -> None:
    config = basic_config(url, entity_sets=["A_PurchaseOrder", "A_PurchaseOrderItem"])
    first = run_tap(config)
    state = first.state
    company = sandbox.ctx.company
    before = {i: company.purchase_order_changed(i) for i in range(company.purchase_order_count)}
    sandbox.ctx.clock.advance(timedelta(days=2))
    changed = [i for i in range(company.purchase_order_count) if company.purchase_order_changed(i) != before[i]]
    assert changed, "two sandbox days touch some purchase orders"
    second = run_tap(config, state=state)
    orders = [o["PurchaseOrder"] for o in second.records("A_PurchaseOrder")]
    bookmark = state["bookmarks"]["A_PurchaseOrder"]["replication_key_value"]
    at_bookmark = {f"PO{i + 1:08d}" for i, t in before.items() if t.isoformat().replace("+00:00", "Z") == bookmark}
    expected = {f"PO{i + 1:08d}" for i in changed} | at_bookmark
    assert sorted(orders) == sorted(expected)  # each once; unchanged orders are not read again
    items = second.records("A_PurchaseOrderItem")
    assert {i["PurchaseOrder"] for i in items} == expected
    assert len(items) == sum(company.purchase_order(int(po[2:]) - 1).line_count for po in expected)
    assert len({(i["PurchaseOrder"], i["PurchaseOrderItem"]) for i in items}) == len(items)


def test_v4_service_decimals_dates_and_count(url: str, sandbox: Sandbox, emulator: S4HanaEmulator) -> None:
    emulator.server_page_size = 8
    output = run_tap(basic_config(url, services=[V4_SERVICE], page_size=20))
    orders = output.records("PurchaseOrder")
    items = output.records("PurchaseOrderItem")
    company = sandbox.ctx.company
    assert len(orders) == company.purchase_order_count
    po = company.purchase_order(3)
    landed = next(o for o in orders if o["PurchaseOrder"] == po.po_id)
    assert landed["PurchaseOrderNetAmount"] == po.amount
    assert landed["PurchaseOrderDate"] == po.order_date.isoformat()
    assert [i["NetAmount"] for i in items if i["PurchaseOrder"] == po.po_id] == [
        line.net_amount for line in company.purchase_order_items(3)
    ]
    queries = [q for p, q in emulator.queries if p.endswith("/PurchaseOrder")]
    assert any("$count=true" in q for q in queries)


def test_schedule_lines_are_read_through_their_order_by_purchasing_document(url: str, sandbox: Sandbox) -> None:
    """S/4 keys schedule lines by PurchasingDocument, not PurchaseOrder: read through the order by that column.
    Joined by PurchaseOrder (before), no line found its order and every line was skipped without a word, and an
    incremental run failed on the filter."""
    config = basic_config(url, entity_sets=["A_PurchaseOrder", "A_PurchaseOrderScheduleLine"], page_size=40)
    assert_read_through_order(config, sandbox, "A_PurchaseOrder", "A_PurchaseOrderScheduleLine", "PurchasingDocument")


def assert_read_through_order(
    config: dict[str, t.Any], sandbox: Sandbox, orders_set: str, lines_set: str, join: str
) -> None:
    """One line per order item lands, stamped with its order's ``LastChangeDateTime``; the incremental run reads
    only the lines of the orders at or after the bookmark (fewer than all)."""
    first = run_tap(config)
    orders = {o["PurchaseOrder"]: o["LastChangeDateTime"] for o in first.records(orders_set)}
    lines = first.records(lines_set)
    company = sandbox.ctx.company
    assert len(lines) == sum(company.purchase_order(i).line_count for i in range(company.purchase_order_count))
    assert all(line[HEADER_CHANGE_COLUMN] == orders[line[join]] for line in lines)
    bookmark = first.state["bookmarks"][lines_set]["replication_key_value"]
    again = run_tap(config, state=first.state).records(lines_set)
    changed = {number for number, stamp in orders.items() if stamp >= bookmark}
    assert changed
    assert len(changed) < len(orders)
    assert {line[join] for line in again} == changed  # the orders at the bookmark, read again
    assert len(again) == len([line for line in lines if line[join] in changed])


EXPAND = {"A_PurchaseOrder": ["to_PurchaseOrderItem", "to_PurchaseOrderItem/to_ScheduleLine"]}


def test_expand_reads_each_order_with_its_items_and_their_schedule_lines(url: str) -> None:
    config = basic_config(url, entity_sets=["A_PurchaseOrder"], page_size=40)
    apart = run_tap({**config, "entity_sets": ["A_PurchaseOrderItem", "A_PurchaseOrderScheduleLine"]})
    items = [{k: v for k, v in i.items() if k != HEADER_CHANGE_COLUMN} for i in apart.records("A_PurchaseOrderItem")]
    lines = [
        {k: v for k, v in s.items() if k != HEADER_CHANGE_COLUMN} for s in apart.records("A_PurchaseOrderScheduleLine")
    ]
    output = run_tap({**config, "expand": EXPAND})
    orders = output.records("A_PurchaseOrder")
    assert orders
    for order in orders:
        expected = [i for i in items if i["PurchaseOrder"] == order["PurchaseOrder"]]
        got = order["to_PurchaseOrderItem"]
        assert [{k: v for k, v in i.items() if k != "to_ScheduleLine"} for i in got] == expected
        for item in got:
            key = (item["PurchaseOrder"], item["PurchaseOrderItem"])
            assert item["to_ScheduleLine"] == [
                s for s in lines if (s["PurchasingDocument"], s["PurchasingDocumentItem"]) == key
            ]
    assert all(isinstance(i["OrderQuantity"], Decimal) for o in orders for i in o["to_PurchaseOrderItem"])
    schema = output.schema("A_PurchaseOrder")["properties"]["to_PurchaseOrderItem"]
    assert schema["type"] == "array"
    assert "to_ScheduleLine" in schema["items"]["properties"]


@pytest.mark.parametrize(
    ("expand", "message"),
    [
        ({"A_Nowhere": ["to_PurchaseOrderItem"]}, r"setting 'expand' names A_Nowhere, not among the streams read"),
        ({"A_PurchaseOrder": ["to_Items"]}, r"setting 'expand': A_PurchaseOrder has no navigation property 'to_Items'"),
        (
            {"A_PurchaseOrder": ["to_PurchaseOrderItem/to_Lines"]},
            r"setting 'expand': A_PurchaseOrder/to_PurchaseOrderItem has no navigation property 'to_Lines'",
        ),
        ({"A_PurchaseOrderItem": ["to_ScheduleLine"]}, r"setting 'expand': A_PurchaseOrderItem is read through its"),
    ],
)
def test_an_expand_the_metadata_does_not_have_is_refused_naming_the_setting(
    url: str, expand: dict[str, list[str]], message: str
) -> None:
    config = basic_config(url, entity_sets=["A_PurchaseOrder", "A_PurchaseOrderItem"], expand=expand)
    with pytest.raises(ValueError, match=message):
        TapSapS4Hana(config=config, parse_env_config=False).catalog  # noqa: B018


def test_v4_items_are_read_through_their_order_and_replaced_per_order(url: str, sandbox: Sandbox) -> None:
    """The v4 items are read through their order (s4aud28 F6) and carry ``replace_by`` (the order), and the run
    announces every order it read whole, so the target marks a removed line deleted (review28a L3)."""
    config = basic_config(url, services=[V4_SERVICE], entity_sets=["PurchaseOrder", "PurchaseOrderItem"], page_size=40)
    assert_read_through_order(config, sandbox, "PurchaseOrder", "PurchaseOrderItem", "PurchaseOrder")
    output = run_tap(config)
    assert output.schema_message("PurchaseOrderItem")["schema"]["x-xlr8"]["replace_by"] == ["PurchaseOrder"]
    announced = {
        number
        for message in output.records("_xlr8_sets_read")
        if message["stream"] == "PurchaseOrderItem"
        for number in message["sets"]["PurchaseOrder"]
    }
    assert announced == {o["PurchaseOrder"] for o in output.records("PurchaseOrder")}


@pytest.mark.parametrize(
    ("service", "orders_set", "assignments_set"),
    [
        ("API_PURCHASEORDER_PROCESS_SRV", "A_PurchaseOrder", "A_PurOrdAccountAssignment"),
        (V4_SERVICE, "PurchaseOrder", "PurchaseOrderAccountAssignment"),
    ],
)
def test_an_assignment_changed_without_its_order_stamp_lands_on_the_next_run(
    url: str, emulator: S4HanaEmulator, service: str, orders_set: str, assignments_set: str
) -> None:
    """review28a M4 (s4aud29): invoice postings settle account assignments, and nothing shows they stamp the order's
    ``LastChangeDateTime``. v2's ``A_PurOrdAccountAssignment`` was read through the order's stamp: an assignment
    changed so stayed as first landed. Every order's assignments are now read whole every run (full-table, no
    bookmark), still replaced per order (``replace_by``) with every order announced, so a removed line is marked
    deleted (test_replace_sets)."""
    config = basic_config(url, services=[service], entity_sets=[orders_set, assignments_set], page_size=40)
    first = run_tap(config)
    orders = {o["PurchaseOrder"]: o["LastChangeDateTime"] for o in first.records(orders_set)}
    oldest = min(orders, key=lambda po: orders[po] or "")  # far below the bookmark: never re-read through its stamp
    key = ("PurchaseOrder", "PurchaseOrderItem", "AccountAssignmentNumber")
    before = {tuple(a[k] for k in key): a for a in first.records(assignments_set)}
    target = next(k for k in before if k[0] == oldest)
    assert before[target]["Quantity"] != Decimal("987.000")
    emulator.change_assignment(*target, Quantity=Decimal("987.000"))
    second = run_tap(config, state=first.state)
    assert [o["PurchaseOrder"] for o in second.records(orders_set)].count(oldest) == 0  # the order's stamp stayed
    again = {tuple(a[k] for k in key): a for a in second.records(assignments_set)}
    assert sorted(again) == sorted(before)  # every order's assignments, each once
    assert len(second.records(assignments_set)) == len(before)
    assert again[target]["Quantity"] == Decimal("987.000")
    assert all(again[k]["Quantity"] == before[k]["Quantity"] for k in before if k != target)
    tap = TapSapS4Hana(config=config, parse_env_config=False)
    entry = next(s for s in tap.catalog_dict["streams"] if s["tap_stream_id"] == assignments_set)
    assert entry.get("replication_key") is None
    schema = second.schema_message(assignments_set)["schema"]
    assert schema["x-xlr8"]["replace_by"] == ["PurchaseOrder"]
    announced = {
        number
        for message in second.records("_xlr8_sets_read")
        if message["stream"] == assignments_set
        for number in message["sets"]["PurchaseOrder"]
    }
    assert announced == set(orders)
