"""Salesforce's OAuth flows on the kit's authenticators, plus the one quirk the kit does not cover: the
username-password grant (password and security token sent together).

Every flow answers with ``instance_url`` (the org's own host, where all data calls go) and no ``expires_in``:
the kit gives such tokens an assumed lifetime and relies on its 401 hook (one forced refresh, one retry).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from xlr8_kit.auth import OAuth2ClientCredentials, OAuth2RefreshToken, Token, TokenAuthenticator
from xlr8_kit.auth.oauth2 import RefreshLease
from xlr8_kit.redaction import Redactor

TOKEN_PATH = "/services/oauth2/token"
#: Salesforce sessions last two hours by default; renew a little earlier than the kit's generic assumption.
ASSUMED_SESSION_SECONDS = 3600.0


@dataclass(frozen=True)
class AuthSettings:
    """One of the four flows; which fields are required depends on ``type``."""

    type: str
    client_id: str
    client_secret: str | None = None
    username: str | None = None
    password: str | None = None
    security_token: str | None = None
    refresh_token: str | None = None
    private_key: str | None = None
    private_key_passphrase: str | None = None

    def __repr__(self) -> str:
        return f"AuthSettings(type={self.type!r}, client_id={self.client_id!r}, username={self.username!r})"


REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "jwt_bearer": ("client_id", "username", "private_key"),
    "refresh_token": ("client_id", "refresh_token"),
    "client_credentials": ("client_id", "client_secret"),
    "password": ("client_id", "client_secret", "username", "password"),
}


AUTH_FLOWS = tuple(REQUIRED_FIELDS)


def flatten_legacy_auth(config: Mapping[str, Any]) -> dict[str, Any]:
    """Accept the former ``auth`` object (``{"type": ..., "client_secret": ...}``, also what credential-store fields
    named ``auth.x`` resolve to): its fields become the flat settings, a flat setting given too wins."""
    flat = {k: v for k, v in config.items() if k != "auth"}
    legacy = config.get("auth")
    if legacy is None:
        return flat
    if not isinstance(legacy, Mapping):
        raise ValueError("setting 'auth' (legacy) must be an object; use the flat settings auth_type, client_id, ...")
    for name, value in legacy.items():
        key = "auth_type" if name == "type" else name
        if (key in AuthSettings.__dataclass_fields__ or key == "auth_type") and flat.get(key) in (None, ""):
            flat[key] = value
    return flat


def parse_auth_settings(config: Mapping[str, Any]) -> AuthSettings:
    """Validate the auth settings (flat: ``auth_type``, ``client_id``, ...); errors name the exact setting."""
    flat = flatten_legacy_auth(config)
    flow = flat.get("auth_type")
    if flow not in REQUIRED_FIELDS:
        raise ValueError(f"setting 'auth_type' must be one of {', '.join(REQUIRED_FIELDS)}; got {flow!r}")
    missing = [name for name in REQUIRED_FIELDS[flow] if not flat.get(name)]
    if missing:
        raise ValueError(f"auth_type {flow!r} needs setting(s): " + ", ".join(f"'{m}'" for m in missing))
    known: dict[str, Any] = {k: flat.get(k) for k in AuthSettings.__dataclass_fields__ if k != "type"}
    return AuthSettings(type=flow, **known)


class SalesforcePassword(TokenAuthenticator):
    """OAuth username-password flow (legacy, still common for integration users)."""

    flow_name = "salesforce username-password"

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        username: str,
        password: str,
        security_token: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.username = username
        self._password = password + (security_token or "")
        self.redactor.add_pair(client_id, client_secret)
        self.redactor.add_pair(username, password)
        self.redactor.add(security_token)
        self.redactor.add(self._password)

    def fetch_token(self) -> Token:
        payload = self.post_token_request(
            self.token_url,
            {
                "grant_type": "password",
                "client_id": self.client_id,
                "client_secret": self._client_secret,
                "username": self.username,
                "password": self._password,
            },
        )
        return Token.from_response(payload, now=self.clock(), assumed_lifetime_s=self.assumed_lifetime_s)

    def __repr__(self) -> str:
        return f"SalesforcePassword(token_url={self.token_url!r}, username={self.username!r})"


def build_authenticator(
    settings: AuthSettings,
    *,
    login_url: str,
    session: requests.Session,
    redactor: Redactor,
    on_rotate: Callable[[str], None] | None = None,
    reload_refresh_token: Callable[[], str | None] | None = None,
    refresh_lease: RefreshLease | None = None,
) -> TokenAuthenticator:
    """The authenticator for the configured flow, talking to ``login_url`` (login, test or My Domain host).

    With refresh-token rotation switched on in the connected app, each refresh spends the token: ``on_rotate``
    saves the new one in the credential store before it is used, ``reload_refresh_token`` re-reads it when another
    run spent ours, and ``refresh_lease`` (a stored credential) makes two runs refreshing at once take turns."""
    token_url = login_url.rstrip("/") + TOKEN_PATH
    common: dict[str, Any] = {"session": session, "redactor": redactor, "assumed_lifetime_s": ASSUMED_SESSION_SECONDS}
    if settings.type == "jwt_bearer":
        from xlr8_kit.auth.jwt_bearer import JWTBearer  # PyJWT and cryptography only for this flow

        redactor.add(settings.private_key)
        return JWTBearer(
            token_url,
            settings.client_id,
            settings.username or "",
            settings.private_key or "",
            audience=_jwt_audience(login_url),
            passphrase=settings.private_key_passphrase,
            **common,
        )
    if settings.type == "refresh_token":
        return OAuth2RefreshToken(
            token_url,
            settings.client_id,
            settings.client_secret,
            settings.refresh_token or "",
            on_rotate=on_rotate,
            reload_refresh_token=reload_refresh_token,
            refresh_lease=refresh_lease,
            **common,
        )
    if settings.type == "client_credentials":
        return OAuth2ClientCredentials(token_url, settings.client_id, settings.client_secret or "", **common)
    return SalesforcePassword(
        token_url,
        settings.client_id,
        settings.client_secret or "",
        settings.username or "",
        settings.password or "",
        settings.security_token,
        **common,
    )


def _jwt_audience(login_url: str) -> str:
    """Salesforce wants the generic login host as ``aud`` (test.salesforce.com for sandboxes), not My Domain."""
    host = login_url.rstrip("/")
    if ".sandbox.my.salesforce.com" in host or host.endswith("test.salesforce.com"):
        return "https://test.salesforce.com"
    if host.endswith(".salesforce.com"):
        return "https://login.salesforce.com"
    return host


def instance_url(authenticator: TokenAuthenticator) -> str:
    """The org's data host from the current token (fetching one if needed)."""
    token = authenticator.current_token()
    url = token.extra.get("instance_url")
    if not url:
        raise ValueError("the token response has no instance_url; check 'login_url' points at a Salesforce login host")
    return str(url).rstrip("/")
