"""``answered_in_process``: requests to an emulator answered by its ASGI app in this process, not over a socket.

For the SDK's standard test class, which discovers while pytest collects: a request that failed there on a loaded
machine errored the whole xdist run ("Different tests were collected between gw1 and gw0"), not one test. The same
app answers (its routes, the sandbox's middleware, the same emulator state), so what the tap discovers is what it
would over HTTP; only the socket, the server's thread and its queue are out of the way. The class's tests discover
and sync over HTTP as every other test does: the block covers building the class only."""

from __future__ import annotations

import asyncio
import contextlib
import io
import typing as t
from collections.abc import Iterator, Mapping
from unittest import mock
from urllib.parse import unquote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPHeaderDict, HTTPResponse

#: An ASGI application: ``await app(scope, receive, send)``.
AsgiApp = t.Callable[..., t.Awaitable[None]]


@contextlib.contextmanager
def answered_in_process(apps: Mapping[str, AsgiApp]) -> Iterator[None]:
    """While the block runs, every request (any session, any adapter) to a URL under one of ``apps``' base URLs
    (``http://127.0.0.1:<port>``) is answered by that app in process; any other request goes out as usual."""
    original = HTTPAdapter.send

    def send(adapter: HTTPAdapter, request: requests.PreparedRequest, *args: t.Any, **kwargs: t.Any) -> t.Any:
        url = request.url or ""
        for base, app in apps.items():
            if url == base or url.startswith(base.rstrip("/") + "/"):
                return adapter.build_response(request, _answer(app, request))
        return original(adapter, request, *args, **kwargs)

    with mock.patch.object(HTTPAdapter, "send", send):
        yield


def _answer(app: AsgiApp, request: requests.PreparedRequest) -> HTTPResponse:
    """``request`` through ``app`` (one ASGI HTTP exchange), as urllib3 would have returned the server's answer."""
    parts = urlsplit(request.url or "")
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif not isinstance(body, bytes):  # a file or generator body: read it as the socket would have
        body = b"".join(chunk if isinstance(chunk, bytes) else chunk.encode("utf-8") for chunk in body)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": parts.scheme,
        "path": unquote(parts.path),
        "raw_path": parts.path.encode("latin-1"),
        "query_string": parts.query.encode("latin-1"),
        "root_path": "",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.items()],
        "client": ("127.0.0.1", 0),
        "server": (parts.hostname or "127.0.0.1", parts.port or 80),
    }
    status = 500
    headers = HTTPHeaderDict()  # a header sent twice (Set-Cookie) kept twice
    chunks: list[bytes] = []

    async def exchange() -> None:
        nonlocal status
        done = asyncio.Event()
        delivered = False

        async def receive() -> dict[str, t.Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()  # the client stays connected until the answer is complete
            return {"type": "http.disconnect"}

        async def reply(message: dict[str, t.Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for key, value in message.get("headers", []):
                    headers.add(key.decode("latin-1"), value.decode("latin-1"))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    done.set()

        await app(scope, receive, reply)
        done.set()

    asyncio.run(exchange())
    return HTTPResponse(
        body=io.BytesIO(b"".join(chunks)),
        headers=headers,
        status=status,
        preload_content=False,
        decode_content=True,
        request_method=request.method,
        request_url=request.url,
    )
