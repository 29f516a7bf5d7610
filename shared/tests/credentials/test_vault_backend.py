"""The Vault backend against the Vault stand-in over real HTTP: KV v2 check-and-set (B5/B6), transit encryption
bound to credential and field (C2), transit key rotation + rewrap + retirement (C3), token and availability
failures (B8: bounded, no fallback), and resolve_config / the CLI with a vault:// store."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from xlr8_kit.credentials.backends.vault import open_vault_manager
from xlr8_kit.credentials.errors import (
    BackendUnavailableError,
    CredentialAlreadyExistsError,
    CredentialConflictError,
    CredentialUndecryptableError,
    CredentialValidationError,
)
from xlr8_kit.credentials.manager import CredentialManager
from xlr8_kit.credentials.model import ProductCredential
from xlr8_kit.credentials.resolve import resolve_config
from xlr8_kit.testing.vault_standin import VaultStandIn

CANARY = "CANARY-vault-2b7e151628aed2a6"


@pytest.fixture
def vault() -> Iterator[VaultStandIn]:
    with VaultStandIn() as server:
        server.create_transit_key("xlr8-credentials", derived=True)
        yield server


def store_url(vault: VaultStandIn) -> str:
    return vault.url.replace("http://", "vault://") + "/secret/xlr8/credentials?scheme=http"


@pytest.fixture
def open_vault(vault: VaultStandIn) -> Iterator[Callable[..., CredentialManager]]:
    opened: list[CredentialManager] = []

    def make(token: str | None = None, sleeps: list[float] | None = None) -> CredentialManager:
        manager = open_vault_manager(
            store_url(vault),
            environ={"VAULT_TOKEN": token or vault.token},
            sleep=(sleeps.append if sleeps is not None else lambda _s: None),
        )
        opened.append(manager)
        return manager

    yield make
    for manager in opened:
        manager.close()


def kv_document(vault: VaultStandIn, credential_id: str) -> dict[str, Any]:
    return vault.kv_latest(f"xlr8/credentials/{credential_id}")


def test_vault_round_trip_stores_only_transit_ciphertext(
    vault: VaultStandIn, open_vault: Callable[..., CredentialManager], make_credential: Callable[..., ProductCredential]
) -> None:
    manager = open_vault()
    manager.store(make_credential("sf-prod", client_secret=CANARY, refresh_token="rt-vault-1"))
    manager.store(make_credential("wd-prod", project_id="other", password="pw-vault-2"))
    got = manager.get("sf-prod")
    assert got.credentials == {"client_secret": CANARY, "refresh_token": "rt-vault-1"}
    assert got.version == 1
    assert [c.credential_id for c in manager.list_by_project("acme")] == ["sf-prod"]
    document = kv_document(vault, "sf-prod")
    assert all(blob.startswith("vault:v1:") for blob in document["blobs"].values())
    assert CANARY not in vault.kv_dump()
    with pytest.raises(CredentialAlreadyExistsError, match="'sf-prod' already exists"):
        manager.store(make_credential("sf-prod"))
    used = manager.get_for_run("sf-prod")
    assert used.last_used is not None
    assert manager.get("sf-prod").version == 1  # last_used lives in custom_metadata, not a new KV version
    assert manager.get("sf-prod").last_used == used.last_used
    assert ("GET", "/v1/secret/data/xlr8/credentials/sf-prod") in vault.requests


def test_b6_vault_cas_has_exactly_one_winner(
    open_vault: Callable[..., CredentialManager], make_credential: Callable[..., ProductCredential]
) -> None:
    a, b = open_vault(), open_vault()
    a.store(make_credential("sf-prod", refresh_token="rt-1"))
    a.update_secret("sf-prod", {"refresh_token": "rt-2-from-a"}, expected_version=1)
    with pytest.raises(CredentialConflictError, match="expected version 1, store has 2"):
        b.update_secret("sf-prod", {"refresh_token": "rt-2-from-b"}, expected_version=1)
    assert b.get("sf-prod").credentials["refresh_token"] == "rt-2-from-a"  # the loser re-reads the winner's
    refreshed = b.refresh_token("sf-prod", lambda c: {"refresh_token": "rt-3"})
    assert refreshed.credentials["refresh_token"] == "rt-3"
    assert a.get("sf-prod").credentials["refresh_token"] == "rt-3"


def test_c2_vault_blob_swapped_between_credentials_fails(
    vault: VaultStandIn, open_vault: Callable[..., CredentialManager], make_credential: Callable[..., ProductCredential]
) -> None:
    manager = open_vault()
    manager.store(make_credential("sf-a", password="password-a"))
    manager.store(make_credential("sf-b", password="password-b"))
    kv_document(vault, "sf-b")["blobs"]["password"] = kv_document(vault, "sf-a")["blobs"]["password"]
    with pytest.raises(CredentialUndecryptableError, match=r"'sf-b' undecryptable \(kid=v1\).*authentication"):
        manager.get("sf-b")
    kv_document(vault, "sf-a")["blobs"]["password"] = "not-a-ciphertext"
    with pytest.raises(CredentialUndecryptableError, match=r"'sf-a' undecryptable.*not a vault transit ciphertext"):
        manager.get("sf-a")


def test_c3_vault_transit_rotation_rewraps_and_retires(
    vault: VaultStandIn, open_vault: Callable[..., CredentialManager], make_credential: Callable[..., ProductCredential]
) -> None:
    manager = open_vault()
    for i in range(3):
        manager.store(make_credential(f"c{i}", secret=f"value-{i}"))
    assert vault.rotate_transit_key("xlr8-credentials") == 2
    manager.store(make_credential("c-new", secret="value-new"))
    assert kv_document(vault, "c-new")["blobs"]["secret"].startswith("vault:v2:")
    report = manager.rotate_key()
    assert sorted(report.rewrapped) == ["c0", "c1", "c2"]
    assert report.already_current == ["c-new"]
    assert manager.rotate_key().rewrapped == []
    vault.set_min_decryption_version("xlr8-credentials", 2)
    assert [manager.get(f"c{i}").credentials["secret"] for i in range(3)] == ["value-0", "value-1", "value-2"]
    # A row the rewrap missed (restored from an old backup, say) fails loudly once v1 is retired.
    manager.store(make_credential("late", secret="x-late"))
    kv_document(vault, "late")["blobs"]["secret"] = kv_document(vault, "c0")["blobs"]["secret"].replace("v2", "v1", 1)
    with pytest.raises(CredentialUndecryptableError, match=r"'late' undecryptable \(kid=v1\).*too old"):
        manager.get("late")


def test_b8_vault_wrong_token_fails_fast_without_retry(
    vault: VaultStandIn, open_vault: Callable[..., CredentialManager], make_credential: Callable[..., ProductCredential]
) -> None:
    open_vault().store(make_credential("sf-prod"))
    before = len(vault.requests)
    with pytest.raises(BackendUnavailableError, match=r"denied .*check VAULT_TOKEN") as err:
        open_vault(token="hvs.wrong-token-value").get("sf-prod")
    assert "hvs.wrong-token-value" not in str(err.value)
    assert len(vault.requests) - before == 1


def test_b8_vault_unavailable_is_retried_a_bounded_number_of_times(
    vault: VaultStandIn, open_vault: Callable[..., CredentialManager], make_credential: Callable[..., ProductCredential]
) -> None:
    open_vault().store(make_credential("sf-prod"))
    sleeps: list[float] = []
    manager = open_vault(sleeps=sleeps)
    vault.fail_next(503, "Vault is sealed", times=1)
    assert manager.get("sf-prod").credentials["client_id"] == "client-abc"  # one transient failure is absorbed
    before = len(vault.requests)
    vault.fail_next(503, "Vault is sealed", times=10)
    with pytest.raises(BackendUnavailableError, match=r"unavailable .* after 3 attempts"):
        manager.get("sf-prod")
    assert len(vault.requests) - before == 3
    assert sleeps == [0.2, 0.2, 0.4]
    vault.state.injected.clear()
    vault.fail_next(429, "rate limited", times=3)
    with pytest.raises(BackendUnavailableError, match="after 3 attempts"):
        manager.get("sf-prod")


def test_b8_vault_unreachable_fails_fast(make_credential: Callable[..., ProductCredential]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before use: connection refused
    sleeps: list[float] = []
    manager = open_vault_manager(
        f"vault://127.0.0.1:{port}/secret/xlr8?scheme=http", environ={"VAULT_TOKEN": "t"}, sleep=sleeps.append
    )
    with pytest.raises(BackendUnavailableError, match=rf"127.0.0.1:{port} unavailable .* after 3 attempts"):
        manager.get("sf-prod")
    assert len(sleeps) == 2


def test_vault_missing_transit_key_is_a_clear_error(
    vault: VaultStandIn, make_credential: Callable[..., ProductCredential]
) -> None:
    url = store_url(vault).replace("?scheme=http", "?scheme=http&transit_key=absent")
    manager = open_vault_manager(url, environ={"VAULT_TOKEN": vault.token})
    expected = r"transit key 'absent' .* `vault write transit/keys/absent derived=true`"
    with pytest.raises(CredentialValidationError, match=expected):
        manager.store(make_credential("sf-prod"))
    manager.close()


def test_vault_url_validation() -> None:
    with pytest.raises(CredentialValidationError, match="only allowed for loopback"):
        open_vault_manager("vault://vault.example.com:8200/secret/x?scheme=http", environ={"VAULT_TOKEN": "t"})
    with pytest.raises(CredentialValidationError, match="set VAULT_TOKEN"):
        open_vault_manager("vault://127.0.0.1:8200/secret/x", environ={})
    with pytest.raises(CredentialValidationError, match="expected vault://host:port/<kv mount>/<prefix>"):
        open_vault_manager("vault://127.0.0.1:8200/secret", environ={"VAULT_TOKEN": "t"})


def test_resolve_and_cli_with_vault_store(
    vault: VaultStandIn,
    make_credential: Callable[..., ProductCredential],
    monkeypatch: pytest.MonkeyPatch,
    run_cli: Callable[..., Any],
    residue: Any,
) -> None:
    env = {"VAULT_TOKEN": vault.token}
    added = run_cli("--store", store_url(vault), "add", "--id", "sf-v", "--project", "acme", "--product",
                    "salesforce", "--auth-type", "oauth2_client_credentials", "--stdin",
                    stdin=json.dumps({"client_id": "cid-1", "client_secret": CANARY}), env=env)  # fmt: skip
    assert added.code == 0, added.stderr
    shown = run_cli("--store", store_url(vault), "show", "sf-v", env=env)
    assert json.loads(shown.stdout)["credentials"] == {"client_id": "***", "client_secret": "***"}
    vault.rotate_transit_key("xlr8-credentials")
    rotated = run_cli("--store", store_url(vault), "rotate-key", env=env)
    assert "primary kid=v2; re-encrypted 1" in rotated.stdout
    monkeypatch.setenv("VAULT_TOKEN", vault.token)
    resolved = resolve_config({"credential_id": "sf-v", "credential_store": store_url(vault)}, product_id="salesforce")
    assert resolved["client_secret"] == CANARY
    outputs = (added.stdout + added.stderr + shown.stdout + rotated.stdout + rotated.stderr).encode()
    assert residue.scan(CANARY, {"cli": outputs, "kv": vault.kv_dump().encode()}) == []
    denied = run_cli("--store", store_url(vault), "show", "sf-v", env={"VAULT_TOKEN": "bad"})
    assert denied.code == 1
    assert "denied" in denied.stderr


DATA_PATH = "/v1/secret/data/xlr8/credentials/sf-prod"


def kv_writes(vault: VaultStandIn) -> int:
    return vault.requests.count(("POST", DATA_PATH))


@pytest.mark.parametrize("then_sealed", [0, 2], ids=["resent-told-cas-mismatch", "resends-meet-a-sealed-vault"])
def test_kit27b_final_save_whose_answer_was_lost_keeps_the_rotated_token(
    vault: VaultStandIn,
    open_vault: Callable[..., CredentialManager],
    make_credential: Callable[..., ProductCredential],
    then_sealed: int,
) -> None:
    """The save of a rotated refresh token lands in Vault but its answer is cut. VaultCaller re-sends the same
    ``cas`` write and Vault answers "check-and-set parameter did not match" (its own first write moved the version),
    or the re-sends meet a sealed Vault (503). The run used to fail with ``CredentialConflictError`` /
    ``BackendUnavailableError`` after the token had landed (so ``RefreshTokenNotPersistedError``, "re-authorise").
    Now the row is re-read and recognised as that very write by its metadata seal."""
    open_vault().store(make_credential("sf-prod"))
    manager = open_vault()

    def provider(current: ProductCredential) -> dict[str, str]:
        assert current.credentials["refresh_token"] == "rt-0001-initial"
        vault.lose_answer_next("POST", DATA_PATH, then_sealed=then_sealed)  # the next KV write: the final save
        return {"refresh_token": "rt-0002-rotated-by-vendor"}

    before = kv_writes(vault)
    refreshed = manager.refresh_token("sf-prod", provider)
    assert refreshed.credentials["refresh_token"] == "rt-0002-rotated-by-vendor"
    stored = open_vault().get("sf-prod")
    assert stored.credentials["refresh_token"] == "rt-0002-rotated-by-vendor"
    assert not stored.refresh_interrupted
    assert stored.version == refreshed.version == 3  # the lease, then the save: the re-sends wrote nothing
    assert kv_writes(vault) - before == 2 + (then_sealed or 1)  # lease, save (lost), its re-sends


@pytest.mark.parametrize("then_sealed", [0, 2], ids=["resent-told-cas-mismatch", "resends-meet-a-sealed-vault"])
def test_kit27b_release_whose_answer_was_lost_reports_the_providers_error_and_frees_the_lease(
    vault: VaultStandIn,
    open_vault: Callable[..., CredentialManager],
    make_credential: Callable[..., ProductCredential],
    then_sealed: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The lease release after a failed provider call lands but its answer is cut. The provider's own error (what the
    operator must see) used to be replaced by the store's (``BackendUnavailableError`` when the re-sends met a sealed
    Vault). Now the release is recognised by its seal, the provider's error is raised, and the next run refreshes at
    once without a stale-lease warning."""
    open_vault().store(make_credential("sf-prod"))
    manager = open_vault()

    def provider(current: ProductCredential) -> dict[str, str]:
        vault.lose_answer_next("POST", DATA_PATH, then_sealed=then_sealed)  # the next KV write: the release
        raise ConnectionError("token endpoint unreachable")

    with pytest.raises(ConnectionError, match="token endpoint unreachable"):
        manager.refresh_token("sf-prod", provider)
    after = open_vault().get("sf-prod")
    assert not after.refresh_interrupted
    assert after.credentials["refresh_token"] == "rt-0001-initial"
    assert after.version == 3  # lease, release
    with caplog.at_level(logging.WARNING):
        again = open_vault().refresh_token("sf-prod", lambda c: {"refresh_token": "rt-0002"})
    assert again.credentials["refresh_token"] == "rt-0002"
    assert "refresh lease" not in caplog.text


def test_kit27b_release_that_cannot_be_sealed_still_reports_the_providers_error(
    vault: VaultStandIn,
    open_vault: Callable[..., CredentialManager],
    make_credential: Callable[..., ProductCredential],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Vault is sealed when the lease is to be released after a failed provider call (its transit encrypt answers 503
    three times): the store's ``BackendUnavailableError`` used to replace the provider's error. Now the provider's
    error is raised and the unreleased lease is said, with what the next run will do."""
    open_vault().store(make_credential("sf-prod"))
    manager = open_vault()

    def provider(current: ProductCredential) -> dict[str, str]:
        vault.fail_next(503, "Vault is sealed", times=3)  # the release's transit encrypt, every attempt
        raise ConnectionError("token endpoint unreachable")

    with caplog.at_level(logging.WARNING), pytest.raises(ConnectionError, match="token endpoint unreachable"):
        manager.refresh_token("sf-prod", provider)
    assert "could not release the token-refresh lease after the failed refresh" in caplog.text
    assert "waits up to 60 s for it to go stale" in caplog.text
    held = open_vault().get("sf-prod")
    assert held.refresh_interrupted  # honestly left: nothing was written
    assert held.version == 2
