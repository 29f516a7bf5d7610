"""ERP's offset-paged resources read with the window by default (``totalResults`` checked on every page)."""

from __future__ import annotations

import typing as t

from xlr8_sandbox.read_ahead_checks import ReadAheadCase
from xlr8_tap_oracle_erp.tap import TapOracleErp

from .conftest import erp_config, run_tap


def test_offset_window_default_is_8(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    config = erp_config(url, resources=["invoices"], page_size=10, rest_framework_version="1")
    case = ReadAheadCase(TapOracleErp, config, "invoices", sandbox, "oracle_erp", "/fscmRestApi/resources/*/invoices",
                         page_rows=10, page_query=lambda k: {"offset": str((k - 1) * 10)})  # fmt: skip
    case.check_default_window(8)
    case.check_window_matches_one_page_ahead()


def test_keyset_ranges_by_default_same_records_and_state(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    """Invoices (incremental, one key) page by keyset; by default, at 100 ms a request (page 1's round trip
    dwarfs what it costs), the rows after page 1 are read as ranges of (LastUpdateDate, InvoiceId) side by side
    (``xlr8_kit.oracle.ranges``): the same records and STATE as the keyset read page after page
    (``max_concurrent_requests: 1``)."""
    config = erp_config(url, resources=["invoices"], page_size=3)
    one = run_tap({**config, "max_concurrent_requests": 1}, streams={"invoices"})
    start = len(emulator.collection_queries)
    sandbox.faults.set_latency("oracle_erp", 100, "/fscmRestApi/resources/*/invoices")
    try:
        ranged = run_tap(config, streams={"invoices"})
    finally:
        sandbox.faults.clear("oracle_erp")
    bounded = [q for q in emulator.collection_queries[start:] if "InvoiceId <=" in q.get("q", "")]
    assert len(one.records("invoices")) > 3 * 8 * 2
    assert bounded, "ranges were read"
    assert ranged.records("invoices") == one.records("invoices")
    assert ranged.of_type("STATE") == one.of_type("STATE")
