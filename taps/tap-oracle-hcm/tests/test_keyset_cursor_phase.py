"""The keyset read's first phase, page after page by one cursor (review 20b): it stops a server that does not move
past the keyset as the SDK's paginator did, and it counts a body slow after the headers as latency (a tenant that
flushes its headers and streams its rows, or a body slow on the wire), so such a tenant's read still plans ranges."""

from __future__ import annotations

import http.client
import threading
import time
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from xlr8_kit.oracle.stream import FusionStream
from xlr8_kit.testing.singer_cli import select_streams
from xlr8_sandbox.products.oracle_fusion.hcm import OracleHcmEmulator
from xlr8_sandbox.read_ahead_checks import sync_until_error
from xlr8_tap_oracle_hcm.tap import TapOracleHcm

from .conftest import hcm_config, run_tap, unstamped


def test_a_page_that_does_not_move_past_the_keyset_stops_the_read(
    url: str, emulator: OracleHcmEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that answers the page after a keyset with the same rows (here: the tap's ``q`` without its ``after``
    clause) stops the read at page 2, whatever the width; the cursor phase repeated it without end (1,200 records of
    20 distinct by the 60th request)."""
    q = FusionStream.q
    monkeypatch.setattr(FusionStream, "q", lambda self, context, after=None, upto=None: q(self, context, None, upto))
    emulator.change_rows("workers", lambda i, row: {**row, "LastUpdateDate": "2024-01-01T00:00:00.001+00:00"})
    start = len(emulator.collection_queries)
    config = hcm_config(url, resources=["workers"], page_size=20)  # the default width
    catalog = select_streams(TapOracleHcm(config=config, parse_env_config=False).catalog_dict, {"workers"})
    output, error = sync_until_error(TapOracleHcm(config=config, catalog=catalog, parse_env_config=False))
    assert isinstance(error, RuntimeError)
    assert "Loop detected in pagination" in str(error)
    assert len(emulator.collection_queries) - start <= 3
    assert len(output.records("workers")) <= 40  # page 1 and the page that repeated it, read ahead at most


def _slow_body_proxy(target: str, delay: float) -> ThreadingHTTPServer:
    """In front of the emulator: the status line and headers at once, the body ``delay`` later."""
    parts = urlsplit(target)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: t.Any) -> None:
            pass

        def do_GET(self) -> None:
            upstream = http.client.HTTPConnection(str(parts.hostname), parts.port)
            upstream.request("GET", self.path, headers={k: v for k, v in self.headers.items() if k.lower() != "host"})
            answer = upstream.getresponse()
            data = answer.read()
            upstream.close()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.flush()
            time.sleep(delay)
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_body_slow_after_its_headers_is_latency(
    url: str, emulator: OracleHcmEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one cursor first (a threshold of 2; the default starts ranges after page 1 whatever the round trips),
    0.25 s between each answer's headers and its body: the read plans ranges (bound requests go out) and lands what
    one cursor lands; judged on the time to the headers it stayed on one cursor (no bound asked, 34 pages in turn)."""
    monkeypatch.setattr("xlr8_kit.oracle.ranges.RANGES_AT", 2.0)
    plain = {"resources": ["workers"], "page_size": 3}  # the shipped full_read_every_days: STATEs unstamped
    one = run_tap(hcm_config(url, **plain, max_concurrent_requests=1), streams={"workers"})
    server = _slow_body_proxy(url, 0.25)
    try:
        start = len(emulator.collection_queries)
        proxied = f"http://127.0.0.1:{server.server_address[1]}"
        ranged = run_tap(hcm_config(proxied, **plain), streams={"workers"})
        asked = emulator.collection_queries[start:]
    finally:
        server.shutdown()
    assert [q for q in asked if "<=" in q.get("q", "")], "no range read: the slow body was not taken for latency"
    assert ranged.records("workers") == one.records("workers")
    assert unstamped(ranged.of_type("STATE")[-1]) == unstamped(one.of_type("STATE")[-1])
