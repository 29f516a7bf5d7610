"""UKG WFM credentials, both paths of a real tenant.

Classic: ``POST /api/authentication/access_token`` with the ``appkey`` header and a form body (password grant with
``auth_chain=OAuthLdapService``, later ``grant_type=refresh_token``); API calls carry the bearer token *and* the
appkey. A wrong or missing appkey is refused by the API gateway (a ``fault`` body, not OAuth's ``error``), so the
message names the setting to fix. Platform: OAuth client credentials with ``audience`` against the tenant's token
URL; API calls carry the bearer token and ``global-tenant-id``.
"""

from __future__ import annotations

import typing as t

import requests

from xlr8_kit.auth import OAuth2ClientCredentials, SessionLogin, Token
from xlr8_kit.http.errors import AuthenticationError, ReauthorizationRequiredError

ACCESS_TOKEN_PATH = "/api/authentication/access_token"
AUTH_CHAIN = "OAuthLdapService"
GLOBAL_TENANT_HEADER = "global-tenant-id"


class AppKeyLogin(SessionLogin):
    """Password grant with the appkey, renewed with the refresh token it returns (password again when that fails)."""

    flow_name = "ukg_wfm access_token (appkey + password grant)"

    def __init__(
        self,
        *,
        base_url: str,
        appkey: str,
        username: str,
        password: str,
        client_id: str,
        client_secret: str,
        **kwargs: t.Any,
    ) -> None:
        super().__init__(**kwargs)
        for secret in (appkey, password, client_secret):
            self.redactor.add(secret)
        self.redactor.add_pair(username, password)
        self.redactor.add_pair(client_id, client_secret)
        self.url = base_url.rstrip("/") + ACCESS_TOKEN_PATH
        self._appkey = appkey
        self._username = username
        self._password = password
        self._client = {"client_id": client_id, "client_secret": client_secret}
        #: Grant types sent, in order (observability; tests read it).
        self.grants: list[str] = []

    def login(self, session: requests.Session) -> Token:
        held = self.token
        if held is not None and held.refresh_token:
            try:
                return self._grant({"grant_type": "refresh_token", "refresh_token": held.refresh_token})
            except ReauthorizationRequiredError:
                pass  # the refresh token expired or was spent: log in with the password again
        return self._grant(
            {"grant_type": "password", "username": self._username, "password": self._password, "auth_chain": AUTH_CHAIN}
        )

    def _grant(self, grant: dict[str, str]) -> Token:
        self.grants.append(grant["grant_type"])
        payload = self.post_token_request(self.url, {**grant, **self._client}, headers={"appkey": self._appkey})
        return Token.from_response(payload, now=self.clock(), assumed_lifetime_s=self.assumed_lifetime_s)

    def apply_token(self, request: requests.PreparedRequest, token: Token) -> None:
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        request.headers["appkey"] = self._appkey

    def _raise_rejected(self, response: requests.Response, payload: dict[str, t.Any] | None, path: str) -> None:
        """The gateway's appkey refusal and OAuth's client and user refusals, each naming the settings to fix."""
        body = payload or {}
        fault = body.get("fault")
        if isinstance(fault, dict):
            detail = fault.get("detail") or {}
            reason = f"{fault.get('faultstring', 'refused')} ({detail.get('errorcode', 'no error code')})"
            raise AuthenticationError(
                self._message(
                    f"{self.flow_name}: the API gateway refused the application key: {reason}; check the setting "
                    "'appkey' (the tenant's application key, sent as the appkey header)"
                ),
                status=response.status_code,
                path=path,
            )
        error = str(body.get("error") or "")
        description = str(body.get("error_description") or "")[:300]
        if error == "invalid_client":
            hint = "check the settings 'client_id' and 'client_secret'"
        elif error in ("access_denied", "invalid_user") or response.status_code == 401:
            hint = "check the settings 'username' and 'password' (an API user with a Function Access Profile)"
        else:
            super()._raise_rejected(response, payload, path)
            return
        raise AuthenticationError(
            self._message(f"{self.flow_name}: HTTP {response.status_code} {error}: {description}; {hint}"),
            status=response.status_code,
            path=path,
        )


class PlatformClientCredentials(OAuth2ClientCredentials):
    """UKG platform OAuth: client credentials with ``audience``; calls also carry ``global-tenant-id``."""

    flow_name = "ukg_wfm platform oauth (client credentials)"

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        audience: str | None,
        global_tenant_id: str,
        **kwargs: t.Any,
    ) -> None:
        extra = {"audience": audience} if audience else None
        super().__init__(token_url, client_id, client_secret, extra_params=extra, **kwargs)
        self.global_tenant_id = global_tenant_id

    def apply_token(self, request: requests.PreparedRequest, token: Token) -> None:
        super().apply_token(request, token)
        request.headers[GLOBAL_TENANT_HEADER] = self.global_tenant_id
