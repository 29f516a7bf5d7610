"""A page's cut children read side by side (issue 14 goal 5; review23i #3, #4), over real HTTP against the
emulator: every 7th worker has 30 emails (the emulator's ``cut_children_every``), so under framework 4 a page of 20
workers holds two or three parents whose expanded ``emails`` is cut at 25. One link query per page finds their
``self`` links (``q`` with ``or``), their child pages go out at once within the read's requests in flight, every
child row lands, records come in the order one cursor reads them, and a failed child read stops the read before
the page holding its parent: no record of that page, no bookmark past the page before."""

from __future__ import annotations

import collections
import logging
import re
import typing as t
from pathlib import Path

import pytest

from xlr8_kit.testing.singer_cli import run_tap_cli, select_streams, write_json
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.products.oracle_fusion.framework import uniq_id
from xlr8_sandbox.products.oracle_fusion.hcm import OracleHcmEmulator
from xlr8_sandbox.read_ahead_checks import sync_until_error
from xlr8_tap_oracle_hcm.tap import TapOracleHcm

from .conftest import SCALE, hcm_config, run_tap
from .test_emulator_protocol import get

EVERY = 7
CUT = len(range(0, SCALE, EVERY))  # workers 0, 7, ..., 98


@pytest.fixture
def cut(emulator: OracleHcmEmulator) -> t.Iterator[None]:
    emulator.set_cut_children_every(EVERY)
    try:
        yield
    finally:
        emulator.set_cut_children_every(0)


