"""Workday credentials. Two at once is normal: an API client (OAuth 2.0 refresh token) for REST, and an
integration system user (ISU) for RaaS (HTTP Basic) and SOAP (WS-Security UsernameToken ``user@tenant``).
Without an ISU, RaaS and SOAP use the OAuth bearer token too.

Refresh-token rotation: a rotated token is written to the credential store (compare-and-swap) before it is used,
through the kit's ``on_rotate`` hook, and each refresh first adopts the stored token (another run of the same
credential may have rotated it); without ``credential_id`` there is nowhere to persist it, so the run stops
rather than spend the only valid token (configure ``credential_id`` for tenants that rotate).
"""

from __future__ import annotations

import logging
import typing as t

from lxml import etree

from xlr8_kit.auth import Basic, OAuth2RefreshToken
from xlr8_kit.auth.base import Token
from xlr8_kit.soap import SOAP11, username_token

if t.TYPE_CHECKING:
    from xlr8_kit.rest import KitRuntime
    from xlr8_tap_workday.tap import WorkdaySettings

log = logging.getLogger(__name__)


def token_url(settings: WorkdaySettings) -> str:
    return f"{settings.base_url}/ccx/oauth2/{settings.tenant}/token"


def refuse_rotation(_value: str) -> None:
    """Without ``credential_id`` a rotated token has nowhere to go: stop and say the configured one is spent."""
    raise RuntimeError(
        "Workday rotated the refresh token but this run has no credential_id to store it in; the configured "
        "refresh_token is now spent: issue a new one in Workday and configure credential_id (xlr8-credentials) "
        "for this API client"
    )


class StoreSyncedRefreshToken(OAuth2RefreshToken):
    """Adopts the stored refresh token before each refresh: another run of the same credential may have spent and
    rotated the one this run started with, and presenting a spent token can make the tenant revoke the grant."""

    def fetch_token(self) -> Token:
        stored = self.reload_refresh_token() if self.reload_refresh_token is not None else None
        if stored and stored != self.refresh_token_in_use:
            log.info("workday: another run rotated the refresh token; using the stored one")
            self.redactor.add(stored)
            self._refresh_token = stored
        return super().fetch_token()


def build_oauth(settings: WorkdaySettings, runtime: KitRuntime, config: dict[str, t.Any]) -> OAuth2RefreshToken | None:
    """``config`` is unused since the runtime carries the credential store hooks; kept for the tap's call."""
    oauth = settings.oauth
    if oauth is None:
        return None
    return StoreSyncedRefreshToken(
        token_url(settings),
        oauth.client_id,
        oauth.client_secret,
        oauth.refresh_token,
        on_rotate=runtime.rotation_hook("refresh_token") or refuse_rotation,
        reload_refresh_token=runtime.reload_hook("refresh_token"),
        refresh_lease=runtime.lease_hook("refresh_token"),
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
