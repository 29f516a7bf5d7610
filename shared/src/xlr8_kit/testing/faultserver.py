"""A small threaded HTTP(S) server on 127.0.0.1 that answers from a script: status, headers, body, stalls,
connection resets and truncated bodies. Tests of any package use it to drive real code over real sockets.

    with FaultServer() as server:
        server.script("/items", Reply(503), Reply(200, body={"items": []}))
        session.get(server.url + "/items")
        assert server.count("/items") == 2

Each path has a FIFO queue of replies; when it runs dry the path's handler (``route``), else the last reply
(``repeat_last=True``), else ``server.default`` answers. Every request is recorded (method, path, query,
headers, body) before it is answered, resets included.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import socket
import ssl
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: Stall this long before answering (read-timeout tests); interrupted when the server stops.
    delay: float = 0.0
    #: Abort the connection with a TCP RST instead of answering.
    reset: bool = False
    #: Send only the first N body bytes while advertising the full Content-Length, then close.
    truncate_to: int | None = None
    #: Send the body without Content-Length and close the connection (truncated JSON goes unnoticed by HTTP).
    close_delimited: bool = False
    #: Send the body with ``Transfer-Encoding: chunked``; with ``truncate_to`` the stream dies mid-chunk.
    chunked: bool = False
    #: With ``delay``: answer at once, send the first N body bytes, then stall ``delay`` s and close (a body that
    #: stops mid-transfer: a read timeout while streaming, not before the answer).
    stall_at: int | None = None

    def encoded(self) -> tuple[bytes, str | None]:
        if isinstance(self.body, dict | list):
            return json.dumps(self.body).encode(), "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return self.body, None


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    raw_query: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


Handler = Callable[[RecordedRequest], Reply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Broken pipes after resets and timeouts are the point of this server, not errors."""


class FaultServer:
    """Start with ``with FaultServer() as s`` (or ``start()``/``stop()``); ``s.url`` is the base URL."""

    def __init__(self, *, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._port = port
        self.tls = tls
        self.default = Reply(404, body={"error": "no scripted reply"})
        self.requests: list[RecordedRequest] = []
        self._queues: dict[str, deque[Reply]] = {}
        self._last: dict[str, Reply] = {}
        self._repeat: set[str] = set()
        self._routes: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- scripting ------------------------------------------------------------------------------------------

    def script(self, path: str, *replies: Reply, repeat_last: bool = False) -> None:
        """Queue replies for ``path`` (exact, without query string); ``*`` matches any path."""
        with self._lock:
            self._queues.setdefault(path, deque()).extend(replies)
            if repeat_last:
                self._repeat.add(path)
            else:
                self._repeat.discard(path)

    def route(self, path: str, handler: Handler) -> None:
        """Answer ``path`` dynamically once its queue is empty."""
        with self._lock:
            self._routes[path] = handler

    def count(self, path: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if path is None or r.path == path)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            for key in (request.path, "*"):
                queue = self._queues.get(key)
                if queue:
                    reply = queue.popleft()
                    self._last[key] = reply
                    return reply
            for key in (request.path, "*"):
                if key in self._routes:
                    handler = self._routes[key]
                    break
                if key in self._repeat and key in self._last:
                    return self._last[key]
            else:
                return self.default
        return handler(request)

    # -- lifecycle ------------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self) -> FaultServer:
        self._server = _Server((self.host, self._port), _make_handler(self))
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _make_handler(owner: FaultServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stall

        def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest output stays readable
            pass

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorded = RecordedRequest(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query),
                raw_query=parts.query,
                headers=dict(self.headers.items()),
                body=body,
                at=time.monotonic(),
            )
            reply = owner._next_reply(recorded)
            if reply.delay and reply.stall_at is None and owner._stopping.wait(reply.delay):
                self.close_connection = True
                return
            if reply.reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            payload, content_type = reply.encoded()
            headers = {k.lower(): v for k, v in reply.headers.items()}
            # ``send_response`` without its own ``Date`` when the reply gives one: a server on another clock
            self.send_response_only(reply.status)
            self.send_header("Server", self.version_string())
            if "date" not in headers:
                self.send_header("Date", self.date_time_string())
            if content_type and "content-type" not in headers:
                self.send_header("Content-Type", content_type)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.chunked:
                self.send_header("Transfer-Encoding", "chunked")
            elif reply.close_delimited:
                self.send_header("Connection", "close")
                self.close_connection = True
            elif "content-length" not in headers:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if reply.chunked:
                self._write_chunked(payload, reply.truncate_to)
                return
            if reply.stall_at is not None:
                self.wfile.write(payload[: reply.stall_at])
                self.wfile.flush()
                owner._stopping.wait(reply.delay)
                self.close_connection = True
                return
            if reply.truncate_to is not None:
                self.wfile.write(payload[: reply.truncate_to])
                self.wfile.flush()
                self.close_connection = True
                return
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _write_chunked(self, payload: bytes, truncate_to: int | None) -> None:
            step = 16
            for start in range(0, len(payload), step):
                chunk = payload[start : start + step]
                if truncate_to is not None and start + len(chunk) > truncate_to:
                    # announce the whole chunk, deliver part of it, hang up: the client sees a broken chunk
                    self.wfile.write(b"%x\r\n" % len(chunk) + chunk[: max(0, truncate_to - start)])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    return _Handler


# -- TLS helpers ------------------------------------------------------------------------------------------------


def make_certificate(
    directory: str | Path,
    *,
    hostnames: tuple[str, ...] = ("localhost",),
    ips: tuple[str, ...] = ("127.0.0.1",),
    days_valid: int = 30,
    expired: bool = False,
    name: str = "server",
) -> tuple[Path, Path]:
    """Write a self-signed certificate and key (PEM) for loopback TLS tests; returns (cert_path, key_path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0] if hostnames else name)])
    now = dt.datetime.now(dt.UTC)
    not_before, not_after = (
        (now - dt.timedelta(days=30), now - dt.timedelta(days=1))
        if expired
        else (now - dt.timedelta(minutes=5), now + dt.timedelta(days=days_valid))
    )
    alt_names: list[x509.GeneralName] = [x509.DNSName(h) for h in hostnames]
    alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = Path(directory)
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def server_tls_context(cert_path: str | Path, key_path: str | Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert_path), str(key_path))
    return context


@contextlib.contextmanager
def running(*servers: FaultServer) -> Iterator[tuple[FaultServer, ...]]:
    """Start several servers (e.g. an origin and a redirect target) and stop them all."""
    with contextlib.ExitStack() as stack:
        yield tuple(stack.enter_context(s) for s in servers)
