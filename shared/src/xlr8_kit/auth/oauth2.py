"""OAuth 2.0 client credentials and refresh-token grants (RFC 6749 sections 4.4 and 6).

Refresh-token rotation (RELIABILITY B5): when the token endpoint returns a refresh token different from the one
sent, ``on_rotate(new)`` is called *before* the new access token is used or returned. If ``on_rotate`` raises,
the flow stops with ``RefreshTokenNotPersistedError``: with single-use refresh tokens the old one is already
spent, so carrying on would lose the only valid credential at the end of the run.

If the process dies after the vendor rotated but before ``on_rotate`` finished, the stored refresh token is the
spent one; the next run's refresh answers ``invalid_grant`` and raises ``ReauthorizationRequiredError``
("re-authorise the connection"). That is how such a crash is detected.

Concurrent workers (RELIABILITY B6): give ``reload_refresh_token`` (reads the stored refresh token). On
``invalid_grant`` the flow re-reads it once; if another worker rotated and stored a newer one, the refresh is
retried with it instead of failing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from requests.auth import AuthBase, HTTPBasicAuth

from xlr8_kit.auth.base import Token, TokenAuthenticator
from xlr8_kit.http.errors import AuthenticationError, ReauthorizationRequiredError

CLIENT_AUTH_METHODS = ("post", "basic")


#: ``lease(spend)``: runs ``spend(stored_refresh_token) -> (token answer, rotated token or None)`` under the
#: credential store's lease and persists the rotation before returning the answer.
RefreshLease = Callable[[Callable[[str], tuple[dict[str, Any], str | None]]], dict[str, Any]]


class RefreshTokenNotPersistedError(AuthenticationError):
    """The vendor rotated the refresh token and saving the new one failed: stopping before it is relied on."""


class _OAuth2Client(TokenAuthenticator):
    """Client authentication shared by the grants: secret in the form body (``post``) or HTTP Basic (``basic``)."""

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str | None,
        client_auth: str = "post",
        scope: str | None = None,
        extra_params: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not token_url:
            raise ValueError(f"{self.flow_name}: token_url is required")
        if not client_id:
            raise ValueError(f"{self.flow_name}: client_id is required")
        if client_auth not in CLIENT_AUTH_METHODS:
            raise ValueError(f"{self.flow_name}: client_auth must be one of {CLIENT_AUTH_METHODS}, got {client_auth!r}")
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.client_auth = client_auth
        self.scope = scope
        self.extra_params = dict(extra_params or {})
        self.redactor.add_pair(client_id, client_secret)

    def _client_fields(self) -> tuple[dict[str, str], AuthBase | None]:
        if self.client_auth == "basic" and self._client_secret is not None:
            return {}, HTTPBasicAuth(self.client_id, self._client_secret)
        fields = {"client_id": self.client_id}
        if self._client_secret is not None:
            fields["client_secret"] = self._client_secret
        return fields, None

    def _grant(self, grant: Mapping[str, str]) -> dict[str, Any]:
        client_fields, auth = self._client_fields()
        data = {**grant, **client_fields}
        if self.scope:
            data["scope"] = self.scope
        data.update(self.extra_params)
        return self.post_token_request(self.token_url, data, auth=auth)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(token_url={self.token_url!r}, client_id={self.client_id!r})"


class OAuth2ClientCredentials(_OAuth2Client):
    """Machine-to-machine grant: client_id + client_secret for an access token."""

    flow_name = "oauth2 client credentials"

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str | None = None,
        extra_params: Mapping[str, str] | None = None,
        *,
        client_auth: str = "post",
        **kwargs: Any,
    ) -> None:
        if not client_secret:
            raise ValueError(f"{self.flow_name}: client_secret is required")
        super().__init__(
            token_url=token_url,
            client_id=client_id,
            client_secret=client_secret,
            client_auth=client_auth,
            scope=scope,
            extra_params=extra_params,
            **kwargs,
        )

    def fetch_token(self) -> Token:
        payload = self._grant({"grant_type": "client_credentials"})
        return Token.from_response(payload, now=self.clock(), assumed_lifetime_s=self.assumed_lifetime_s)


class OAuth2RefreshToken(_OAuth2Client):
    """Refresh-token grant with rotation persisted through ``on_rotate`` before use (see module docstring)."""

    flow_name = "oauth2 refresh token"

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str | None,
        refresh_token: str,
        on_rotate: Callable[[str], None] | None = None,
        *,
        reload_refresh_token: Callable[[], str | None] | None = None,
        refresh_lease: RefreshLease | None = None,
        scope: str | None = None,
        extra_params: Mapping[str, str] | None = None,
        client_auth: str = "post",
        **kwargs: Any,
    ) -> None:
        if not refresh_token:
            raise ValueError(f"{self.flow_name}: refresh_token is required")
        super().__init__(
            token_url=token_url,
            client_id=client_id,
            client_secret=client_secret,
            client_auth=client_auth,
            scope=scope,
            extra_params=extra_params,
            **kwargs,
        )
        self.redactor.add(refresh_token)
        self._refresh_token = refresh_token
        self.on_rotate = on_rotate
        self.reload_refresh_token = reload_refresh_token
        #: The credential store's lease (``SecretPersister.leased_refresh`` for ``refresh_token``): a stored
        #: credential's refresh is spent under it, so two runs of one credential never present the same token.
        self.refresh_lease = refresh_lease

    @property
    def refresh_token_in_use(self) -> str:
        """The refresh token the next refresh will send (the rotated one once persisted)."""
        return self._refresh_token

    def fetch_token(self) -> Token:
        if self.refresh_lease is not None:
            return self._fetch_leased(self.refresh_lease)
        try:
            payload = self._grant({"grant_type": "refresh_token", "refresh_token": self._refresh_token})
        except ReauthorizationRequiredError:
            reloaded = self.reload_refresh_token() if self.reload_refresh_token else None
            if not reloaded or reloaded == self._refresh_token:
                raise
            # Another worker rotated and stored a newer token: adopt it and try once more.
            self.redactor.add(reloaded)
            self._refresh_token = reloaded
            payload = self._grant({"grant_type": "refresh_token", "refresh_token": self._refresh_token})
        token = Token.from_response(payload, now=self.clock(), assumed_lifetime_s=self.assumed_lifetime_s)
        rotated = token.refresh_token
        if rotated and rotated != self._refresh_token:
            self._persist_rotation(rotated)
        return token

    def _fetch_leased(self, lease: RefreshLease) -> Token:
        """The stored token spent under the store's lease, its rotation persisted by the lease before use."""
        granted: list[str] = []

        def spend(stored: str) -> tuple[dict[str, Any], str | None]:
            sent = stored or self._refresh_token
            self.redactor.add(sent)
            payload = self._grant({"grant_type": "refresh_token", "refresh_token": sent})
            rotated = payload.get("refresh_token")
            rotated = rotated if isinstance(rotated, str) and rotated else None
            if rotated:
                self.redactor.add(rotated)
            granted.append(rotated or sent)
            return payload, rotated

        try:
            payload = lease(spend)
        except Exception as exc:
            if not granted:  # the grant itself failed (or the lease could not be taken): its own error
                raise
            raise RefreshTokenNotPersistedError(
                self._message(
                    f"{self.flow_name}: the provider issued a new refresh token but saving it failed "
                    f"({type(exc).__name__}: {exc}); stopping before it is relied on. The previous refresh token "
                    "may already be spent: fix the credential store, then re-authorise the connection if the next "
                    "run reports invalid_grant"
                )
            ) from None
        self._refresh_token = granted[-1]
        return Token.from_response(payload, now=self.clock(), assumed_lifetime_s=self.assumed_lifetime_s)

    def _persist_rotation(self, rotated: str) -> None:
        self.redactor.add(rotated)
        if self.on_rotate is not None:
            try:
                self.on_rotate(rotated)
            except Exception as exc:  # noqa: BLE001 - any failure to persist must stop the flow
                raise RefreshTokenNotPersistedError(
                    self._message(
                        f"{self.flow_name}: the provider issued a new refresh token but saving it failed "
                        f"({type(exc).__name__}: {exc}); stopping before it is relied on. The previous refresh "
                        "token may already be spent: fix the credential store, then re-authorise the connection "
                        "if the next run reports invalid_grant"
                    )
                ) from None
        self._refresh_token = rotated
