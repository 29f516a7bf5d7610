"""Typed orchestration settings, parsed once: where credentials, state and locks live, which store each project's
truths go to, tenant limits, retry policy and per-product tap settings."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it."""


#: Arrival jitter allowed for between a tap's send and the vendor's clock (network, scheduling).
RATE_JITTER = 0.1


@dataclass(frozen=True)
class TenantPolicy:
    """How hard one vendor tenant may be driven by all projects together."""

    max_concurrent: int = 1  # syncs on this tenant at once, across every project and worker
    requests_per_second: float = 5.0  # never more than this many requests in any one-second window, all syncs

    def __post_init__(self) -> None:
        if self.max_concurrent < 1 or self.requests_per_second < self.max_concurrent:
            raise SettingsError(
                f"tenant policy: max_concurrent ({self.max_concurrent}) must be >= 1 and at most "
                f"requests_per_second ({self.requests_per_second:g}): each concurrent sync needs a whole request "
                "per second of the budget"
            )

    def per_sync_rate(self) -> float:
        """The client-side rate each sync gets. A sync limited to r/s with a burst of one sends its requests at
        least 1/r apart, so any one-second window holds fewer than r(1 + jitter) + 1 of them; with r below
        b / (1 + jitter) for a whole share b = floor(budget / slots) that is at most b, and the slots together
        stay within the budget."""
        share = int(self.requests_per_second // self.max_concurrent)
        return share / (1 + RATE_JITTER)


@dataclass(frozen=True)
class RetrySettings:
    max_retries: int = 3
    delay_seconds: float = 30.0  # first wait; doubles per retry (exponential backoff with jitter)


@dataclass(frozen=True)
class StoreRoute:
    """Where a project's truths land: the shared PostgreSQL store, or a running engine's upload API."""

    delivery: str = "postgres"
    postgres_dsn: str | None = None
    postgres_schema: str = "xlr8"
    upload_url: str | None = None
    upload_api_key: str | None = None
    pii_key_file: str | None = None
    pii_key_create: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def target_config(self, project_id: str) -> dict[str, Any]:
        config: dict[str, Any] = {"project_id": project_id, "delivery": self.delivery, **self.extra}
        if self.delivery == "postgres":
            if not self.postgres_dsn:
                raise SettingsError("store.postgres_dsn (or XLR8_POSTGRES_DSN) is required when delivery is 'postgres'")
            config.update(postgres_dsn=self.postgres_dsn, postgres_schema=self.postgres_schema)
        elif self.delivery == "upload":
            if not self.upload_url:
                raise SettingsError(f"projects.{project_id}.upload_url is required when delivery is 'upload'")
            config["upload_url"] = self.upload_url
            if self.upload_api_key:
                config["upload_api_key"] = self.upload_api_key
        else:
            raise SettingsError(f"delivery {self.delivery!r} is not one of: postgres, upload")
        if self.pii_key_file:
            config["pii_key_file"] = self.pii_key_file
            config["pii_key_create"] = self.pii_key_create
        return config


@dataclass(frozen=True)
class OrchestrationSettings:
    credential_store: str
    state_dir: Path
    lock_dir: Path
    store: StoreRoute
    projects: dict[str, StoreRoute] = field(default_factory=dict)  # per-project route overrides
    tenants: dict[str, TenantPolicy] = field(default_factory=dict)  # tenant key -> policy
    default_tenant: TenantPolicy = field(default_factory=TenantPolicy)
    retry: RetrySettings = field(default_factory=RetrySettings)
    product_config: dict[str, dict[str, Any]] = field(default_factory=dict)  # product -> extra tap settings
    env: dict[str, str] = field(default_factory=dict)  # extra environment for the tap and target processes
    partitioned: dict[str, dict[str, int]] = field(default_factory=dict)  # product -> stream -> partitions

    def route(self, project_id: str) -> StoreRoute:
        return self.projects.get(project_id, self.store)

    def tenant_policy(self, tenant: str) -> TenantPolicy:
        """The policy set for this tenant key, else for its product and host (keys set before tenants on one
        host were told apart), else the default."""
        host = tenant.split("/", 1)[0]
        return self.tenants.get(tenant) or self.tenants.get(host) or self.default_tenant


def _route(raw: dict[str, Any], where: str, base: StoreRoute | None = None) -> StoreRoute:
    known = {f for f in StoreRoute.__dataclass_fields__ if f != "extra"}
    unknown = set(raw) - known
    if unknown:
        raise SettingsError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {} if base is None else {k: getattr(base, k) for k in known}
    values.update(raw)
    return StoreRoute(**values)


def _path_setting(key: str) -> bool:
    return key in ("credential_store", "pii_key_file") or key.endswith(("_file", "_path", "_dir"))


def _resolved(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """Path settings relative to the settings file, as ``state_dir`` is: the tap and target run in a temporary
    directory, where a relative ``pii_key_file`` was created anew and deleted with it after every sync (each
    run's PII encrypted under a key no one kept) and a relative ``credential_store`` was not found."""
    out = dict(raw)
    for key, value in raw.items():
        if isinstance(value, dict):
            out[key] = _resolved(value, base)
        elif isinstance(value, str) and value and _path_setting(key) and "://" not in value:
            out[key] = str(base / Path(value).expanduser())
    return out


def load_settings(path: str | os.PathLike[str], environ: dict[str, str] | None = None) -> OrchestrationSettings:
    """Read ``orchestration.toml``; the PostgreSQL DSN may come from ``XLR8_POSTGRES_DSN`` instead of the file."""
    env = dict(os.environ if environ is None else environ)
    with open(path, "rb") as handle:
        raw = tomllib.load(handle)
    base = Path(path).resolve().parent
    raw = _resolved(raw, base)
    store_raw = dict(raw.get("store", {}))
    if not store_raw.get("postgres_dsn") and env.get("XLR8_POSTGRES_DSN"):
        store_raw["postgres_dsn"] = env["XLR8_POSTGRES_DSN"]
    store = _route(store_raw, "store")
    projects = {pid: _route(dict(r), f"projects.{pid}", store) for pid, r in raw.get("projects", {}).items()}
    tenants = {key: TenantPolicy(**dict(value)) for key, value in raw.get("tenants", {}).items()}  # validated there
    default_tenant = TenantPolicy(**dict(raw.get("default_tenant", {})))
    return OrchestrationSettings(
        credential_store=str(
            raw.get("credential_store")
            or _resolved({"credential_store": env.get("XLR8_CREDENTIALS_STORE") or ""}, Path.cwd())["credential_store"]
            or base / ".xlr8/credentials.db"
        ),
        state_dir=base / raw.get("state_dir", ".xlr8/orchestration/state"),
        lock_dir=base / raw.get("lock_dir", ".xlr8/orchestration/locks"),
        store=store,
        projects=projects,
        tenants=tenants,
        default_tenant=default_tenant,
        retry=RetrySettings(**dict(raw.get("retry", {}))),
        product_config={k: dict(v) for k, v in raw.get("products", {}).items()},
        partitioned={k: {s: int(n) for s, n in dict(v).items()} for k, v in raw.get("partitioned", {}).items()},
    )
