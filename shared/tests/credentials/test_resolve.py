"""resolve_config and secret_persister: what a tap sees at run time when its config names a credential_id."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from xlr8_kit.credentials.crypto import EnvelopeCipher, Keyring
from xlr8_kit.credentials.errors import (
    CredentialConflictError,
    CredentialError,
    CredentialNotFoundError,
    CredentialUndecryptableError,
    CredentialUnusableError,
    CredentialValidationError,
    KeyringError,
)
from xlr8_kit.credentials.manager import CredentialManager
from xlr8_kit.credentials.model import ProductCredential, utcnow
from xlr8_kit.credentials.resolve import merge_secret_fields, open_manager, resolve_config, secret_persister
from xlr8_kit.credentials.store import SQLiteCredentialStore
from xlr8_kit.redaction import Redactor


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> str:
    value = f"k1:{base64.b64encode(os.urandom(32)).decode()}"
    monkeypatch.setenv("XLR8_CREDENTIALS_KEY", value)
    monkeypatch.delenv("XLR8_CREDENTIALS_KEY_FILE", raising=False)
    monkeypatch.delenv("XLR8_CREDENTIALS_STORE", raising=False)
    return value


def seeded(db: Path, key_env: str, credential: ProductCredential) -> CredentialManager:
    manager = CredentialManager(SQLiteCredentialStore(db), EnvelopeCipher(Keyring.parse(key_env, source="t")))
    manager.store(credential)
    return manager


def test_resolve_without_credential_id_is_untouched() -> None:
    config = {"client_id": "plain", "client_secret": "plain-secret"}
    assert resolve_config(config, product_id="salesforce") == config


def test_resolve_merges_secrets_and_marks_used(
    tmp_path: Path, key_env: str, make_credential: Callable[..., ProductCredential]
) -> None:
    db = tmp_path / "store.db"
    manager = seeded(db, key_env, make_credential("sf-prod"))
    config = {"credential_id": "sf-prod", "credential_store": str(db), "start_date": "2026-01-01"}
    resolved = resolve_config(config, product_id="salesforce")
    assert resolved["client_secret"].startswith("CANARY-")
    assert resolved["refresh_token"] == "rt-0001-initial"
    assert resolved["instance_url"] == "https://acme.my.salesforce.com"
    assert resolved["start_date"] == "2026-01-01"
    assert "client_secret" not in config  # the caller's dict is not modified
    assert manager.get("sf-prod").last_used is not None
    assert Redactor.default().redact(f"token={resolved['client_secret']}") == "token=***"


def test_resolve_uses_default_store_under_the_project(
    tmp_path: Path, key_env: str, make_credential: Callable[..., ProductCredential], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    seeded(tmp_path / ".xlr8" / "credentials.db", key_env, make_credential("sf-prod"))
    assert resolve_config({"credential_id": "sf-prod"}, product_id="salesforce")["client_id"] == "client-abc"


def test_resolve_refusals_name_the_credential(
    tmp_path: Path, key_env: str, make_credential: Callable[..., ProductCredential], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "store.db"
    manager = seeded(db, key_env, make_credential("sf-prod"))
    manager.store(replace(make_credential("sf-old"), expires_at=utcnow() - timedelta(days=1)))
    base = {"credential_store": str(db)}
    with pytest.raises(CredentialNotFoundError, match="'missing' not found"):
        resolve_config({**base, "credential_id": "missing"}, product_id="salesforce")
    with pytest.raises(CredentialValidationError, match="'sf-prod' belongs to product 'salesforce', not 'workday'"):
        resolve_config({**base, "credential_id": "sf-prod"}, product_id="workday")
    with pytest.raises(CredentialUnusableError, match="'sf-old' is expired"):
        resolve_config({**base, "credential_id": "sf-old"}, product_id="salesforce")
    manager.revoke("sf-prod")
    with pytest.raises(CredentialUnusableError, match="'sf-prod' is revoked"):
        resolve_config({**base, "credential_id": "sf-prod"}, product_id="salesforce")
    manager.store(make_credential("sf-2"))
    monkeypatch.setenv("XLR8_CREDENTIALS_KEY", f"k1:{base64.b64encode(os.urandom(32)).decode()}")
    with pytest.raises(CredentialUndecryptableError, match=r"'sf-2' undecryptable \(kid=k1\)") as err:
        resolve_config({**base, "credential_id": "sf-2"}, product_id="salesforce")
    assert "CANARY" not in str(err.value)
    monkeypatch.delenv("XLR8_CREDENTIALS_KEY")
    with pytest.raises(KeyringError, match="XLR8_CREDENTIALS_KEY"):
        resolve_config({**base, "credential_id": "sf-2"}, product_id="salesforce")
    missing_store = tmp_path / "nowhere" / "credentials.db"
    with pytest.raises(CredentialError, match=r"credential store .*nowhere/credentials.db does not exist"):
        resolve_config({"credential_store": str(missing_store), "credential_id": "sf-2"}, product_id="salesforce")
    assert not missing_store.exists()  # a run never creates an empty store
    with pytest.raises(CredentialValidationError, match="unknown scheme 'ftp'"):
        resolve_config({"credential_store": "ftp://x/y", "credential_id": "sf-2"}, product_id="salesforce")


def test_b5_secret_persister_saves_rotations_with_cas(
    tmp_path: Path, key_env: str, make_credential: Callable[..., ProductCredential]
) -> None:
    db = tmp_path / "store.db"
    manager = seeded(db, key_env, make_credential("sf-prod"))
    assert secret_persister({"client_secret": "x"}) is None
    config = {"credential_id": "sf-prod", "credential_store": str(db)}
    run_a = secret_persister(config)
    run_b = secret_persister(config)
    assert run_a is not None
    assert run_b is not None
    run_a("refresh_token", "rt-0002")
    run_a("refresh_token", "rt-0003")  # the same run rotating twice follows its own writes
    assert manager.get("sf-prod").credentials["refresh_token"] == "rt-0003"
    assert resolve_config(config, product_id="salesforce")["refresh_token"] == "rt-0003"  # the next run uses it
    with pytest.raises(CredentialConflictError, match="'sf-prod' changed concurrently"):
        run_b("refresh_token", "rt-stale-worker")
    assert manager.get("sf-prod").credentials["refresh_token"] == "rt-0003"
    assert Redactor.default().redact("rt-0003") == "***"


def test_open_manager_lists_without_a_key(
    tmp_path: Path, key_env: str, make_credential: Callable[..., ProductCredential], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "store.db"
    seeded(db, key_env, make_credential("sf-prod"))
    monkeypatch.delenv("XLR8_CREDENTIALS_KEY")
    manager = open_manager(str(db))
    assert [row["credential_id"] for row in manager.describe()] == ["sf-prod"]
    with pytest.raises(KeyringError):
        manager.get("sf-prod")
    manager.close()


def test_dotted_fields_merge_into_nested_settings(
    tmp_path: Path, key_env: str, make_credential: Callable[..., ProductCredential]
) -> None:
    db = tmp_path / "store.db"
    seeded(db, key_env, make_credential("sf-nested", **{"auth.client_secret": "nested-secret", "auth.type": "jwt"}))
    config = {"credential_id": "sf-nested", "credential_store": str(db), "auth": {"client_id": "cid", "type": "x"}}
    resolved = resolve_config(config, product_id="salesforce")
    assert resolved["auth"] == {"client_id": "cid", "client_secret": "nested-secret", "type": "jwt"}
    assert config["auth"] == {"client_id": "cid", "type": "x"}  # the caller's nested dict is untouched
    assert merge_secret_fields({}, {"a.b.c": "v"}) == {"a": {"b": {"c": "v"}}}
    with pytest.raises(
        CredentialValidationError, match=r"field 'auth\.client_secret': setting 'auth' is not an object"
    ):
        merge_secret_fields({"auth": "flat"}, {"auth.client_secret": "x"})
