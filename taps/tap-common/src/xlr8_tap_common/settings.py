"""tap-common's settings: the JSON schema and the typed value object, parsed once (tap -> client -> settings)."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlparse

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

MAX_PAGE_SIZE = 500
API_PREFIX = "/api/v1"
ACK_ROUTES = ("acknowledge", "mark-synced")
AUTH_FLOWS = ("password", "client_credentials")
#: A write's ``updated_at`` is stamped when its transaction starts and seen when it commits: minutes cover that.
DEFAULT_LOOKBACK_SECONDS = 300

PRODUCT_SETTINGS = th.PropertiesList(
    th.Property(
        "api_base_url",
        th.StringType,
        required=True,
        description="Common API host, e.g. https://api.common.example (the /api/v1 prefix is added).",
    ),
    th.Property(
        "auth_flow",
        th.StringType,
        allowed_values=list(AUTH_FLOWS),
        description="password (email + password login, JWT) or client_credentials (OAuth client id + secret); "
        "default: client_credentials when client_id is set, else password.",
    ),
    th.Property("email", th.StringType, description="Integration user's email (password flow)."),
    th.Property("password", th.StringType, secret=True, description="Integration user's password (password flow)."),
    th.Property("client_id", th.StringType, description="OAuth client id (client_credentials flow)."),
    th.Property("client_secret", th.StringType, secret=True, description="OAuth client secret."),
    th.Property("company_id", th.StringType, description="The buyer company the OAuth client acts for."),
    th.Property(
        "ack_route",
        th.StringType,
        default="acknowledge",
        allowed_values=list(ACK_ROUTES),
        description="ERP-sync acknowledgement path: acknowledge (seed API) or mark-synced (public implementation).",
    ),
    th.Property(
        "acknowledge_updates",
        th.BooleanType,
        default=True,
        description="Acknowledge ERP-sync updates a previous run delivered (its state says which); false reads only.",
    ),
    th.Property("start_date", th.DateTimeType, description="Incremental streams: first updated_since on a first run."),
    th.Property(
        "lookback_seconds",
        th.IntegerType,
        default=DEFAULT_LOOKBACK_SECONDS,
        description="Incremental streams: updated_since is the bookmark minus this many seconds, so a row committed "
        "after the last run read past its updated_at is still read (rows read again are upserted by id); 0 for none.",
    ),
    th.Property("page_size", th.IntegerType, default=MAX_PAGE_SIZE, description=f"Rows per page (1-{MAX_PAGE_SIZE})."),
    th.Property(
        "webhook_store_path",
        th.StringType,
        description="SQLite file the xlr8-common-webhooks receiver writes; enables the webhook_events stream.",
    ),
)


@dataclass(frozen=True)
class CommonSettings:
    api_base_url: str
    auth_flow: str
    email: str | None
    password: str | None = field(repr=False)
    client_id: str | None
    client_secret: str | None = field(repr=False)
    company_id: str | None
    ack_route: str
    acknowledge_updates: bool
    start_date: datetime | None
    page_size: int
    webhook_store_path: str | None
    filters: str | None = None
    lookback_seconds: int = DEFAULT_LOOKBACK_SECONDS

    @property
    def api_url(self) -> str:
        return self.api_base_url + API_PREFIX

    @classmethod
    def from_config(cls, config: dict[str, t.Any]) -> CommonSettings:
        """Validate once; every error names the setting."""
        errors: list[str] = []
        base = _base_url(config, errors)
        flow = config.get("auth_flow") or ("client_credentials" if config.get("client_id") else "password")
        if flow not in AUTH_FLOWS:
            errors.append(f"setting 'auth_flow' must be one of {', '.join(AUTH_FLOWS)}, not {flow!r}")
        needed = ("email", "password") if flow == "password" else ("client_id", "client_secret", "company_id")
        errors.extend(f"setting {n!r} is required for auth_flow {flow}" for n in needed if not config.get(n))
        ack_route = str(config.get("ack_route") or "acknowledge")
        if ack_route not in ACK_ROUTES:
            errors.append(f"setting 'ack_route' must be one of {', '.join(ACK_ROUTES)}, not {ack_route!r}")
        page_size = config.get("page_size")
        page_size = MAX_PAGE_SIZE if page_size is None else int(page_size)
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            errors.append(f"setting 'page_size' must be between 1 and {MAX_PAGE_SIZE}, not {page_size}")
        start = None
        if config.get("start_date"):
            try:
                start = datetime.fromisoformat(str(config["start_date"]).replace("Z", "+00:00"))
                start = start if start.tzinfo else start.replace(tzinfo=UTC)
            except ValueError:
                errors.append(f"setting 'start_date' must be an ISO 8601 date-time, not {config['start_date']!r}")
        lookback = config.get("lookback_seconds")
        lookback = DEFAULT_LOOKBACK_SECONDS if lookback is None else lookback
        lookback = int(lookback) if isinstance(lookback, str) and lookback.strip().isdigit() else lookback
        if isinstance(lookback, bool) or not isinstance(lookback, int) or lookback < 0:
            errors.append(f"setting 'lookback_seconds' must be a whole number of seconds, 0 or more, not {lookback!r}")
        from xlr8_kit.filtering import filters_setting

        filters = filters_setting(config, errors)
        if errors:
            raise ConfigValidationError("tap-common: invalid configuration: " + "; ".join(errors), errors=errors)
        acknowledge = config.get("acknowledge_updates")
        return cls(
            api_base_url=base, auth_flow=flow, email=config.get("email"), password=config.get("password"),
            client_id=config.get("client_id"), client_secret=config.get("client_secret"),
            company_id=config.get("company_id"), ack_route=ack_route,
            acknowledge_updates=True if acknowledge is None else bool(acknowledge), start_date=start,
            page_size=page_size, webhook_store_path=config.get("webhook_store_path") or None, filters=filters,
            lookback_seconds=lookback,
        )  # fmt: skip


def _base_url(config: dict[str, t.Any], errors: list[str]) -> str:
    value = str(config.get("api_base_url") or "").rstrip("/")
    if value.endswith(API_PREFIX):
        value = value[: -len(API_PREFIX)]
    if not value:
        errors.append("setting 'api_base_url' is required (e.g. https://api.common.example)")
        return ""
    parsed = urlparse(value)
    if parsed.scheme not in ("https", "http") or not parsed.netloc:
        errors.append("setting 'api_base_url' must be an https:// URL such as https://api.common.example")
    return value
