"""The admin API on each product port, and the Python API on the Sandbox object."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests

from xlr8_sandbox.company import EPOCH
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox, run_sandbox

EMPLOYEES = "/api/v1/employees"


def admin(sandbox: Sandbox, method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
    return requests.request(method, f"{sandbox.url('toy')}/__sandbox{path}", json=body, timeout=5)


def access_token(sandbox: Sandbox) -> str:
    body = {"client_id": "toy-client", "client_secret": "toy-secret"}
    return str(requests.post(f"{sandbox.url('toy')}/oauth/token", data=body, timeout=5).json()["access_token"])


def page(sandbox: Sandbox, token: str, offset: int = 0) -> requests.Response:
    return requests.get(
        f"{sandbox.url('toy')}{EMPLOYEES}",
        params={"offset": offset, "limit": 10},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )


def test_faults_added_listed_and_removed_over_http(sandbox: Sandbox) -> None:
    token = access_token(sandbox)
    added = admin(sandbox, "POST", "/faults", {"path": EMPLOYEES, "kind": "status", "status": 504, "times": 1})
    assert added.status_code == 201
    assert page(sandbox, token).status_code == 504
    assert page(sandbox, token).status_code == 200
    listed = admin(sandbox, "GET", "/faults").json()
    assert [(f["path"], f["spec"]["status"], f["seen"], f["fired"]) for f in listed["faults"]] == [
        (EMPLOYEES, 504, 2, 1)
    ]
    admin(sandbox, "POST", "/faults", {"path": "*", "kind": "status", "status": 500})
    assert page(sandbox, token).status_code == 500
    assert admin(sandbox, "DELETE", "/faults").json()["faults"] == []
    assert page(sandbox, token).status_code == 200


def test_admin_requests_are_never_faulted(sandbox: Sandbox) -> None:
    admin(sandbox, "POST", "/faults", {"path": "*", "kind": "reset"})
    assert admin(sandbox, "GET", "/faults").status_code == 200
    assert admin(sandbox, "DELETE", "/faults").status_code == 200


def test_bad_admin_input_is_a_400_naming_the_field(sandbox: Sandbox) -> None:
    bad_kind = admin(sandbox, "POST", "/faults", {"kind": "meteor"})
    assert bad_kind.status_code == 400
    assert "meteor" in bad_kind.json()["error"]
    unknown = admin(sandbox, "POST", "/faults", {"kind": "status", "colour": "red"})
    assert (unknown.status_code, "colour" in unknown.json()["error"]) == (400, True)
    profile = admin(sandbox, "POST", "/faults/profile", {"name": "apocalypse"})
    assert (profile.status_code, "apocalypse" in profile.json()["error"]) == (400, True)
    backwards = admin(sandbox, "POST", "/clock/advance", {"days": -1})
    assert backwards.status_code == 400


def test_profile_and_latency_over_http(sandbox: Sandbox) -> None:
    applied = admin(sandbox, "POST", "/faults/profile", {"name": "rate-limited"}).json()
    assert {f["spec"]["kind"] for f in applied["faults"]} == {"rate_limit"}
    latency = admin(sandbox, "POST", "/latency", {"ms": 25, "path": EMPLOYEES}).json()
    assert latency["latency"] == [{"product": "toy", "path_glob": EMPLOYEES, "ms": 25.0}]
    token = access_token(sandbox)
    statuses = [page(sandbox, token).status_code for _ in range(6)]
    assert statuses == [200, 429, 200, 200, 429, 200]  # counted from the token request on


def test_clock_advance_shows_new_hires_and_reset_restores(sandbox: Sandbox) -> None:
    token = access_token(sandbox)
    assert admin(sandbox, "GET", "/clock").json()["now"] == EPOCH.isoformat()
    moved = admin(sandbox, "POST", "/clock/advance", {"days": 3}).json()
    assert moved["now"] == (EPOCH + timedelta(days=3)).isoformat()
    assert sandbox.ctx.clock.now() == EPOCH + timedelta(days=3)
    assert page(sandbox, token).json()["total"] == 100 + 3 * sandbox.ctx.company.hires_per_day
    admin(sandbox, "POST", "/records/insert", {"count": 4})
    assert page(sandbox, token).json()["total"] == 107
    admin(sandbox, "POST", "/faults", {"kind": "status"})
    assert admin(sandbox, "POST", "/reset").json()["now"] == EPOCH.isoformat()
    assert page(sandbox, token).json()["total"] == 100
    assert [r.path for r in sandbox.requests("toy")] == [EMPLOYEES]


def test_tokens_revoked_and_expired_over_http(sandbox: Sandbox) -> None:
    token = access_token(sandbox)
    assert admin(sandbox, "POST", "/tokens/expire").json() == {"expired": 1}
    assert page(sandbox, token).status_code == 401
    token = access_token(sandbox)
    assert admin(sandbox, "POST", "/tokens/revoke").json() == {"revoked": 1}
    assert page(sandbox, token).status_code == 401


def test_requests_endpoint_lists_paths_without_queries(sandbox: Sandbox) -> None:
    page(sandbox, access_token(sandbox), 30)
    logged = admin(sandbox, "GET", "/requests").json()["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in logged] == [
        ("POST", "/oauth/token", 200),
        ("GET", EMPLOYEES, 200),
    ]


def test_run_sandbox_options_profile_latency_and_port_clash(toy_registered: None) -> None:
    with run_sandbox(["toy"], scale=100, latency_ms=10, faults="flaky") as first:
        assert first.faults.latency_ms("toy", EMPLOYEES) == 10
        assert len(first.faults.rules("toy")) == 4
        port = int(first.url("toy").rsplit(":", 1)[1])
        with (
            pytest.raises(OSError, match=f"cannot serve toy on 127.0.0.1:{port}"),
            run_sandbox(["toy"], ports={"toy": port}),
        ):
            pass
    with pytest.raises(KeyError, match="no emulator for product 'nope'"), run_sandbox(["nope"]):
        pass


def test_b1_tokens_can_expire_on_sandbox_time(toy_registered: None) -> None:
    """Expiry tests need no real waiting: a token store on the sandbox clock expires when the clock moves."""
    from xlr8_sandbox.company import Company
    from xlr8_sandbox.platform.clock import SandboxClock
    from xlr8_sandbox.platform.emulator import SandboxContext
    from xlr8_sandbox.platform.tokens import TokenStore

    clock = SandboxClock()
    ctx = SandboxContext(company=Company(scale=100), clock=clock, tokens=TokenStore(now=clock.timestamp))
    with run_sandbox(["toy"], ctx=ctx) as sandbox:
        token = access_token(sandbox)
        assert page(sandbox, token).status_code == 200
        clock.advance(timedelta(seconds=3599))
        assert page(sandbox, token).status_code == 200
        clock.advance(timedelta(seconds=2))
        assert page(sandbox, token).status_code == 401
        assert ctx.company.clock is clock


def test_python_reset_clears_faults_clock_and_inserted_records(sandbox: Sandbox) -> None:
    sandbox.faults.add("toy", "*", FaultSpec("status"))
    sandbox.faults.set_latency("*", 5)
    sandbox.ctx.clock.advance(timedelta(days=2))
    sandbox.ctx.company.insert_employees(3)
    sandbox.reset()
    assert sandbox.faults.rules() == []
    assert sandbox.faults.latency_ms("toy", EMPLOYEES) == 0
    assert sandbox.ctx.clock.now() == EPOCH
    assert sandbox.ctx.company.employee_count() == 100
    assert page(sandbox, access_token(sandbox)).status_code == 200


def test_one_sandbox_at_a_time_on_the_fixed_ports(toy_registered: None) -> None:
    with run_sandbox(["toy"], fixed_ports=True, port_wait=600):
        with (
            pytest.raises(OSError, match=r"another sandbox holds the fixed sandbox ports \(pid \d+\)"),
            run_sandbox(["toy"], fixed_ports=True),
        ):
            pass
        with run_sandbox(["toy"]) as ephemeral:  # ephemeral sandboxes are never blocked
            assert ephemeral.url("toy").startswith("http://127.0.0.1:")
    with run_sandbox(["toy"], fixed_ports=True) as again:
        assert again.products
