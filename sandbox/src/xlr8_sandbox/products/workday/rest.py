"""Workday REST (``/ccx/api/v1/{tenant}``): workers, supervisory organizations and jobs with ``limit``/``offset``
paging (limit at most 100) and ``{"total": n, "data": [...]}`` pages; OAuth bearer tokens only."""

from __future__ import annotations

import typing as t
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from xlr8_sandbox.company import Employee
from xlr8_sandbox.platform.rowcache import json_bytes
from xlr8_sandbox.products.workday import REST_MAX_LIMIT, wd_datetime, wid, worker_status

if t.TYPE_CHECKING:
    from xlr8_sandbox.products.workday import WorkdayEmulator

BASE = "/ccx/api/v1/{tenant}"


def _ref(kind: str, code: str, descriptor: str) -> dict[str, str]:
    return {"id": wid(kind, code), "descriptor": descriptor}


def worker_json(emulator: WorkdayEmulator, e: Employee, base_url: str) -> dict[str, Any]:
    company = emulator.company
    job = company.job_by_code.get(e.job_code)
    dept = company.department_by_code[e.department_code]
    location = company.location_by_code[e.location_code]
    worker_id = wid("worker", e.employee_id)
    return {
        "id": worker_id,
        "descriptor": f"{e.first_name} {e.last_name}",
        "href": f"{base_url}/workers/{worker_id}",
        "workerId": e.employee_id,
        "primaryWorkEmail": e.email,
        "businessTitle": job.name if job else None,
        "isManager": e.index < 50,
        "workerType": {"id": wid("worker_type", "employee"), "descriptor": "Employee"},
        "workerStatus": worker_status(e),
        "hireDate": e.hire_date.isoformat(),
        "terminationDate": e.termination_date.isoformat() if e.termination_date else None,
        "primarySupervisoryOrganization": _ref("organization", f"SUP_{dept.code}", dept.name),
        "location": _ref("location", location.code, location.name),
        "jobProfile": _ref("job", e.job_code, job.name if job else e.job_code),
        "manager": _ref("worker", e.manager_id, e.manager_id) if e.manager_id else None,
        "lastUpdated": wd_datetime(e.last_modified),
    }


def _error(message: str, field: str | None = None, status: int = 400) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if field:
        body["errors"] = [{"error": message, "field": field}]
    return JSONResponse(body, status)


def _paging(request: Request) -> tuple[int, int] | JSONResponse:
    try:
        limit = int(request.query_params.get("limit", "20"))
        offset = int(request.query_params.get("offset", "0"))
    except ValueError:
        return _error("invalid request: limit and offset must be integers", "limit")
    if not 1 <= limit <= REST_MAX_LIMIT:
        return _error(f"invalid request: limit must be between 1 and {REST_MAX_LIMIT}", "limit")
    if offset < 0:
        return _error("invalid request: offset must not be negative", "offset")
    return limit, offset


def routes(emulator: WorkdayEmulator) -> list[Route]:
    def guarded(handler: Callable[[Request], Response]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            if request.path_params["tenant"] != emulator.tenant:
                return _error("invalid tenant", status=404)
            if not emulator.bearer_ok(request):
                return JSONResponse({"error": "invalid_token", "message": "Unauthorized"}, 401)
            return handler(request)

        return endpoint

    def base_url(request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}/ccx/api/v1/{emulator.tenant}"

    def collection(rows_of: Callable[[Request, int, int], tuple[int, list[dict[str, Any]]]]) -> Callable:
        def handler(request: Request) -> Response:
            paging = _paging(request)
            if isinstance(paging, JSONResponse):
                return paging
            limit, offset = paging
            total, rows = rows_of(request, offset, limit)
            return JSONResponse({"total": total, "data": rows})

        return guarded(handler)

    def workers(request: Request, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        now = emulator.now()
        total = emulator.worker_count(now)
        people = emulator.company.employees(offset, offset + limit, as_of=now)
        return total, [worker_json(emulator, e, base_url(request)) for e in people]

    def workers_page(request: Request) -> Response:
        """``workers`` pages with each worker's JSON kept per (base URL, index, data version)."""
        paging = _paging(request)
        if isinstance(paging, JSONResponse):
            return paging
        limit, offset = paging
        base = base_url(request)
        kept = emulator.row_cache.rows(("rest-worker", base), emulator.company.data_version())
        if kept is None:
            total, rows = workers(request, offset, limit)
            return JSONResponse({"total": total, "data": rows})
        now = emulator.now()
        total = emulator.worker_count(now)
        parts: list[bytes] = []
        for i in range(offset, min(offset + limit, total)):
            row = kept.get(i)
            if row is None:
                row = json_bytes(worker_json(emulator, emulator.company.employee(i, now), base))
                if emulator.row_cache.room_for(len(row)):
                    kept[i] = row
            parts.append(row)
        return Response(b'{"total":%d,"data":[' % total + b",".join(parts) + b"]}", media_type="application/json")

    def one_worker(request: Request) -> Response:
        wanted = request.path_params["id"]
        for e in emulator.workers():
            if wid("worker", e.employee_id) == wanted or e.employee_id == wanted:
                return JSONResponse(worker_json(emulator, e, base_url(request)))
        return _error(f"Resource not found: worker {wanted}", status=404)

    def organizations(request: Request, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        orgs = [o for o in emulator.organizations() if o["type"] == "Supervisory"]
        rows = [
            {
                "id": o["wid"],
                "descriptor": o["name"],
                "href": f"{base_url(request)}/supervisoryOrganizations/{o['wid']}",
                "name": o["name"],
                "code": o["code"],
                "superiorOrganization": (
                    {"id": wid("organization", o["superior"]), "descriptor": "Acme Executive Office"}
                    if o["superior"]
                    else None
                ),
            }
            for o in orgs
        ]
        return len(rows), rows[offset : offset + limit]

    def jobs(request: Request, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        rows = [
            {
                "id": wid("job", j.code),
                "descriptor": j.name,
                "href": f"{base_url(request)}/jobs/{wid('job', j.code)}",
                "jobProfileId": j.code,
                "name": j.name,
                "inactive": False,
            }
            for j in emulator.company.jobs
        ]
        return len(rows), rows[offset : offset + limit]

    return [
        Route(f"{BASE}/workers", guarded(workers_page), methods=["GET"]),
        Route(f"{BASE}/workers/{{id}}", guarded(one_worker), methods=["GET"]),
        Route(f"{BASE}/supervisoryOrganizations", collection(organizations), methods=["GET"]),
        Route(f"{BASE}/jobs", collection(jobs), methods=["GET"]),
    ]
