"""Builds credential stores and settings for orchestration tests, and reads what landed in PostgreSQL."""

from __future__ import annotations

import base64
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from target_xlr8_truths.naming import project_prefix
from xlr8_kit.credentials.crypto import EnvelopeCipher, Keyring
from xlr8_kit.credentials.manager import CredentialManager
from xlr8_kit.credentials.model import AuthType, CredentialStatus, ProductCredential
from xlr8_kit.credentials.store import SQLiteCredentialStore
from xlr8_orchestration.settings import OrchestrationSettings, RetrySettings, StoreRoute, TenantPolicy
from xlr8_sandbox.platform.server import Sandbox

SCALE = 40
SF_OBJECTS = ["Account", "Contact"]
SFSF_ENTITIES = ["FOCompany", "FODepartment"]
PRODUCT_CONFIG: dict[str, dict[str, Any]] = {
    "salesforce": {"objects": SF_OBJECTS, "auth": {"type": "password"}},
    "successfactors": {"entity_sets": SFSF_ENTITIES, "auth": {"type": "basic"}},
    "ukg_pro": {"start_date": "2026-01-01T00:00:00Z", "employee_changes_window_days": 31},
}


def project_ids(n: int) -> list[str]:
    """Distinct in their first 8 hex digits: the engine's table prefix."""
    return [str(uuid.UUID(f"5ca1e{i:03x}-0000-4000-8000-{i:012x}")) for i in range(1, n + 1)]


def credential(project: str, product: str, sandbox: Sandbox, **extra: Any) -> ProductCredential:
    creds = sandbox.emulator(product).test_credentials()
    if product == "salesforce":
        fields = {
            "auth.client_id": creds["client_id"],
            "auth.client_secret": creds["client_secret"],
            "auth.username": creds["username"],
            "auth.password": creds["password"],
            "auth.security_token": creds["security_token"],
        }
        auth = AuthType.OAUTH2_CLIENT_CREDENTIALS
    elif product == "ukg_pro":
        fields = {k: creds[k] for k in ("username", "password", "customer_api_key", "user_access_key")}
        auth = AuthType.BASIC
    else:
        fields = {
            "company_id": creds["company_id"],
            "auth.username": creds["username"],
            "auth.password": creds["password"],
        }
        auth = AuthType.BASIC
    return ProductCredential(
        credential_id=f"{product}-{project[-4:]}",
        project_id=project,
        product_id=product,
        auth_type=auth,
        credentials=fields,
        instance_url=sandbox.url(product),
        **extra,
    )


def seed_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *credentials: ProductCredential) -> str:
    key = f"k1:{base64.b64encode(os.urandom(32)).decode()}"
    monkeypatch.setenv("XLR8_CREDENTIALS_KEY", key)
    monkeypatch.delenv("XLR8_CREDENTIALS_KEY_FILE", raising=False)
    path = tmp_path / "credentials.db"
    manager = CredentialManager(SQLiteCredentialStore(path), EnvelopeCipher(Keyring.parse(key, source="test")))
    try:
        for item in credentials:
            manager.store(item)
    finally:
        manager.close()
    return str(path)


def settings_for(
    tmp_path: Path,
    store: str,
    dsn: str,
    schema: str,
    *,
    tenants: dict[str, TenantPolicy] | None = None,
    retries: int = 2,
    projects: dict[str, StoreRoute] | None = None,
) -> OrchestrationSettings:
    route = StoreRoute(
        delivery="postgres",
        postgres_dsn=dsn,
        postgres_schema=schema,
        pii_key_file=str(tmp_path / "pii.key"),
        pii_key_create=True,
    )
    return OrchestrationSettings(
        credential_store=store,
        state_dir=tmp_path / "state",
        lock_dir=tmp_path / "locks",
        store=route,
        projects=projects or {},
        tenants=tenants or {},
        default_tenant=TenantPolicy(max_concurrent=4, requests_per_second=200.0),
        retry=RetrySettings(max_retries=retries, delay_seconds=0.2),
        product_config=PRODUCT_CONFIG,
    )


def landed(dsn: str, schema: str, project: str, key_file: Path | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every data table of the project (by its 8-hex prefix) as sorted rows without the load-time columns; with
    ``key_file``, PII values (ENC256, a random nonce per value) in clear, so two runs' rows compare equal."""
    clear = _decrypter(key_file)
    prefix = project_prefix(project)
    out: dict[str, list[tuple[Any, ...]]] = {}
    with psycopg.connect(dsn) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_name LIKE %s",
                [schema, f"{prefix}%"],
            ).fetchall()
        ]
        for table in sorted(tables):
            columns = [
                r[0]
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
                    "ORDER BY column_name",
                    [schema, table],
                ).fetchall()
                if not r[0].startswith("_sdc_") and not r[0].startswith("__xlr8")
            ]
            body = ", ".join(f'"{c}"::text' for c in columns)
            rows = [tuple(clear(v) for v in row) for row in conn.execute(f'SELECT {body} FROM "{schema}"."{table}"')]
            out[table[len(prefix) :]] = sorted(rows, key=repr)
    return out


def python_bin() -> Path:
    return Path(sys.executable).parent


__all__ = ["CredentialStatus"]


def _decrypter(key_file: Path | None) -> Any:
    if key_file is None:
        return lambda value: value
    from xlr8_kit.privacy import FieldCipher, load_key

    cipher = FieldCipher(load_key(key_file=str(key_file)))
    return lambda value: cipher.decrypt(value) if isinstance(value, str) and value.startswith("ENC256:") else value
