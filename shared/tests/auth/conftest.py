"""A token endpoint and a protected API on 127.0.0.1 that share the test's controllable clock.

The API rejects (401 INVALID_SESSION_ID) any token that is unknown, revoked or expired *by the fake clock*, and
counts every request made with an expired token, so "never sent expired" is asserted on what the server saw.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

START = 1_767_603_600.0  # 2026-01-05T09:00:00Z


class FakeClock:
    """Wall-clock seconds that only move when the test says so (thread-safe)."""

    def __init__(self, start: float = START) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


class RecordingSleep:
    """Injected sleep: records the waits and moves the fake clock instead of blocking."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds)


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    form: dict[str, str]
    at: float

    def basic(self) -> tuple[str, str] | None:
        """(user, password) of an HTTP Basic header, if any."""
        value = self.headers.get("authorization", "")
        if not value.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        return user, password


Reply = tuple[int, Any, dict[str, str]]


@dataclass
class AuthServer:
    clock: FakeClock
    expires_in: int | None = 60
    token_delay_s: float = 0.0
    #: Scripted token-endpoint replies, consumed first; then ``token_handler`` (default: issue a token).
    token_script: list[Reply] = field(default_factory=list)
    token_handler: Callable[[Call], Reply] | None = None
    #: Decides whether the API accepts a request (default: bearer token live by the fake clock).
    api_guard: Callable[[Call], Reply | None] | None = None
    token_calls: list[Call] = field(default_factory=list)
    api_calls: list[Call] = field(default_factory=list)
    issued: dict[str, float | None] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    expired_uses: int = 0
    events: list[str] = field(default_factory=list)
    base_url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _counter: int = 0

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth/token"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/data"

    def issue(self, *, refresh_token: str | None = None, expires_in: int | None = -1) -> dict[str, Any]:
        lifetime = self.expires_in if expires_in == -1 else expires_in
        with self._lock:
            self._counter += 1
            token = f"access-{self._counter:04d}-{int(self.clock())}"
            self.issued[token] = None if lifetime is None else self.clock() + lifetime
        self.events.append(f"issued {token}")
        body: dict[str, Any] = {"access_token": token, "token_type": "bearer"}
        if lifetime is not None:
            body["expires_in"] = lifetime
        if refresh_token:
            body["refresh_token"] = refresh_token
        return body

    def live(self, token: str) -> bool:
        with self._lock:
            if token not in self.issued or token in self.revoked:
                return False
            expires = self.issued[token]
        return expires is None or self.clock() < expires

    def handle_token(self, call: Call) -> Reply:
        if self.token_delay_s:
            time.sleep(self.token_delay_s)
        with self._lock:
            scripted = self.token_script.pop(0) if self.token_script else None
        if scripted is not None:
            return scripted
        if self.token_handler is not None:
            return self.token_handler(call)
        return 200, self.issue(), {}

    def handle_api(self, call: Call) -> Reply:
        if self.api_guard is not None:
            verdict = self.api_guard(call)
            if verdict is not None:
                return verdict
        header = call.headers.get("authorization", "")
        token = header.split(" ", 1)[1] if " " in header else ""
        with self._lock:
            expires = self.issued.get(token)
            if expires is not None and self.clock() >= expires:
                self.expired_uses += 1
        if not self.live(token):
            self.events.append(f"rejected {token}")
            return 401, [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}], {}
        self.events.append(f"api {token}")
        return 200, {"ok": True, "token": token}, {}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # eight threads connecting at once must not hit the default backlog of 5


def _make_handler(server: AuthServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        wbufsize = 1 << 16  # headers and body leave in one write (no delayed-ACK stall per request)

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            parsed = urlparse(self.path)
            call = Call(
                path=parsed.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                form=form,
                at=server.clock(),
            )
            if parsed.path == "/oauth/token" or parsed.path == "/login":
                with server._lock:
                    server.token_calls.append(call)
                status, body, headers = server.handle_token(call)
            else:
                with server._lock:
                    server.api_calls.append(call)
                status, body, headers = server.handle_api(call)
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response_only(status)  # send_response without its Date when the script gives one
            self.send_header("Server", self.version_string())
            if "Date" not in headers:
                self.send_header("Date", self.date_time_string())
            content_type = "text/html" if isinstance(body, bytes) else "application/json"
            self.send_header("Content-Type", headers.pop("Content-Type", content_type))
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = _serve
        do_POST = _serve

    return Handler


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeper(clock: FakeClock) -> RecordingSleep:
    return RecordingSleep(clock)


@pytest.fixture
def auth_server(clock: FakeClock) -> Iterator[AuthServer]:
    state = AuthServer(clock=clock)
    httpd = _Server(("127.0.0.1", 0), _make_handler(state))
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


@dataclass(frozen=True)
class KeyPair:
    key_pem: bytes
    cert_pem: bytes
    public_pem: bytes

    def encrypted_key_pem(self, passphrase: str) -> bytes:
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode()),
        )


def make_key_pair(common_name: str, *, issuer: tuple[Any, x509.Name] | None = None, **cert_opts: Any) -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    signing_key, issuer_name = issuer if issuer else (key, name)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
    )
    if cert_opts.get("ca"):
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    if cert_opts.get("san_ip"):
        import ipaddress

        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(cert_opts["san_ip"]))]), critical=False
        )
    cert = builder.sign(signing_key, hashes.SHA256())
    return KeyPair(
        key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        public_pem=key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )


@pytest.fixture(scope="session")
def customer_keys() -> KeyPair:
    return make_key_pair("xlr8 customer signing key")


@pytest.fixture(scope="session")
def other_keys() -> KeyPair:
    return make_key_pair("someone else")


@pytest.fixture(scope="session")
def key_factory() -> Callable[..., KeyPair]:
    return make_key_pair
