"""SuccessFactors credentials: OAuth 2.0 SAML bearer, the first choice (an assertion signed locally from the
configured private key: the kit's ``SAML2Bearer``; token endpoint ``<api_url>/oauth/token``), or Basic as
``user@companyId``, which SAP retired for APIs on 20 Nov 2026 (kept, with a warning, for tenants that still allow it
and the sandbox)."""

from __future__ import annotations

import logging
import typing as t

from xlr8_kit.auth.saml_bearer import SAML2Bearer
from xlr8_kit.auth.static import Basic

if t.TYPE_CHECKING:
    import requests

    from xlr8_kit.rest import KitRuntime
    from xlr8_tap_sap_successfactors.tap import BasicAuth, SamlBearerAuth, SuccessFactorsSettings


logger = logging.getLogger(__name__)


def basic_user(auth: BasicAuth, company_id: str) -> str:
    """SuccessFactors Basic users are ``username@companyId``; a username that already names a company is kept."""
    return auth.username if "@" in auth.username else f"{auth.username}@{company_id}"


def build_authenticator(settings: SuccessFactorsSettings, runtime: KitRuntime) -> requests.auth.AuthBase:
    auth = settings.auth
    if auth.type == "basic":
        logger.warning(
            "tap-sap-successfactors: auth.type basic is deprecated: SAP retired Basic authentication for "
            "SuccessFactors APIs on 20 Nov 2026 and it works only where a tenant still allows it; use auth.type "
            "saml_bearer"
        )
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
