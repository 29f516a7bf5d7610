"""Authenticators: one standalone ``requests.auth.AuthBase`` per credential (never a per-class singleton).

Token flows share ``TokenAuthenticator`` (refresh margin, one refresh per expiry, 401 handling, token-endpoint
errors); see ``xlr8_kit.auth.base``. In a tap, build it once per tap instance on the runtime's session so token
calls get the kit's retries, TLS rules and audit::

    def build_authenticator(self, runtime):
        cfg = self.resolved_config
        return OAuth2ClientCredentials(cfg["token_url"], cfg["client_id"], cfg["client_secret"],
                                       session=runtime.session, redactor=runtime.redactor)
"""

import importlib
import typing as _t

if _t.TYPE_CHECKING:
    from xlr8_kit.auth.base import Token, TokenAuthenticator, TokenRetryBudget, is_http_401
    from xlr8_kit.auth.jwt_bearer import JWTBearer
    from xlr8_kit.auth.mtls import MutualTLS
    from xlr8_kit.auth.oauth2 import OAuth2ClientCredentials, OAuth2RefreshToken, RefreshTokenNotPersistedError
    from xlr8_kit.auth.saml_bearer import SAML2Bearer, build_signed_saml_assertion
    from xlr8_kit.auth.session_login import SessionLogin
    from xlr8_kit.auth.static import ApiKeyHeaders, Basic

#: Where each name lives. Imported on first use (PEP 562), so a tap on client credentials never loads the JWT,
#: SAML and mTLS modules (PyJWT, cryptography, the XML signer: a tenth of a second of start-up).
_HOMES = {
    "Token": "base",
    "TokenAuthenticator": "base",
    "TokenRetryBudget": "base",
    "is_http_401": "base",
    "JWTBearer": "jwt_bearer",
    "MutualTLS": "mtls",
    "OAuth2ClientCredentials": "oauth2",
    "OAuth2RefreshToken": "oauth2",
    "RefreshTokenNotPersistedError": "oauth2",
    "SAML2Bearer": "saml_bearer",
    "build_signed_saml_assertion": "saml_bearer",
    "SessionLogin": "session_login",
    "ApiKeyHeaders": "static",
    "Basic": "static",
}


def __getattr__(name: str) -> _t.Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])


__all__ = [
    "ApiKeyHeaders",
    "Basic",
    "JWTBearer",
    "MutualTLS",
    "OAuth2ClientCredentials",
    "OAuth2RefreshToken",
    "RefreshTokenNotPersistedError",
    "SAML2Bearer",
    "SessionLogin",
    "Token",
    "TokenAuthenticator",
    "TokenRetryBudget",
    "build_signed_saml_assertion",
    "is_http_401",
]
