"""tap-sap-successfactors: any entity set of a SuccessFactors tenant, discovered from its ``$metadata``."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from xlr8_kit.rest import KitRuntime, KitTap, kit_config_schema
from xlr8_tap_sap_successfactors import auth as sf_auth
from xlr8_tap_sap_successfactors.client import MetadataCache, SuccessFactorsClient, stream_class
from xlr8_tap_sap_successfactors.discovery import plan_stream, select_entity_sets
from xlr8_tap_sap_successfactors.streams import DEFAULT_ENTITY_SETS, declaration_for

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.streams import Stream

MAX_PAGE_SIZE = 1000

PRODUCT_SETTINGS = th.PropertiesList(
    th.Property(
        "api_url",
        th.StringType,
        required=True,
        description="API server of the tenant's data center, e.g. https://api4.successfactors.com (no /odata/v2).",
    ),
    th.Property("company_id", th.StringType, required=True, description="SuccessFactors company ID."),
    th.Property(
        "auth",
        th.ObjectType(
            th.Property(
                "type",
                th.StringType,
                allowed_values=["saml_bearer", "basic"],
                description="saml_bearer (OAuth 2.0 SAML assertion; use this) or basic (user@companyId + password; "
                "retired by SAP for APIs on 20 Nov 2026, only for tenants that still allow it). Unset: saml_bearer "
                "when a SAML setting is given without username/password, else basic.",
            ),
            th.Property("client_id", th.StringType, description="saml_bearer: API key of the OAuth client."),
            th.Property("user_id", th.StringType, description="saml_bearer: user the assertion is issued for."),
            th.Property("private_key", th.StringType, secret=True, description="saml_bearer: PEM private key."),
            th.Property(
                "private_key_passphrase", th.StringType, secret=True, description="saml_bearer: key passphrase."
            ),
            th.Property("certificate", th.StringType, description="saml_bearer: PEM X.509 certificate of the key."),
            th.Property(
                "username", th.StringType, description="basic (deprecated): API user name (without @companyId)."
            ),
            th.Property(
                "password", th.StringType, secret=True, description="basic (deprecated): the API user's password."
            ),
        ),
        required=True,
        description="How to authenticate.",
    ),
    th.Property(
        "entity_sets",
        th.ArrayType(th.StringType),
        description="Entity sets to offer as streams ('*' for every set in $metadata). "
        f"Default: {', '.join(DEFAULT_ENTITY_SETS)}.",
    ),
    th.Property("start_date", th.DateTimeType, description="Earliest lastModifiedDateTime to read on a first run."),
    th.Property(
        "effective_dated_history",
        th.BooleanType,
        default=False,
        description="Read every effective-dated row (the history window) instead of the rows valid today and "
        "the rows that take effect later.",
    ),
    th.Property("history_from_date", th.DateType, description="History window start (default 1900-01-01)."),
    th.Property("history_to_date", th.DateType, description="History window end (default 9999-12-31)."),
    th.Property(
        "page_size", th.IntegerType, default=MAX_PAGE_SIZE, description="Rows per page (customPageSize, 1-1000)."
    ),
    th.Property(
        "metadata_cache_dir",
        th.StringType,
        description="Directory where $metadata is kept between runs (not set: fetched by every run).",
    ),
    th.Property(
        "metadata_cache_ttl",
        th.IntegerType,
        default=3600,
        description="Seconds a cached $metadata document is used before it is fetched again.",
    ),
    th.Property(
        "snapshot_paging_threshold",
        th.IntegerType,
        default=MAX_PAGE_SIZE,
        description="Sets with more rows than this are read with paging=snapshot (0: always).",
    ),
)


@dataclass(frozen=True)
class BasicAuth:
    username: str
    password: str
    type: Literal["basic"] = "basic"


@dataclass(frozen=True)
class SamlBearerAuth:
    client_id: str
    user_id: str
    private_key: str
    certificate: str
    private_key_passphrase: str | None = None
    type: Literal["saml_bearer"] = "saml_bearer"

    def __repr__(self) -> str:
        return f"SamlBearerAuth(client_id={self.client_id!r}, user_id={self.user_id!r})"


@dataclass(frozen=True)
class SuccessFactorsSettings:
    api_url: str
    company_id: str
    auth: BasicAuth | SamlBearerAuth
    entity_sets: tuple[str, ...]
    history: bool
    history_from_date: str
    history_to_date: str
    page_size: int
    snapshot_paging_threshold: int
    filters: str | None
    metadata_cache_dir: str | None = None
    metadata_cache_ttl: int = 3600

    @classmethod
    def from_config(cls, config: dict[str, t.Any]) -> SuccessFactorsSettings:
        """Validate once; every error names the setting."""
        errors: list[str] = []
        api_url = str(config.get("api_url") or "").rstrip("/")
        parsed = urlparse(api_url)
        if parsed.scheme not in ("https", "http") or not parsed.netloc:
            errors.append("setting 'api_url' must be an https:// URL such as https://api4.successfactors.com")
        elif parsed.path.rstrip("/").endswith("/odata/v2"):
            errors.append("setting 'api_url' must be the server only, without /odata/v2")
        company_id = str(config.get("company_id") or "")
        if not company_id:
            errors.append("setting 'company_id' is required")
        auth = cls._auth(config.get("auth") or {}, errors)
        page_size = int(config.get("page_size") or MAX_PAGE_SIZE)
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            errors.append(f"setting 'page_size' must be between 1 and {MAX_PAGE_SIZE}, not {page_size}")
        threshold = config.get("snapshot_paging_threshold")
        threshold = MAX_PAGE_SIZE if threshold is None else int(threshold)
        history_from = str(config.get("history_from_date") or "1900-01-01")
        history_to = str(config.get("history_to_date") or "9999-12-31")
        for name, value in (("history_from_date", history_from), ("history_to_date", history_to)):
            try:
                date.fromisoformat(value)
            except ValueError:
                errors.append(f"setting {name!r} must be a date (YYYY-MM-DD), not {value!r}")
        entity_sets = tuple(config.get("entity_sets") or DEFAULT_ENTITY_SETS)
        if errors or auth is None:
            raise ConfigValidationError(
                "tap-sap-successfactors: invalid configuration: " + "; ".join(errors), errors=errors
            )
        return cls(
            api_url=api_url,
            company_id=company_id,
            auth=auth,
            entity_sets=entity_sets,
            history=bool(config.get("effective_dated_history")) or "history_from_date" in config
            or "history_to_date" in config,
            history_from_date=history_from,
            history_to_date=history_to,
            page_size=page_size,
            snapshot_paging_threshold=threshold,
            filters=config.get("filters"),
            metadata_cache_dir=config.get("metadata_cache_dir") or None,
            metadata_cache_ttl=int(config.get("metadata_cache_ttl") or 3600),
        )  # fmt: skip

    @staticmethod
    def _inferred_auth_type(raw: dict[str, t.Any]) -> str:
        """No ``auth.type``: SAML when the private key or any SAML setting without the Basic ones is given, so a
        SAML config missing one setting is told that setting, never steered to retired Basic (review24a L2)."""
        if raw.get("private_key"):
            return "saml_bearer"
        saml = any(raw.get(n) for n in ("client_id", "user_id", "certificate", "private_key_passphrase"))
        return "saml_bearer" if saml and not (raw.get("username") or raw.get("password")) else "basic"

    @staticmethod
    def _auth(raw: dict[str, t.Any], errors: list[str]) -> BasicAuth | SamlBearerAuth | None:
        kind = raw.get("type") or SuccessFactorsSettings._inferred_auth_type(raw)

        def need(*names: str) -> list[str]:
            missing = [n for n in names if not raw.get(n)]
            errors.extend(f"setting 'auth.{n}' is required when auth.type is {kind!r}" for n in missing)
            return missing

        if kind == "basic":
            return None if need("username", "password") else BasicAuth(raw["username"], raw["password"])
        if kind == "saml_bearer":
            if need("client_id", "user_id", "private_key", "certificate"):
                return None
            return SamlBearerAuth(
                raw["client_id"], raw["user_id"], raw["private_key"], raw["certificate"],
                raw.get("private_key_passphrase"),
            )  # fmt: skip
        errors.append(f"setting 'auth.type' must be 'basic' or 'saml_bearer', not {kind!r}")
        return None


class TapSapSuccessFactors(KitTap):
    """SAP SuccessFactors OData v2: streams are the tenant's entity sets, read from $metadata."""

    name = "tap-sap-successfactors"
    product_id = "successfactors"
    instance_url_setting = "api_url"
    config_jsonschema = kit_config_schema(PRODUCT_SETTINGS)

    @cached_property
    def settings(self) -> SuccessFactorsSettings:
        return SuccessFactorsSettings.from_config(self.resolved_config)

    def build_authenticator(self, runtime: KitRuntime) -> requests.auth.AuthBase:
        return sf_auth.build_authenticator(self.settings, runtime)

    @cached_property
    def client(self) -> SuccessFactorsClient:
        settings = self.settings
        cache = None
        if settings.metadata_cache_dir:
            cache = MetadataCache(Path(settings.metadata_cache_dir), settings.company_id, settings.metadata_cache_ttl)
        return SuccessFactorsClient(
            self.kit.session,
            self.kit.authenticator,
            api_url=settings.api_url,
            redactor=self.kit.redactor,
            metadata_cache=cache,
        )

    def discover_streams(self) -> list[Stream]:
        plans = [plan_stream(s) for s in select_entity_sets(self.client.metadata, self.settings.entity_sets)]
        return [stream_class(plan, declaration_for(plan.name, list(plan.schema["properties"])))(self) for plan in plans]


if __name__ == "__main__":
    TapSapSuccessFactors.cli()
