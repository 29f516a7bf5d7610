"""A stub S/4 system over real HTTP, for shapes the emulator does not serve (SAP's own API_BUSINESS_PARTNER EDMX,
analytical sets): a threaded server on 127.0.0.1 whose GET answers are ``reply(path, query)``."""

from __future__ import annotations

import threading
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlparse

#: (status, body, content type) of one answer.
Answer = tuple[int, bytes, str]


class StubServer:
    """Serves ``reply`` until ``close``; ``url`` is its base URL."""

    def reply(self, path: str, query: dict[str, str]) -> Answer:
        raise NotImplementedError

    def __init__(self) -> None:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: t.Any) -> None:
                pass

            def do_GET(self) -> None:
                parsed = urlparse(self.path)
                status, body, kind = stub.reply(parsed.path, dict(parse_qsl(parsed.query)))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
