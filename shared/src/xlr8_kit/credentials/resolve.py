"""Resolve a tap's config: when ``credential_id`` is set, merge the credential's secrets in at run time.

This is how no plaintext secret passes through Meltano's generated config files: meltano.yml carries only
``credential_id`` (and optionally ``credential_store``); the tap process reads the encrypted store itself.
Store locations: a SQLite path (default ``.xlr8/credentials.db``), ``vault://host:port/<kv mount>/<prefix>`` or
``aws-sm://<region>/<prefix>``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from xlr8_kit.credentials.crypto import EnvelopeCipher, Keyring
from xlr8_kit.credentials.errors import CredentialConflictError, CredentialValidationError
from xlr8_kit.credentials.manager import CredentialManager
from xlr8_kit.credentials.model import CredentialStatus, ProductCredential
from xlr8_kit.credentials.store import DEFAULT_STORE_PATH, SQLiteCredentialStore
from xlr8_kit.redaction import Redactor

log = logging.getLogger(__name__)
T = TypeVar("T")

STORE_ENV = "XLR8_CREDENTIALS_STORE"


def default_store_location(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get(STORE_ENV) or str(DEFAULT_STORE_PATH)


def open_manager(
    location: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    key_file: str | None = None,
    create: bool = True,
) -> CredentialManager:
    """The manager for a store location; the key is read only when first needed. ``create=False`` refuses a
    missing SQLite file (a run must not silently start from an empty store)."""
    env = dict(os.environ if environ is None else environ)
    where = location or default_store_location(env)
    scheme = urlsplit(where).scheme
    if scheme == "vault":
        from xlr8_kit.credentials.backends.vault import open_vault_manager

        return open_vault_manager(where, environ=env)
    if scheme == "aws-sm":
        from xlr8_kit.credentials.backends.aws import open_aws_manager

        return open_aws_manager(where, environ=env)
    if scheme and len(scheme) > 1:
        raise CredentialValidationError(
            f"credential_store {where!r}: unknown scheme {scheme!r} (use a file path, vault:// or aws-sm://)"
        )
    return CredentialManager(
        SQLiteCredentialStore(where, create=create),
        lambda: EnvelopeCipher(Keyring.from_environment(env, key_file=key_file)),
    )


def resolve_config(config: dict[str, Any], *, product_id: str) -> dict[str, Any]:
    """Return the config with the credential's secret fields (and instance_url, if unset) merged in.

    Fails with a ``CredentialError`` (``xlr8_kit.credentials.errors``) naming the credential id when it is
    missing, revoked, expired, for another product, or undecryptable.
    Every merged secret is registered with the process ``Redactor`` first.
    """
    credential_id = config.get("credential_id")
    if not credential_id:
        return dict(config)
    manager = open_manager(config.get("credential_store"), create=False)
    try:
        credential = manager.get_for_run(str(credential_id))
    finally:
        manager.close()
    if product_id and not same_product(credential.product_id, product_id):
        raise CredentialValidationError(
            f"credential {credential_id!r} belongs to product {credential.product_id!r}, not {product_id!r}"
        )
    redactor = Redactor.default()
    for value in credential.credentials.values():
        redactor.add(value)
    merged = merge_secret_fields(config, credential.credentials)
    if credential.instance_url and not merged.get("instance_url"):
        merged["instance_url"] = credential.instance_url
    return merged


def same_product(a: str, b: str) -> bool:
    """Two product ids or aliases (``sap_sf``, ``successfactors``, ``tap-sap-successfactors``) for one product."""
    return canonical_product(a) == canonical_product(b)


def canonical_product(name: str) -> str:
    """The vocabulary's id of a product id or alias; a name it does not know, as it is."""
    from xlr8_kit.vocabulary import UnknownProductError, resolve_product

    try:
        return resolve_product(name).id
    except UnknownProductError:
        return name


def chosen_credentials(
    rows: Iterable[Mapping[str, object]], *, by_project: bool = True
) -> dict[tuple[str, str], Mapping[str, object]]:
    """(project, canonical product) -> the credential a run for them uses, from ``CredentialManager.describe`` rows
    (never decrypted): the newest active one (revoked and expired ones never; the credential id breaks a tie).
    ``by_project=False`` chooses per product over every row given (project "": one project under two names). The
    one chooser the orchestrator's jobs and the gatherer share, so a project holding two credentials for one
    product is read with the same one by both (audit25e F18: the gatherer took the first by id, by stored status,
    and the orchestrator knew no product alias)."""
    chosen: dict[tuple[str, str], Mapping[str, object]] = {}
    for row in rows:
        if row["status"] != CredentialStatus.ACTIVE.value:  # effective status: expires_at counts
            continue
        key = (str(row["project_id"]) if by_project else "", canonical_product(str(row["product_id"])))
        previous = chosen.get(key)
        order = (str(row["created_at"]), str(row["credential_id"]))
        if previous is None or order > (str(previous["created_at"]), str(previous["credential_id"])):
            chosen[key] = row
    return chosen


