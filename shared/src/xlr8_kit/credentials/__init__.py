"""Credential management: encrypted product credentials that taps resolve at run time.

- ``ProductCredential`` (model.py): identity, auth type, secret fields, lifecycle status.
- ``CredentialManager`` (manager.py): store, get, list_by_project, update_secret (compare-and-swap),
  refresh_token (lease + CAS, exactly one winner), revoke, rotate_key, last_used bookkeeping.
- Backends: SQLite (store.py, default ``.xlr8/credentials.db``, AES-256-GCM envelope from crypto.py),
  HashiCorp Vault (backends/vault.py: KV v2 + transit), AWS Secrets Manager (backends/aws.py).
- ``resolve_config`` / ``secret_persister`` (resolve.py): what ``KitTap`` and the authenticators call.
- CLI ``xlr8-credentials`` (cli.py).
"""

from xlr8_kit.credentials.errors import (
    BackendUnavailableError,
    CredentialConflictError,
    CredentialError,
    CredentialNotFoundError,
    CredentialUndecryptableError,
    CredentialUnusableError,
    CredentialValidationError,
    KeyringError,
)
from xlr8_kit.credentials.manager import CredentialManager, ResealReport, RotationReport
from xlr8_kit.credentials.model import AuthType, CredentialStatus, ProductCredential
from xlr8_kit.credentials.resolve import open_manager, resolve_config, secret_persister

__all__ = [
    "AuthType",
    "BackendUnavailableError",
    "CredentialConflictError",
    "CredentialError",
    "CredentialManager",
    "CredentialNotFoundError",
    "CredentialStatus",
    "CredentialUndecryptableError",
    "CredentialUnusableError",
    "CredentialValidationError",
    "KeyringError",
    "ProductCredential",
    "ResealReport",
    "RotationReport",
    "open_manager",
    "resolve_config",
    "secret_persister",
]
