"""Workday credentials. Two at once is normal: an API client (OAuth 2.0 refresh token) for REST, and an
integration system user (ISU) for RaaS (HTTP Basic) and SOAP (WS-Security UsernameToken ``user@tenant``).
Without an ISU, RaaS and SOAP use the OAuth bearer token too.

Refresh-token rotation: a rotated token is written to the credential store (compare-and-swap) before it is used,
through the kit's ``on_rotate`` hook; without ``credential_id`` there is nowhere to persist it, so the run stops
rather than spend the only valid token (configure ``credential_id`` for tenants that rotate).
"""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Callable

from lxml import etree

from xlr8_kit.auth import Basic, OAuth2RefreshToken
from xlr8_kit.soap import SOAP11, username_token

if t.TYPE_CHECKING:
    from xlr8_kit.rest import KitRuntime
    from xlr8_tap_workday.tap import WorkdaySettings

log = logging.getLogger(__name__)


def token_url(settings: WorkdaySettings) -> str:
    return f"{settings.base_url}/ccx/oauth2/{settings.tenant}/token"


def rotation_persister(config: dict[str, t.Any]) -> Callable[[str], None]:
    """Where a rotated refresh token goes: the credential store when the run has one."""
    from xlr8_kit.credentials.resolve import secret_persister

    persist = secret_persister(config)
    if persist is not None:
        store = persist
        return lambda value: store("refresh_token", value)

    def refuse(_value: str) -> None:
        raise RuntimeError(
            "Workday rotated the refresh token but this run has no credential_id to store it in; "
            "configure credential_id (xlr8-credentials) for this API client"
        )

    return refuse


def build_oauth(settings: WorkdaySettings, runtime: KitRuntime, config: dict[str, t.Any]) -> OAuth2RefreshToken | None:
    oauth = settings.oauth
    if oauth is None:
        return None
    return OAuth2RefreshToken(
        token_url(settings),
        oauth.client_id,
        oauth.client_secret,
        oauth.refresh_token,
        on_rotate=rotation_persister(config),
        client_auth="basic",  # Workday's token endpoint takes the client as HTTP Basic
        session=runtime.session,
        redactor=runtime.redactor,
    )


def build_isu_basic(settings: WorkdaySettings, runtime: KitRuntime) -> Basic | None:
    isu = settings.isu
    if isu is None:
        return None
    return Basic(isu.username, isu.password, redactor=runtime.redactor)


def soap_security_header(settings: WorkdaySettings) -> etree._Element | None:
    """WS-Security for the ISU (``user@tenant``), or None when SOAP rides on the OAuth bearer token."""
    isu = settings.isu
    if isu is None:
        return None
    user = isu.username if "@" in isu.username else f"{isu.username}@{settings.tenant}"
    return username_token(user, isu.password, version=SOAP11)
