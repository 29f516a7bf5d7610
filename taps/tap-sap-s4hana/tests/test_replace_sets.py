"""A purchase order's sub-rows (account assignments, conditions, schedule lines, notes) removed in S/4 are marked
deleted downstream: header-driven sets carry ``replace_by`` (the order), and no order's rows are sent in part
(audit25b F6: a removed account-assignment line stayed live, its cost split summing past 100 %)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.s4hana import S4HanaEmulator

from .conftest import basic_config

STREAM = "A_PurOrdAccountAssignment"
#: An incremental header-driven set (account assignments are read whole every run, s4aud29): where a target stopped
#: at the STATE covering a read must not lose the read's announcement.
ITEMS = "A_PurchaseOrderItem"
PROJECT = "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"


@pytest.fixture
def dropping_proxy(url: str) -> Iterator[tuple[str, dict]]:
    """Forwards to the emulator; once ``drop["on"]``, answers of the account-assignment set lack the line
    ``drop["key"]`` (or every line of order ``drop["order"]``), as S/4 does once the buyer removed it (the edit
    stamps the order's LastChangeDateTime)."""
    drop: dict = {"on": False, "key": None, "order": None, "fail": None, "stream": STREAM}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            request = urllib.request.Request(
                url + self.path, headers={k: v for k, v in self.headers.items() if k.lower() != "host"}
            )
            if drop["fail"] and f"/{drop['stream']}" in self.path and drop["fail"] in self.path.lower():
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            try:
                answer = urllib.request.urlopen(request)
                status, body, headers = answer.status, answer.read(), answer.headers
            except urllib.error.HTTPError as exc:
                status, body, headers = exc.code, exc.read(), exc.headers
            ours = f"/{drop['stream']}?" in self.path
            if drop["on"] and status == 200 and ours and "json" in headers.get("Content-Type", ""):
                document = json.loads(body)
                rows = document["d"]["results"]
                kept = [
                    r
                    for r in rows
                    if (r["PurchaseOrder"], r["PurchaseOrderItem"], r.get("AccountAssignmentNumber")) != drop["key"]
                    and r["PurchaseOrder"] != drop["order"]
                ]
                if len(kept) < len(rows) and "__count" in document["d"]:
                    document["d"]["__count"] = str(int(document["d"]["__count"]) - (len(rows) - len(kept)))
                document["d"]["results"] = kept
                body = json.dumps(document).encode()
            body = body.replace(url.encode(), f"http://127.0.0.1:{server.server_port}".encode())
            self.send_response(status)
            for name in ("Content-Type", "Date"):
                if headers.get(name):
                    self.send_header(name, headers[name])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", drop
    finally:
        server.shutdown()


def _land(stdout: str, tmp_path: Path, **extra: object) -> dict | None:
    """Lands the tap's ``stdout`` with the target CLI; the last state it relayed (what Meltano keeps)."""
    settings = {"project_id": PROJECT, "duckdb_path": str(tmp_path / "s.duckdb"), "pii_policy": {"default": "keep"}}
    target = Path(sys.executable).with_name("target-xlr8-truths")
    done = subprocess.run(
        [str(target), "--config", write_json(tmp_path / "t.json", {**settings, **extra})],
        input=stdout, capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    states = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return states[-1] if states else None


def _rows(tmp_path: Path, stream: str = STREAM) -> list[tuple]:
    like, third = ("%acc%assignment%", "account_assignment_number") if stream == STREAM else ("%order%item%", "NULL")
    with duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True) as conn:
        (table,) = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_name LIKE ?", [like]
            ).fetchall()
        ]
        return conn.execute(
            f"SELECT purchase_order, purchase_order_item, {third}, _sdc_deleted_at IS NOT NULL "
            f'FROM "{table}" ORDER BY ALL'
        ).fetchall()


def _sync(
    base: str,
    tmp_path: Path,
    page_size: int = 4,
    state: dict | None = None,
    env: dict[str, str] | None = None,
    stream: str = STREAM,
    **extra: object,
) -> tuple[int, str]:
    config = basic_config(base, services=["API_PURCHASEORDER_PROCESS_SRV"], page_size=page_size, **extra)
    config_file = write_json(tmp_path / "c.json", config)
    discovered = run_tap_cli("tap-sap-s4hana", ["--config", config_file, "--discover"], tmp_path)
    assert discovered.returncode == 0, discovered.stderr[-2000:]
    catalog = write_json(tmp_path / "cat.json", select_streams(json.loads(discovered.stdout), {stream}))
    args = ["--config", config_file, "--catalog", catalog]
    if state is not None:
        args += ["--state", write_json(tmp_path / "state.json", state)]
    done = run_tap_cli("tap-sap-s4hana", args, tmp_path, env=env)
    return done.returncode, done.stdout


