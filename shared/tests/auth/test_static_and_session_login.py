"""Basic, API-key headers and the vendor session-login hook, each against the local server over real HTTP."""

from __future__ import annotations

import base64

import pytest
import requests

from xlr8_kit.auth import ApiKeyHeaders, Basic, SessionLogin, Token
from xlr8_kit.http.errors import AuthenticationError, ReauthorizationRequiredError
from xlr8_kit.redaction import Redactor


def test_basic_sends_credentials_and_registers_the_header_form(auth_server, session):
    auth_server.api_guard = lambda call: (200, {"basic": call.basic()}, {})
    redactor = Redactor()
    auth = Basic("svc-ukg", "basic-password-9", redactor=redactor)
    response = session.get(auth_server.api_url, auth=auth)
    assert response.json() == {"basic": ["svc-ukg", "basic-password-9"]}
    header = auth_server.api_calls[0].headers["authorization"]
    assert redactor.redact(header) == "Basic ***"
    assert "basic-password-9" not in repr(auth)
    assert base64.b64encode(b"svc-ukg:basic-password-9").decode() not in redactor.redact(header)


@pytest.mark.parametrize(("user", "password", "setting"), [("", "pw-long", "user"), ("u", "", "password")])
def test_basic_missing_setting_is_named(user, password, setting):
    with pytest.raises(ValueError, match=setting):
        Basic(user, password)


def test_api_key_headers_sent_and_registered(auth_server, session):
    auth_server.api_guard = lambda call: (200, {"key": call.headers.get("us-customer-api-key")}, {})
    redactor = Redactor()
    auth = ApiKeyHeaders({"US-Customer-Api-Key": "CUSTKEY-12345"}, redactor=redactor)
    assert session.get(auth_server.api_url, auth=auth).json() == {"key": "CUSTKEY-12345"}
    assert redactor.redact("key=CUSTKEY-12345") == "key=***"
    assert "CUSTKEY" not in repr(auth)


@pytest.mark.parametrize(
    ("headers", "match"),
    [({}, "at least one header"), ({"X-Key": ""}, "'X-Key'"), ({"X-Key": "a\r\nInjected: 1"}, "line break")],
)
def test_api_key_headers_validation(headers, match):
    with pytest.raises(ValueError, match=match):
        ApiKeyHeaders(headers)


class AppKeyLogin(SessionLogin):
    """What a UKG WFM-style tap writes: log in with user/password + appkey, send appkey and token on each call."""

    flow_name = "ukg wfm login"

    def __init__(self, login_url: str, username: str, password: str, appkey: str, **kw) -> None:
        super().__init__(**kw)
        self.redactor.add(password)
        self.redactor.add(appkey)
        self.login_url, self.username, self._password, self._appkey = login_url, username, password, appkey

    def login(self, session: requests.Session) -> Token:
        payload = self.post_token_request(
            self.login_url,
            {"username": self.username, "password": self._password},
            headers={"appkey": self._appkey},
        )
        return Token.from_response(payload, now=self.clock(), assumed_lifetime_s=self.assumed_lifetime_s)

    def apply_token(self, request: requests.PreparedRequest, token: Token) -> None:
        request.headers["appkey"] = self._appkey
        request.headers["Authorization"] = token.access_token


@pytest.fixture
def login_server(auth_server):
    def handler(call):
        if call.form.get("password") != "wfm-password-1" or call.headers.get("appkey") != "APPKEY-7":
            return 401, {"error": "invalid_client", "error_description": "bad username or password"}, {}
        return 200, auth_server.issue(expires_in=1800), {}

    def guard(call):
        if call.headers.get("appkey") != "APPKEY-7":
            return 403, {"error": "appkey"}, {}
        call.headers["authorization"] = "Bearer " + call.headers.get("authorization", "")
        return None

    auth_server.token_handler = handler
    auth_server.api_guard = guard
    return auth_server


def _login(server, session, clock, password="wfm-password-1"):
    return AppKeyLogin(
        f"{server.base_url}/login", "api.user", password, "APPKEY-7", session=session, clock=clock, redactor=Redactor()
    )


def test_session_login_shares_expiry_and_401_machinery(login_server, session, clock):
    auth = _login(login_server, session, clock)
    assert session.get(login_server.api_url, auth=auth).status_code == 200
    clock.advance(1800 - 60)  # margin min(60 s, 180 s)
    assert session.get(login_server.api_url, auth=auth).status_code == 200
    assert len(login_server.token_calls) == 2
    assert login_server.expired_uses == 0

    login_server.revoked.add(auth.token.access_token)  # type: ignore[union-attr]  # vendor ended the session
    response = session.get(login_server.api_url, auth=auth)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert len(login_server.token_calls) == 3


def test_session_login_wrong_password_is_clear_and_redacted(login_server, session, clock):
    auth = _login(login_server, session, clock, password="wrong-password-x")
    with pytest.raises(AuthenticationError, match="bad username or password") as caught:
        session.get(login_server.api_url, auth=auth)
    assert "wrong-password-x" not in str(caught.value)
    assert login_server.api_calls == []


def test_session_login_second_rejection_is_fatal(login_server, session, clock):
    login_server.api_guard = lambda call: (401, {"error": "session"}, {})
    auth = _login(login_server, session, clock)
    with pytest.raises(ReauthorizationRequiredError):
        session.get(login_server.api_url, auth=auth)
    assert len(login_server.token_calls) == 2
    assert len(login_server.api_calls) == 2
