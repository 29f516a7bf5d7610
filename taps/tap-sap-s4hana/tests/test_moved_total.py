"""A set that changes while its ``$skip`` windows are read (review29e M1, L1): a row deleted in S/4 after window k
was answered moves every later row up one place, and the row crossing into window k is read by no window. The
read is then not whole: it must neither announce its orders read whole (``_xlr8_sets_read``: the target would mark
that live row deleted) nor send ACTIVATE_VERSION. The tap sees it by the set's total (``$inlinecount`` on every
window): its rows and state still go out, deletions wait for the next read that sees no change, said at WARNING.

The proxy below answers, once ``shift["on"]``, every ``$skip=N`` window (N > 0) of one set as ``$skip=N+1`` with a
total one lower, as S/4 does after a row of the first window was deleted. It depends on each request's query
alone, never on when or in which order requests arrive, so windows read one at a time or several at once see the
same collection."""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .test_replace_sets import STREAM, _land, _records, _rows, _sync

HEADERS = "A_PurchaseOrder"


@pytest.fixture
def shifting_proxy(url: str) -> Iterator[tuple[str, dict]]:
    shift: dict = {"on": False, "set": STREAM}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path
            ours = f"/{shift['set']}?" in path
            m = re.search(r"\$skip=(\d+)", path) or re.search(r"%24skip=(\d+)", path)
            moved = shift["on"] and ours and m is not None and int(m.group(1)) > 0
            if moved and m is not None:
                # a row of the first window was deleted after that window was answered: every later row moved up
                path = path[: m.start(1)] + str(int(m.group(1)) + 1) + path[m.end(1) :]
            request = urllib.request.Request(
                url + path, headers={k: v for k, v in self.headers.items() if k.lower() != "host"}
            )
            try:
                answer = urllib.request.urlopen(request)
                status, body, headers = answer.status, answer.read(), answer.headers
            except urllib.error.HTTPError as exc:
                status, body, headers = exc.code, exc.read(), exc.headers
            if moved and status == 200:
                document = json.loads(body)
                if "__count" in document["d"]:
                    document["d"]["__count"] = str(int(document["d"]["__count"]) - 1)
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
        yield f"http://127.0.0.1:{server.server_port}", shift
    finally:
        server.shutdown()


def _warned(logs: list[str], entity_set: str) -> list[str]:
    return [line for line in logs[-1].splitlines() if "WARNING" in line and f"{entity_set} changed while" in line]


@pytest.mark.parametrize("window", [1, 4])
def test_a_delete_during_the_every_run_read_marks_no_live_row_deleted(
    shifting_proxy: tuple[str, dict], tmp_path: Path, window: int
) -> None:
    """M1: the account assignments (read whole every run) shift under their windows, one at a time and four at
    once: no order is announced, no row is marked deleted, and the next clean run announces again."""
    base, shift = shifting_proxy
    logs: list[str] = []
    rc, first = _sync(base, tmp_path, page_size=4, max_concurrent_requests=window, logs=logs)
    assert rc == 0
    assert _records(first, "_xlr8_sets_read")
    _land(first, tmp_path)
    before = _rows(tmp_path)
    assert len(before) > 8
    assert not any(r[3] for r in before)
    shift["on"] = True
    rc, second = _sync(base, tmp_path, page_size=4, max_concurrent_requests=window, logs=logs)
    assert rc == 0
    assert len(_records(second, STREAM)) == len(before) - 1  # the row that crossed into the first window
    _land(second, tmp_path)
    assert _rows(tmp_path) == before  # the missed line stays live, as it is in S/4
    assert not _records(second, "_xlr8_sets_read")
    (warning,) = _warned(logs, STREAM)
    assert f"({len(before)} rows, then {len(before) - 1})" in warning
    shift["on"] = False
    rc, third = _sync(base, tmp_path, page_size=4, max_concurrent_requests=window, logs=logs)
    assert rc == 0
    assert _records(third, "_xlr8_sets_read")  # a clean read announces again: deletions were only delayed
    assert not _warned(logs, STREAM)
    _land(third, tmp_path)
    assert _rows(tmp_path) == before


@pytest.mark.parametrize("window", [1, 4])
def test_activate_version_is_held_when_the_order_key_read_moved(
    shifting_proxy: tuple[str, dict], tmp_path: Path, window: int
) -> None:
    """L1: the order keys shift under their windows (an order archived meanwhile): the order pushed out of the
    key read has its lines skipped, and the run's ACTIVATE_VERSION would mark them deleted. Held back instead."""
    base, shift = shifting_proxy
    logs: list[str] = []
    options = {"page_size": 4, "max_concurrent_requests": window, "emit_activate_version_messages": True}
    rc, first = _sync(base, tmp_path, logs=logs, **options)
    assert rc == 0
    assert '"ACTIVATE_VERSION"' in first
    _land(first, tmp_path)
    before = _rows(tmp_path)
    assert not any(r[3] for r in before)
    shift.update(on=True, set=HEADERS)
    rc, second = _sync(base, tmp_path, logs=logs, **options)
    assert rc == 0
    assert len(_records(second, STREAM)) < len(before)  # an order's lines skipped
    _land(second, tmp_path)
    assert _rows(tmp_path) == before  # they stay live, as they are in S/4
    assert '"ACTIVATE_VERSION"' not in second
    assert not _records(second, "_xlr8_sets_read")
    (warning,) = _warned(logs, HEADERS)
    assert re.search(r"\((\d+) rows, then (\d+)\)", warning)