def test_a_removed_account_assignment_line_is_marked_deleted(dropping_proxy: tuple[str, dict], tmp_path: Path) -> None:
    base, drop = dropping_proxy
    # one page: the proxy cuts a row out of an answer, and a page shorter than $top ends a read (a real server
    # removes it from the collection, so its pages stay full)
    rc, first = _sync(base, tmp_path, page_size=5000)
    assert rc == 0
    _land(first, tmp_path)
    before = _rows(tmp_path)
    assert sum(1 for r in before if r[0] == "PO00000001") > 1
    assert not any(r[3] for r in before)
    drop["key"] = gone = next(r[:3] for r in before if r[0] == "PO00000001")
    drop["on"] = True
    rc, second = _sync(base, tmp_path, page_size=5000)
    assert rc == 0
    _land(second, tmp_path)
    after = _rows(tmp_path)
    assert [r for r in after if r[3]] == [(*gone, True)]
    assert [r[:3] for r in after] == [r[:3] for r in before]


def test_a_read_failing_part_way_sends_no_part_of_an_order(
    url: str, sandbox: Sandbox, emulator: S4HanaEmulator, tmp_path: Path
) -> None:
    rc, whole = _sync(url, tmp_path)
    assert rc == 0
    full = Counter(m["record"]["PurchaseOrder"] for m in _records(whole, STREAM))
    assert any(n > 4 for n in full.values()) or len(full) > 1
    path = "/sap/opu/odata/sap/API_PURCHASEORDER_PROCESS_SRV/" + STREAM
    # page 4 by its query (``$skip``), not the 4th request to arrive: pages are read side by side, so the 4th to
    # arrive may be page 1 (then nothing is sent and the check has nothing to check)
    sandbox.faults.add("s4hana", path, FaultSpec("status", status=503, times=100, query={"$skip": "12"}))
    rc, cut = _sync(url, tmp_path, http={"backoff_base": 0.01, "backoff_max": 0.02, "max_attempts": 2})
    assert rc != 0
    sent = Counter(m["record"]["PurchaseOrder"] for m in _records(cut, STREAM))
    assert sent
    assert all(sent[po] == full[po] for po in sent), (sent, full)


def test_a_stream_map_filter_reads_part_of_each_order_and_marks_nothing_deleted(
    url: str, sandbox: Sandbox, emulator: S4HanaEmulator, tmp_path: Path
) -> None:
    """review25a F1: ``stream_maps`` ``__filter__`` reads part of each order like the ``filters`` setting does."""
    rc, whole = _sync(url, tmp_path)
    assert rc == 0
    _land(whole, tmp_path)
    before = _rows(tmp_path)
    maps = {STREAM: {"__filter__": "PurchaseOrderItem == '00010'"}}
    rc, part = _sync(url, tmp_path, stream_maps=maps)
    assert rc == 0
    assert '"replace_by"' not in part
    _land(part, tmp_path)
    assert _rows(tmp_path) == before


def test_an_order_left_with_no_account_assignment_has_its_last_ones_marked_deleted(
    dropping_proxy: tuple[str, dict], tmp_path: Path
) -> None:
    """empty26: every account-assignment line of PO00000001 removed in S/4 sends no row of the order; the read
    announces the orders it read whole (``_xlr8_sets_read``), and the target marks the order's old lines deleted
    (they stayed live: no record named the order). Every other order's lines stay as they were."""
    base, drop = dropping_proxy
    rc, first = _sync(base, tmp_path, page_size=5000)
    assert rc == 0
    _land(first, tmp_path)
    before = _rows(tmp_path)
    assert sum(1 for r in before if r[0] == "PO00000001") > 1
    drop.update(on=True, order="PO00000001")
    rc, second = _sync(base, tmp_path, page_size=5000)
    assert rc == 0
    assert not any(m["record"].get("PurchaseOrder") == "PO00000001" for m in _records(second, STREAM))
    _land(second, tmp_path)
    after = _rows(tmp_path)
    assert [r for r in after if r[3]] == [(*r[:3], True) for r in before if r[0] == "PO00000001"]
    assert [r[:3] for r in after] == [r[:3] for r in before]


def test_a_read_failing_part_way_leaves_an_emptied_order_as_it_was(
    dropping_proxy: tuple[str, dict], emulator: S4HanaEmulator, tmp_path: Path
) -> None:
    """A read that fails (the lines' second server-driven page answers 503) announces no order read whole, though
    the emptied order's rows came on the first page: its lines stay live, as every line does."""
    base, drop = dropping_proxy
    emulator.server_page_size = 20  # pages by ``__next`` links (``$skiptoken``): a short page ends no read
    rc, first = _sync(base, tmp_path, page_size=5000)
    assert rc == 0
    _land(first, tmp_path)
    before = _rows(tmp_path)
    assert sum(1 for r in before if r[0] == "PO00000001") > 1
    drop.update(on=True, order="PO00000001", fail="skiptoken")
    http = {"backoff_base": 0.01, "backoff_max": 0.02, "max_attempts": 2}
    rc, cut = _sync(base, tmp_path, page_size=5000, http=http)
    assert rc != 0
    assert _records(cut, STREAM)  # the first page's lines came
    assert not _records(cut, "_xlr8_sets_read")
    _land(cut, tmp_path)
    assert _rows(tmp_path) == before


def _records(singer: str, stream: str) -> list[dict]:
    return [m for m in parse_singer_messages(singer) if m["type"] == "RECORD" and m["stream"] == stream]


