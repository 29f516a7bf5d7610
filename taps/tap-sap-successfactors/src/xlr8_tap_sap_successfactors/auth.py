"""SuccessFactors credentials: Basic as ``user@companyId``, or OAuth 2.0 SAML bearer with an assertion signed
locally from the configured private key (the kit's ``SAML2Bearer``; token endpoint ``<api_url>/oauth/token``)."""

from __future__ import annotations

import typing as t

from xlr8_kit.auth.saml_bearer import SAML2Bearer
from xlr8_kit.auth.static import Basic

if t.TYPE_CHECKING:
    import requests

    from xlr8_kit.rest import KitRuntime
    from xlr8_tap_sap_successfactors.tap import BasicAuth, SamlBearerAuth, SuccessFactorsSettings


def basic_user(auth: BasicAuth, company_id: str) -> str:
    """SuccessFactors Basic users are ``username@companyId``; a username that already names a company is kept."""
    return auth.username if "@" in auth.username else f"{auth.username}@{company_id}"


def build_authenticator(settings: SuccessFactorsSettings, runtime: KitRuntime) -> requests.auth.AuthBase:
    auth = settings.auth
    if auth.type == "basic":
        return Basic(basic_user(auth, settings.company_id), auth.password, redactor=runtime.redactor)
    saml: SamlBearerAuth = auth
    return SAML2Bearer(
        token_url=f"{settings.api_url}/oauth/token",
        client_id=saml.client_id,
        user_id=saml.user_id,
        company_id=settings.company_id,
        private_key_pem=saml.private_key,
        certificate_pem=saml.certificate,
        passphrase=saml.private_key_passphrase,
        session=runtime.session,
        redactor=runtime.redactor,
    )