def emails_served(url: str) -> dict[int, int]:
    """Each worker's email count as the emulator answers under framework 2 (whole arrays, no cut)."""
    body = get(url, "/workers", "2", onlyData="true", expand="emails", fields="PersonId;emails:EmailAddressId",
               limit="500").json()  # fmt: skip
    return {w["PersonId"]: len(w["emails"]) for w in body["items"]}


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The most requests the emulator had open at one moment, from their (arrived, answered) times."""
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals], key=lambda e: (e[0], e[1]))
    level = most = 0
    for _, step in events:
        level += step
        most = max(most, level)
    return most


def link_queries(emulator: OracleHcmEmulator, start: int) -> list[set[int]]:
    """The PersonIds each link query (``fields=PersonId``, a ``q`` on the key) asked for, since ``start``."""
    return [
        {int(v) for v in re.findall(r"PersonId = (\d+)", q["q"])}
        for q in emulator.collection_queries[start:]
        if q.get("fields") == "PersonId" and "PersonId = " in q.get("q", "")
    ]


def test_every_child_row_of_several_cut_parents_on_a_page_lands(
    url: str, emulator: OracleHcmEmulator, cut: None
) -> None:
    served = emails_served(url)
    parents = {pid for pid, n in served.items() if n > 25}
    assert len(parents) == CUT
    start = len(emulator.collection_queries)
    out = run_tap(hcm_config(url, resources=["workers"], page_size=20))
    assert dict(collections.Counter(r["PersonId"] for r in out.records("workers_emails"))) == served
    workers = out.records("workers")
    assert len(workers) == SCALE
    assert all(r["WorkEmail"] and not r["WorkEmail"].startswith("home") for r in workers)  # the W1 row flattened
    asked = link_queries(emulator, start)
    # Two streams read the cut emails (workers flattens them, workers_emails lands them): each parent's link once
    # per stream, one query per page holding cut parents (5 pages of 20), not one per parent.
    assert collections.Counter(pid for ids in asked for pid in ids) == dict.fromkeys(parents, 2)
    assert len(asked) <= 2 * (SCALE // 20) < 2 * CUT
    assert max(len(ids) for ids in asked) > 1


def test_child_reads_overlap_within_the_requests_in_flight(
    url: str, sandbox: t.Any, emulator: OracleHcmEmulator, cut: None
) -> None:
    """With 300 ms on every child URL, a page's child reads are in flight together (one after the other, none
    would overlap), and never more than ``max_concurrent_requests`` requests of the read at once (pages of 50
    workers: about seven cut parents each)."""
    sandbox.faults.set_latency("oracle_hcm", 300, "*/child/*")
    sandbox.ctx.requests.clear()
    out = run_tap(hcm_config(url, resources=["workers"], page_size=50, max_concurrent_requests=2), streams={"workers"})
    assert len(out.records("workers")) == SCALE
    spans = [(e.arrived_at, e.at) for e in sandbox.requests("oracle_hcm", "/hcmRestApi/resources")]
    children = [(e.arrived_at, e.at) for e in sandbox.requests("oracle_hcm") if "/child/" in e.path]
    assert len(children) == CUT
    assert most_at_once(children) > 1
    assert most_at_once(spans) == 2


def test_an_offset_windows_pages_and_their_children_share_the_requests_in_flight(
    url: str, sandbox: t.Any, emulator: OracleHcmEmulator
) -> None:
    """``workers_emails`` is read by offset in a window of ``max_concurrent_requests`` pages, each parsed on its
    worker: a page's cut children take the slot its worker holds and only extras free now, so pages and children
    together stay within 4 (review24c #1: they drew on a budget of their own, 5 at once)."""
    emulator.set_cut_children_every(3)
    try:
        sandbox.faults.set_latency("oracle_hcm", 200, "*/workers*")
        sandbox.ctx.requests.clear()
        config = hcm_config(url, resources=["workers"], page_size=10, max_concurrent_requests=4)
        out = run_tap(config, streams={"workers_emails"})
    finally:
        emulator.set_cut_children_every(0)
    assert {r["PersonId"] for r in out.records("workers_emails")} == set(emails_served(url))
    spans = [(e.arrived_at, e.at) for e in sandbox.requests("oracle_hcm", "/hcmRestApi/resources")]
    children = {e.path for e in sandbox.requests("oracle_hcm") if "/child/" in e.path}
    assert len(children) == len(range(0, SCALE, 3))  # every cut parent's emails read whole (3 pages of 10 each)
    assert most_at_once(spans) == 4


@pytest.mark.parametrize("ranged", [False, True])
def test_records_come_in_the_one_cursor_order(
    url: str,
    emulator: OracleHcmEmulator,
    cut: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    ranged: bool,
) -> None:
    """The RECORD messages of every stream, in order, equal those of a read with one request in flight (each cut
    child read one after the other): page after page (``RANGES_AT`` out of reach: one cursor for certain), and in
    ranges read side by side (pages of 3: more than ``RANGE_PAGES`` pages left after page 1, which decides by
    default)."""
    one = run_tap(hcm_config(url, resources=["workers"], page_size=20, max_concurrent_requests=1))
    if not ranged:
        monkeypatch.setattr("xlr8_kit.oracle.ranges.RANGES_AT", float("inf"))
    config = hcm_config(url, resources=["workers"], page_size=3 if ranged else 20, max_concurrent_requests=4)
    caplog.set_level(logging.INFO)
    many = run_tap(config)
    assert ("ranges read" in caplog.text) is ranged

    def records(out: t.Any) -> list[tuple[str, dict[str, t.Any]]]:
        # an announcement's ``read_start`` is its run's own clock reading (empty27): the sets, not the time, compared
        return [
            (m["stream"], {k: v for k, v in m["record"].items() if k != "read_start"}) for m in out.of_type("RECORD")
        ]

    assert records(many) == records(one)


def test_no_child_read_is_sent_once_one_failed(
    url: str, sandbox: t.Any, emulator: OracleHcmEmulator, cut: None
) -> None:
    """Page 1 (50 workers, 8 cut parents, 4 reads at once): the second parent's child answers 404 at once while the
    others take 1.5 s; only the reads begun before the 404 was seen go out, never the other four (review24c #2: the
    404's thread took the next read at once, and all 8 were sent)."""
    config = hcm_config(url, resources=["workers"], page_size=50, max_concurrent_requests=4)
    before = run_tap(config, streams={"workers"}).records("workers")
    served = emails_served(url)
    parents = [r["PersonId"] for r in before[:50] if served[r["PersonId"]] > 25]
    assert len(parents) == 8
    failing = parents[1]
    for pid in parents:
        if pid != failing:
            sandbox.faults.set_latency("oracle_hcm", 1500, f"*/workers/{uniq_id(str(pid))}/child/emails")
    sandbox.faults.add("oracle_hcm", f"*/workers/{uniq_id(str(failing))}/child/emails", FaultSpec("status", status=404))
    sandbox.ctx.requests.clear()
    catalog = select_streams(TapOracleHcm(config=config, parse_env_config=False).catalog_dict, {"workers"})
    output, error = sync_until_error(TapOracleHcm(config=config, catalog=catalog, parse_env_config=False))
    assert error is not None
    assert "404" in str(error), error
    assert output.records("workers") == []
    children = [e.path for e in sandbox.requests("oracle_hcm") if "/child/" in e.path]
    assert f"/workers/{uniq_id(str(failing))}/child/emails" in "".join(children)
    assert len(children) <= 4, children  # the 4 begun together at most; 5-8 come after the 404 or not at all


def test_a_failed_child_read_mid_page_stops_before_the_page(
    url: str, sandbox: t.Any, emulator: OracleHcmEmulator, cut: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The second cut parent of the third page (rows 40-59) answers 404 on its child URL while its page's other
    children are read: rows 0-39 are emitted, none of that page, and no bookmark reaches past row 39; through the
    CLI the run exits 1 with one ERROR line."""
    config = hcm_config(url, resources=["workers"], page_size=20)
    before = run_tap(config, streams={"workers"}).records("workers")
    served = emails_served(url)
    page = [r["PersonId"] for r in before[40:60] if served[r["PersonId"]] > 25]
    assert len(page) >= 2
    failing = page[1]
    sandbox.faults.add("oracle_hcm", f"*/workers/{uniq_id(str(failing))}/child/emails", FaultSpec("status", status=404))
    from xlr8_kit.oracle.stream import FusionStream

    monkeypatch.setattr(FusionStream, "STATE_MSG_FREQUENCY", 5)
    catalog = select_streams(TapOracleHcm(config=config, parse_env_config=False).catalog_dict, {"workers"})
    output, error = sync_until_error(TapOracleHcm(config=config, catalog=catalog, parse_env_config=False))
    assert error is not None
    assert "404" in str(error), error
    assert output.records("workers") == before[:40]
    bookmarks = [
        (m["value"].get("bookmarks") or {}).get("workers", {}).get("replication_key_value")
        for m in output.of_type("STATE")
    ]
    assert [b for b in bookmarks if b is not None], "STATE was written while the first pages were emitted"
    assert all(b is None or b <= before[39]["LastUpdateDate"] for b in bookmarks)
    catalog_path = write_json(tmp_path / "catalog.json", catalog)
    result = run_tap_cli(
        "tap-oracle-hcm", ["--config", write_json(tmp_path / "c.json", config), "--catalog", catalog_path], tmp_path
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if "| ERROR " in line and "404" in line]


def sync_failing_at(
    url: str, sandbox: t.Any, streams: set[str], page_size: int, parent: int
) -> tuple[t.Any, BaseException | None]:
    """Sync ``streams`` (4 requests in flight, STATE every 2 records) with a 404 on ``parent``'s emails URL."""
    sandbox.faults.add("oracle_hcm", f"*/workers/{uniq_id(str(parent))}/child/emails", FaultSpec("status", status=404))
    config = hcm_config(url, resources=["workers"], page_size=page_size, max_concurrent_requests=4)
    catalog = select_streams(TapOracleHcm(config=config, parse_env_config=False).catalog_dict, streams)
    return sync_until_error(TapOracleHcm(config=config, catalog=catalog, parse_env_config=False))


@pytest.mark.parametrize("row", [10, 70])
def test_a_failed_child_read_in_a_ranged_read_stops_before_its_page(
    url: str,
    sandbox: t.Any,
    emulator: OracleHcmEmulator,
    cut: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    row: int,
) -> None:
    """Pages of 3 read in ranges, 4 at once: the cut parent at ``row`` answers 404 on its child URL while its page's
    thread holds a slot of the read and its children borrow free ones (review24c #4: only one cursor was tested).
    The records are the rows before that page, in order; no bookmark passes the last of them."""
    before = run_tap(hcm_config(url, resources=["workers"], page_size=20), streams={"workers"}).records("workers")
    served = emails_served(url)
    at = next(i for i in range(row, SCALE) if served[before[i]["PersonId"]] > 25)
    from xlr8_kit.oracle.stream import FusionStream

    monkeypatch.setattr(FusionStream, "STATE_MSG_FREQUENCY", 2)
    caplog.set_level(logging.INFO)
    output, error = sync_failing_at(url, sandbox, {"workers"}, 3, before[at]["PersonId"])
    assert "ranges read" in caplog.text
    assert error is not None
    assert "404" in str(error), error
    got = output.records("workers")
    assert at - 2 <= len(got) <= at  # every page before the failing one (pages of 3)
    assert got == before[: len(got)]
    bookmarks = [
        (m["value"].get("bookmarks") or {}).get("workers", {}).get("replication_key_value")
        for m in output.of_type("STATE")
    ]
    assert [b for b in bookmarks if b is not None]
    assert all(b is None or b <= got[-1]["LastUpdateDate"] for b in bookmarks)


def test_a_failed_child_read_in_an_offset_window_stops_before_its_page(
    url: str, sandbox: t.Any, emulator: OracleHcmEmulator, cut: None
) -> None:
    """``workers_emails`` by offset, pages of 5 workers, 4 in flight: the cut parent at row 70 or after answers 404;
    the emails of every page before its page land, in order, and none after (review24c #4)."""
    clean = run_tap(hcm_config(url, resources=["workers"], page_size=5), streams={"workers_emails"})
    emails = clean.records("workers_emails")
    order = list(dict.fromkeys(r["PersonId"] for r in emails))
    assert len(order) == SCALE
    served = emails_served(url)
    at = next(i for i in range(70, SCALE) if served[order[i]] > 25)
    output, error = sync_failing_at(url, sandbox, {"workers_emails"}, 5, order[at])
    assert error is not None
    assert "404" in str(error), error
    landed = set(order[: at - at % 5])  # the pages of 5 before the failing one
    assert output.records("workers_emails") == [r for r in emails if r["PersonId"] in landed]


def test_a_link_query_url_stays_within_its_bytes(
    url: str, emulator: OracleHcmEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every worker cut, one page of 100: each link query's URL, encoded as sent, stays within ``LINK_QUERY_BYTES``
    (800 here: 50 numeric keys take about 1,730 bytes, long string keys more), so more queries take fewer keys each;
    every parent is still asked for once and all its emails land (review24c #5)."""
    from urllib.parse import urlencode

    import xlr8_kit.oracle.stream as stream_module

    monkeypatch.setattr(stream_module, "LINK_QUERY_BYTES", 800, raising=False)
    config = hcm_config(url, resources=["workers"], page_size=100)
    resources = TapOracleHcm(config=config, parse_env_config=False).client.resources_url
    emulator.set_cut_children_every(1)
    try:
        start = len(emulator.collection_queries)
        out = run_tap(config, streams={"workers_emails"})
        asked = [
            q
            for q in emulator.collection_queries[start:]
            if q.get("fields") == "PersonId" and "PersonId = " in q.get("q", "")
        ]
        served = emails_served(url)
    finally:
        emulator.set_cut_children_every(0)
    assert dict(collections.Counter(r["PersonId"] for r in out.records("workers_emails"))) == served
    assert all(n > 25 for n in served.values())
    sizes = [len(f"{resources}/workers") + 1 + len(urlencode(q)) for q in asked]
    assert max(sizes) <= 800, sizes
    parents = collections.Counter(int(v) for q in asked for v in re.findall(r"PersonId = (\d+)", q["q"]))
    assert parents == dict.fromkeys(served, 1)
    assert len(asked) > SCALE // 50
