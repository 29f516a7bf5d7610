"""``full_read_every_days`` on ERP over real HTTP: a resource whose children are embedded (``child_mode: embed``)
is read whole once the last whole read is old enough, since a child's change does not always move the parent's
``LastUpdateDate`` (review24f #1); with children as streams of their own nothing is read whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from xlr8_sandbox.products.oracle_fusion.erp import OracleErpEmulator

from .conftest import erp_config, run_tap


def test_embedded_children_changed_without_the_parent_land_after_the_period(
    url: str, emulator: OracleErpEmulator
) -> None:
    """Every supplier's site changes and no supplier's ``LastUpdateDate`` moves: a default install (7 days) lands
    the new sites once its last whole read is 8 days old. Before review24f #1 no stamp was ever written and
    the run read only the supplier at the bookmark, so the other suppliers kept their old sites for good."""
    config = erp_config(url, resources=["suppliers"], child_mode="embed")

    def first_q() -> str | None:
        return emulator.collection_queries[asked].get("q")

    asked = len(emulator.collection_queries)
    first = run_tap(config, streams={"suppliers"})
    every = len(first.records("suppliers"))
    assert every == emulator.resources["suppliers"].count()
    assert first_q() is None
    state = first.state
    sites = emulator.resources["suppliers"].children["sites"]
    rows = sites.rows
    declared_row = emulator.resources["suppliers"].row
    sites.rows = lambda supplier: [{**r, "PaymentTerms": "CHANGED"} for r in rows(supplier)]
    emulator.change_rows("suppliers", lambda i, row: row)  # the same suppliers: a new data version, no page kept
    try:
        asked = len(emulator.collection_queries)
        second = run_tap(config, streams={"suppliers"}, state=state)  # whole read 0 days ago: incremental
        assert (first_q() or "").startswith("LastUpdateDate >= ")
        assert len(second.records("suppliers")) < every
        stale = second.state
        stale["bookmarks"]["suppliers"]["xlr8_full_read_at"] = (datetime.now(UTC) - timedelta(days=8)).isoformat()
        asked = len(emulator.collection_queries)
        third = run_tap(config, streams={"suppliers"}, state=stale)
    finally:
        sites.rows = rows
        emulator.resources["suppliers"].row = declared_row
        emulator.change_rows("suppliers", lambda i, row: row)
    suppliers = third.records("suppliers")
    assert len(suppliers) == every
    assert {site["PaymentTerms"] for r in suppliers for site in r["sites"]} == {"CHANGED"}
    assert first_q() is None
    bookmark = third.state["bookmarks"]["suppliers"]
    assert bookmark["replication_key_value"] == max(r["LastUpdateDate"] for r in suppliers)
    assert datetime.fromisoformat(bookmark["xlr8_full_read_at"]) > datetime.now(UTC) - timedelta(hours=1)


def test_children_as_streams_are_never_read_whole(url: str, emulator: OracleErpEmulator) -> None:
    """The default ``child_mode: streams``: the child streams are full table already, so the parent stays
    incremental (no stamp, no whole read) whatever ``full_read_every_days`` says."""
    config = erp_config(url, resources=["suppliers"])
    first = run_tap(config, streams={"suppliers"})
    assert "xlr8_full_read_at" not in first.state["bookmarks"]["suppliers"]
    asked = len(emulator.collection_queries)
    second = run_tap(config, streams={"suppliers"}, state=first.state)
    assert emulator.collection_queries[asked].get("q", "").startswith("LastUpdateDate >= ")
    assert len(second.records("suppliers")) < len(first.records("suppliers"))
