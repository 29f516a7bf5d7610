"""A seeded, encrypted credential store for tests that run taps by ``credential_id`` (B5/B6 rotation tests)."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import TYPE_CHECKING

from xlr8_kit.credentials.crypto import EnvelopeCipher, Keyring
from xlr8_kit.credentials.manager import CredentialManager
from xlr8_kit.credentials.model import ProductCredential
from xlr8_kit.credentials.store import SQLiteCredentialStore

if TYPE_CHECKING:
    import pytest


def seeded_credential_store(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, *credentials: ProductCredential
) -> CredentialManager:
    """A fresh random key in ``XLR8_CREDENTIALS_KEY`` (where a tap run reads it) and a SQLite store at ``db_path``
    holding ``credentials``; the caller closes the returned manager."""
    key = f"k1:{base64.b64encode(os.urandom(32)).decode()}"
    monkeypatch.setenv("XLR8_CREDENTIALS_KEY", key)
    monkeypatch.delenv("XLR8_CREDENTIALS_KEY_FILE", raising=False)
    manager = CredentialManager(SQLiteCredentialStore(db_path), EnvelopeCipher(Keyring.parse(key, source="test")))
    for credential in credentials:
        manager.store(credential)
    return manager
