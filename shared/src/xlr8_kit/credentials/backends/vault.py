"""HashiCorp Vault backend: KV v2 holds each credential (check-and-set on its version), transit encrypts the
secret fields with a derived key whose context binds project, credential and field (a blob moved to another row
fails to decrypt). Key rotation is Vault's ``transit/keys/<name>/rotate`` followed by ``xlr8-credentials rotate-key``
(transit ``rewrap``); ``min_decryption_version`` retires old versions.

Store URL: ``vault://host:8200/<kv mount>/<prefix>?transit_key=xlr8-credentials&transit_mount=transit``; the token
comes from ``VAULT_TOKEN``, a CA bundle from ``VAULT_CACERT``. ``scheme=http`` is accepted for loopback hosts only.
Unreachable, throttled or denying Vault fails fast (bounded attempts) with a non-secret error: no fallback.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import hvac
import hvac.exceptions as hvac_errors
import requests

from xlr8_kit.credentials.backends import SealedCredential
from xlr8_kit.credentials.crypto import AadContext
from xlr8_kit.credentials.errors import (
    BackendUnavailableError,
    CredentialAlreadyExistsError,
    CredentialConflictError,
    CredentialUndecryptableError,
    CredentialValidationError,
)
from xlr8_kit.credentials.manager import CredentialManager

T = TypeVar("T")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CAS_MISMATCH = "check-and-set parameter did not match"
TRANSIENT = (
    hvac_errors.VaultDown,
    hvac_errors.InternalServerError,
    hvac_errors.BadGateway,
    hvac_errors.RateLimitExceeded,
    requests.ConnectionError,
    requests.Timeout,
)
_CIPHERTEXT = re.compile(r"^vault:v(\d+):")


class VaultCaller:
    """Every Vault call goes through here: bounded attempts on transient failures, clear non-secret errors."""

    def __init__(
        self, url: str, *, max_attempts: int = 3, backoff: float = 0.2, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.url = url
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.sleep = sleep

    def __call__(self, what: str, fn: Callable[[], T]) -> T:
        for attempt in range(1, self.max_attempts + 1):
            try:
                return fn()
            except (hvac_errors.Forbidden, hvac_errors.Unauthorized) as exc:
                raise BackendUnavailableError(
                    f"vault at {self.url} denied {what} ({type(exc).__name__}): check VAULT_TOKEN and its policy"
                ) from None
            except TRANSIENT as exc:
                if attempt == self.max_attempts:
                    raise BackendUnavailableError(
                        f"vault at {self.url} unavailable for {what} after {attempt} attempts ({type(exc).__name__})"
                    ) from None
                self.sleep(self.backoff * 2 ** (attempt - 1))
            except (hvac_errors.InvalidPath, hvac_errors.InvalidRequest):
                raise  # the caller knows what a missing path or a rejected request means for it
            except hvac_errors.VaultError as exc:
                raise BackendUnavailableError(
                    f"vault at {self.url} failed {what} ({type(exc).__name__}: {_first_error(exc)})"
                ) from None
        raise AssertionError("unreachable")  # the loop returns or raises


class VaultTransitCipher:
    def __init__(self, client: hvac.Client, key_name: str, *, mount: str, call: VaultCaller) -> None:
        self._client = client
        self.key_name = key_name
        self.mount = mount
        self._call = call

    @property
    def primary_kid(self) -> str:
        try:
            key = self._call(
                f"reading transit key {self.key_name}",
                lambda: self._client.secrets.transit.read_key(self.key_name, mount_point=self.mount),
            )
        except (hvac_errors.InvalidPath, hvac_errors.InvalidRequest):
            raise self._missing_key() from None
        return f"v{key['data']['latest_version']}"

    def encrypt(self, plaintext: str, context: AadContext) -> str:
        def call() -> Any:
            return self._client.secrets.transit.encrypt_data(
                self.key_name,
                plaintext=_b64(plaintext.encode()),
                context=_b64(context.encode()),
                mount_point=self.mount,
            )

        try:
            result = self._call(f"encrypting {context.credential_id}", call)
        except (hvac_errors.InvalidPath, hvac_errors.InvalidRequest):
            raise self._missing_key() from None
        return str(result["data"]["ciphertext"])

    def _missing_key(self) -> CredentialValidationError:
        return CredentialValidationError(
            f"vault transit key {self.key_name!r} (mount {self.mount!r}) is missing or unusable; create it with "
            f"`vault write {self.mount}/keys/{self.key_name} derived=true`"
        )

    def decrypt(self, blob: str, context: AadContext) -> str:
        kid = self.kid_of(blob, context)

        def call() -> Any:
            return self._client.secrets.transit.decrypt_data(
                self.key_name, ciphertext=blob, context=_b64(context.encode()), mount_point=self.mount
            )

        try:
            result = self._call(f"decrypting {context.credential_id}", call)
        except hvac_errors.InvalidRequest as exc:
            raise CredentialUndecryptableError(
                context.credential_id, kid, f"field {context.field!r}: vault transit refused ({_first_error(exc)})"
            ) from None
        return base64.b64decode(result["data"]["plaintext"]).decode()

    def kid_of(self, blob: str, context: AadContext) -> str:
        match = _CIPHERTEXT.match(blob)
        if not match:
            raise CredentialUndecryptableError(
                context.credential_id, None, f"field {context.field!r} is not a vault transit ciphertext"
            )
        return f"v{match.group(1)}"

    def rewrap(self, blob: str, context: AadContext) -> str:
        kid = self.kid_of(blob, context)

        def call() -> Any:
            return self._client.secrets.transit.rewrap_data(
                self.key_name, ciphertext=blob, context=_b64(context.encode()), mount_point=self.mount
            )

        try:
            result = self._call(f"rewrapping {context.credential_id}", call)
        except hvac_errors.InvalidRequest as exc:
            raise CredentialUndecryptableError(
                context.credential_id, kid, f"field {context.field!r}: vault transit refused ({_first_error(exc)})"
            ) from None
        return str(result["data"]["ciphertext"])

    def take_encryption_counts(self) -> dict[str, int]:
        """Vault tracks its own key usage (configure ``auto_rotate_period`` on the transit key)."""
        return {}


class VaultCredentialStore:
    """One KV v2 secret per credential; the KV version is the credential's compare-and-swap version."""

    def __init__(self, client: hvac.Client, *, mount: str, prefix: str, call: VaultCaller) -> None:
        self._client = client
        self._kv = client.secrets.kv.v2
        self.mount = mount
        self.prefix = prefix.strip("/")
        self._call = call
        self.location = f"{call.url}/{mount}/{self.prefix}"

    def _path(self, credential_id: str) -> str:
        return f"{self.prefix}/{credential_id}"

    def insert(self, sealed: SealedCredential, *, encryptions: Mapping[str, int]) -> None:
        del encryptions  # Vault counts transit usage itself
        try:
            self._write(sealed, cas=0)
        except CredentialConflictError:
            raise CredentialAlreadyExistsError(
                f"credential {sealed.credential_id!r} already exists in {self.location}; revoke it or pick another id"
            ) from None

    def swap(self, sealed: SealedCredential, *, expected_version: int, encryptions: Mapping[str, int]) -> None:
        del encryptions
        self._write(sealed, cas=expected_version)

    def _write(self, sealed: SealedCredential, *, cas: int) -> None:
        document = {
            "schema": 1,
            "credential_id": sealed.credential_id,
            "project_id": sealed.project_id,
            "product_id": sealed.product_id,
            "auth_type": sealed.auth_type,
            "instance_url": sealed.instance_url,
            "created_at": sealed.created_at.isoformat(),
            "expires_at": _iso(sealed.expires_at),
            "status": sealed.status,
            "refresh_started_at": _iso(sealed.refresh_started_at),
            "blobs": dict(sealed.blobs),
        }
        path = self._path(sealed.credential_id)
        try:
            self._call(
                f"writing {path}",
                lambda: self._kv.create_or_update_secret(path, secret=document, cas=cas, mount_point=self.mount),
            )
        except hvac_errors.InvalidRequest as exc:
            if CAS_MISMATCH in str(exc):
                current = self._current_version(sealed.credential_id)
                raise CredentialConflictError(sealed.credential_id, cas, current) from None
            raise BackendUnavailableError(
                f"vault at {self._call.url} rejected writing {path}: {_first_error(exc)}"
            ) from None

    def _current_version(self, credential_id: str) -> int | None:
        try:
            meta = self._call(
                "reading metadata",
                lambda: self._kv.read_secret_metadata(self._path(credential_id), mount_point=self.mount),
            )
        except hvac_errors.InvalidPath:
            return None
        return int(meta["data"]["current_version"])

    def load(self, credential_id: str) -> SealedCredential | None:
        path = self._path(credential_id)
        try:
            response = self._call(
                f"reading {path}",
                lambda: self._kv.read_secret_version(path, mount_point=self.mount, raise_on_deleted_version=True),
            )
        except hvac_errors.InvalidPath:
            return None
        data = response["data"]["data"]
        meta = response["data"]["metadata"]
        custom = meta.get("custom_metadata") or {}
        return SealedCredential(
            credential_id=data["credential_id"],
            project_id=data["project_id"],
            product_id=data["product_id"],
            auth_type=data["auth_type"],
            instance_url=data.get("instance_url"),
            created_at=datetime.fromisoformat(data["created_at"]),
            expires_at=_dt(data.get("expires_at")),
            last_used=_dt(custom.get("last_used")),
            status=data["status"],
            version=int(meta["version"]),
            refresh_started_at=_dt(data.get("refresh_started_at")),
            blobs=dict(data["blobs"]),
        )

    def list(self, project_id: str | None = None) -> list[SealedCredential]:
        try:
            listing = self._call(
                f"listing {self.prefix}", lambda: self._kv.list_secrets(self.prefix, mount_point=self.mount)
            )
        except hvac_errors.InvalidPath:
            return []
        found = []
        for key in sorted(listing["data"]["keys"]):
            if key.endswith("/"):
                continue
            sealed = self.load(key)
            if sealed is not None and (project_id is None or sealed.project_id == project_id):
                found.append(sealed)
        return found

    def touch(self, credential_id: str, last_used: datetime) -> None:
        """Custom metadata, not a new KV version: bookkeeping must not make a refresh lose its CAS."""
        path = self._path(credential_id)
        self._call(
            f"updating metadata of {path}",
            lambda: self._kv.update_metadata(
                path, custom_metadata={"last_used": last_used.isoformat()}, mount_point=self.mount
            ),
        )

    def key_usage(self) -> dict[str, int]:
        return {}

    def close(self) -> None:
        self._client.adapter.close()


