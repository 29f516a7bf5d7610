"""An incremental resource whose describe key is composite (the emulator's ``journalLines``: ``JeHeaderId,
JeLineNumber``; on a pod the date-effective ``jobs``, ``positions``, ...) pages by keyset over its whole key: by
offset, a row updated after page 1 moved to the end, the row after it shifted into page 1 and was never read, and
the bookmark passed it (audit25a F9, its stub's scenario over real HTTP)."""

from __future__ import annotations

import typing as t

import pytest

from .conftest import erp_config, run_tap

KEYS = ("JeHeaderId", "JeLineNumber")
LATER = "2027-01-01T00:00:00+00:00"


def test_a_row_updated_after_page_1_skips_no_row_of_a_composite_key(
    url: str, emulator: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emulator, "unlisted", frozenset())  # journalLines served at top level (no pod has it)
    lines = emulator.resources["journalLines"]
    before = [lines.row(i) for i in range(lines.count())]
    order = sorted(range(len(before)), key=lambda i: (before[i]["LastUpdateDate"], *(before[i][k] for k in KEYS)))
    first = order[0]  # read in page 1, then updated by another user
    updated: list[int] = []

    def update(served: int) -> None:
        query = emulator.collection_queries[-1]
        if not updated and (query.get("q") or query.get("offset", "0") != "0"):
            updated.append(served)
            emulator.update_row("journalLines", first, {"LastUpdateDate": LATER})

    emulator.before_collection = update
    try:
        config = erp_config(
            url, resources=["journalLines"], page_size=20, max_concurrent_requests=1, full_read_every_days=0
        )
        out = run_tap(config, streams={"journalLines"})
    finally:
        emulator.before_collection = None
        emulator.update_row("journalLines", first, {"LastUpdateDate": before[first]["LastUpdateDate"]})
    assert updated, "no second page: the test shows nothing"
    read = [tuple(r[k] for k in KEYS) for r in out.records("journalLines")]
    assert {tuple(r[k] for k in KEYS) for r in before} <= set(read)  # every row there at the start
    assert read.count(tuple(before[first][k] for k in KEYS)) == 2  # and the updated one again, at its new place
    assert out.state["bookmarks"]["journalLines"]["replication_key_value"] == LATER
    pages = [q for q in emulator.collection_queries if q.get("limit")]
    assert pages[0]["orderBy"] == "LastUpdateDate:asc,JeHeaderId:asc,JeLineNumber:asc"
    assert {q["offset"] for q in pages} == {"0"}
    assert "(JeHeaderId > " in pages[1]["q"]
    assert "JeLineNumber > " in pages[1]["q"]
