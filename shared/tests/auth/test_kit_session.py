"""The authenticators inside the kit's ResilientSession (what KitRESTStream uses): the session applies the
authenticator on every attempt and calls ``force_refresh()`` on a 401, so the retry counts against its attempt
bound and the authenticator adds no second retry layer (RELIABILITY A14, B1, B2)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from xlr8_kit.auth import OAuth2ClientCredentials
from xlr8_kit.http.errors import ReauthorizationRequiredError
from xlr8_kit.http.session import HttpPolicy, ResilientSession
from xlr8_kit.redaction import Redactor


@pytest.fixture
def kit_session(clock):
    with ResilientSession(HttpPolicy(max_attempts=3), clock=clock, sleep=lambda s: None) as resilient:
        yield resilient


def _cc(server, session, clock):
    return OAuth2ClientCredentials(
        server.token_url, "client-kit", "kit-client-secret", session=session, clock=clock, redactor=Redactor()
    )


def test_b2_forced_refresh_and_retry_through_the_kit_session(auth_server, kit_session, clock):
    auth = _cc(auth_server, kit_session, clock)
    assert kit_session.get(auth_server.api_url, authenticate=auth).status_code == 200
    first = auth.token
    assert first is not None
    auth_server.revoked.add(first.access_token)

    response = kit_session.get(auth_server.api_url, authenticate=auth)

    assert response.status_code == 200
    assert response.history == []  # retried by the session's loop (counted attempt), not by the auth hook
    assert len(auth_server.api_calls) == 3
    assert len(auth_server.token_calls) == 2
    assert auth_server.api_calls[1].headers["authorization"] == f"Bearer {first.access_token}"
    assert auth_server.api_calls[2].headers["authorization"] != f"Bearer {first.access_token}"


def test_b2_second_401_through_the_kit_session_is_fatal(auth_server, kit_session, clock):
    auth_server.api_guard = lambda call: (401, {"error": "INVALID_SESSION_ID"}, {})
    auth = _cc(auth_server, kit_session, clock)
    with pytest.raises(ReauthorizationRequiredError, match="re-authentication required"):
        kit_session.get(auth_server.api_url, authenticate=auth)
    assert len(auth_server.api_calls) == 2
    assert len(auth_server.token_calls) == 2


def test_b2_parallel_401s_through_the_kit_session_share_one_refresh(auth_server, kit_session, clock):
    auth_server.token_delay_s = 0.02
    auth = _cc(auth_server, kit_session, clock)
    assert kit_session.get(auth_server.api_url, authenticate=auth).status_code == 200
    auth_server.revoked.add(auth.token.access_token)  # type: ignore[union-attr]
    barrier = threading.Barrier(8)

    def worker(_: int) -> int:
        barrier.wait()
        return kit_session.get(auth_server.api_url, authenticate=auth).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(worker, range(8))) == [200] * 8
    assert len(auth_server.token_calls) == 2


def test_b1_kit_session_retry_after_a_wait_carries_a_fresh_token(auth_server, clock):
    """A 503 with Retry-After longer than the token's remaining life: the retry is re-signed, not resent stale."""
    replies = [(503, {"error": "busy"}, {"Retry-After": "58"})]
    auth_server.api_guard = lambda call: replies.pop() if replies else None
    with ResilientSession(HttpPolicy(max_attempts=3), clock=clock, sleep=clock.advance, wall=clock) as resilient:
        auth = _cc(auth_server, resilient, clock)
        response = resilient.get(auth_server.api_url, authenticate=auth)
    assert response.status_code == 200
    assert auth_server.expired_uses == 0
    assert len(auth_server.token_calls) == 2


def test_b2_plain_auth_on_the_kit_session_uses_the_hook(auth_server, kit_session, clock):
    """``auth=`` (signed once at prepare time) still gets one refresh + one retry, via the response hook."""
    auth = _cc(auth_server, kit_session, clock)
    assert kit_session.get(auth_server.api_url, auth=auth).status_code == 200
    auth_server.revoked.add(auth.token.access_token)  # type: ignore[union-attr]
    response = kit_session.get(auth_server.api_url, auth=auth)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert len(auth_server.token_calls) == 2

    auth_server.api_guard = lambda call: (401, {"error": "INVALID_SESSION_ID"}, {})
    with pytest.raises(ReauthorizationRequiredError):
        kit_session.get(auth_server.api_url, auth=auth)
    assert len(auth_server.token_calls) == 3
