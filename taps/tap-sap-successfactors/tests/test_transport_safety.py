"""A12: a ``__next`` link that leaves the service host is refused before any request (and credentials) go there."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from xlr8_kit.http.errors import InsecureTransportError
from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.emulator import SandboxContext
from xlr8_sandbox.products.successfactors import SuccessFactorsEmulator

from .conftest import basic_config, run_tap

METADATA = SuccessFactorsEmulator(SandboxContext(company=Company(scale=10)))._metadata


class _Handler(BaseHTTPRequestHandler):
    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        port = self.server.server_address[1]
        if self.path.startswith("/odata/v2/$metadata"):
            body, kind = METADATA, "application/xml"
        elif self.path.startswith("/odata/v2/User"):
            row = {"userId": "E000001", "lastModifiedDateTime": "/Date(1700000000000+0000)/"}
            page = {"d": {"results": [row], "__next": f"http://localhost:{port}/steal?page=2"}}
            body, kind = json.dumps(page).encode(), "application/json"
        else:
            body, kind = b"{}", "application/json"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def foreign_next_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a12_next_link_to_another_host_is_refused(foreign_next_server: str) -> None:
    _Handler.seen.clear()
    with pytest.raises(InsecureTransportError, match="another host"):
        run_tap(basic_config(foreign_next_server, entity_sets=["User"], snapshot_paging_threshold=0))
    assert any(path.startswith("/odata/v2/User") for path, _ in _Handler.seen)
    assert not [path for path, _ in _Handler.seen if path.startswith("/steal")]
