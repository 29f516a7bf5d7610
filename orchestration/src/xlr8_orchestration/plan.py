"""One sync per (project, product) from the credential store: a project's active credentials decide which taps run."""

from __future__ import annotations

import hashlib
import logging
import re
import typing as t
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from xlr8_kit.credentials import CredentialError, CredentialManager, KeyringError, open_manager
from xlr8_kit.credentials.resolve import SECRET_TENANT_NAMES, TENANT_NAMES, chosen_credentials
from xlr8_orchestration.settings import OrchestrationSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProductTap:
    executable: str
    url_setting: str  # the tap setting the credential's instance_url goes to
    hourly: bool  # the product carries time data (punches, timesheets): synced hourly, configuration daily


PRODUCT_TAPS: dict[str, ProductTap] = {
    "salesforce": ProductTap("tap-salesforce", "login_url", hourly=False),
    "successfactors": ProductTap("tap-sap-successfactors", "api_url", hourly=False),
    "workday_hcm": ProductTap("tap-workday", "base_url", hourly=True),
    "workday_fins": ProductTap("tap-workday", "base_url", hourly=False),
    "ukg_pro": ProductTap("tap-ukg-pro", "base_url", hourly=True),
}

DAILY_CRON = "0 2 * * *"
HOURLY_CRON = "15 * * * *"


@dataclass(frozen=True)
class SyncSpec:
    project_id: str
    product_id: str
    credential_id: str
    instance_url: str | None
    tap: ProductTap
    tenant: str

    @property
    def name(self) -> str:
        """A Dagster-safe job name: letters, digits and underscores."""
        return re.sub(r"[^A-Za-z0-9_]", "_", f"sync_{self.project_id}_{self.product_id}")

    @property
    def crons(self) -> list[str]:
        return [DAILY_CRON, HOURLY_CRON] if self.tap.hourly else [DAILY_CRON]


def tenant_key(product_id: str, instance_url: str | None, names: Mapping[str, str] | None = None) -> str:
    """Product, the tenant's host (scheme, case, path and trailing slash ignored) and the settings naming the tenant
    on that host (``TENANT_NAMES``: a Workday tenant, a SuccessFactors company, an S/4 client; a secret one as a
    digest): two credentials that reach the same vendor tenant share this key, and so its concurrency and rate
    limits; two tenants on one host do not (audit25e F15: every Workday customer on wd2-impl-services1 shared one)."""
    if not instance_url:
        key = f"{product_id}@default"
    else:
        parts = urlsplit(instance_url if "//" in instance_url else f"//{instance_url}")
        host = (parts.hostname or "").lower()
        port = f":{parts.port}" if parts.port else ""
        key = f"{product_id}@{host}{port}"
    names = names or {}
    for name in TENANT_NAMES:
        if names.get(name):
            key += f"/{name}={str(names[name]).strip().lower()}"
    for name in SECRET_TENANT_NAMES:
        if names.get(name):
            key += f"/{name}#{hashlib.sha256(str(names[name]).strip().encode()).hexdigest()[:12]}"
    return key


def tenant_names(
    manager: CredentialManager, credential_id: str, defaults: Mapping[str, t.Any] | None = None
) -> dict[str, str]:
    """The credential's settings naming its tenant (top level or under ``auth``), else the product's settings'.
    Reading them needs the credential key; without it the host alone keys the tenant, as it did, and a warning
    says so."""
    fields: Mapping[str, str] = {}
    try:
        fields = manager.get(credential_id).credentials
    except (CredentialError, KeyringError) as exc:
        log.warning(
            "credential %s: its tenant is not known without the credential key (%s): it shares its host's limits",
            credential_id,
            type(exc).__name__,
        )
    found = {}
    for name in (*TENANT_NAMES, *SECRET_TENANT_NAMES):
        value = fields.get(name) or fields.get(f"auth.{name}") or (defaults or {}).get(name)
        if value:
            found[name] = str(value)
    return found


def plan_syncs(settings: OrchestrationSettings) -> list[SyncSpec]:
    """Every (project, product) with an active credential, one sync each (the newest active credential wins when a
    project holds several for one product). A credential for a product with no tap here is logged and left out:
    one unknown product must not stop every other project's jobs from loading."""
    manager = open_manager(settings.credential_store, create=False)
    try:
        chosen = dict(chosen_credentials(manager.describe()))
        names = {
            key: tenant_names(manager, str(row["credential_id"]), settings.product_config.get(key[1]))
            for key, row in chosen.items()
            if key[1] in PRODUCT_TAPS
        }
    finally:
        manager.close()
    for (_project, product), row in list(chosen.items()):
        if product not in PRODUCT_TAPS:
            log.warning(
                "credential %s: product %s has no tap in the orchestrator (known: %s); no job for it",
                row["credential_id"],
                product,
                ", ".join(sorted(PRODUCT_TAPS)),
            )
            del chosen[(_project, product)]
    specs = []
    for (project, product), row in sorted(chosen.items()):
        url = str(row["instance_url"]) if row.get("instance_url") else None
        specs.append(
            SyncSpec(
                project,
                product,
                str(row["credential_id"]),
                url,
                PRODUCT_TAPS[product],
                tenant_key(product, url, names[(project, product)]),
            )
        )
    return specs
