"""RELIABILITY B3 and B4: a struggling token endpoint is retried within a budget then fatal; a rejected grant is
fatal at once with a "re-authorise" message and no secret in it. Client authentication forms are checked too."""

from __future__ import annotations

import socket
from email.utils import formatdate

import pytest

from xlr8_kit.auth import OAuth2ClientCredentials, OAuth2RefreshToken, TokenRetryBudget
from xlr8_kit.http.errors import AuthenticationError, ReauthorizationRequiredError, ServerUnavailableError
from xlr8_kit.http.session import HttpPolicy, ResilientSession
from xlr8_kit.redaction import Redactor

SECRET = "client-secret-b3b4-xyz"
REFRESH = "refresh-token-b4-abcdef"


def _cc(server, session, clock, sleeper, **kw):
    return OAuth2ClientCredentials(
        server.token_url,
        "client-b3",
        SECRET,
        session=session,
        clock=clock,
        sleep=sleeper,
        redactor=Redactor(),
        **kw,
    )


def test_b3_transient_5xx_then_success(auth_server, session, clock, sleeper):
    auth_server.token_script = [(503, {"error": "unavailable"}, {}), (502, b"<html>bad gateway</html>", {})]
    auth = _cc(auth_server, session, clock, sleeper)

    assert session.get(auth_server.api_url, auth=auth).status_code == 200

    assert len(auth_server.token_calls) == 3
    assert len(sleeper.waits) == 2
    assert 1.0 <= sleeper.waits[0] < 1.5  # exponential backoff with jitter on top
    assert 2.0 <= sleeper.waits[1] < 2.5


def test_b3_429_honours_retry_after(auth_server, session, clock, sleeper):
    auth_server.token_script = [(429, {"error": "slow down"}, {"Retry-After": "7"})]
    auth = _cc(auth_server, session, clock, sleeper)
    auth.current_token()
    assert sleeper.waits
    assert sleeper.waits[0] >= 7
    assert len(auth_server.token_calls) == 2


@pytest.mark.parametrize("skew", [-3600, 0, 600])
def test_b3_429_honours_an_http_date_retry_after_on_the_servers_clock(auth_server, session, clock, sleeper, skew):
    """audit25d F5: a date was ignored (the backoff asked again after about a second); it is counted from the
    answer's ``Date`` (the server's clock, ``skew`` off ours)."""
    server_now = clock() + skew
    dated = {"Date": formatdate(server_now, usegmt=True), "Retry-After": formatdate(server_now + 7, usegmt=True)}
    auth_server.token_script = [(429, {"error": "slow down"}, dated)]
    auth = _cc(auth_server, session, clock, sleeper)
    auth.current_token()
    assert len(auth_server.token_calls) == 2
    assert len(sleeper.waits) == 1
    assert 7 <= sleeper.waits[0] < 7.5  # the larger of the date and the backoff (1-1.5 s)


def test_b3_persistent_5xx_is_fatal_within_budget(auth_server, session, clock, sleeper):
    auth_server.token_handler = lambda call: (503, {"error": "down"}, {})
    auth = _cc(auth_server, session, clock, sleeper, retry_budget=TokenRetryBudget(max_attempts=4))

    with pytest.raises(ServerUnavailableError, match=r"unavailable after 4 attempt\(s\) \(HTTP 503\)") as caught:
        auth.current_token()

    assert len(auth_server.token_calls) == 4
    assert len(sleeper.waits) == 3
    assert SECRET not in str(caught.value)
    assert auth.token is None


def test_b3_elapsed_budget_stops_before_a_huge_retry_after(auth_server, session, clock, sleeper):
    auth_server.token_handler = lambda call: (429, {"error": "quota"}, {"Retry-After": "86400"})
    auth = _cc(auth_server, session, clock, sleeper, retry_budget=TokenRetryBudget(max_elapsed_s=300))
    with pytest.raises(ServerUnavailableError):
        auth.current_token()
    assert len(auth_server.token_calls) == 1
    assert sleeper.waits == []  # no day-long sleep


def test_b3_connection_refused_retried_then_fatal(session, clock, sleeper):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    auth = OAuth2ClientCredentials(
        f"http://127.0.0.1:{port}/oauth/token",
        "client-b3",
        SECRET,
        session=session,
        clock=clock,
        sleep=sleeper,
        redactor=Redactor(),
        retry_budget=TokenRetryBudget(max_attempts=3),
    )
    with pytest.raises(ServerUnavailableError, match="ConnectionError"):
        auth.current_token()
    assert len(sleeper.waits) == 2


