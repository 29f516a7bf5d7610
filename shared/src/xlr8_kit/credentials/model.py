"""``ProductCredential``: one product connection's identity (who, where, how) plus its secret fields."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from xlr8_kit.credentials.errors import CredentialValidationError

REDACTED = "***"
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
FIELD_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
#: Field names the store keeps for itself (the metadata seal); never a secret field's name.
RESERVED_FIELD_PREFIX = "__xlr8"


class AuthType(StrEnum):
    OAUTH2_CLIENT_CREDENTIALS = "oauth2_client_credentials"
    OAUTH2_REFRESH_TOKEN = "oauth2_refresh_token"
    JWT_BEARER = "jwt_bearer"
    SAML_BEARER = "saml_bearer"
    BASIC = "basic"
    API_KEY = "api_key"
    CERTIFICATE = "certificate"
    RAAS = "raas"
    SESSION_LOGIN = "session_login"


class CredentialStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ProductCredential:
    """Secrets live in ``credentials`` (kept out of ``repr``); ``version`` is the compare-and-swap counter."""

    credential_id: str
    project_id: str
    product_id: str
    auth_type: AuthType
    credentials: dict[str, str] = field(repr=False)
    instance_url: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    expires_at: datetime | None = None
    last_used: datetime | None = None
    status: CredentialStatus = CredentialStatus.ACTIVE
    version: int = 1
    #: Set while a token refresh is in flight; still set on the next read means the refresh never persisted (B5).
    refresh_started_at: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("credential_id", "project_id", "product_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not ID_PATTERN.match(value):
                raise CredentialValidationError(
                    f"{name} must be 1-128 characters of letters, digits, '.', '_' or '-' (got {value!r})"
                )
        try:
            object.__setattr__(self, "auth_type", AuthType(self.auth_type))
        except ValueError:
            allowed = ", ".join(a.value for a in AuthType)
            raise CredentialValidationError(
                f"credential {self.credential_id!r}: auth_type {self.auth_type!r} is not one of: {allowed}"
            ) from None
        object.__setattr__(self, "status", CredentialStatus(self.status))
        if not isinstance(self.credentials, dict) or not self.credentials:
            raise CredentialValidationError(
                f"credential {self.credential_id!r}: credentials must be a non-empty object of secret fields"
            )
        for key, value in self.credentials.items():
            if not isinstance(key, str) or not FIELD_PATTERN.match(key) or key.startswith(RESERVED_FIELD_PREFIX):
                raise CredentialValidationError(f"credential {self.credential_id!r}: invalid field name {key!r}")
            if not isinstance(value, str) or not value:
                raise CredentialValidationError(
                    f"credential {self.credential_id!r}: field {key!r} must be a non-empty string"
                )
        if self.instance_url is not None and not re.match(r"^https?://[^\s/]+", self.instance_url):
            raise CredentialValidationError(
                f"credential {self.credential_id!r}: instance_url must be an http(s) URL (got {self.instance_url!r})"
            )

    def effective_status(self, now: datetime | None = None) -> CredentialStatus:
        """Revoked wins; an active credential past ``expires_at`` counts as expired."""
        expired = self.expires_at is not None and self.expires_at <= (now or utcnow())
        if self.status is CredentialStatus.ACTIVE and expired:
            return CredentialStatus.EXPIRED
        return self.status

    @property
    def refresh_interrupted(self) -> bool:
        return self.refresh_started_at is not None

    def with_secrets(self, updates: dict[str, str]) -> ProductCredential:
        return replace(self, credentials={**self.credentials, **updates})

    def redacted(self) -> dict[str, Any]:
        """What list/show print: every field name, no secret value."""
        return {
            "credential_id": self.credential_id,
            "project_id": self.project_id,
            "product_id": self.product_id,
            "instance_url": self.instance_url,
            "auth_type": self.auth_type.value,
            "status": self.effective_status().value,
            "created_at": _iso(self.created_at),
            "expires_at": _iso(self.expires_at),
            "last_used": _iso(self.last_used),
            "version": self.version,
            "credentials": dict.fromkeys(sorted(self.credentials), REDACTED),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def parse_datetime(value: str | None, *, field_name: str) -> datetime | None:
    """ISO-8601 in, aware UTC datetime out; a naive value is taken as UTC."""
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CredentialValidationError(f"{field_name} must be an ISO-8601 date-time (got {value!r})") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
