"""Mutual TLS: a client certificate on the session (``cert_file``, ``key_file``, optional ``passphrase``).

An encrypted key is never written decrypted anywhere: its passphrase travels with ``Session.cert``
(``xlr8_kit.http.clientcert.ClientCertificate``) to the connection pool, and OpenSSL decrypts the key in memory at
each handshake (the kit's adapters, ``KeyPasswordAdapter``). A clear copy in TMPDIR stayed behind whenever a run was
SIGKILLed or OOM-killed (audit25d F7); such copies from earlier versions (``xlr8-mtls-*``) are removed here.
The key and certificate are checked to be a pair at construction, so a mismatch names the setting instead of
surfacing as a handshake failure at the vendor.
"""

from __future__ import annotations

import logging
import os
import shutil
import ssl
import tempfile
from pathlib import Path
from types import TracebackType

import requests
from requests.auth import AuthBase

from xlr8_kit.auth.keys import ensure_key_matches_certificate, load_certificate, load_private_key
from xlr8_kit.http.clientcert import ClientCertificate, KeyPasswordAdapter
from xlr8_kit.redaction import Redactor

logger = logging.getLogger("xlr8_kit.auth")

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
        if passphrase:
            _check_openssl_loads(cert_file, key_file, passphrase, key_setting)
            _remove_stale_decrypted_keys()
        self.cert_file = cert_file
        self.key_file = key_file or cert_file
        self._passphrase = passphrase or None

    @property
    def cert(self) -> ClientCertificate:
        """The ``(cert, key)`` pair requests expects in ``Session.cert``, carrying the key's passphrase."""
        return ClientCertificate(self.cert_file, self.key_file, self._passphrase)

    def apply_to(self, session: requests.Session) -> requests.Session:
        session.cert = self.cert
        if self._passphrase and not isinstance(session.get_adapter("https://"), KeyPasswordAdapter):
            session.mount("https://", KeyPasswordAdapter())  # a plain session's adapter would drop the passphrase
        return session

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return r

    def close(self) -> None:
        """Nothing to remove: no file is ever written (kept for callers that close it)."""

    def __enter__(self) -> MutualTLS:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MutualTLS(cert_file={self.cert_file!r})"


def _check_openssl_loads(cert_file: str, key_file: str | None, passphrase: str, key_setting: str) -> None:
    """OpenSSL itself loads the encrypted key at each handshake: fail now, naming the setting, if it cannot."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(cert_file, key_file, password=passphrase)
    except (ssl.SSLError, ValueError, OSError):
        raise ValueError(
            f"{FLOW}: OpenSSL cannot load {key_setting} with the passphrase (unsupported key encryption?)"
        ) from None


def _remove_stale_decrypted_keys() -> None:
    """Clear keys earlier versions decrypted into TMPDIR and a killed run left there (this user's only)."""
    removed = 0
    for folder in Path(tempfile.gettempdir()).glob("xlr8-mtls-*"):
        try:
            if folder.is_dir() and not folder.is_symlink() and folder.stat().st_uid == os.getuid():
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        except OSError:
            continue
    if removed:
        logger.warning(
            "%s: removed %d decrypted client key folder(s) left in %s by earlier runs",
            FLOW,
            removed,
            tempfile.gettempdir(),
        )
