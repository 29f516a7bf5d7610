"""Rows whose change stamp is null (initial in SAP, ``null`` in OData), over real HTTP: a header without
``LastChangeDateTime`` (the emulator), a partner never changed since its creation and a supplier changed after the
first run (a stub serving the real ``API_BUSINESS_PARTNER`` EDMX, audit23b findings 2-4)."""

from __future__ import annotations

import copy
import json
import logging
import re
import typing as t
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from xlr8_kit.exits import EXIT_TERMINATED
from xlr8_kit.testing.singer_cli import (
    BIN,
    parse_singer_messages,
    run_tap_cli,
    select_streams,
    sync_in_process,
    write_json,
)
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.s4hana import S4HanaEmulator
from xlr8_sandbox.testing import stopped_while_stuck
from xlr8_tap_sap_s4hana.client import FILTER_VERSION
from xlr8_tap_sap_s4hana.discovery import HEADER_CHANGE_COLUMN
from xlr8_tap_sap_s4hana.tap import TapSapS4Hana

from .conftest import V4_SERVICE, basic_config, run_tap
from .stub_server import Answer, StubServer

ORDER = "PO99999999"
TAP = "tap-sap-s4hana"


@pytest.fixture
def unstamped_order(emulator: S4HanaEmulator) -> Iterator[int]:
    """A purchase order whose ``LastChangeDateTime`` is initial (as converted ECC orders carry it), with 3 items."""
    service = emulator.service("API_PURCHASEORDER_PROCESS_SRV")
    orders, items = service.sets["A_PurchaseOrder"].entity, service.sets["A_PurchaseOrderItem"].entity
    lines = [{**items.row(i), "PurchaseOrder": ORDER} for i in range(3)]
    assert all(line["PurchaseOrderItem"] for line in lines)
    orders.extra.append({**orders.row(0), "PurchaseOrder": ORDER, "LastChangeDateTime": None})
    items.extra.extend(lines)
    emulator.row_cache.clear()
    try:
        yield len(lines)
    finally:
        emulator.reset()


def test_items_of_a_header_without_change_stamp_land(url: str, unstamped_order: int) -> None:
    """Before the mend a null header stamp read as "header not read": its items were dropped, silently."""
    output = run_tap(basic_config(url, entity_sets=["A_PurchaseOrder", "A_PurchaseOrderItem"], page_size=5000))
    assert [o["LastChangeDateTime"] for o in output.records("A_PurchaseOrder") if o["PurchaseOrder"] == ORDER] == [None]
    landed = [i for i in output.records("A_PurchaseOrderItem") if i["PurchaseOrder"] == ORDER]
    assert len(landed) == unstamped_order
    assert {i[HEADER_CHANGE_COLUMN] for i in landed} == {None}
    # the null stamp moves no bookmark; the stamped orders' items still set it
    assert output.state["bookmarks"]["A_PurchaseOrderItem"]["replication_key_value"]


@pytest.mark.parametrize("service", ["API_PURCHASEORDER_PROCESS_SRV", V4_SERVICE])
def test_an_order_created_after_the_first_run_whose_stamp_stays_initial_lands_once(
    url: str, sandbox: Sandbox, emulator: S4HanaEmulator, service: str
) -> None:
    """s4aud28 F4: an order created after a run whose ``LastChangeDateTime`` stays initial (never changed since;
    some channels leave it so) matched no ``LastChangeDateTime ge`` filter: neither it nor, through it, its items
    were ever read. The order's service has only a creation day (``CreationDate``), so the filter now also reads
    orders created on or after the bookmark's day less one; the order lands once, with its items."""
    v4 = service == V4_SERVICE
    orders_set, items_set = ("PurchaseOrder", "PurchaseOrderItem") if v4 else ("A_PurchaseOrder", "A_PurchaseOrderItem")
    config = basic_config(url, services=[service], entity_sets=[orders_set, items_set], page_size=40)
    first = run_tap(config)
    assert ORDER not in {o["PurchaseOrder"] for o in first.records(orders_set)}
    sets = emulator.service(service.rsplit("/", 1)[-1] if not v4 else "purchaseorder").sets
    orders, items = sets[orders_set].entity, sets[items_set].entity
    today = sandbox.ctx.clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
    orders.extra.append({**orders.row(0), "PurchaseOrder": ORDER, "LastChangeDateTime": None, "CreationDate": today})
    items.extra.extend({**items.row(i), "PurchaseOrder": ORDER} for i in range(3))
    emulator.row_cache.clear()
    second = run_tap(config, state=first.state)
    assert [o["PurchaseOrder"] for o in second.records(orders_set)].count(ORDER) == 1
    assert sorted(i["PurchaseOrderItem"] for i in second.records(items_set) if i["PurchaseOrder"] == ORDER) == sorted(
        items.row(i)["PurchaseOrderItem"] for i in range(3)
    )
    assert len(second.records(orders_set)) < len(first.records(orders_set))  # still incremental
    third = run_tap(config, state=second.state)  # the bookmark did not move backwards or past it: read again at most
    assert (
        second.state["bookmarks"][orders_set]["replication_key_value"]
        >= first.state["bookmarks"][orders_set]["replication_key_value"]
    )
    assert len(third.records(orders_set)) < len(first.records(orders_set))