def open_vault_manager(
    url: str, *, environ: Mapping[str, str], sleep: Callable[[float], None] = time.sleep
) -> CredentialManager:
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    segments = [s for s in parts.path.split("/") if s]
    if not parts.hostname or len(segments) < 2:
        raise CredentialValidationError(
            f"credential_store {url!r}: expected vault://host:port/<kv mount>/<prefix>[?transit_key=...]"
        )
    scheme = query.get("scheme", "https")
    if scheme not in ("https", "http") or (scheme == "http" and parts.hostname not in LOOPBACK):
        raise CredentialValidationError(
            f"credential_store {url!r}: scheme=http is only allowed for loopback hosts; use https"
        )
    token = environ.get("VAULT_TOKEN")
    if not token:
        raise CredentialValidationError(f"credential_store {url!r}: set VAULT_TOKEN to a token allowed to use it")
    base = f"{scheme}://{parts.netloc}"
    client = hvac.Client(url=base, token=token, verify=environ.get("VAULT_CACERT") or True, timeout=10)
    call = VaultCaller(base, sleep=sleep)
    store = VaultCredentialStore(client, mount=segments[0], prefix="/".join(segments[1:]), call=call)
    cipher = VaultTransitCipher(
        client, query.get("transit_key", "xlr8-credentials"), mount=query.get("transit_mount", "transit"), call=call
    )
    return CredentialManager(store, cipher)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _first_error(exc: hvac_errors.VaultError) -> str:
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list) and errors:
        return str(errors[0])
    return type(exc).__name__


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
