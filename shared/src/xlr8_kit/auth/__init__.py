"""Authenticators: one standalone ``requests.auth.AuthBase`` per credential (never a per-class singleton).

Token flows share ``TokenAuthenticator`` (refresh margin, one refresh per expiry, 401 handling, token-endpoint
errors); see ``xlr8_kit.auth.base``. In a tap, build it once per tap instance on the runtime's session so token
calls get the kit's retries, TLS rules and audit::

    def build_authenticator(self, runtime):
        cfg = self.resolved_config
        return OAuth2ClientCredentials(cfg["token_url"], cfg["client_id"], cfg["client_secret"],
                                       session=runtime.session, redactor=runtime.redactor)
"""

from xlr8_kit.auth.base import Token, TokenAuthenticator, TokenRetryBudget, is_http_401
from xlr8_kit.auth.jwt_bearer import JWTBearer
from xlr8_kit.auth.mtls import MutualTLS
from xlr8_kit.auth.oauth2 import OAuth2ClientCredentials, OAuth2RefreshToken, RefreshTokenNotPersistedError
from xlr8_kit.auth.saml_bearer import SAML2Bearer, build_signed_saml_assertion
from xlr8_kit.auth.session_login import SessionLogin
from xlr8_kit.auth.static import ApiKeyHeaders, Basic

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
