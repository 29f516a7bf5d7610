"""Every fault kind and the latency knob, observed over real HTTP against the toy emulator on 127.0.0.1."""

from __future__ import annotations

import logging
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import pytest
import requests

from xlr8_sandbox.platform.faults import PROFILES, FaultSpec
from xlr8_sandbox.platform.server import Sandbox

EMPLOYEES = "/api/v1/employees"


def token(sandbox: Sandbox) -> str:
    response = requests.post(
        f"{sandbox.url('toy')}/oauth/token", data={"client_id": "toy-client", "client_secret": "toy-secret"}, timeout=5
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def get_page(sandbox: Sandbox, access: str, offset: int = 0, **kw: object) -> requests.Response:
    return requests.get(
        f"{sandbox.url('toy')}{EMPLOYEES}",
        params={"offset": offset, "limit": 10},
        headers={"Authorization": f"Bearer {access}"},
        timeout=kw.pop("timeout", 5),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def test_no_fault_serves_the_company(sandbox: Sandbox) -> None:
    page = get_page(sandbox, token(sandbox)).json()
    assert page["total"] == 100
    assert [row["id"] for row in page["items"]] == [f"E{i:06d}" for i in range(1, 11)]


def test_a1_rate_limit_retry_after_seconds_then_ok(sandbox: Sandbox) -> None:
    access = token(sandbox)
    sandbox.faults.add("toy", f"{EMPLOYEES}*", FaultSpec("rate_limit", retry_after=30, times=1))
    first = get_page(sandbox, access)
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "30"
    second = get_page(sandbox, access)
    assert second.status_code == 200
    assert len(second.json()["items"]) == 10


def test_a2_rate_limit_retry_after_http_date_and_malformed(sandbox: Sandbox) -> None:
    access = token(sandbox)
    dated_spec = FaultSpec("rate_limit", retry_after=120, retry_after_format="http-date", times=1)
    sandbox.faults.add("toy", EMPLOYEES, dated_spec)
    sandbox.faults.add("toy", EMPLOYEES, FaultSpec("rate_limit", retry_after="abc", times=1))
    dated = get_page(sandbox, access)
    assert dated.status_code == 429
    when = parsedate_to_datetime(dated.headers["Retry-After"])
    assert 60 < (when - datetime.now(UTC)).total_seconds() <= 121
    malformed = get_page(sandbox, access)
    assert (malformed.status_code, malformed.headers["Retry-After"]) == (429, "abc")
    assert get_page(sandbox, access).status_code == 200


def test_a3_5xx_burst_then_ok(sandbox: Sandbox) -> None:
    access = token(sandbox)
    rule = sandbox.faults.add("toy", EMPLOYEES, FaultSpec("status", status=502, times=2))
    statuses = [get_page(sandbox, access).status_code for _ in range(4)]
    assert statuses == [502, 502, 200, 200]
    assert (rule.seen, rule.fired) == (4, 2)
    assert [e.status for e in sandbox.requests("toy", EMPLOYEES)] == statuses


def test_fault_on_the_nth_request_and_every_kth(sandbox: Sandbox) -> None:
    access = token(sandbox)
    sandbox.faults.add("toy", EMPLOYEES, FaultSpec("status", status=503, after=2, every=3))
    statuses = [get_page(sandbox, access).status_code for _ in range(9)]
    assert statuses == [200, 200, 503, 200, 200, 503, 200, 200, 503]


def test_fault_only_on_its_path_and_method(sandbox: Sandbox) -> None:
    sandbox.faults.add("toy", EMPLOYEES, FaultSpec("status", status=500, method="GET"))
    access = token(sandbox)  # POST /oauth/token is not matched
    assert get_page(sandbox, access).status_code == 500


def test_a9_connection_reset(sandbox: Sandbox) -> None:
    access = token(sandbox)
    sandbox.faults.add("toy", EMPLOYEES, FaultSpec("reset", times=1))
    with pytest.raises(requests.ConnectionError):
        get_page(sandbox, access)
    assert get_page(sandbox, access).status_code == 200
    assert [e.status for e in sandbox.requests("toy", EMPLOYEES)] == [0, 200]


def test_a9_truncated_body(sandbox: Sandbox) -> None:
    access = token(sandbox)
    full = get_page(sandbox, access).content
    sandbox.faults.add("toy", EMPLOYEES, FaultSpec("truncate", times=1))
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get_page(sandbox, access)
    sandbox.faults.add("toy", EMPLOYEES, FaultSpec("truncate", times=1))
    head, body = raw_get(sandbox, f"{EMPLOYEES}?offset=0&limit=10", access)
    assert f"content-length: {len(full)}" in head.lower()
    assert body == full[: len(full) // 2]
    assert get_page(sandbox, access).content == full


def raw_get(sandbox: Sandbox, target: str, access: str) -> tuple[str, bytes]:
    """Everything the server sent until it closed the socket."""
    host, port = sandbox.url("toy").removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {access}\r\n\r\n".encode())
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode(), body


def test_a10_stalled_response_trips_a_read_timeout(sandbox: Sandbox) -> None:
    access = token(sandbox)
    sandbox.faults.add("toy", EMPLOYEES, FaultSpec("stall", seconds=1.0, times=1))
    with pytest.raises(requests.ReadTimeout):
        get_page(sandbox, access, timeout=(5, 0.2))


def test_a_slow_answer_is_the_request_served_then_answered_late(sandbox: Sandbox) -> None:
    """The answer's bytes are the unfaulted request's, held back: a client reading for less than the hold times out
    (the vendor acted on it: the Salesforce Bulk create test sees the job on the org meanwhile)."""
    access = token(sandbox)
    plain = get_page(sandbox, access).content
    sandbox.faults.add("toy", EMPLOYEES, FaultSpec("slow_answer", seconds=1.0, times=2))
    with pytest.raises(requests.ReadTimeout):
        get_page(sandbox, access, timeout=(5, 0.2))
    assert get_page(sandbox, access).content == plain
    assert [r.fault for r in sandbox.requests("toy", EMPLOYEES)][-2:] == ["slow_answer", "slow_answer"]


def test_a_slow_body_is_the_headers_at_once_then_the_body_late(sandbox: Sandbox) -> None:
    """``slow_body``: the status and headers arrive within a read timeout far shorter than the hold, the body does
    not (a client reading it for less than the hold times out); the bytes are the unfaulted request's."""
    access = token(sandbox)
    plain = get_page(sandbox, access).content
    rule = sandbox.faults.add("toy", EMPLOYEES, FaultSpec("slow_body", seconds=8.0, times=1))
    late = get_page(sandbox, access, timeout=(5, 2), stream=True)  # the headers: no wait for the body
    assert late.status_code == 200
    assert late.headers["content-length"] == str(len(plain))
    with pytest.raises(requests.ConnectionError, match="timed out"):
        late.content  # noqa: B018 - reading the body is the point
    late.close()
    assert get_page(sandbox, access).content == plain
    assert rule.fired == 1


@pytest.mark.parametrize("kind", ["revoke_tokens", "expire_tokens"])
def test_b2_tokens_revoked_or_expired_mid_run(sandbox: Sandbox, kind: str) -> None:
    access = token(sandbox)
    sandbox.faults.add("toy", EMPLOYEES, FaultSpec(kind, after=1, times=1))  # type: ignore[arg-type]
    assert get_page(sandbox, access).status_code == 200
    second = get_page(sandbox, access)
    assert second.status_code == 401
    assert second.json() == {"error": "invalid_token"}
    assert sandbox.ctx.tokens.check("toy", access) is None
    assert get_page(sandbox, token(sandbox)).status_code == 200


def test_a8_200_with_an_error_body(sandbox: Sandbox) -> None:
    access = token(sandbox)
    sandbox.faults.add("toy", EMPLOYEES, FaultSpec("error_body", times=1))
    response = get_page(sandbox, access)
    assert response.status_code == 200
    assert response.json()["status"] == "ERROR"


def test_a6_vendor_quota_error_in_the_emulators_shape(sandbox: Sandbox) -> None:
    access = token(sandbox)
    sandbox.faults.add("toy", EMPLOYEES, FaultSpec("quota", times=1))
    response = get_page(sandbox, access)
    assert response.status_code == 403
    assert response.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_e7_records_inserted_while_paging(sandbox: Sandbox) -> None:
    access = token(sandbox)
    sandbox.faults.add("toy", EMPLOYEES, FaultSpec("insert_records", count=3, after=1, times=1))
    first = get_page(sandbox, access, 0).json()
    second = get_page(sandbox, access, 10).json()
    assert (first["total"], second["total"]) == (100, 103)
    last = get_page(sandbox, access, 100).json()
    assert [row["id"] for row in last["items"]] == ["E000101", "E000102", "E000103"]


def test_a_stall_until_answered_is_answered_after_the_requests_sent_beside_it(sandbox: Sandbox) -> None:
    """``until_answered``: page 1 is held until two requests to its path were answered since the rule was added, so it
    is answered after the pages sent beside it whatever order they arrive in (a fixed hold can be too short on a
    loaded machine); ``seconds`` only bounds the hold."""
    access = token(sandbox)
    spec = FaultSpec("stall", seconds=60, until_answered=2, times=1, query={"offset": "0"})
    rule = sandbox.faults.add("toy", EMPLOYEES, spec)
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(get_page, sandbox, access, 0, timeout=60)
        beside = [get_page(sandbox, access, offset).json()["items"][0]["id"] for offset in (10, 20)]
        page = held.result()
    assert page.status_code == 200
    assert page.json()["items"][0]["id"] == "E000001"
    assert beside == ["E000011", "E000021"]
    assert [r.fault for r in sandbox.requests("toy", EMPLOYEES)] == [None, None, "stall"]
    assert (rule.fired, rule.answered) == (1, 3)


def test_records_inserted_until_answered_come_after_the_page_beside_them(sandbox: Sandbox) -> None:
    access = token(sandbox)
    spec = FaultSpec("insert_records", count=3, seconds=60, until_answered=1, times=1, query={"offset": "0"})
    sandbox.faults.add("toy", EMPLOYEES, spec)
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(get_page, sandbox, access, 0, timeout=60)
        beside = get_page(sandbox, access, 10).json()
        first = held.result().json()
    assert (beside["total"], first["total"]) == (100, 103)


def test_a_hold_until_answered_ends_at_its_seconds(sandbox: Sandbox) -> None:
    """Nothing else is answered: the request goes on when ``seconds`` are up (the test that set it then fails on
    what it checks, not on a hang)."""
    access = token(sandbox)
    sandbox.faults.add("toy", EMPLOYEES, FaultSpec("stall", seconds=0.2, until_answered=5, times=1))
    assert get_page(sandbox, access).json()["total"] == 100
    assert [r.fault for r in sandbox.requests("toy", EMPLOYEES)] == ["stall"]


def test_a_stall_until_released_is_answered_once_the_test_releases_it(sandbox: Sandbox) -> None:
    """``until_released``: the request is held (others to the path answered meanwhile) until ``release()``, however
    long that takes; ``seconds`` only caps the hold."""
    access = token(sandbox)
    rule = sandbox.faults.add("toy", EMPLOYEES, FaultSpec("stall", seconds=60, until_released=True, times=1))
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(get_page, sandbox, access, 0, timeout=60)
        while rule.fired < 1 and not held.done():  # the held request is in: pages after it are asked beside it
            time.sleep(0.005)
        beside = [get_page(sandbox, access, offset).json()["items"][0]["id"] for offset in (10, 20)]
        assert not held.done()  # still held: answered only after the release
        assert [r.fault for r in sandbox.requests("toy", EMPLOYEES)] == [None, None]
        rule.release()
        page = held.result()
    assert page.json()["items"][0]["id"] == "E000001"
    assert beside == ["E000011", "E000021"]
    assert [r.fault for r in sandbox.requests("toy", EMPLOYEES)] == [None, None, "stall"]
    assert rule.describe()["released"] is True


def test_a_hold_until_released_ends_at_its_seconds(sandbox: Sandbox) -> None:
    """Never released: the request goes on when ``seconds`` are up (the test then fails on what it checks)."""
    access = token(sandbox)
    sandbox.faults.add("toy", EMPLOYEES, FaultSpec("stall", seconds=0.2, until_released=True, times=1))
    assert get_page(sandbox, access).json()["total"] == 100
    assert [r.fault for r in sandbox.requests("toy", EMPLOYEES)] == ["stall"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "stall", "until_answered": -1}, "'until_answered' must be >= 0"),
        ({"kind": "status", "until_answered": 2}, "holds a stall or insert_records, not 'status'"),
        ({"kind": "status", "until_released": True}, "'until_released' holds a stall or insert_records, not 'status'"),
        ({"kind": "stall", "until_released": True, "until_answered": 1}, "two holds: set one"),
    ],
)
def test_until_answered_is_checked(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultSpec.from_dict(fields)


def test_latency_applies_per_endpoint(sandbox: Sandbox) -> None:
    access = token(sandbox)
    sandbox.faults.set_latency("toy", 80, EMPLOYEES)
    get_page(sandbox, access)
    token(sandbox)
    page, auth = sandbox.requests("toy", EMPLOYEES)[-1], sandbox.requests("toy", "/oauth")[-1]
    assert page.ms >= 80  # a lower bound the sleep guarantees, not a speed assertion
    assert auth.ms < 80 or auth.fault is None
    sandbox.faults.set_latency("toy", 0, EMPLOYEES)
    assert sandbox.faults.latency_ms("toy", EMPLOYEES) == 0


def test_flaky_profile_is_deterministic(sandbox: Sandbox) -> None:
    access = token(sandbox)  # request 1
    sandbox.faults.apply_profile("flaky", "toy")
    outcomes = []
    for _ in range(2, 19):
        try:
            outcomes.append(get_page(sandbox, access).status_code)
        except requests.RequestException as exc:
            outcomes.append(type(exc).__name__)
    # Counted from the profile's first request: 7th and 14th 503, 11th 429, 13th reset, 17th truncated.
    expected: list[object] = [200] * 17
    expected[6] = expected[13] = 503
    expected[10] = 429
    expected[12] = "ConnectionError"
    expected[16] = "ChunkedEncodingError"
    assert outcomes == expected
    assert set(PROFILES) >= {"none", "flaky", "rate-limited", "expiring-tokens", "wan", "hostile"}


def test_request_log_has_path_status_and_no_query_or_token(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="xlr8_sandbox.requests"):
        access = token(sandbox)
        get_page(sandbox, access, 20)
    lines = [r.getMessage() for r in caplog.records if r.name == "xlr8_sandbox.requests"]
    assert any(line.startswith(f"toy GET {EMPLOYEES} 200 ") for line in lines)
    assert any(line.startswith("toy POST /oauth/token 200 ") for line in lines)
    assert not any("offset" in line or access in line or "toy-secret" in line for line in lines)


def test_bad_fault_spec_names_the_field() -> None:
    with pytest.raises(ValueError, match="kind"):
        FaultSpec("explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="every"):
        FaultSpec("status", every=0)
    with pytest.raises(ValueError, match="bogus"):
        FaultSpec.from_dict({"kind": "status", "bogus": 1})
