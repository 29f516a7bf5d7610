"""S/4HANA credentials: Basic for a communication user, or OAuth 2.0 client credentials (S/4HANA Cloud
communication arrangements; on-premise ``/sap/bc/sec/oauth2/token``), client authenticated with HTTP Basic."""

from __future__ import annotations

import typing as t

from xlr8_kit.auth.oauth2 import OAuth2ClientCredentials
from xlr8_kit.auth.static import Basic

if t.TYPE_CHECKING:
    import requests

    from xlr8_kit.rest import KitRuntime
    from xlr8_tap_sap_s4hana.tap import S4Settings


def build_authenticator(settings: S4Settings, runtime: KitRuntime) -> requests.auth.AuthBase:
    if settings.auth_type == "basic":
        return Basic(str(settings.username), str(settings.password), redactor=runtime.redactor)
    return OAuth2ClientCredentials(
        settings.token_url,
        str(settings.client_id),
        str(settings.client_secret),
        scope=settings.oauth_scope,
        client_auth="basic",
        session=runtime.session,
        redactor=runtime.redactor,
    )
