"""Mutual TLS: a client certificate on the session (``cert_file``, ``key_file``, optional ``passphrase``).

requests can only load a client key from a file and cannot pass a passphrase, so an encrypted key is decrypted
into a private temporary directory (0700) as a 0600 file that lives exactly as long as this object: ``close()``,
the context manager exit, garbage collection or interpreter exit remove it. Unencrypted keys are used in place.
The key and certificate are checked to be a pair at construction, so a mismatch names the setting instead of
surfacing as a handshake failure at the vendor.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from pathlib import Path
from types import TracebackType

import requests
from requests.auth import AuthBase

from xlr8_kit.auth.keys import ensure_key_matches_certificate, load_certificate, load_private_key
from xlr8_kit.redaction import Redactor

FLOW = "mutual tls"


def _read(path: str, setting: str) -> bytes:
    if not path:
        raise ValueError(f"{FLOW}: {setting} is required")
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"{FLOW}: {setting} {path!r} does not exist or is not a file")
    try:
        return file.read_bytes()
    except OSError as exc:
        raise ValueError(f"{FLOW}: {setting} {path!r} cannot be read ({exc.strerror})") from None


class MutualTLS(AuthBase):
    """Transport-level credential: ``apply_to(session)`` sets ``session.cert``; as an AuthBase it adds nothing."""

    def __init__(
        self,
        cert_file: str,
        key_file: str | None = None,
        passphrase: str | None = None,
        *,
        redactor: Redactor | None = None,
    ) -> None:
        (redactor if redactor is not None else Redactor.default()).add(passphrase)
        cert_pem = _read(cert_file, "cert_file")
        key_setting = "key_file" if key_file else "cert_file"
        key_pem = _read(key_file, "key_file") if key_file else cert_pem
        cert = load_certificate(cert_pem, setting="cert_file", flow=FLOW)
        key = load_private_key(key_pem, passphrase, setting=key_setting, flow=FLOW)
        ensure_key_matches_certificate(key, cert, key_setting=key_setting, cert_setting="cert_file", flow=FLOW)
        self.cert_file = cert_file
        self._private_dir: str | None = None
        if passphrase:
            from cryptography.hazmat.primitives import serialization  # only for a key that must be decrypted

            self._private_dir = tempfile.mkdtemp(prefix="xlr8-mtls-")
            os.chmod(self._private_dir, 0o700)
            decrypted = os.path.join(self._private_dir, "client.key")
            fd = os.open(decrypted, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(
                    key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    )
                )
            self.key_file = decrypted
        else:
            self.key_file = key_file or cert_file
        self._finalizer = weakref.finalize(self, _remove_dir, self._private_dir)

    @property
    def cert(self) -> tuple[str, str]:
        """The ``(cert, key)`` pair requests expects in ``Session.cert``."""
        if not self._finalizer.alive and self._private_dir is not None:
            raise ValueError(f"{FLOW}: this client certificate was closed")
        return (self.cert_file, self.key_file)

    def apply_to(self, session: requests.Session) -> requests.Session:
        session.cert = self.cert
        return session

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return r

    def close(self) -> None:
        """Remove the decrypted key file (if any); the session must not open new connections afterwards."""
        self._finalizer()

    def __enter__(self) -> MutualTLS:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MutualTLS(cert_file={self.cert_file!r})"


def _remove_dir(path: str | None) -> None:
    if path:
        shutil.rmtree(path, ignore_errors=True)
