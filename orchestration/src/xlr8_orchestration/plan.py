"""One sync per (project, product) from the credential store: a project's active credentials decide which taps run."""

from __future__ import annotations

import logging
import re
import typing as t
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from xlr8_kit.credentials import open_manager
from xlr8_kit.credentials.resolve import chosen_credentials
from xlr8_kit.tenants import TENANT_NAMES
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
    on that host (``TENANT_NAMES``: a Workday tenant, a SuccessFactors company, an S/4 client) given in the
    product's settings: two syncs of one vendor tenant share this key, and so its concurrency and rate limits.
    Only what every process can read feeds it, never a credential's fields (review26c M4: a process without the
    credential key keyed one tenant apart from one with it, so both ran it at once) and never a secret (H1: an
    unsalted digest of UKG Pro's 5-character customer API key gave the key back from a run tag)."""
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
    return key


def tenant_names(defaults: Mapping[str, t.Any] | None = None) -> dict[str, str]:
    """The settings naming the tenant in the product's settings (``product_config``): readable by every process,
    unlike a credential's fields, which need the credential key."""
    return {name: str(value) for name in TENANT_NAMES if (value := (defaults or {}).get(name))}


def plan_syncs(settings: OrchestrationSettings) -> list[SyncSpec]:
    """Every (project, product) with an active credential, one sync each (the newest active credential wins when a
    project holds several for one product). A credential for a product with no tap here is logged and left out:
    one unknown product must not stop every other project's jobs from loading."""
    manager = open_manager(settings.credential_store, create=False)
    try:
        chosen = dict(chosen_credentials(manager.describe()))
        names = {key: tenant_names(settings.product_config.get(key[1])) for key in chosen if key[1] in PRODUCT_TAPS}
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
