"""The ASGI layer the platform puts around every product: request logging, latency, fault injection, admin.

Request logging goes to the ``xlr8_sandbox.requests`` logger (method, path without query, status, ms) and to the
context's bounded ``RequestLog``; never bodies, headers or tokens. Paths under ``/__sandbox/`` are the admin API
(see ``xlr8_sandbox.platform.admin``) and are never faulted or delayed.

Resets and truncation need the raw connection: uvicorn's ASGI ``send`` is bound to its request cycle, whose
``transport`` we close (with SO_LINGER 0 for a TCP RST). If that is not available the request fails loudly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xlr8_sandbox.platform.admin import ADMIN_PREFIX
from xlr8_sandbox.platform.emulator import FaultResponse, ProductEmulator
from xlr8_sandbox.platform.faults import FaultRule, FaultSpec
from xlr8_sandbox.platform.requestlog import LoggedRequest

request_logger = logging.getLogger("xlr8_sandbox.requests")


class SandboxMiddleware:
    def __init__(self, app: ASGIApp, *, emulator: ProductEmulator, admin: ASGIApp) -> None:
        self.app = app
        self.admin = admin
        self.emulator = emulator
        self.ctx = emulator.ctx
        self.product = emulator.product_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            await self.admin(scope, receive, send)
            return
        method: str = scope["method"]
        started = time.perf_counter()
        status = 0
        fault: str | None = None
        logged = False

        def log_once() -> None:
            nonlocal logged
            if not logged:
                logged = True
                self._log(method, path, status, (time.perf_counter() - started) * 1000, fault)
                self.ctx.faults.note_answered(self.product, path)

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if self.emulator.sandbox_date_header:
                    stamp = format_datetime(self.ctx.clock.now().astimezone(UTC), usegmt=True).encode("latin-1")
                    message = {**message, "headers": [*message.get("headers", []), (b"date", stamp)]}
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                log_once()  # before the last byte leaves, so a client that got its answer finds it logged
            await send(message)

        try:
            delay = self.ctx.faults.latency_ms(self.product, path)
            if delay:
                await asyncio.sleep(delay / 1000)
            query = bytes(scope.get("query_string") or b"").decode("latin-1")
            rule = self.ctx.faults.decide(self.product, method, path, query)
            if rule is None:
                await self.app(scope, receive, tracking_send)
            else:
                fault = rule.spec.kind
                await self._inject(rule, scope, receive, send, tracking_send)
        finally:
            log_once()

    def _log(self, method: str, path: str, status: int, ms: float, fault: str | None) -> None:
        self.ctx.requests.record(LoggedRequest(self.product, method, path, status, ms, fault))
        if request_logger.isEnabledFor(logging.INFO):
            request_logger.info(
                "%s %s %s %s %.1fms%s",
                self.product,
                method,
                path,
                status or "closed",
                ms,
                f" fault={fault}" if fault else "",
            )

    async def _inject(self, rule: FaultRule, scope: Scope, receive: Receive, raw_send: Send, send: Send) -> None:
        spec = rule.spec
        kind = spec.kind
        if kind == "status":
            body = spec.body or json.dumps({"error": "injected fault", "status": spec.status})
            await send_fault_response(send, FaultResponse(spec.status, body, headers=dict(spec.headers)))
        elif kind == "rate_limit":
            # An HTTP-date on the clock the answer's Date header is written on, as a server's own
            now = self.ctx.clock.now() if self.emulator.sandbox_date_header else datetime.now(UTC)
            headers = {"Retry-After": retry_after_value(spec, now=now), **spec.headers}
            body = spec.body or json.dumps({"error": "rate_limited", "message": "Too many requests"})
            await send_fault_response(send, FaultResponse(429, body, headers=headers))
        elif kind == "reset":
            drop_connection(raw_send, reset=True)
        elif kind == "truncate":
            await self._truncated(scope, receive, raw_send, send)
        elif kind == "stall":
            await _hold(rule)
            await self.app(scope, receive, send)
        elif kind == "slow_answer":
            await self.app(scope, receive, _held(send, spec.seconds))
        elif kind == "slow_body":
            await self.app(scope, receive, _held(send, spec.seconds, body=True))
        elif kind in ("revoke_tokens", "expire_tokens"):
            if kind == "revoke_tokens":
                self.ctx.tokens.revoke_all(self.product)
            else:
                self.ctx.tokens.expire_all(self.product)
            await self.app(scope, receive, send)
        elif kind == "error_body":
            response = FaultResponse(200, spec.body) if spec.body else self.emulator.error_body_response()
            await send_fault_response(send, response)
        elif kind == "quota":
            await send_fault_response(send, self.emulator.quota_error_response())
        elif kind == "insert_records":
            if spec.seconds:  # this request held back while another user creates the records
                await _hold(rule)
            await run_in_threadpool(self.emulator.insert_records, spec.count)
            await self.app(scope, receive, send)
        else:  # pragma: no cover - FaultSpec validates kinds
            raise ValueError(f"unhandled fault kind {kind!r}")

    async def _truncated(self, scope: Scope, receive: Receive, raw_send: Send, send: Send) -> None:
        """The real response, its full Content-Length declared, half its body sent, then the socket closed."""
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        declared = max(len(body), 1)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(declared).encode()))
        await send({"type": "http.response.start", "status": start.get("status", 200), "headers": headers})
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        drop_connection(raw_send, reset=False)


async def _hold(rule: FaultRule) -> None:
    """A held request: ``seconds``, or until ``until_answered`` requests to the rule's path were answered since the
    rule was added, or until the test released the rule (``until_released``; ``seconds`` at most either way), so
    "answered after X" holds however slowly a loaded machine makes X happen."""
    spec = rule.spec
    if not spec.until_answered and not spec.until_released:
        await asyncio.sleep(spec.seconds)
        return
    deadline = time.monotonic() + spec.seconds
    while time.monotonic() < deadline:
        if rule.released.is_set() if spec.until_released else rule.answered >= spec.until_answered:
            return
        await asyncio.sleep(0.005)


def _held(send: Send, seconds: float, *, body: bool = False) -> Send:
    """``send`` with the answer's first message held ``seconds`` (``slow_answer``: the request was served already),
    or (``body``, ``slow_body``) its first body message: the headers went out at once (uvicorn writes them on
    ``http.response.start``), the body comes ``seconds`` after them."""
    held = False
    first = "http.response.body" if body else "http.response.start"

    async def late(message: Message) -> None:
        nonlocal held
        if not held and message["type"] == first:
            held = True
            await asyncio.sleep(seconds)
        await send(message)

    return late


def retry_after_value(spec: FaultSpec, *, now: datetime) -> str:
    """The fault's ``Retry-After``: its text as given, or its seconds, as an HTTP-date counted from ``now`` (the
    server's clock, the one its ``Date`` header says) when asked for."""
    if isinstance(spec.retry_after, str):
        return spec.retry_after
    seconds = 1.0 if spec.retry_after is None else float(spec.retry_after)
    if spec.retry_after_format == "http-date":
        return format_datetime(now.astimezone(UTC) + timedelta(seconds=seconds), usegmt=True)
    return str(int(seconds)) if seconds.is_integer() else str(seconds)


async def send_fault_response(send: Send, response: FaultResponse) -> None:
    body = response.body.encode()
    given = [(k.lower().encode(), v.encode()) for k, v in response.headers.items()]
    # A fault's own Content-Type replaces the default one: a server answers with one media type, never two.
    default = [] if any(k == b"content-type" for k, _ in given) else [(b"content-type", response.content_type.encode())]
    headers = [*default, (b"content-length", str(len(body)).encode()), *given]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def drop_connection(raw_send: Send, *, reset: bool) -> None:
    """Close the client's connection now: a TCP RST (``reset``) or a plain close after flushing what was sent."""
    cycle = getattr(raw_send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("this ASGI server does not expose its transport; cannot inject a connection fault")
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()
    # Tell uvicorn the client is gone so it neither answers 500 nor logs an incomplete response.
    cycle.disconnected = True  # type: ignore[union-attr]
