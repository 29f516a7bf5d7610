"""The kit's request preparation (``ResilientSession.prepare_request``) puts on the wire exactly the bytes
``requests``' own path puts there: request line, headers in order, body. A raw socket server records each request
as it arrived, byte for byte, and answers a small JSON page."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests
from singer_sdk.streams.rest import HTTPRequest

from xlr8_kit.http.session import ResilientSession
from xlr8_kit.rest import encode_params
from xlr8_kit.testing.fake_time import FakeTime, with_session_time

from .conftest import demo_tap_module

PAGE = b'{"items": [{"id": 1, "name": "a"}], "next_page": null}'


class RawServer:
    """Records every request's raw bytes (head and body); answers ``PAGE``, keeping the connection open. The
    first answer on a path listed in ``set_cookie_on`` carries a ``Set-Cookie``."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.raw: list[bytes] = []
        self.set_cookie_on: set[str] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                body, buffer = buffer[:length], buffer[length:]
                path = head.split(b" ")[1].decode("ascii").split("?")[0]
                with self._lock:
                    self.raw.append(head + b"\r\n\r\n" + body)
                    cookie = b""
                    if path in self.set_cookie_on:
                        self.set_cookie_on.discard(path)
                        cookie = b"Set-Cookie: BrowserId=abc123; Path=/\r\n"
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + cookie
                    + b"Content-Length: "
                    + str(len(PAGE)).encode()
                    + b"\r\n\r\n"
                    + PAGE
                )

    def take(self) -> list[bytes]:
        with self._lock:
            taken, self.raw = self.raw, []
        return taken

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def raw_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[RawServer]:
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))  # requests' own path finds no netrc either
    server = RawServer()
    yield server
    server.close()


class Bearer(requests.auth.AuthBase):
    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = "Bearer tok-0001"
        return request


SOQL = "SELECT Id, Name FROM Account WHERE Name = 'O''Brien & Zoë' AND LastModifiedDate > 2026-01-01T00:00:00Z"
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/services/data/v60.0/query", {"params": {"q": SOQL}}),
    ("GET", "/services/data/v60.0/query?q=" + SOQL, {}),  # a SOQL query left unencoded in the URL
    ("GET", "/services/data/v60.0/query/01gxx0000004CDEAA2-2000", {}),  # nextRecordsUrl
    ("GET", "/files/Zoë Ångström/a b", {"params": "fields=A%2CB&q=Name+%3D+%27x%27"}),  # the SDK's encoded params
    ("GET", "/a%7Eb/c d", {"params": "x=%7e&y=%41+%2B&z=[1]"}),  # escapes of unreserved characters unquoted
    ("GET", "/search?a=1+2&b=c%2Bd&c=%7e&d=%2f", {"params": {"plus": "a+b c", "pct": "100%"}}),
    ("GET", "/odd?pct=100%&bad=%zz&quote=\"x\"&tick='y'", {}),  # '%' not starting an escape: requoted whole
    ("GET", "/odata/Employees?$filter=startswith(Name,'Ü') eq true&$top=500", {"headers": {"Accept": "json"}}),
    ("POST", "/query", {"json": {"query": SOQL, "ü": [1, 2.5, None]}}),
    ("POST", "/token", {"data": {"grant_type": "password", "password": "p@ss w+rd&é"}}),
    ("PATCH", "/x", {"data": b"raw bytes \xff", "headers": {"Content-Type": "application/octet-stream"}}),
    ("GET", "/with-auth", {"auth": ("user@example", "pässword"), "headers": {"X-Trace": b"bytes-value"}}),
]


def _kit_sends(session: ResilientSession, method: str, url: str, options: dict[str, Any]) -> None:
    """The kit's way: prepared by the kit session, authorised per attempt by ``send`` (unless the request
    carries its own auth, applied as it is prepared)."""
    prepared = session.prepare_request(requests.Request(method, url, **options))
    session.send(prepared, authenticate=None if options.get("auth") else Bearer())


def _requests_sends(session: requests.Session, method: str, url: str, options: dict[str, Any]) -> None:
    """``requests``' own way: ``Session.prepare_request`` (auth applied as it prepares), ``Session.send``."""
    auth = options.get("auth")
    prepared = session.prepare_request(requests.Request(method, url, **options))
    if auth is None:
        prepared = Bearer()(prepared)
    session.send(prepared)


@pytest.mark.parametrize(("method", "path", "options"), CASES, ids=[f"{m} {p[:40]}" for m, p, _ in CASES])
def test_kit_prepared_request_sends_the_bytes_requests_sends(raw_server, method, path, options):
    kit, plain = ResilientSession(), requests.Session()
    for session in (kit, plain):
        session.headers["X-Session"] = "s1"
    _kit_sends(kit, method, raw_server.url + path, options)
    _requests_sends(plain, method, raw_server.url + path, options)
    kit_bytes, requests_bytes = raw_server.take()
    assert kit_bytes == requests_bytes
    assert kit_bytes.startswith(f"{method} /".encode())


def test_cookies_a_vendor_sets_go_back_exactly_as_requests_sends_them(raw_server):
    kit, plain = ResilientSession(), requests.Session()
    raw_server.set_cookie_on = {"/login"}
    _kit_sends(kit, "GET", raw_server.url + "/login", {})
    raw_server.set_cookie_on = {"/login"}
    _requests_sends(plain, "GET", raw_server.url + "/login", {})
    for session, send in ((kit, _kit_sends), (plain, _requests_sends)):
        send(session, "GET", raw_server.url + "/items", {"cookies": {"extra": "1"}})
        send(session, "GET", raw_server.url + "/items", {})
    sent = raw_server.take()
    assert b"Cookie: BrowserId=abc123; extra=1\r\n" in sent[2]
    assert b"Cookie: BrowserId=abc123\r\n" in sent[3]
    assert sent[2:4] == sent[4:6]
    assert b"Cookie" not in sent[0]


