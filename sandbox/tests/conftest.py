"""A tiny test-only product emulator, registered for the sandbox platform tests, and its fixtures."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from xlr8_sandbox.platform.emulator import FaultResponse, ProductEmulator
from xlr8_sandbox.platform.server import Sandbox, run_sandbox

TOY_MODULE = "xlr8_sandbox_tests_toy"


class ToyEmulator(ProductEmulator):
    """Token endpoint plus one offset-paged list of employees, like the smallest real vendor API."""

    product_id = "toy"
    title = "Toy HR"

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/oauth/token", self.token, methods=["POST"]),
            Route("/api/v1/employees", self.employees, methods=["GET"]),
        ]

    def test_credentials(self) -> dict[str, str]:
        return {"client_id": "toy-client", "client_secret": "toy-secret"}

    async def token(self, request: Request) -> JSONResponse:
        form = parse_qs((await request.body()).decode())
        if form.get("client_secret") != ["toy-secret"]:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        issued = self.ctx.tokens.issue(self.product_id, "toy-client", ttl=3600)
        return JSONResponse({"access_token": issued.token, "token_type": "bearer", "expires_in": 3600})

    def employees(self, request: Request) -> JSONResponse:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.ctx.tokens.check(self.product_id, token) is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        offset = int(request.query_params.get("offset", 0))
        limit = int(request.query_params.get("limit", 10))
        company = self.ctx.company
        total = company.employee_count()
        rows = [
            {"id": e.employee_id, "name": f"{e.first_name} {e.last_name}", "modified": e.last_modified.isoformat()}
            for e in company.employees(offset, offset + limit)
        ]
        return JSONResponse({"total": total, "offset": offset, "items": rows})

    def quota_error_response(self) -> FaultResponse:
        return FaultResponse(
            403, json.dumps([{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}])
        )


@pytest.fixture
def toy_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    from xlr8_sandbox import products

    module = types.ModuleType(TOY_MODULE)
    module.ToyEmulator = ToyEmulator  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, TOY_MODULE, module)
    monkeypatch.setitem(products.EMULATORS, "toy", f"{TOY_MODULE}:ToyEmulator")


@pytest.fixture
def sandbox(toy_registered: None) -> Iterator[Sandbox]:
    with run_sandbox(["toy"], seed=7, scale=100) as running:
        yield running
