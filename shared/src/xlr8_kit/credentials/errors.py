"""Credential errors: each names the credential id (and key id where one applies), never a secret value."""

from __future__ import annotations


class CredentialError(Exception):
    """Base of every credential-store refusal; the CLI maps it to a non-zero exit with this message."""


class CredentialValidationError(CredentialError, ValueError):
    """A field of a credential (or a CLI/config setting) is missing or malformed."""


class CredentialNotFoundError(CredentialError, KeyError):
    def __init__(self, credential_id: str, store: str = "") -> None:
        where = f" in store {store}" if store else ""
        super().__init__(f"credential {credential_id!r} not found{where}")
        self.credential_id = credential_id

    def __str__(self) -> str:  # KeyError would quote the message again
        return str(self.args[0])


class CredentialAlreadyExistsError(CredentialError):
    pass


class CredentialUnusableError(CredentialError):
    """The credential exists but is revoked or expired: it must not be used for a run."""

    def __init__(self, credential_id: str, status: str) -> None:
        super().__init__(f"credential {credential_id!r} is {status}; add a new credential or re-authorise")
        self.credential_id = credential_id
        self.status = status


class CredentialUndecryptableError(CredentialError):
    """Tampered, truncated or swapped blob, wrong or missing key, unknown key id or format version."""

    def __init__(self, credential_id: str, kid: str | None, reason: str) -> None:
        super().__init__(f"credential {credential_id!r} undecryptable (kid={kid or '?'}): {reason}")
        self.credential_id = credential_id
        self.kid = kid
        self.reason = reason


class KeyringError(CredentialError):
    """The encryption key is missing, malformed, the wrong length or stored with loose file permissions."""


class KeyUsageExceededError(CredentialError):
    """A key reached the AES-GCM random-nonce limit (2^32 encryptions); rotate before writing again."""


class CredentialConflictError(CredentialError):
    """A compare-and-swap lost: someone else updated the credential first. Re-read and use theirs."""

    def __init__(self, credential_id: str, expected_version: int, actual_version: int | None) -> None:
        super().__init__(
            f"credential {credential_id!r} changed concurrently (expected version {expected_version}, "
            f"store has {actual_version}); re-read it"
        )
        self.credential_id = credential_id
        self.expected_version = expected_version
        self.actual_version = actual_version


class BackendUnavailableError(CredentialError):
    """The secrets backend is unreachable, throttled or refused access; no fallback is attempted."""


class CredentialTamperedError(CredentialError):
    """A credential's metadata (status, version, field set, ...) does not match its authenticated seal."""


class LeaseWaitEndedError(CredentialError):
    """A run ended by a signal while it waited on another run's token-refresh lease: it stops waiting at once (it
    holds no lease and spent nothing, so nothing is released or saved) instead of holding the exit for the lease."""