def test_a_changed_session_header_reaches_the_next_request(raw_server):
    """The checked header set is per request headers *and* session headers: one changed, the bytes follow."""
    kit, plain = ResilientSession(), requests.Session()
    for value in ("v1", "v2"):
        for session, send in ((kit, _kit_sends), (plain, _requests_sends)):
            session.headers["X-Session"] = value
            send(session, "GET", raw_server.url + "/items", {"headers": {"Accept": "application/json"}})
    first_kit, first_plain, second_kit, second_plain = raw_server.take()
    assert (first_kit, second_kit) == (first_plain, second_plain)
    assert b"X-Session: v2\r\n" in second_kit


def test_a_session_header_changed_while_a_request_is_prepared_is_not_cached_under_the_old_state() -> None:
    """Another thread's write between the header cache's key and its merge (stood in for by headers that change
    as they are read): the set kept under the old state's key must be the old state's, or every later request
    made in that state would carry the other value."""
    from requests.structures import CaseInsensitiveDict

    class Flips(CaseInsensitiveDict[str]):
        armed = False

        def items(self) -> Any:
            seen = list(super().items())
            if Flips.armed:
                Flips.armed = False
                self["X-Tenant"] = "b"  # the write lands after this read
            return seen

    session = ResilientSession()
    session.headers = Flips(session.headers)
    session.headers["X-Tenant"] = "a"
    Flips.armed = True
    session.prepare_request(requests.Request("GET", "https://h.example/x"))
    session.headers["X-Tenant"] = "a"
    later = session.prepare_request(requests.Request("GET", "https://h.example/x"))
    assert later.headers["X-Tenant"] == "a"


def test_no_netrc_entry_reaches_a_kit_request(raw_server, monkeypatch, tmp_path):
    """A tap's credentials come from its settings: a ~/.netrc entry for the vendor's host adds nothing."""
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password netrc-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    session = ResilientSession()
    session.send(session.prepare_request(requests.Request("GET", raw_server.url + "/items")))
    (sent,) = raw_server.take()
    assert b"Authorization" not in sent


def test_a_stream_sends_the_bytes_requests_sends(raw_server):
    """The kit's stream path (``build_prepared_request``, the session's ``send`` signing the attempt) against
    ``requests``' own path for the same request: URL parameters with spaces, quotes, '+', '%' and non-ASCII."""
    api_key = "k+y/with space&'quote' é%20%"
    clock = FakeTime()
    tap_class = with_session_time(demo_tap_module().DemoTap, clock=clock.clock, sleep=clock.sleep, wall=clock.wall)
    config = {"base_url": raw_server.url, "client_id": "c", "client_secret": "client-secret-1", "api_key": api_key}
    tap = tap_class(config=config, parse_env_config=False)
    stream = tap.streams["items"]
    stream.authenticator.access_token = "tok-stream-1"  # the token call is not what is compared here
    assert [r["id"] for r in stream.get_records(None)] == [1]
    (kit_bytes,) = raw_server.take()

    plain = requests.Session()
    request = requests.Request(
        "GET",
        raw_server.url + "/items",
        params={"api_key": api_key},
        headers={**stream.http_headers, "User-Agent": stream.user_agent},
    )
    prepared = plain.prepare_request(request)
    prepared.headers["Authorization"] = "Bearer tok-stream-1"
    plain.send(prepared)
    (requests_bytes,) = raw_server.take()
    assert kit_bytes == requests_bytes
    assert b"api_key=k%2By%2Fwith+space%26%27quote%27+%C3%A9%2520%25" in kit_bytes


ENCODED_PARAMS: list[dict[str, Any]] = [
    {"q": SOQL, "limit": 500, "offset": 0, "flag": True, "ratio": 2.5, "amount": Decimal("10.50")},
    {"fields": "A,B,C", "orderBy": "LastUpdateDate:asc,Id:asc", "q": 'LastUpdateDate >= "2026-01-01T00:00:00+00:00"'},
    {"ids": [1, None, "x y", ("nested",)], "empty": [], "none": None, "tuple": ("a+b", "c%d")},
    {b"raw": b"by tes\xff", 7: "seven", "ü name": "välue/?&="},
    {"$filter": "startswith(Name,'Ü') eq true", "$select": "Id,Name", "$top": 500},
]


@pytest.mark.parametrize("safe", ["", ",:$", "/"])
@pytest.mark.parametrize("params", ENCODED_PARAMS)
def test_kit_encode_params_gives_the_sdk_string(params, safe):
    """Twice (the second from what was quoted the first time), and with another ``safe`` in between."""
    request = HTTPRequest(url="https://x.example/q", method="GET", headers={}, params=params, safe_query_chars=safe)
    other = HTTPRequest(url="https://x.example/q", method="GET", headers={}, params=params, safe_query_chars=",/")
    assert encode_params(request) == request.encode_params()
    assert encode_params(other) == other.encode_params()
    assert encode_params(request) == request.encode_params()


def test_kit_encode_params_leaves_a_request_type_with_its_own_encoding_to_it():
    class Verbatim(HTTPRequest):
        def encode_params(self) -> str:
            return "a=b c"

    assert encode_params(Verbatim(url="https://x.example", method="GET", params={"a": "b c"})) == "a=b c"
