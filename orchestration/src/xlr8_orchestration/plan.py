"""One sync per (project, product) from the credential store: a project's active credentials decide which taps run."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from xlr8_kit.credentials import open_manager
from xlr8_kit.credentials.resolve import chosen_credentials
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


def tenant_key(product_id: str, instance_url: str | None) -> str:
    """Product plus the tenant's host (scheme, case, path and trailing slash ignored): two credentials that reach the
    same vendor tenant share this key, and so its concurrency and rate limits."""
    if not instance_url:
        return f"{product_id}@default"
    parts = urlsplit(instance_url if "//" in instance_url else f"//{instance_url}")
    host = (parts.hostname or "").lower()
    port = f":{parts.port}" if parts.port else ""
    return f"{product_id}@{host}{port}"


def plan_syncs(settings: OrchestrationSettings) -> list[SyncSpec]:
    """Every (project, product) with an active credential, one sync each (the newest active credential wins when a
    project holds several for one product). A credential for a product with no tap here is logged and left out:
    one unknown product must not stop every other project's jobs from loading."""
    manager = open_manager(settings.credential_store, create=False)
    try:
        chosen = dict(chosen_credentials(manager.describe()))
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
            SyncSpec(project, product, str(row["credential_id"]), url, PRODUCT_TAPS[product], tenant_key(product, url))
        )
    return specs
