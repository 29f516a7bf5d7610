"""RELIABILITY B1 and B2: refresh before expiry, one refresh per expiry across threads, 401 -> one refresh + one
retry, a second 401 is fatal. Driven over real HTTP against the local token server with a controlled clock."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from xlr8_kit.auth import OAuth2ClientCredentials, Token
from xlr8_kit.http.errors import ReauthorizationRequiredError
from xlr8_kit.redaction import Redactor

SECRET = "cc-secret-value-1234"


def _client(server, session, clock, **kw) -> OAuth2ClientCredentials:
    return OAuth2ClientCredentials(
        server.token_url, "client-abc", SECRET, session=session, clock=clock, redactor=Redactor(), **kw
    )


def test_b1_refreshed_before_expiry_never_sent_expired(auth_server, session, clock):
    auth = _client(auth_server, session, clock)
    statuses = []
    for _ in range(180):  # a 3-minute sync, one request per simulated second
        statuses.append(session.get(auth_server.api_url, auth=auth).status_code)
        clock.advance(1)

    assert statuses == [200] * 180
    assert auth_server.expired_uses == 0
    # expires_in=60, margin min(60 s, 10 %) = 6 s: new tokens at t=0, 54, 108, 162.
    assert [call.at - auth_server.token_calls[0].at for call in auth_server.token_calls] == [0, 54, 108, 162]
    issued_expiries = list(auth_server.issued.values())
    for call, previous_expiry in zip(auth_server.token_calls[1:], issued_expiries, strict=False):
        assert previous_expiry is not None
        assert call.at < previous_expiry  # refreshed while the old token was still valid


def test_b1_one_refresh_per_expiry_with_8_threads(auth_server, session, clock):
    auth_server.token_delay_s = 0.02  # a slow token endpoint widens any race between threads
    auth = _client(auth_server, session, clock)
    barrier = threading.Barrier(8)
    statuses: list[int] = []
    lock = threading.Lock()

    def worker(_: int) -> None:
        for _step in range(36):  # 36 steps of 5 s = 3 minutes
            barrier.wait()
            status = session.get(auth_server.api_url, auth=auth).status_code
            with lock:
                statuses.append(status)
            if barrier.wait() == 0:
                clock.advance(5)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(worker, range(8)))

    assert len(statuses) == 288
    assert set(statuses) == {200}
    assert auth_server.expired_uses == 0
    assert len(auth_server.token_calls) == 4  # t=0, 55, 110, 165: one per expiry, not one per thread
    assert auth.refresh_count == 4


def test_b1_token_without_expires_in_uses_assumed_lifetime(auth_server, session, clock):
    auth_server.expires_in = None  # Salesforce style
    auth = _client(auth_server, session, clock, assumed_lifetime_s=900)
    assert session.get(auth_server.api_url, auth=auth).status_code == 200
    token = auth.token
    assert token is not None
    assert token.lifetime_assumed
    assert token.expires_at - token.obtained_at == 900
    clock.advance(900 - 60)  # margin min(60, 90) = 60 s
    assert session.get(auth_server.api_url, auth=auth).status_code == 200
    assert len(auth_server.token_calls) == 2


def test_b2_401_triggers_one_refresh_and_one_retry_of_the_same_request(auth_server, session, clock):
    auth = _client(auth_server, session, clock)
    assert session.get(auth_server.api_url, auth=auth).status_code == 200
    first = auth.token
    assert first is not None
    auth_server.revoked.add(first.access_token)  # revoked server-side; locally it still looks valid

    response = session.post(auth_server.api_url + "?page=2", json={"q": "workers"}, auth=auth)

    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert len(auth_server.token_calls) == 2
    rejected, retried = auth_server.api_calls[-2:]
    assert rejected.headers["authorization"] == f"Bearer {first.access_token}"
    assert retried.headers["authorization"] != rejected.headers["authorization"]
    assert retried.path == rejected.path == "/api/data"
    assert response.request.url == auth_server.api_url + "?page=2"
    assert response.request.body == b'{"q": "workers"}'
    assert response.json()["token"] == auth.token.access_token  # type: ignore[union-attr]


def test_b2_second_401_is_fatal_without_refresh_loop(auth_server, session, clock):
    auth_server.api_guard = lambda call: (401, {"error": "INVALID_SESSION_ID"}, {})
    auth = _client(auth_server, session, clock)

    with pytest.raises(ReauthorizationRequiredError, match="re-authentication required") as caught:
        session.get(auth_server.api_url, auth=auth)

    assert len(auth_server.api_calls) == 2  # the request and exactly one retry
    assert len(auth_server.token_calls) == 2  # the first token and exactly one forced refresh
    text = str(caught.value)
    assert SECRET not in text
    assert all(token not in text for token in auth_server.issued)


def test_b2_parallel_401s_share_one_forced_refresh(auth_server, session, clock):
    auth_server.token_delay_s = 0.02
    auth = _client(auth_server, session, clock)
    assert session.get(auth_server.api_url, auth=auth).status_code == 200
    auth_server.revoked.add(auth.token.access_token)  # type: ignore[union-attr]
    barrier = threading.Barrier(8)

    def worker(_: int) -> int:
        barrier.wait()
        return session.get(auth_server.api_url, auth=auth).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(worker, range(8)))

    assert statuses == [200] * 8
    assert len(auth_server.token_calls) == 2  # initial + one forced refresh for all eight rejections


def test_b2_vendor_invalid_session_predicate(auth_server, session, clock):
    """A vendor that signals an expired session in a 500 body (SOAP style) is handled like a 401."""
    first_token: list[str] = []

    def guard(call):
        token = call.headers["authorization"].split(" ", 1)[1]
        if not first_token:
            first_token.append(token)
        if token == first_token[0]:
            return 500, {"fault": "INVALID_SESSION_ID: session timed out"}, {}
        return None

    auth_server.api_guard = guard
    auth = _client(
        auth_server,
        session,
        clock,
        is_auth_failure=lambda r: r.status_code == 401 or b"INVALID_SESSION_ID" in r.content,
    )
    response = session.get(auth_server.api_url, auth=auth)
    assert response.status_code == 200
    assert len(auth_server.token_calls) == 2


def test_auth_applied_twice_registers_one_hook_and_token_calls_skip_session_auth(auth_server, session, clock):
    """The SDK sets ``session.auth`` and calls the authenticator again before send: no double hook, and the
    token request must not re-enter the authenticator (it would deadlock on the refresh lock)."""
    auth = _client(auth_server, session, clock)
    session.auth = auth
    prepared = session.prepare_request(requests.Request("GET", auth_server.api_url))
    prepared = auth(prepared)
    assert prepared.hooks["response"].count(auth._on_response) == 1
    assert session.send(prepared, timeout=5).status_code == 200
    assert "authorization" not in auth_server.token_calls[0].headers


def test_token_repr_and_redaction(auth_server, session, clock):
    redactor = Redactor()
    auth = OAuth2ClientCredentials(
        auth_server.token_url, "client-abc", SECRET, session=session, clock=clock, redactor=redactor
    )
    token = auth.current_token()
    assert isinstance(token, Token)
    assert token.access_token not in repr(token)
    assert SECRET not in repr(auth)
    assert redactor.redact(f"x {token.access_token} {SECRET} y") == "x *** *** y"
