"""Common's two ways in: the JWT login (email + password, refresh when the API has it) and OAuth client
credentials (``client_id``, ``client_secret``, ``company_id``), both as Bearer tokens.

The seed API answers ``POST /auth/refresh``; the public implementation has no such route. The login
authenticator tries the refresh token it holds first and, on 404/405, remembers that refresh is absent and logs in
again instead (also when the refresh token is rejected).
"""

from __future__ import annotations

import json
import typing as t

import requests
from singer_sdk.exceptions import ConfigValidationError

from xlr8_kit.auth import OAuth2ClientCredentials, SessionLogin, Token
from xlr8_kit.auth.session_login import login_verdict
from xlr8_kit.http.classify import json_or_not
from xlr8_kit.http.errors import AuthenticationError

if t.TYPE_CHECKING:
    from xlr8_kit.redaction import Redactor
    from xlr8_tap_common.settings import CommonSettings

LOGIN_PATH = "/auth/login"
REFRESH_PATH = "/auth/refresh"
TOKEN_PATH = "/auth/token"


class CommonLogin(SessionLogin):
    """``POST /api/v1/auth/login`` with JSON credentials; ``/auth/refresh`` while the API offers it."""

    flow_name = "common login"

    def __init__(self, *, api_url: str, email: str, password: str, session: requests.Session, redactor: Redactor,
                 **kwargs: t.Any) -> None:  # fmt: skip
        super().__init__(session=session, redactor=redactor, **kwargs)
        redactor.add(password)
        redactor.add_pair(email, password)
        self.api_url = api_url
        self._email = email
        self._password = password
        self._refresh_token: str | None = None
        #: None until known; False once the API answered 404/405 on the refresh route (public implementation).
        self.refresh_supported: bool | None = None
        self.logins = 0
        self.refreshes = 0

    def _post(self, session: requests.Session, path: str, body: dict[str, str]) -> requests.Response:
        request = requests.Request(
            "POST",
            self.api_url + path,
            data=json.dumps(body),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        prepared = session.prepare_request(request)
        options: dict[str, t.Any] = {"classify": login_verdict, "kind": "token"} if self._session_is_kit else {}
        return session.send(prepared, allow_redirects=False, **options)

    def login(self, session: requests.Session) -> Token:
        if self._refresh_token and self.refresh_supported is not False:
            response = self._post(session, REFRESH_PATH, {"refresh_token": self._refresh_token})
            self._refresh_token = None
            if response.status_code in (404, 405):
                self.refresh_supported = False
            elif response.status_code == 200:
                self.refresh_supported = True
                self.refreshes += 1
                return self._read_token(response, REFRESH_PATH)
        response = self._post(session, LOGIN_PATH, {"email": self._email, "password": self._password})
        if response.status_code != 200:
            raise AuthenticationError(
                self._message(
                    f"{self.flow_name} failed: HTTP {response.status_code} {_error_code(response)} (check the "
                    "settings 'email' and 'password')"
                ),
                status=response.status_code,
                path=LOGIN_PATH,
            )
        self.logins += 1
        return self._read_token(response, LOGIN_PATH)

    def _read_token(self, response: requests.Response, path: str) -> Token:
        payload = self._json_or_none(response)  # registers the tokens with the redactor
        if payload is None or not payload.get("access_token"):
            raise AuthenticationError(
                self._message(f"{self.flow_name}: {path} answered without an access_token"), path=path
            )
        self._refresh_token = payload.get("refresh_token") or None
        return Token.from_response(payload, now=self.clock(), assumed_lifetime_s=self.assumed_lifetime_s)


def _error_code(response: requests.Response) -> str:
    body = json_or_not(response)
    if isinstance(body, dict):
        return " ".join(str(body.get(k)) for k in ("error_code", "request_id") if body.get(k))
    return ""


def build_authenticator(settings: CommonSettings, session: requests.Session, redactor: Redactor) -> t.Any:
    """The configured flow's authenticator, on the tap's resilient session."""
    if settings.auth_flow == "client_credentials":
        if not (settings.client_id and settings.client_secret):
            raise ConfigValidationError("tap-common: settings 'client_id' and 'client_secret' are required")
        return OAuth2ClientCredentials(
            settings.api_url + TOKEN_PATH,
            settings.client_id,
            settings.client_secret,
            extra_params={"company_id": settings.company_id or ""},
            session=session,
            redactor=redactor,
        )
    if not (settings.email and settings.password):
        raise ConfigValidationError("tap-common: settings 'email' and 'password' are required")
    return CommonLogin(
        api_url=settings.api_url, email=settings.email, password=settings.password, session=session, redactor=redactor
    )
