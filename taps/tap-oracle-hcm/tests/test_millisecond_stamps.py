"""``LastUpdateDate`` with milliseconds, as Oracle's own examples show it (``2019-06-07T15:36:29.607+00:00``; the
emulator stamps whole seconds): ties on one millisecond stamp across page boundaries are read once each, by one
cursor and by ranges, and the keyset ``q``, the bookmark and the next run's lower bound keep the milliseconds. Cut
to its second, that lower bound re-read the rows of the bookmark's second below it, and the SDK's sort check
stopped every such next run (``InvalidStreamSortException``, exit 1) (audit25a F5)."""

from __future__ import annotations

import re

import pytest

from xlr8_sandbox.products.oracle_fusion.hcm import OracleHcmEmulator

from .conftest import SCALE, hcm_config, run_tap


def _stamp(i: int) -> str:
    """Row ``i``'s stamp: three rows share each millisecond value, two values a second (``.100``, ``.600``)."""
    return f"2024-03-01T10:{i // 6 // 60:02d}:{i // 6 % 60:02d}.{100 if i % 6 < 3 else 600:03d}+00:00"


@pytest.mark.parametrize("width", [1, 4])
def test_millisecond_ties_at_page_boundaries_land_once_and_the_bookmark_keeps_them(
    url: str, emulator: OracleHcmEmulator, width: int
) -> None:
    emulator.change_rows("workers", lambda i, row: {**row, "LastUpdateDate": _stamp(i)})
    start = len(emulator.collection_queries)
    # pages of 20: boundaries fall inside a group of three equal stamps (rows 18-20, 39-41, ...)
    # from the bookmark exactly: its milliseconds are what is checked (the lookback: tap-oracle-erp test_lookback)
    config = hcm_config(url, resources=["workers"], page_size=20, max_concurrent_requests=width, lookback_seconds=0)
    first = run_tap(config, streams={"workers"})
    ids = [r["PersonId"] for r in first.records("workers")]
    assert len(ids) == len(set(ids)) == SCALE
    stamps = {r["PersonId"]: r["LastUpdateDate"] for r in first.records("workers")}
    assert sorted(stamps.values()) == sorted(_stamp(i) for i in range(SCALE))
    last = max(_stamp(i) for i in range(SCALE))
    bookmark = first.state["bookmarks"]["workers"]["replication_key_value"]
    assert bookmark == last  # the milliseconds kept, as sent
    sent = [q.get("q", "") for q in emulator.collection_queries[start:]]
    keyset = [q for q in sent if "LastUpdateDate = '" in q]
    assert keyset
    assert all(re.search(r"LastUpdateDate = '[^']*\.\d{3}\+00:00'", q) for q in keyset)
    start = len(emulator.collection_queries)
    second = run_tap(config, streams={"workers"}, state=first.state)
    assert emulator.collection_queries[start]["q"] == f"LastUpdateDate >= '{last}'"
    again = {r["PersonId"] for r in second.records("workers")}
    assert again == {p for p, s in stamps.items() if s == last}  # the bookmark's own rows, re-read (E6)
    assert second.state["bookmarks"]["workers"]["replication_key_value"] == last