@pytest.mark.parametrize("loop", ["kit", "sdk"])
def test_in_batch_mode_a_target_stopped_at_the_state_covering_the_read_has_the_emptied_order_deleted(
    dropping_proxy: tuple[str, dict], tmp_path: Path, loop: str
) -> None:
    """empty26 left: in BATCH mode the STATE that covers the read went out before the read's announcement, so a
    target stopped right after relaying it lost the announcement for good: the next run starts past every order
    read (incremental on the header stamp), never names PO00000001 again, and its emptied lines stayed live. The
    run's messages are cut right after the first STATE whose bookmark covers the read, as a target killed there
    has seen them; the announcement now comes before it. On the kit's record loop and on the SDK's."""
    base, drop = dropping_proxy
    drop["stream"] = ITEMS
    batches = tmp_path / "batches"
    batches.mkdir()
    batch = {"encoding": {"format": "jsonl", "compression": "none"}, "storage": {"root": batches.as_uri()}}
    batch["batch_size"] = 7  # several files, the last one short
    env = {"XLR8_TAP_SDK_RECORD_LOOP": "1" if loop == "sdk" else "0"}
    rc, first = _sync(base, tmp_path, page_size=5000, stream=ITEMS, env=env, batch_config=batch)
    assert rc == 0
    _land(first, tmp_path, batch_locations=[str(batches)])
    before = _rows(tmp_path, ITEMS)
    assert sum(1 for r in before if r[0] == "PO00000001") > 1
    drop.update(on=True, order="PO00000001")
    rc, second = _sync(base, tmp_path, page_size=5000, stream=ITEMS, env=env, batch_config=batch)
    assert rc == 0
    messages = parse_singer_messages(second)
    assert sum(m["type"] == "BATCH" for m in messages) > 1
    covering = next(
        i
        for i, m in enumerate(messages)
        if m["type"] == "STATE" and m["value"]["bookmarks"].get(ITEMS, {}).get("replication_key_value")
    )
    stopped = "".join(json.dumps(m) + "\n" for m in messages[: covering + 1])
    state = _land(stopped, tmp_path, batch_locations=[str(batches)])
    assert state is not None
    assert state["bookmarks"][ITEMS] == messages[covering]["value"]["bookmarks"][ITEMS]  # relayed: kept
    rc, third = _sync(base, tmp_path, page_size=5000, stream=ITEMS, state=state, env=env, batch_config=batch)
    assert rc == 0
    announced = [v for m in _records(third, "_xlr8_sets_read") for v in m["record"]["sets"]["PurchaseOrder"]]
    assert "PO00000001" not in announced  # the rerun, past every order read, never names the order again
    _land(third, tmp_path, batch_locations=[str(batches)])
    after = _rows(tmp_path, ITEMS)
    assert [r for r in after if r[3]] == [(*r[:3], True) for r in before if r[0] == "PO00000001"]
    assert [r[:3] for r in after] == [r[:3] for r in before]


@pytest.mark.parametrize("loop", ["kit", "sdk"])
def test_in_record_mode_a_target_stopped_at_the_state_covering_the_read_has_the_emptied_order_deleted(
    dropping_proxy: tuple[str, dict], tmp_path: Path, loop: str
) -> None:
    """review27f H1: in RECORD mode (the default) the STATE that covers the read still went out before the read's
    announcement, on both record loops: a target stopped right after relaying it lost the announcement for good
    (the next run starts past every order read) and the emptied order's lines stayed live. The run's messages are
    cut right after the first STATE whose bookmark covers the read; the announcement now comes before it."""
    base, drop = dropping_proxy
    drop["stream"] = ITEMS
    env = {"XLR8_TAP_SDK_RECORD_LOOP": "1" if loop == "sdk" else "0"}
    rc, first = _sync(base, tmp_path, page_size=5000, stream=ITEMS, env=env)
    assert rc == 0
    _land(first, tmp_path)
    before = _rows(tmp_path, ITEMS)
    assert sum(1 for r in before if r[0] == "PO00000001") > 1
    drop.update(on=True, order="PO00000001")
    rc, second = _sync(base, tmp_path, page_size=5000, stream=ITEMS, env=env)
    assert rc == 0
    messages = parse_singer_messages(second)
    covering = next(
        i
        for i, m in enumerate(messages)
        if m["type"] == "STATE" and m["value"]["bookmarks"].get(ITEMS, {}).get("replication_key_value")
    )
    announced_at = [i for i, m in enumerate(messages) if m["type"] == "RECORD" and m["stream"] == "_xlr8_sets_read"]
    assert announced_at
    assert max(announced_at) < covering
    stopped = "".join(json.dumps(m) + "\n" for m in messages[: covering + 1])
    state = _land(stopped, tmp_path)
    assert state is not None
    rc, third = _sync(base, tmp_path, page_size=5000, stream=ITEMS, state=state, env=env)
    assert rc == 0
    _land(third, tmp_path)
    after = _rows(tmp_path, ITEMS)
    assert [r for r in after if r[3]] == [(*r[:3], True) for r in before if r[0] == "PO00000001"]
    assert [r[:3] for r in after] == [r[:3] for r in before]
