"""``read_whole_body`` gives what ``response.content`` gives (the bytes, or the error requests raises), over real
HTTP: bodies of known length read in one call, every other body (chunked, gzip, no length) through requests."""

from __future__ import annotations

import gzip
import socket
import threading
import typing as t
from collections.abc import Iterator

import pytest
import requests

from xlr8_kit.http.session import read_whole_body

BODY = b'{"records": [' + b",".join(b'{"Id": "%d", "Name": "Zo\\u00eb"}' % n for n in range(3000)) + b"]}"


def _answer(kind: str) -> bytes:
    if kind == "length":
        return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
    if kind == "empty":
        return b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    if kind == "cut":  # the server promises more than it sends, then closes
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY) + 10, BODY)
    if kind == "gzip":
        packed = gzip.compress(BODY)
        return b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (len(packed), packed)
    if kind == "chunked":
        chunks = b"".join(
            b"%x\r\n%s\r\n" % (len(BODY[i : i + 5000]), BODY[i : i + 5000]) for i in range(0, len(BODY), 5000)
        )
        return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    if kind == "close":  # no length: the body ends when the connection closes
        return b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + BODY
    raise AssertionError(kind)


@pytest.fixture
def server() -> Iterator[str]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(4096)
                kind = request.split(b" ")[1].strip(b"/").decode()
                conn.sendall(_answer(kind))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    listener.close()


def _outcome(read: t.Callable[[requests.Response], bytes], url: str) -> t.Any:
    with requests.Session() as session:
        response = session.get(url, stream=True, timeout=10)
        try:
            body = read(response)
        except requests.RequestException as exc:
            return type(exc)
        return body, response._content_consumed, read(response)  # a second read gives the same bytes


@pytest.mark.parametrize("kind", ["length", "empty", "cut", "gzip", "chunked", "close"])
def test_read_whole_body_gives_what_response_content_gives(server: str, kind: str) -> None:
    expected = _outcome(lambda response: response.content, f"{server}/{kind}")
    assert _outcome(read_whole_body, f"{server}/{kind}") == expected
    if kind == "cut":
        assert expected is requests.exceptions.ChunkedEncodingError
    elif kind != "empty":
        assert expected[0] == BODY


def test_a_body_of_known_length_is_read_in_one_call(server: str, monkeypatch: t.Any) -> None:
    pieces: list[int] = []
    with requests.Session() as session:
        response = session.get(f"{server}/length", stream=True, timeout=10)
        monkeypatch.setattr(type(response), "iter_content", lambda self, *a, **k: pieces.append(1) or iter(()))
        assert read_whole_body(response) == BODY
    assert not pieces