def test_b3_resilient_session_owns_the_retries(auth_server, clock, sleeper):
    """With the kit's session the authenticator does not add its own retry layer on top (RELIABILITY A14)."""
    auth_server.token_handler = lambda call: (503, {"error": "down"}, {})
    session_waits: list[float] = []
    with ResilientSession(HttpPolicy(max_attempts=3), clock=clock, sleep=session_waits.append) as resilient:
        auth = _cc(auth_server, resilient, clock, sleeper)
        assert auth.retry_budget.max_attempts == 1
        with pytest.raises(ServerUnavailableError):
            auth.current_token()
    assert sleeper.waits == []  # the authenticator did not retry on its own
    assert len(auth_server.token_calls) == 3  # the session's bound, not multiplied


def test_b4_invalid_grant_is_fatal_at_once_and_says_reauthorise(auth_server, session, clock, sleeper):
    auth_server.token_handler = lambda call: (
        400,
        {"error": "invalid_grant", "error_description": f"token {call.form['refresh_token']} expired"},
        {},
    )
    auth = OAuth2RefreshToken(
        auth_server.token_url,
        "client-b4",
        SECRET,
        REFRESH,
        session=session,
        clock=clock,
        sleep=sleeper,
        redactor=Redactor(),
    )

    with pytest.raises(ReauthorizationRequiredError, match="re-authorise the connection") as caught:
        session.get(auth_server.api_url, auth=auth)

    assert len(auth_server.token_calls) == 1  # no retry storm
    assert auth_server.api_calls == []  # nothing sent without a token
    assert sleeper.waits == []
    message = str(caught.value)
    assert "invalid_grant" in message
    assert REFRESH not in message
    assert SECRET not in message
    assert caught.value.path == "/oauth/token"


def test_b4_invalid_client_is_an_authentication_error(auth_server, session, clock, sleeper):
    auth_server.token_handler = lambda call: (401, {"error": "invalid_client"}, {})
    auth = _cc(auth_server, session, clock, sleeper)
    with pytest.raises(AuthenticationError, match="rejected the credentials") as caught:
        auth.current_token()
    assert not isinstance(caught.value, ReauthorizationRequiredError)
    assert len(auth_server.token_calls) == 1


def test_200_without_access_token_is_not_success(auth_server, session, clock, sleeper):
    auth_server.token_handler = lambda call: (200, {"status": "ERROR"}, {})
    auth = _cc(auth_server, session, clock, sleeper)
    with pytest.raises(AuthenticationError, match="without an access_token"):
        auth.current_token()


def test_client_credentials_form_post(auth_server, session, clock, sleeper):
    auth = _cc(auth_server, session, clock, sleeper, scope="api refresh", extra_params={"resource": "hr"})
    auth.current_token()
    call = auth_server.token_calls[0]
    assert call.form == {
        "grant_type": "client_credentials",
        "client_id": "client-b3",
        "client_secret": SECRET,
        "scope": "api refresh",
        "resource": "hr",
    }
    assert call.basic() is None


def test_client_credentials_basic_client_auth(auth_server, session, clock, sleeper):
    auth = _cc(auth_server, session, clock, sleeper, client_auth="basic")
    auth.current_token()
    call = auth_server.token_calls[0]
    assert call.form == {"grant_type": "client_credentials"}
    assert call.basic() == ("client-b3", SECRET)


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"token_url": ""}, "token_url"),
        ({"client_id": ""}, "client_id"),
        ({"client_secret": ""}, "client_secret"),
        ({"client_auth": "jwt"}, "client_auth"),
    ],
)
def test_bad_settings_name_the_setting(session, kwargs, setting):
    args = {"token_url": "https://login.example.com/token", "client_id": "c", "client_secret": "s3cr3t!", **kwargs}
    with pytest.raises(ValueError, match=setting):
        OAuth2ClientCredentials(session=session, **args)


def test_b4_invalid_grant_through_the_resilient_session(auth_server, clock, sleeper):
    auth_server.token_handler = lambda call: (400, {"error": "invalid_grant"}, {})
    session_waits: list[float] = []
    with ResilientSession(HttpPolicy(max_attempts=3), clock=clock, sleep=session_waits.append) as resilient:
        auth = OAuth2RefreshToken(
            auth_server.token_url, "client-b4", SECRET, REFRESH, session=resilient, clock=clock, redactor=Redactor()
        )
        with pytest.raises(ReauthorizationRequiredError, match="re-authorise"):
            resilient.get(auth_server.api_url, auth=auth)
    assert len(auth_server.token_calls) == 1
    assert session_waits == []
