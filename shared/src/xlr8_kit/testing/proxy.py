"""A small authenticating forward proxy for tests: ``CONNECT`` tunnels (TLS stays end to end) and absolute-form
plain-http forwarding, with Basic ``Proxy-Authorization``. It records what it was asked, never bodies."""

from __future__ import annotations

import base64
import select
import socket
import socketserver
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class ProxyLog:
    #: (method, "host:port") per request the proxy accepted.
    accepted: list[tuple[str, str]] = field(default_factory=list)
    refused: int = 0


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class TestProxy:
    """``with TestProxy("user", "pass") as proxy: proxy.url`` -> ``http://127.0.0.1:<port>``."""

    __test__ = False  # not a pytest class

    def __init__(self, username: str, password: str) -> None:
        self.expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.log = ProxyLog()
        self._lock = threading.Lock()
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                owner._handle(self)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> TestProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, handler: socketserver.StreamRequestHandler) -> None:
        head = handler.rfile.readline(65536).decode("latin-1").strip()
        if not head:
            return
        method, target, _version = head.split(" ", 2)
        headers: list[tuple[str, str]] = []
        while True:
            line = handler.rfile.readline(65536).decode("latin-1")
            if line in ("\r\n", "\n", ""):
                break
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
        auth = next((v for k, v in headers if k.lower() == "proxy-authorization"), None)
        if auth != self.expected:
            with self._lock:
                self.log.refused += 1
            handler.wfile.write(
                b'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n'
                b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            with self._lock:
                self.log.accepted.append((method, target))
            upstream = socket.create_connection((host, int(port)), timeout=30)
            handler.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            handler.wfile.flush()
            _pipe(handler.connection, upstream)
            return
        parts = urlsplit(target)
        with self._lock:
            self.log.accepted.append((method, f"{parts.hostname}:{parts.port or 80}"))
        upstream = socket.create_connection((parts.hostname or "", parts.port or 80), timeout=30)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        kept = [
            (k, v) for k, v in headers if k.lower() not in {"proxy-authorization", "proxy-connection", "connection"}
        ]
        request = f"{method} {path or '/'} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in kept)
        upstream.sendall((request + "Connection: close\r\n\r\n").encode("latin-1"))
        length = int(next((v for k, v in headers if k.lower() == "content-length"), "0") or 0)
        if length:
            upstream.sendall(handler.rfile.read(length))
        while chunk := upstream.recv(65536):
            handler.wfile.write(chunk)
        upstream.close()


def _pipe(client: socket.socket, upstream: socket.socket) -> None:
    sockets = [client, upstream]
    try:
        while True:
            readable, _, broken = select.select(sockets, [], sockets, 30)
            if broken or not readable:
                return
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                (upstream if sock is client else client).sendall(data)
    finally:
        upstream.close()
