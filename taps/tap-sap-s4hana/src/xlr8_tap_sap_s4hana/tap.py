"""tap-sap-s4hana: every entity set of the configured S/4HANA OData services (v2 and v4), discovered from their
``$metadata``."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlparse

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from xlr8_kit.rest import (
    COUNTED_CONCURRENT_REQUESTS,
    KitRuntime,
    KitTap,
    kit_config_schema,
    max_concurrent_requests_setting,
)
from xlr8_tap_sap_s4hana import auth as s4_auth
from xlr8_tap_sap_s4hana.client import S4Client, stream_class
from xlr8_tap_sap_s4hana.discovery import ServiceRef, plan_streams, select_plans, with_expansions
from xlr8_tap_sap_s4hana.streams import DEFAULT_SERVICES, declaration_for

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.streams import Stream

DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 5000
AUTH_TYPES = ("basic", "oauth_client_credentials", "client_certificate")

PRODUCT_SETTINGS = th.PropertiesList(
    th.Property(
        "base_url",
        th.StringType,
        required=True,
        description="The system's host, e.g. https://my123456-api.s4hana.cloud.sap or https://s4.example.com:44300 "
        "(without /sap/opu/...).",
    ),
    th.Property("sap_client", th.StringType, description="SAP client (sap-client), e.g. 100 (on-premise systems)."),
    th.Property("language", th.StringType, default="EN", description="Logon language (Accept-Language), e.g. EN."),
    th.Property(
        "auth_type",
        th.StringType,
        default="basic",
        allowed_values=list(AUTH_TYPES),
        description="basic (communication user), oauth_client_credentials, or client_certificate (X.509 logon).",
    ),
    th.Property("username", th.StringType, description="basic: communication user."),
    th.Property("password", th.StringType, secret=True, description="basic: the communication user's password."),
    th.Property("client_id", th.StringType, description="oauth_client_credentials: OAuth client id."),
    th.Property("client_secret", th.StringType, secret=True, description="oauth_client_credentials: client secret."),
    th.Property(
        "token_url",
        th.StringType,
        description="oauth_client_credentials: token endpoint (default <base_url>/sap/bc/sec/oauth2/token).",
    ),
    th.Property("oauth_scope", th.StringType, description="oauth_client_credentials: scope to request."),
    th.Property(
        "client_certificate_file",
        th.StringType,
        description="client_certificate: PEM file of the X.509 certificate mapped to the communication user.",
    ),
    th.Property(
        "client_key_file",
        th.StringType,
        description="client_certificate: PEM file of its private key (default: in client_certificate_file).",
    ),
    th.Property(
        "client_key_passphrase", th.StringType, secret=True, description="client_certificate: passphrase of the key."
    ),
    th.Property(
        "services",
        th.ArrayType(th.StringType),
        description="OData services: v2 names (API_BUSINESS_PARTNER) or full service paths (v4: /sap/opu/odata4/"
        f"sap/<group>/srvd_a2x/sap/<name>/0001). Default: {', '.join(DEFAULT_SERVICES)}.",
    ),
    th.Property(
        "entity_sets",
        th.ArrayType(th.StringType),
        description="Only these entity sets (stream names) of the services; default every set.",
    ),
    th.Property(
        "expand",
        th.ObjectType(additional_properties=th.ArrayType(th.StringType)),
        description="Navigation properties read inline with each row ($expand, v2 services), per stream, e.g. "
        '{"A_PurchaseOrder": ["to_PurchaseOrderItem", "to_PurchaseOrderItem/to_ScheduleLine"]}: a purchase order '
        "with its items and their schedule lines in one record. A row the server answers without them stops the "
        "stream (it is never emitted without its items).",
    ),
    th.Property(
        "page_size",
        th.IntegerType,
        default=DEFAULT_PAGE_SIZE,
        description=f"Rows per request ($top, 1-{MAX_PAGE_SIZE}); 0 leaves paging to the server (__next only).",
    ),
    th.Property("start_date", th.DateTimeType, description="Earliest change timestamp to read on a first run."),
    max_concurrent_requests_setting(COUNTED_CONCURRENT_REQUESTS),
)


@dataclass(frozen=True)
class S4Settings:
    base_url: str
    sap_client: str | None
    language: str
    auth_type: str
    username: str | None
    password: str | None
    client_id: str | None
    client_secret: str | None
    token_url: str
    oauth_scope: str | None
    client_certificate_file: str | None
    client_key_file: str | None
    client_key_passphrase: str | None
    services: tuple[ServiceRef, ...]
    entity_sets: tuple[str, ...]
    page_size: int
    filters: str | None
    #: Stream -> navigation paths read inline (``$expand``).
    expand: dict[str, tuple[str, ...]]

    def __repr__(self) -> str:
        return f"S4Settings(base_url={self.base_url!r}, auth_type={self.auth_type!r})"

    @classmethod
    def from_config(cls, config: dict[str, t.Any]) -> S4Settings:
        """Validate once; every error names the setting."""
        errors: list[str] = []
        base_url = str(config.get("base_url") or "").rstrip("/")
        parsed = urlparse(base_url)
        if parsed.scheme not in ("https", "http") or not parsed.netloc:
            errors.append("setting 'base_url' must be an https:// URL such as https://my123456-api.s4hana.cloud.sap")
        elif "/sap/opu" in parsed.path:
            errors.append("setting 'base_url' must be the host only, without /sap/opu/...")
        auth_type = str(config.get("auth_type") or "basic")
        required = {
            "basic": ("username", "password"),
            "oauth_client_credentials": ("client_id", "client_secret"),
            "client_certificate": ("client_certificate_file",),
        }
        if auth_type not in required:
            errors.append(f"setting 'auth_type' must be one of {', '.join(AUTH_TYPES)}, not {auth_type!r}")
        else:
            errors.extend(
                f"setting {name!r} is required when auth_type is {auth_type!r}"
                for name in required[auth_type]
                if not config.get(name)
            )
        page_size = config.get("page_size")
        page_size = DEFAULT_PAGE_SIZE if page_size is None else int(page_size)
        if not 0 <= page_size <= MAX_PAGE_SIZE:
            errors.append(f"setting 'page_size' must be between 0 and {MAX_PAGE_SIZE}, not {page_size}")
        services = tuple(ServiceRef(s) for s in (config.get("services") or DEFAULT_SERVICES))
        bad = [s.configured for s in services if not s.configured.strip() or " " in s.configured.strip()]
        if bad:
            errors.append(f"setting 'services' has unusable entries: {bad}")
        raw_expand = config.get("expand") or {}
        expand: dict[str, tuple[str, ...]] = {}
        if not isinstance(raw_expand, dict):
            errors.append("setting 'expand' must be an object: stream name -> list of navigation paths")
        else:
            for stream, paths in raw_expand.items():
                listed = [paths] if isinstance(paths, str) else paths
                if not isinstance(listed, list) or not all(
                    isinstance(p, str) and p.strip() and " " not in p.strip() for p in listed
                ):
                    errors.append(f"setting 'expand': {stream!r} must list navigation paths such as to_Item/to_Line")
                    continue
                expand[str(stream)] = tuple(p.strip() for p in listed)
        if errors:
            raise ConfigValidationError("tap-sap-s4hana: invalid configuration: " + "; ".join(errors), errors=errors)
        return cls(
            base_url=base_url,
            sap_client=str(config["sap_client"]) if config.get("sap_client") else None,
            language=str(config.get("language") or "EN"),
            auth_type=auth_type,
            username=config.get("username"),
            password=config.get("password"),
            client_id=config.get("client_id"),
            client_secret=config.get("client_secret"),
            token_url=str(config.get("token_url") or f"{base_url}/sap/bc/sec/oauth2/token"),
            oauth_scope=config.get("oauth_scope"),
            client_certificate_file=config.get("client_certificate_file"),
            client_key_file=config.get("client_key_file"),
            client_key_passphrase=config.get("client_key_passphrase"),
            services=services,
            entity_sets=tuple(config.get("entity_sets") or ()),
            page_size=page_size,
            filters=config.get("filters"),
            expand=expand,
        )


class TapSapS4Hana(KitTap):
    """SAP S/4HANA: streams are the entity sets of the configured OData services, read from their $metadata."""

    name = "tap-sap-s4hana"
    product_id = "s4hana"
    #: ``$skip`` windows check ``$inlinecount``/``$count`` on every page (``xlr8_kit.odata.paging.iter_pages``).
    default_concurrent_requests = COUNTED_CONCURRENT_REQUESTS
    config_jsonschema = kit_config_schema(PRODUCT_SETTINGS)

    @cached_property
    def settings(self) -> S4Settings:
        return S4Settings.from_config(self.resolved_config)

    def build_authenticator(self, runtime: KitRuntime) -> requests.auth.AuthBase:
        return s4_auth.build_authenticator(self.settings, runtime)

    @cached_property
    def client(self) -> S4Client:
        settings = self.settings
        return S4Client(
            self.kit.session,
            self.kit.authenticator,
            base_url=settings.base_url,
            sap_client=settings.sap_client,
            language=settings.language,
            redactor=self.kit.redactor,
        )

    def discover_streams(self) -> list[Stream]:
        plans = []
        taken: set[str] = set()
        metadata = {}
        for service in self.settings.services:
            metadata[service.path] = self.client.metadata(service)
            plans.extend(plan_streams(service, metadata[service.path], taken))
        selected = with_expansions(select_plans(plans, self.settings.entity_sets), metadata, self.settings.expand)
        return [stream_class(plan, declaration_for(plan.entity_set.name))(self) for plan in selected]


if __name__ == "__main__":
    TapSapS4Hana.cli()