def merge_secret_fields(config: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, Any]:
    """Field names are setting paths: ``client_secret`` is top level, ``auth.client_secret`` goes into the
    ``auth`` object (created if absent). Nested objects are copied, never mutated in the caller's config."""
    merged: dict[str, Any] = dict(config)
    for name, value in fields.items():
        *parents, leaf = name.split(".")
        target = merged
        for i, part in enumerate(parents):
            child = target.get(part)
            if child is not None and not isinstance(child, dict):
                raise CredentialValidationError(
                    f"credential field {name!r}: setting {'.'.join(parents[: i + 1])!r} is not an object"
                )
            target[part] = dict(child or {})
            target = target[part]
        if target.get(leaf) not in (None, ""):
            log.info("credential field %s overrides a plain setting", name)
        target[leaf] = value
    return merged


class SecretPersister:
    """One run's view of its credential row: persists rotated secrets with compare-and-swap against the version it
    last saw, and re-reads the row (adopting its version) when another run of the same credential rotated first.

    Calling it as ``persist(field, value)`` saves; ``reload(field)`` returns the stored value. A run that adopted
    another run's rotation through ``reload`` can then persist its own next rotation (RELIABILITY B6 across runs).
    """

    def __init__(
        self,
        credential_id: str,
        location: str | None,
        *,
        open_store: Callable[[], CredentialManager] | None = None,
    ) -> None:
        self.credential_id = credential_id
        self.location = location
        self._lock = threading.Lock()
        #: A fresh manager of the store per call (the store's own, or one with a test's clock and lease timing).
        self._open = open_store or (lambda: open_manager(location, create=False))
        manager = self._open()
        try:
            self.expected_version = manager.get(credential_id).version
        finally:
            manager.close()

    def __call__(self, field_name: str, value: str) -> None:
        Redactor.default().add(value)
        with self._lock:
            writer = self._open()
            try:
                updated = writer.update_secret(
                    self.credential_id, {field_name: value}, expected_version=self.expected_version
                )
            finally:
                writer.close()
            self.expected_version = updated.version

    def reload(self, field_name: str) -> str | None:
        """The stored value of ``field_name`` now; later saves compare against the version it was read at, so the
        caller must use this value (not the one it held) from here on."""
        with self._lock:
            reader = self._open()
            try:
                current = reader.get(self.credential_id)
            finally:
                reader.close()
            value = current.credentials.get(field_name)
            if value:
                Redactor.default().add(value)
            self.expected_version = current.version
            return value

    def leased_refresh(self, field_name: str, spend: Callable[[str], tuple[T, str | None]]) -> T:
        """Spend the stored ``field_name`` (a single-use refresh token) under the store's lease
        (``CredentialManager.refresh_token``): ``spend(stored)`` sends it and returns its result and the rotated
        value, persisted before this returns. Another run of the credential refreshing at the same time holds the
        lease; this one waits for it to persist and then spends the token it stored, instead of presenting the
        spent one and being told to re-authorise (audit25d F12)."""
        outcome: list[T] = []

        def refresher(current: ProductCredential) -> dict[str, str]:
            stored = current.credentials.get(field_name) or ""
            Redactor.default().add(stored)
            result, rotated = spend(stored)
            outcome.append(result)
            return {field_name: rotated} if rotated and rotated != stored else {}

        for _ in range(3):  # a run that waited on another's lease refreshes next, with what that run stored
            with self._lock:
                manager = self._open()
                try:
                    updated = manager.refresh_token(self.credential_id, refresher)
                finally:
                    manager.close()
                self.expected_version = updated.version
            if outcome:
                return outcome[0]
        raise CredentialConflictError(self.credential_id, self.expected_version, self.expected_version)


def secret_persister(config: Mapping[str, Any]) -> SecretPersister | None:
    """For an authenticator's ``on_rotate(field, value)``: persist a rotated secret (CAS) before it is relied on.

    None when the config has no ``credential_id`` (plain settings: nothing to persist to). Create it when the run
    starts: it remembers the credential version it saw and raises ``CredentialConflictError`` if another worker
    rotated the credential in between, unless the run first adopted that rotation with ``reload``.
    """
    credential_id = config.get("credential_id")
    if not credential_id:
        return None
    return SecretPersister(str(credential_id), config.get("credential_store"))
