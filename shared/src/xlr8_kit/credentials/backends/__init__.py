"""What a credential store backend and a cipher must provide, so the manager works over SQLite, Vault or AWS.

Backends hold ``SealedCredential`` rows: metadata in the clear, secret fields only as ciphertext blobs produced by a
``Cipher`` (the local AES-256-GCM envelope, or Vault transit).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from xlr8_kit.credentials.crypto import AadContext


@dataclass(frozen=True)
class SealedCredential:
    credential_id: str
    project_id: str
    product_id: str
    auth_type: str
    instance_url: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used: datetime | None
    status: str
    version: int
    refresh_started_at: datetime | None
    blobs: dict[str, str] = field(repr=False)

    def context(self, field_name: str) -> AadContext:
        return AadContext(self.project_id, self.credential_id, field_name)


class Cipher(Protocol):
    @property
    def primary_kid(self) -> str: ...

    def encrypt(self, plaintext: str, context: AadContext) -> str: ...

    def decrypt(self, blob: str, context: AadContext) -> str: ...

    def kid_of(self, blob: str, context: AadContext) -> str: ...

    def rewrap(self, blob: str, context: AadContext) -> str: ...

    def take_encryption_counts(self) -> dict[str, int]: ...


class CredentialBackend(Protocol):
    #: Where the credentials live, for error messages (never contains a secret).
    location: str

    def insert(self, sealed: SealedCredential, *, encryptions: Mapping[str, int]) -> None: ...

    def load(self, credential_id: str) -> SealedCredential | None: ...

    def list(self, project_id: str | None = None) -> list[SealedCredential]: ...

    def swap(self, sealed: SealedCredential, *, expected_version: int, encryptions: Mapping[str, int]) -> None:
        """Replace the row iff its version is still ``expected_version``; else raise ``CredentialConflictError``."""
        ...

    def touch(self, credential_id: str, last_used: datetime) -> None: ...

    def key_usage(self) -> dict[str, int]: ...

    def close(self) -> None: ...