# -- a stub S/4 serving the real API_BUSINESS_PARTNER EDMX ------------------------------------------------------

#: SAP's own EDMX, read in place (as ``test_conformance.py`` does).
EDMX = Path(__file__).resolve().parents[3].parent / "shared/fixtures/vendor-metadata/s4hana/API_BUSINESS_PARTNER.edmx"
_TOKEN = re.compile(r"\s*(\(|\)|datetime'[^']*'|'(?:[^']|'')*'|[A-Za-z_][A-Za-z0-9_]*)")


def _day(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _predicate(text: str, *, eq_null_matches: bool = True) -> t.Callable[[dict[str, t.Any]], bool]:
    """The v2 ``$filter`` subset the tap sends (``ge``/``eq`` on dates and strings, ``and``, ``or``, parentheses);
    a comparison with null is false. Whether ``eq null`` matches a null is unverified for Gateway (an initial DATS
    is no SQL NULL), so ``eq_null_matches=False`` makes it match nothing."""
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        assert match, f"unparsed $filter at {text[pos:]!r}"
        tokens.append(match.group(1))
        pos = match.end()
    at = 0

    def take() -> str:
        nonlocal at
        at += 1
        return tokens[at - 1]

    def value(token: str) -> t.Any:
        if token.startswith("datetime'"):
            return _day(token[len("datetime'") : -1])
        if token.startswith("'"):
            return token[1:-1].replace("''", "'")
        return None if token == "null" else token

    def term() -> t.Callable[[dict[str, t.Any]], bool]:
        if tokens[at] == "(":
            take()
            inner = disjunction()
            assert take() == ")"
            return inner
        name, op, literal = take(), take(), value(take())

        def check(row: dict[str, t.Any]) -> bool:
            got = row.get(name)
            if op == "eq":
                return bool(got == literal) and (literal is not None or eq_null_matches)
            if got is None or literal is None:
                return False
            return {"ge": got >= literal, "gt": got > literal, "le": got <= literal, "lt": got < literal}[op]

        return check

    def conjunction() -> t.Callable[[dict[str, t.Any]], bool]:
        parts = [term()]
        while at < len(tokens) and tokens[at] == "and":
            take()
            parts.append(term())
        return lambda row: all(p(row) for p in parts)

    def disjunction() -> t.Callable[[dict[str, t.Any]], bool]:
        parts = [conjunction()]
        while at < len(tokens) and tokens[at] == "or":
            take()
            parts.append(conjunction())
        return lambda row: any(p(row) for p in parts)

    result = disjunction()
    assert at == len(tokens), f"unparsed $filter tail {tokens[at:]}"
    return result


def _v2(row: dict[str, t.Any]) -> dict[str, t.Any]:
    """Dates as Gateway sends them (``/Date(ms)/``), null as null."""
    return {
        k: f"/Date({int(v.replace(tzinfo=UTC).timestamp() * 1000)})/" if isinstance(v, datetime) else v
        for k, v in row.items()
    }


class StubS4(StubServer):
    """``$metadata`` and the rows of ``sets``, with ``$filter``, ``$orderby`` (keys), ``$top``/``$skip`` and
    ``$inlinecount``; every request's decoded query is kept in ``queries``."""

    def __init__(self, sets: dict[str, list[dict[str, t.Any]]], *, eq_null_matches: bool = True) -> None:
        self.sets = sets
        self.eq_null_matches = eq_null_matches
        self.queries: list[tuple[str, dict[str, str]]] = []
        super().__init__()

    def reply(self, path: str, query: dict[str, str]) -> Answer:
        name = path.rsplit("/", 1)[-1]
        self.queries.append((name, query))
        if name == "$metadata":
            return 200, EDMX.read_bytes(), "application/xml"
        rows = [
            r
            for r in self.sets[name]
            if "$filter" not in query or _predicate(query["$filter"], eq_null_matches=self.eq_null_matches)(r)
        ]
        for key in reversed(query["$orderby"].split(",") if query.get("$orderby") else []):
            column = key.split()[0]
            rows.sort(key=lambda r, c=column: r[c])
        skip = int(query.get("$skip", 0))
        page = rows[skip : skip + int(query["$top"])] if "$top" in query else rows[skip:]
        body: dict[str, t.Any] = {"results": [_v2(r) for r in page]}
        if query.get("$inlinecount") == "allpages":
            body["__count"] = str(len(rows))
        return 200, json.dumps({"d": body}).encode(), "application/json"


@pytest.fixture(params=[True, False], ids=["eq-null-matches-nulls", "eq-null-matches-nothing"])
def stub(request: pytest.FixtureRequest) -> Iterator[StubS4]:
    partners = [
        {"BusinessPartner": "1000001", "BusinessPartnerFullName": "Changed Co", "CreationDate": _day("2026-01-05"),
         "LastChangeDate": _day("2026-03-01")},
        {"BusinessPartner": "1000002", "BusinessPartnerFullName": "Untouched Co", "CreationDate": _day("2026-02-01"),
         "LastChangeDate": None},
    ]  # fmt: skip
    suppliers = [
        {"Supplier": "2000001", "SupplierName": "Early Co", "CreationDate": _day("2026-01-05"),
         "PostingIsBlocked": False},
        {"Supplier": "2000002", "SupplierName": "Later Co", "CreationDate": _day("2026-06-01"),
         "PostingIsBlocked": False},
    ]  # fmt: skip
    customers = [{"Customer": "3000001", "CustomerName": "Buyer Co", "CreationDate": _day("2026-01-05")}]
    sets = {"A_BusinessPartner": partners, "A_Supplier": suppliers, "A_Customer": customers}
    server = StubS4(sets, eq_null_matches=request.param)
    try:
        yield server
    finally:
        server.close()


def stub_config(stub: StubS4, *sets: str) -> dict[str, t.Any]:
    return basic_config(stub.url, services=["API_BUSINESS_PARTNER"], entity_sets=list(sets), max_concurrent_requests=1)


def test_partner_created_after_the_first_run_and_never_changed_lands(stub: StubS4) -> None:
    """``LastChangeDate`` stays null until a partner's first change: before the mend the second run's
    ``LastChangeDate ge`` filter left out every partner created since, silently; with ``eq null`` in the filter
    they were still left out wherever Gateway's ``eq null`` matches no initial date."""
    config = stub_config(stub, "A_BusinessPartner")
    first = run_tap(config)
    assert sorted(r["BusinessPartner"] for r in first.records("A_BusinessPartner")) == ["1000001", "1000002"]
    stub.sets["A_BusinessPartner"].append(
        {"BusinessPartner": "1000003", "BusinessPartnerFullName": "New Co", "CreationDate": _day("2026-06-15"),
         "LastChangeDate": None}
    )  # fmt: skip
    second = run_tap(config, state=first.state)
    landed = {r["BusinessPartner"]: r for r in second.records("A_BusinessPartner")}
    assert "1000003" in landed
    assert landed["1000003"]["LastChangeDate"] is None  # landed as sent: the creation day only moves the bookmark
    reads = [q["$filter"] for name, q in stub.queries if name == "A_BusinessPartner" and "$filter" in q]
    # no ``eq null``: what Gateway makes of it over an initial DATS is unverified, and the stub tries both ways
    day = "datetime'2026-03-01T00:00:00'"
    assert reads == [f"(LastChangeDate ge {day} or CreationDate ge {day})"]
    # the bookmark follows the creation day of a never-changed partner (and never passes what was read)
    assert second.state["bookmarks"]["A_BusinessPartner"]["replication_key_value"].startswith("2026-06-15")


def test_supplier_changed_after_the_first_run_lands_again(stub: StubS4) -> None:
    """``A_Supplier`` has no change stamp, only ``CreationDate``: before the mend it was incremental on it, so a
    supplier renamed and blocked after the first run was never read again."""
    config = stub_config(stub, "A_Supplier", "A_Customer")
    first = run_tap(config)
    assert sorted(r["Supplier"] for r in first.records("A_Supplier")) == ["2000001", "2000002"]
    stub.sets["A_Supplier"][0].update(SupplierName="Early Co (renamed)", PostingIsBlocked=True)
    stub.queries.clear()
    second = run_tap(config, state=first.state)
    landed = {r["Supplier"]: r for r in second.records("A_Supplier")}
    assert (landed["2000001"]["SupplierName"], landed["2000001"]["PostingIsBlocked"]) == ("Early Co (renamed)", True)
    assert [r["Customer"] for r in second.records("A_Customer")] == ["3000001"]
    assert not [q for name, q in stub.queries if name in ("A_Supplier", "A_Customer") and "$filter" in q]
    for name in ("A_Supplier", "A_Customer"):  # full-table, and the catalog says so
        assert first.schema_message(name).get("bookmark_properties") in (None, [])


# -- upgrading: a bookmark written before the filter read never-changed rows (review23d finding 1) -------------


def test_partner_missed_before_the_upgrade_lands_once(stub: StubS4, caplog: pytest.LogCaptureFixture) -> None:
    """The old filter (``LastChangeDate ge``) missed 1000003 (created 2026-02-15, never changed) and another
    partner's change then moved the bookmark past its creation day: before the mend the new filter, from that
    bookmark, never reached it. A bookmark without ``filter_version`` now means one whole read, logged."""
    stub.sets["A_BusinessPartner"].append(
        {"BusinessPartner": "1000003", "BusinessPartnerFullName": "Missed Co", "CreationDate": _day("2026-02-15"),
         "LastChangeDate": None}
    )  # fmt: skip
    config = stub_config(stub, "A_BusinessPartner")
    old = {"replication_key": "LastChangeDate", "replication_key_value": "2026-03-01T00:00:00Z"}  # as 1afc3de left
    upgraded = run_tap(config, state={"bookmarks": {"A_BusinessPartner": old}})
    assert "1000003" in {r["BusinessPartner"] for r in upgraded.records("A_BusinessPartner")}
    assert [m for m in caplog.messages if f"before filter version {FILTER_VERSION}" in m and "A_BusinessPartner" in m]
    bookmark = upgraded.state["bookmarks"]["A_BusinessPartner"]
    assert bookmark["filter_version"] == FILTER_VERSION
    assert bookmark["replication_key_value"].startswith("2026-03-01")
    stub.queries.clear()
    caplog.clear()
    after = run_tap(config, state=upgraded.state)  # once only: the next run is incremental again
    assert [q["$filter"] for name, q in stub.queries if name == "A_BusinessPartner" and "$filter" in q]
    assert not [m for m in caplog.messages if "before filter version" in m]
    assert after.state["bookmarks"]["A_BusinessPartner"]["filter_version"] == FILTER_VERSION


def test_an_upgrade_cut_short_under_meltanos_merge_still_reads_the_missed_partner(
    stub: StubS4, monkeypatch: pytest.MonkeyPatch
) -> None:
    """review23i #2: with a merge strategy Meltano deep-merges a cut-short run's last STATE over the stored one. The
    upgrade's marker then sat beside the old bookmark (the key was removed, so the stored one survived) and the next
    run trusted it: 1000003 never landed. The bookmark is now an explicit null, which the merge takes."""
    from meltano.core.utils import merge  # Meltano's own deep merge of states

    from xlr8_tap_sap_s4hana.client import S4Stream

    stub.sets["A_BusinessPartner"].append(
        {"BusinessPartner": "1000003", "BusinessPartnerFullName": "Missed Co", "CreationDate": _day("2026-02-15"),
         "LastChangeDate": None}
    )  # fmt: skip
    config = stub_config(stub, "A_BusinessPartner")
    stored = {"bookmarks": {"A_BusinessPartner": {"replication_key": "LastChangeDate",
                                                  "replication_key_value": "2026-03-01T00:00:00Z"}}}  # fmt: skip
    monkeypatch.setattr(S4Stream, "STATE_MSG_FREQUENCY", 1)  # a STATE after each record (10,000 on a real read)
    upgraded = run_tap(config, state=json.loads(json.dumps(stored)))
    partial = [m["value"] for m in upgraded.of_type("STATE")][1]  # what a run failing after its first record leaves
    merged = merge(partial, json.loads(json.dumps(stored)))
    monkeypatch.setattr(S4Stream, "STATE_MSG_FREQUENCY", 10_000)
    after = run_tap(config, state=merged)
    assert "1000003" in {r["BusinessPartner"] for r in after.records("A_BusinessPartner")}


def test_an_upgrade_stopped_after_some_items_under_meltanos_merge_reads_every_item_next_through_the_cli(
    sandbox: Sandbox, url: str, unstamped_order: int, tmp_path: Path
) -> None:
    """bk24, the kit's ``restart_bookmark`` through the console script: the one-time whole read of the items is
    stopped by SIGTERM after its first items (the tap's last STATE holds the restarted bookmark), Meltano's own
    merge lays that STATE over the pre-version one, and the next run reads every item again, the unstamped
    order's among them. With the old bookmark removed instead of nulled, the merge brought it back beside the
    marker and the next run read only items changed since it."""
    from meltano.core.utils import merge  # Meltano's own deep merge of states

    config = write_json(
        tmp_path / "config.json",
        basic_config(
            url, entity_sets=["A_PurchaseOrder", "A_PurchaseOrderItem"], page_size=5, max_concurrent_requests=1
        ),
    )
    found = run_tap_cli(TAP, ["--config", config, "--discover"], tmp_path)
    assert found.returncode == 0, found.stderr[-3000:]
    sets = {"A_PurchaseOrder", "A_PurchaseOrderItem"}
    catalog = write_json(tmp_path / "catalog.json", select_streams(json.loads(found.stdout), sets))
    args = ["--config", config, "--catalog", catalog]
    first = run_tap_cli(TAP, args, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    messages = parse_singer_messages(first.stdout)
    every = _item_keys(messages)
    stored = next(m["value"] for m in reversed(messages) if m["type"] == "STATE")
    items = stored["bookmarks"]["A_PurchaseOrderItem"]
    assert items.pop("filter_version") == FILTER_VERSION  # as a read before the version left it
    assert items["replication_key_value"]
    # Items' first two pages answered, the rest stuck: the read stops part way whatever its speed.
    stall = FaultSpec("stall", seconds=20, after=2, times=None)
    run = [str(BIN / TAP), *args, "--state", write_json(tmp_path / "stored.json", stored)]
    # SIGTERM a second after: the pages answered are taken in (the writer holds their lines until it flushes)
    code, stopped, err = stopped_while_stuck(sandbox, "s4hana", "*/A_PurchaseOrderItem", stall, run, settle=1.0)
    assert code == EXIT_TERMINATED, err[-3000:]
    assert 0 < len(_item_keys(stopped)) < len(every), "the whole read was stopped part way"
    partial = next(m["value"] for m in reversed(stopped) if m["type"] == "STATE")
    merged = merge(copy.deepcopy(partial), copy.deepcopy(stored))
    after = run_tap_cli(TAP, [*args, "--state", write_json(tmp_path / "merged.json", merged)], tmp_path)
    assert after.returncode == 0, after.stderr[-3000:]
    assert _item_keys(parse_singer_messages(after.stdout)) == every
    assert sum(key[0] == ORDER for key in every) == unstamped_order


def _item_keys(messages: list[dict[str, t.Any]]) -> set[tuple[str, str]]:
    return {
        (m["record"]["PurchaseOrder"], m["record"]["PurchaseOrderItem"])
        for m in messages
        if m["type"] == "RECORD" and m["stream"] == "A_PurchaseOrderItem"
    }


def test_items_of_a_null_stamp_header_missed_before_the_upgrade_land_once(
    url: str, unstamped_order: int, caplog: pytest.LogCaptureFixture
) -> None:
    """The old code dropped the items of a header without ``LastChangeDateTime``, and later runs read only headers
    stamped since the bookmark: before the mend those items never landed after upgrading."""
    config = basic_config(url, entity_sets=["A_PurchaseOrder", "A_PurchaseOrderItem"], page_size=5000)
    first = run_tap(config)
    old = {k: v for k, v in first.state["bookmarks"]["A_PurchaseOrderItem"].items() if k != "filter_version"}
    assert old["replication_key_value"]
    upgraded = run_tap(config, state={"bookmarks": {**first.state["bookmarks"], "A_PurchaseOrderItem": old}})
    landed = [i for i in upgraded.records("A_PurchaseOrderItem") if i["PurchaseOrder"] == ORDER]
    assert len(landed) == unstamped_order
    assert [m for m in caplog.messages if f"before filter version {FILTER_VERSION}" in m and "A_PurchaseOrderItem" in m]
    assert upgraded.state["bookmarks"]["A_PurchaseOrderItem"]["filter_version"] == FILTER_VERSION


def test_null_stamps_are_one_line_not_a_warning_each(
    url: str, unstamped_order: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Before the mend the SDK warned ``New replication value is null`` once per item of an unstamped header:
    hundreds of thousands of lines on a converted system's first run, burying the real warnings."""
    caplog.set_level(logging.INFO)
    config = basic_config(url, entity_sets=["A_PurchaseOrder", "A_PurchaseOrderItem"], page_size=5000)
    output = run_tap(config)
    assert len([i for i in output.records("A_PurchaseOrderItem") if i["PurchaseOrder"] == ORDER]) == unstamped_order
    assert not [r for r in caplog.records if "replication value is null" in r.getMessage()]
    summary = [m for m in caplog.messages if "landed with a null" in m]
    assert summary == [
        "A_PurchaseOrder: 1 records landed with a null LastChangeDateTime (never changed, or items of a header "
        "without a change stamp); they move no bookmark",
        f"A_PurchaseOrderItem: {unstamped_order} records landed with a null {HEADER_CHANGE_COLUMN} (never changed, "
        f"or items of a header without a change stamp); they move no bookmark",
    ]


def test_null_stamps_are_one_line_in_the_sdk_loop_too(stub: StubS4, caplog: pytest.LogCaptureFixture) -> None:
    """A catalog selecting some columns runs the SDK's own loop, where ``CreatedStampStream`` substitutes nothing:
    each never-changed partner gave a WARNING there before the mend."""
    caplog.set_level(logging.INFO)
    config = stub_config(stub, "A_BusinessPartner")
    catalog = TapSapS4Hana(config=config, parse_env_config=False).catalog_dict
    for entry in catalog["streams"]:
        for md in entry["metadata"]:
            if md["breadcrumb"] == ["properties", "BusinessPartnerFullName"]:
                md["metadata"]["selected"] = False
    output = sync_in_process(TapSapS4Hana(config=config, catalog=catalog, parse_env_config=False))
    assert sorted(r["BusinessPartner"] for r in output.records("A_BusinessPartner")) == ["1000001", "1000002"]
    assert "BusinessPartnerFullName" not in output.records("A_BusinessPartner")[0]
    assert not [r for r in caplog.records if "replication value is null" in r.getMessage()]
    assert [m for m in caplog.messages if "landed with a null" in m] == [
        "A_BusinessPartner: 1 records landed with a null LastChangeDate (never changed, or items of a header "
        "without a change stamp); they move no bookmark"
    ]
