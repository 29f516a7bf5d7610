"""S/4HANA credentials: Basic for a communication user, OAuth 2.0 client credentials (S/4HANA Cloud
communication arrangements; on-premise ``/sap/bc/sec/oauth2/token``) with the client authenticated by HTTP Basic,
or an X.509 client certificate mapped to the user (the kit's ``MutualTLS`` on the session; no header)."""

from __future__ import annotations

import typing as t

from singer_sdk.exceptions import ConfigValidationError

from xlr8_kit.auth.mtls import MutualTLS
from xlr8_kit.auth.oauth2 import OAuth2ClientCredentials
from xlr8_kit.auth.static import Basic

if t.TYPE_CHECKING:
    import requests

    from xlr8_kit.rest import KitRuntime
    from xlr8_tap_sap_s4hana.tap import S4Settings


def build_authenticator(settings: S4Settings, runtime: KitRuntime) -> requests.auth.AuthBase:
    if settings.auth_type == "basic":
        return Basic(str(settings.username), str(settings.password), redactor=runtime.redactor)
    if settings.auth_type == "client_certificate":
        return client_certificate(settings, runtime)
    return OAuth2ClientCredentials(
        settings.token_url,
        str(settings.client_id),
        str(settings.client_secret),
        scope=settings.oauth_scope,
        client_auth="basic",
        session=runtime.session,
        redactor=runtime.redactor,
    )


def client_certificate(settings: S4Settings, runtime: KitRuntime) -> MutualTLS:
    """The certificate and key checked to be a pair now (errors name this tap's settings), set on the session."""
    try:
        mtls = MutualTLS(
            str(settings.client_certificate_file),
            settings.client_key_file,
            settings.client_key_passphrase,
            redactor=runtime.redactor,
        )
    except (ValueError, OSError) as exc:
        text = str(exc).replace("cert_file", "client_certificate_file").replace("key_file", "client_key_file")
        raise ConfigValidationError(f"tap-sap-s4hana: {text}", errors=[text]) from None
    mtls.apply_to(runtime.session)
    return mtls
