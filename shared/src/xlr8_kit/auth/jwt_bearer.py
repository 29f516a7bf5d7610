"""JWT bearer grant (RFC 7523) signed with RS256: Salesforce's OAuth JWT flow and Oracle identity domains.

Assertion claims: ``iss`` = client_id (connected app consumer key / confidential app client id), ``sub`` =
username, ``aud`` = the login host (``https://login.salesforce.com``, ``https://test.salesforce.com`` or
``https://identity.oraclecloud.com/``), ``iat`` = ``nbf`` = now - ``ISSUED_SKEW_S`` (a tenant whose clock is a
few seconds behind ours rejected an assertion issued in its future; audit25d F10), ``exp`` = ``iat`` +
``assertion_lifetime_s`` (Salesforce allows at most three minutes: the window keeps its length, moved back by the
skew, so ``exp`` stays within three minutes of a tenant clock up to the skew behind), ``jti`` = a random id.
Header: ``alg=RS256``, ``typ=JWT``, plus ``kid`` when given and ``x5t`` (base64url SHA-1 thumbprint) when the
certificate is given (Oracle needs one of the two).

A fresh assertion is signed for every token request, so nothing long-lived besides the key is kept. Salesforce
answers without ``expires_in``: the token gets ``assumed_lifetime_s`` and the 401 hook covers early expiry.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from requests.auth import HTTPBasicAuth

from xlr8_kit.auth.base import ISSUED_SKEW_S, Token, TokenAuthenticator
from xlr8_kit.auth.keys import ensure_key_matches_certificate, load_certificate, load_private_key

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_ASSERTION_LIFETIME_S = 300.0


class JWTBearer(TokenAuthenticator):
    """Exchange an RS256-signed assertion for an access token; no refresh token involved."""

    flow_name = "jwt bearer"

    def __init__(
        self,
        token_url: str,
        client_id: str,
        username: str,
        private_key_pem: str | bytes,
        audience: str,
        *,
        passphrase: str | None = None,
        certificate_pem: str | bytes | None = None,
        key_id: str | None = None,
        client_secret: str | None = None,
        scope: str | None = None,
        extra_claims: Mapping[str, Any] | None = None,
        extra_params: Mapping[str, str] | None = None,
        assertion_lifetime_s: float = 180.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (("token_url", token_url), ("client_id", client_id), ("username", username)):
            if not value:
                raise ValueError(f"{self.flow_name}: {name} is required")
        if not audience:
            raise ValueError(
                f"{self.flow_name}: audience is required (the login host, e.g. https://login.salesforce.com)"
            )
        if not 0 < assertion_lifetime_s <= MAX_ASSERTION_LIFETIME_S:
            raise ValueError(f"{self.flow_name}: assertion_lifetime_s must be in (0, {MAX_ASSERTION_LIFETIME_S:g}]")
        self.redactor.add(passphrase)
        self.redactor.add_pair(client_id, client_secret)
        # cryptography and PyJWT are imported here and in the methods (30 ms), not by every tap that offers this flow
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.hazmat.primitives.serialization import Encoding

        key = load_private_key(private_key_pem, passphrase, setting="private_key", flow=self.flow_name)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{self.flow_name}: private_key must be an RSA key for RS256")
        self._private_key = key
        self.token_url = token_url
        self.client_id = client_id
        self.username = username
        self.audience = audience
        self.scope = scope
        self._client_secret = client_secret
        self.extra_claims = dict(extra_claims or {})
        self.extra_params = dict(extra_params or {})
        self.assertion_lifetime_s = assertion_lifetime_s
        self.headers: dict[str, str] = {"typ": "JWT"}
        if key_id:
            self.headers["kid"] = key_id
        if certificate_pem:
            cert = load_certificate(certificate_pem, setting="certificate", flow=self.flow_name)
            ensure_key_matches_certificate(
                key, cert, key_setting="private_key", cert_setting="certificate", flow=self.flow_name
            )
            thumbprint = hashlib.sha1(cert.public_bytes(Encoding.DER), usedforsecurity=False).digest()
            self.headers["x5t"] = base64.urlsafe_b64encode(thumbprint).decode().rstrip("=")

    def build_assertion(self) -> str:
        """The signed JWT for one token request (public so tests and emulators can inspect the exact claims)."""
        lifetime = int(self.assertion_lifetime_s)
        issued = int(self.clock()) - min(ISSUED_SKEW_S, lifetime // 2)
        claims: dict[str, Any] = {
            **self.extra_claims,
            "iss": self.client_id,
            "sub": self.username,
            "aud": self.audience,
            "iat": issued,
            "nbf": issued,
            "exp": issued + lifetime,
            "jti": uuid.uuid4().hex,
        }
        import jwt

        assertion = jwt.encode(claims, self._private_key, algorithm="RS256", headers=self.headers)
        self.redactor.add(assertion)
        return assertion

    def fetch_token(self) -> Token:
        data = {"grant_type": JWT_BEARER_GRANT, "assertion": self.build_assertion()}
        if self.scope:
            data["scope"] = self.scope
        data.update(self.extra_params)
        auth = HTTPBasicAuth(self.client_id, self._client_secret) if self._client_secret else None
        payload = self.post_token_request(self.token_url, data, auth=auth)
        return Token.from_response(payload, now=self.clock(), assumed_lifetime_s=self.assumed_lifetime_s)

    def public_key_pem(self) -> bytes:
        """The public half, for registering with an emulator or checking the configured certificate."""
        from cryptography.hazmat.primitives import serialization

        return self._private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def __repr__(self) -> str:
        return f"JWTBearer(token_url={self.token_url!r}, client_id={self.client_id!r}, username={self.username!r})"
