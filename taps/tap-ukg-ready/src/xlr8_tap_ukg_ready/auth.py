"""UKG Ready credentials: the v1 login (API key + user + company short name for a short-lived token carried as
``Authentication: Bearer``) and OAuth client credentials for v2 (the kit's ``OAuth2ClientCredentials``).

Both re-authenticate the kit's way: before expiry (the login's ``ttl`` is in milliseconds) and once on a 401.
Login failures say which setting to fix, read from the vendor's ``errors[]`` codes.
"""

from __future__ import annotations

import json
import typing as t

import requests

from xlr8_kit.auth import OAuth2ClientCredentials, SessionLogin, Token
from xlr8_kit.auth.base import NoAuth
from xlr8_kit.auth.session_login import login_verdict
from xlr8_kit.http.classify import json_or_not
from xlr8_kit.http.errors import AuthenticationError, ReauthorizationRequiredError

if t.TYPE_CHECKING:
    from xlr8_kit.redaction import Redactor

LOGIN_PATH = "/ta/rest/v1/login"
API_KEY_HEADER = "Api-Key"
#: Used when a login answer carries no ``ttl``.
DEFAULT_TOKEN_LIFETIME_S = 3600.0


def vendor_errors(response: requests.Response) -> list[dict[str, t.Any]]:
    """The ``errors[]`` of a UKG Ready error body (empty when the body is something else)."""
    body = json_or_not(response, json.loads)  # empty, HTML, cut or nested too deep: no errors
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def describe_errors(errors: list[dict[str, t.Any]]) -> str:
    return "; ".join(f"code {e.get('code')}: {str(e.get('message') or '')[:200]}" for e in errors) or "no error body"


class ReadyLogin(SessionLogin):
    """``POST /ta/rest/v1/login``; the token goes into the ``Authentication`` header (UKG Ready's own name)."""

    flow_name = "ukg_ready login"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        username: str,
        password: str,
        company_short_name: str,
        session: requests.Session,
        redactor: Redactor,
        **kwargs: t.Any,
    ) -> None:
        kwargs.setdefault("assumed_lifetime_s", DEFAULT_TOKEN_LIFETIME_S)
        super().__init__(session=session, redactor=redactor, **kwargs)
        for secret in (api_key, password):
            redactor.add(secret)
        self.url = base_url.rstrip("/") + LOGIN_PATH
        self._api_key = api_key
        self._credentials = {"username": username, "password": password, "company": company_short_name}

    def login(self, session: requests.Session) -> Token:
        send_options: dict[str, t.Any] = {"kind": "token", "classify": login_verdict} if self._session_is_kit else {}
        request = requests.Request(
            "POST",
            self.url,
            data=json.dumps({"credentials": self._credentials}),
            headers={API_KEY_HEADER: self._api_key, "Content-Type": "application/json", "Accept": "application/json"},
            auth=NoAuth(),
        )
        response = session.send(session.prepare_request(request), allow_redirects=False, **send_options)
        if response.status_code >= 400:
            self._raise_for(response)
        body = json_or_not(response)
        token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthenticationError(
                self._message(f"{self.flow_name}: {LOGIN_PATH} answered HTTP {response.status_code} without a token"),
                status=response.status_code,
                path=LOGIN_PATH,
            )
        self.redactor.add(token)
        now = self.clock()
        ttl_ms = body.get("ttl") if isinstance(body, dict) else None
        assumed = not isinstance(ttl_ms, int | float) or ttl_ms <= 0
        lifetime = self.assumed_lifetime_s if assumed else float(t.cast("float", ttl_ms)) / 1000.0
        return Token(access_token=token, obtained_at=now, expires_at=now + lifetime, lifetime_assumed=assumed)

    def apply_token(self, request: requests.PreparedRequest, token: Token) -> None:
        request.headers["Authentication"] = f"Bearer {token.access_token}"

    def _raise_for(self, response: requests.Response) -> t.NoReturn:
        status = response.status_code
        detail = describe_errors(vendor_errors(response))
        text = detail.lower()
        if status == 403 and "lock" in text:
            raise ReauthorizationRequiredError(
                self._message(
                    f"{self.flow_name} failed: the user in setting 'username' is locked (HTTP 403, {detail}); "
                    "unlock it in UKG Ready or configure another API user"
                ),
                status=status,
                path=LOGIN_PATH,
            )
        if "api-key" in text or "api key" in text:
            hint = "check the setting 'api_key' (the company's REST API key)"
        elif "company" in text:
            hint = "check the setting 'company_short_name' (the company short name used to log in)"
        else:
            hint = "check the settings 'username' and 'password' (an API user of the company)"
        raise AuthenticationError(
            self._message(f"{self.flow_name} failed (HTTP {status}, {detail}): {hint}"), status=status, path=LOGIN_PATH
        )


class ReadyClientCredentials(OAuth2ClientCredentials):
    """The kit's client-credentials grant; a refused grant names the settings to check."""

    flow_name = "ukg_ready oauth2 client credentials"

    def fetch_token(self) -> Token:
        try:
            return super().fetch_token()
        except AuthenticationError as exc:
            hint = "check the settings 'client_id', 'client_secret' and 'company_id' / 'company_short_name'"
            raise type(exc)(f"{exc}: {hint}", status=exc.status, path=exc.path) from None
