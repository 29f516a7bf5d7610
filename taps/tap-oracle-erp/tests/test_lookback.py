"""A row a long transaction (an ESS import) wrote before run 1's newest row and committed after run 1 has a
``LastUpdateDate`` below run 1's bookmark: read as ``>= bookmark``, nothing read it ever (audit25a F6). Each
incremental read starts ``lookback_seconds`` (default 3600) before the bookmark."""

from __future__ import annotations

import typing as t
from datetime import datetime, timedelta

import pytest

from .conftest import erp_config, run_tap


def _late_invoice(emulator: t.Any, bookmark: str, seconds: int) -> int:
    """An invoice committed after run 1, stamped ``seconds`` before its bookmark; returns its id."""
    invoices = emulator.resources["invoices"]
    row = invoices.row(0)
    late = {**row, "InvoiceId": row["InvoiceId"] + 9_000_000, "InvoiceNumber": "LATE-1"}
    late["LastUpdateDate"] = (datetime.fromisoformat(bookmark) - timedelta(seconds=seconds)).isoformat()
    emulator.insert_row("invoices", late)
    return int(late["InvoiceId"])


@pytest.mark.parametrize(("lookback", "landed"), [(None, True), (0, False)])
def test_a_row_committed_late_below_the_bookmark_is_read_within_the_lookback(
    url: str, emulator: t.Any, lookback: int | None, landed: bool
) -> None:
    extra = {} if lookback is None else {"lookback_seconds": lookback}
    config = erp_config(url, resources=["invoices"], full_read_every_days=0, **extra)
    first = run_tap(config, streams={"invoices"})
    bookmark = first.state["bookmarks"]["invoices"]["replication_key_value"]
    late = _late_invoice(emulator, bookmark, 600)
    second = run_tap(config, streams={"invoices"}, state=first.state)
    ids = [r["InvoiceId"] for r in second.records("invoices")]
    assert (late in ids) is landed
    assert second.state["bookmarks"]["invoices"]["replication_key_value"] == bookmark  # never moved back
    queries = [q.get("q", "") for q in emulator.collection_queries if q.get("limit")]
    if landed:
        lowered = (datetime.fromisoformat(bookmark) - timedelta(seconds=3600)).isoformat()
        assert any(q.startswith(f"LastUpdateDate >= '{lowered}'") for q in queries)
