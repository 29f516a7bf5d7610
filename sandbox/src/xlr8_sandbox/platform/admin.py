"""The admin API on every product port, under ``/__sandbox/`` (never faulted, never delayed).

Scope: ``faults``, ``latency``, ``requests``, ``tokens`` and ``records`` act on the product whose port you call;
``clock`` and ``reset`` act on the whole sandbox (one clock and one company for all products).

| method | path | body (JSON) | does |
|---|---|---|---|
| GET | /__sandbox/faults | | rules (with live ``seen``/``fired`` counters) and latency rules |
| POST | /__sandbox/faults | ``{"path": "/x/*", "kind": "status", "status": 503, "times": 2}`` | add a rule |
| POST | /__sandbox/faults/profile | ``{"name": "flaky"}`` | add a named profile's rules to this product |
| DELETE | /__sandbox/faults | | remove this product's fault and latency rules |
| DELETE | /__sandbox/faults/{id} | | remove one rule |
| POST | /__sandbox/latency | ``{"ms": 100, "path": "*"}`` | latency per request (0 removes) |
| GET | /__sandbox/requests | | this product's recent requests (method, path, status, ms, fault) |
| GET | /__sandbox/clock | | sandbox time |
| POST | /__sandbox/clock/advance | ``{"seconds": 3600}`` or ``{"days": 1}`` | move sandbox time forward |
| POST | /__sandbox/tokens/revoke | | revoke this product's tokens |
| POST | /__sandbox/tokens/expire | | expire this product's tokens |
| POST | /__sandbox/records/insert | ``{"count": 5}`` | insert records as another user would |
| POST | /__sandbox/reset | | clear faults, latency, request log, inserted rows; clock to start; emulator ``reset()`` |
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from xlr8_sandbox.platform.emulator import ProductEmulator, SandboxContext
from xlr8_sandbox.platform.faults import FaultSpec

ADMIN_PREFIX = "/__sandbox"


def build_admin_app(emulator: ProductEmulator) -> Starlette:
    ctx = emulator.ctx
    product = emulator.product_id

    async def body_of(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw:
            return {}
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("request body must be a JSON object")
        return data

    def faults_state() -> dict[str, Any]:
        return {
            "product": product,
            "faults": [r.describe() for r in ctx.faults.rules(product)],
            "latency": [asdict(r) for r in ctx.faults.latency_rules() if r.product in ("*", product)],
        }

    async def get_faults(request: Request) -> JSONResponse:
        return JSONResponse(faults_state())

    async def add_fault(request: Request) -> JSONResponse:
        data = await body_of(request)
        path = data.pop("path", "*")
        rule = ctx.faults.add(product, path, FaultSpec.from_dict(data))
        return JSONResponse(rule.describe(), status_code=201)

    async def add_profile(request: Request) -> JSONResponse:
        data = await body_of(request)
        ctx.faults.apply_profile(str(data.get("name", "")), product)
        return JSONResponse(faults_state(), status_code=201)

    async def clear_faults(request: Request) -> JSONResponse:
        ctx.faults.clear(product)
        return JSONResponse(faults_state())

    async def remove_fault(request: Request) -> JSONResponse:
        rule_id = int(request.path_params["rule_id"])
        if not ctx.faults.remove(rule_id):
            return JSONResponse({"error": f"no fault rule with id {rule_id}"}, status_code=404)
        return JSONResponse(faults_state())

    async def set_latency(request: Request) -> JSONResponse:
        data = await body_of(request)
        if "ms" not in data:
            raise ValueError("latency field 'ms' is required")
        ctx.faults.set_latency(product, float(data["ms"]), str(data.get("path", "*")))
        return JSONResponse(faults_state())

    async def get_requests(request: Request) -> JSONResponse:
        return JSONResponse({"requests": [asdict(e) for e in ctx.requests.entries(product)]})

    async def get_clock(request: Request) -> JSONResponse:
        return JSONResponse({"now": ctx.clock.now().isoformat(), "start": ctx.clock.start.isoformat()})

    async def advance_clock(request: Request) -> JSONResponse:
        data = await body_of(request)
        unknown = sorted(set(data) - {"seconds", "minutes", "hours", "days"})
        if unknown or not data:
            raise ValueError("clock advance takes one or more of: seconds, minutes, hours, days")
        now = ctx.clock.advance(timedelta(**{k: float(v) for k, v in data.items()}))
        return JSONResponse({"now": now.isoformat()})

    async def revoke_tokens(request: Request) -> JSONResponse:
        return JSONResponse({"revoked": ctx.tokens.revoke_all(product)})

    async def expire_tokens(request: Request) -> JSONResponse:
        return JSONResponse({"expired": ctx.tokens.expire_all(product)})

    async def insert_records(request: Request) -> JSONResponse:
        data = await body_of(request)
        count = int(data.get("count", 1))
        if count < 1:
            raise ValueError(f"records insert 'count' must be >= 1, got {count}")
        await run_in_threadpool(emulator.insert_records, count)
        return JSONResponse({"inserted": count})

    async def reset(request: Request) -> JSONResponse:
        reset_sandbox(ctx)
        return JSONResponse({"now": ctx.clock.now().isoformat()})

    async def bad_request(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=400)

    p = ADMIN_PREFIX
    return Starlette(
        routes=[
            Route(f"{p}/faults", get_faults, methods=["GET"]),
            Route(f"{p}/faults", add_fault, methods=["POST"]),
            Route(f"{p}/faults", clear_faults, methods=["DELETE"]),
            Route(f"{p}/faults/profile", add_profile, methods=["POST"]),
            Route(f"{p}/faults/{{rule_id:int}}", remove_fault, methods=["DELETE"]),
            Route(f"{p}/latency", set_latency, methods=["POST"]),
            Route(f"{p}/requests", get_requests, methods=["GET"]),
            Route(f"{p}/clock", get_clock, methods=["GET"]),
            Route(f"{p}/clock/advance", advance_clock, methods=["POST"]),
            Route(f"{p}/tokens/revoke", revoke_tokens, methods=["POST"]),
            Route(f"{p}/tokens/expire", expire_tokens, methods=["POST"]),
            Route(f"{p}/records/insert", insert_records, methods=["POST"]),
            Route(f"{p}/reset", reset, methods=["POST"]),
        ],
        exception_handlers={ValueError: bad_request, TypeError: bad_request},
    )


def reset_sandbox(ctx: SandboxContext) -> None:
    """Back to a fresh sandbox: no faults or latency, empty request log, no inserted records, clock at start, and
    every emulator's own state (its ``reset()`` hook) as it started."""
    ctx.faults.clear()
    ctx.requests.clear()
    ctx.clock.reset()
    ctx.company.reset_changes()
    for emulator in list(ctx.emulators):
        emulator.reset()
