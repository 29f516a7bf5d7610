"""AES-256-GCM envelope for secret fields at rest.

Blob layout (then base64): ``b"X8CE"`` | version (1 byte) | kid length (1 byte) | kid | nonce (12) | ciphertext+tag.
The associated data is the header plus the length-prefixed (project, credential id, field), so a blob copied to
another row, field or tenant fails authentication instead of decrypting (RELIABILITY C2). Every encryption draws a
fresh 96-bit random nonce; encryptions are counted per key id so rotation is asked for long before the 2^32
random-nonce bound of NIST SP 800-38D (C5).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import secrets
import stat
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from xlr8_kit.credentials.errors import CredentialUndecryptableError, KeyringError

log = logging.getLogger(__name__)

MAGIC = b"X8CE"
FORMAT_VERSION = 1
NONCE_BYTES = 12
KEY_BYTES = 32
TAG_BYTES = 16
KEY_ENV = "XLR8_CREDENTIALS_KEY"
KEY_FILE_ENV = "XLR8_CREDENTIALS_KEY_FILE"
KID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
#: Random 96-bit nonces: NIST caps one key at 2^32 encryptions. Warn at 2^30, refuse at the cap.
NONCE_LIMIT = 2**32
WARN_AT = 2**30


@dataclass(frozen=True)
class AadContext:
    """What a ciphertext is bound to: decrypting it under any other context fails."""

    project_id: str
    credential_id: str
    field: str

    def encode(self) -> bytes:
        parts = [p.encode() for p in (self.project_id, self.credential_id, self.field)]
        return b"".join(len(p).to_bytes(2, "big") + p for p in parts)


class Keyring:
    """Key ids to 32-byte keys; the primary (first listed) encrypts, every listed key decrypts."""

    def __init__(self, keys: Mapping[str, bytes], primary: str) -> None:
        if primary not in keys:
            raise KeyringError(f"primary key id {primary!r} is not in the keyring")
        for kid, key in keys.items():
            if not KID_PATTERN.match(kid):
                raise KeyringError(f"key id {kid!r} must be 1-32 letters, digits, '_' or '-'")
            if len(key) != KEY_BYTES:
                raise KeyringError(f"key kid={kid} is {len(key)} bytes; AES-256-GCM needs exactly {KEY_BYTES}")
        self._keys = dict(keys)
        self.primary = primary

    @property
    def kids(self) -> list[str]:
        return list(self._keys)

    def key(self, kid: str) -> bytes | None:
        return self._keys.get(kid)

    @classmethod
    def parse(cls, text: str, *, source: str) -> Keyring:
        """``base64`` (kid ``default``) or ``kid:base64,kid2:base64``; the first entry is the primary."""
        entries = [e.strip() for e in text.strip().split(",") if e.strip()]
        if not entries:
            raise KeyringError(f"{source} is empty; expected base64 of {KEY_BYTES} bytes or 'kid:base64,...'")
        keys: dict[str, bytes] = {}
        for entry in entries:
            kid, sep, material = entry.partition(":")
            if not sep:
                kid, material = "default", entry
            if kid in keys:
                raise KeyringError(f"{source}: key id {kid!r} listed twice")
            try:
                keys[kid] = base64.b64decode(material, validate=True)
            except (binascii.Error, ValueError):
                raise KeyringError(f"{source}: key kid={kid} is not valid base64") from None
        return cls(keys, primary=next(iter(keys)))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Keyring:
        file = Path(path)
        try:
            mode = file.stat().st_mode
        except FileNotFoundError:
            raise KeyringError(f"key file {file} does not exist") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyringError(f"key file {file} is readable by others (mode {stat.S_IMODE(mode):o}); chmod 600 it")
        return cls.parse(file.read_text(encoding="ascii"), source=f"key file {file}")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, key_file: str | None = None) -> Keyring:
        """An explicit key file wins, then ``XLR8_CREDENTIALS_KEY``, then ``XLR8_CREDENTIALS_KEY_FILE``."""
        env = os.environ if environ is None else environ
        if key_file:
            return cls.from_file(key_file)
        if env.get(KEY_ENV):
            return cls.parse(env[KEY_ENV], source=KEY_ENV)
        if env.get(KEY_FILE_ENV):
            return cls.from_file(env[KEY_FILE_ENV])
        raise KeyringError(
            f"no credential encryption key: set {KEY_ENV} (base64 of {KEY_BYTES} random bytes, or "
            f"'kid:base64,...' for rotation) or {KEY_FILE_ENV} (a mode-600 file); see `xlr8-credentials generate-key`"
        )


def new_key_material() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def write_key_file(path: str | os.PathLike[str], kid: str, *, add: bool = False) -> Keyring:
    """Create (or, with ``add``, prepend a new primary to) a mode-600 key file; the key never leaves the file."""
    file = Path(path)
    if not KID_PATTERN.match(kid):
        raise KeyringError(f"key id {kid!r} must be 1-32 letters, digits, '_' or '-'")
    existing = ""
    if file.exists():
        if not add:
            raise KeyringError(f"key file {file} already exists; use --add to add a new primary key to it")
        current = Keyring.from_file(file)
        if kid in current.kids:
            raise KeyringError(f"key id {kid!r} already in key file {file}")
        existing = file.read_text(encoding="ascii").strip()
    text = f"{kid}:{new_key_material()}" + (f",{existing}" if existing else "") + "\n"
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(file.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, file)
    return Keyring.from_file(file)


class EnvelopeCipher:
    """Encrypts under the keyring's primary key and counts encryptions per key id."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self.encryptions: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def primary_kid(self) -> str:
        return self.keyring.primary

    def encrypt(self, plaintext: str, context: AadContext) -> str:
        kid = self.keyring.primary
        key = self.keyring.key(kid)
        if key is None:  # unreachable: the Keyring constructor checks the primary exists
            raise KeyringError(f"primary key id {kid!r} is not in the keyring")
        header = MAGIC + bytes([FORMAT_VERSION, len(kid)]) + kid.encode()
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), header + context.encode())
        with self._lock:
            self.encryptions[kid] += 1
        return base64.b64encode(header + nonce + sealed).decode()

    def decrypt(self, blob: str, context: AadContext) -> str:
        kid, version, header, body = self._parse(blob, context)
        del version
        key = self.keyring.key(kid)
        if key is None:
            raise CredentialUndecryptableError(
                context.credential_id, kid, f"key id not in the keyring (known: {', '.join(self.keyring.kids)})"
            )
        nonce, sealed = body[:NONCE_BYTES], body[NONCE_BYTES:]
        try:
            plain = AESGCM(key).decrypt(nonce, sealed, header + context.encode())
        except InvalidTag:
            raise CredentialUndecryptableError(
                context.credential_id,
                kid,
                f"field {context.field!r} failed authentication (tampered, copied from another row, or wrong key)",
            ) from None
        return plain.decode()

    def kid_of(self, blob: str, context: AadContext) -> str:
        return self._parse(blob, context)[0]

    @staticmethod
    def _parse(blob: str, context: AadContext) -> tuple[str, int, bytes, bytes]:
        cid = context.credential_id
        try:
            raw = base64.b64decode(blob, validate=True)
        except (binascii.Error, ValueError):
            raise CredentialUndecryptableError(cid, None, f"field {context.field!r} is not base64") from None
        if raw[:4] != MAGIC or len(raw) < 6:
            raise CredentialUndecryptableError(cid, None, f"field {context.field!r} is not an xlr8 envelope")
        version, kid_len = raw[4], raw[5]
        if version != FORMAT_VERSION:
            raise CredentialUndecryptableError(
                cid, None, f"unsupported envelope format version {version} (this build reads {FORMAT_VERSION})"
            )
        header_end = 6 + kid_len
        try:
            kid = raw[6:header_end].decode("ascii")
        except UnicodeDecodeError:
            kid = ""
        if kid_len == 0 or len(raw) < header_end or not KID_PATTERN.match(kid):
            raise CredentialUndecryptableError(cid, None, f"field {context.field!r} has a malformed key id")
        if len(raw) < header_end + NONCE_BYTES + TAG_BYTES:
            raise CredentialUndecryptableError(cid, kid, f"field {context.field!r} is truncated")
        return kid, version, raw[:header_end], raw[header_end:]

    def rewrap(self, blob: str, context: AadContext) -> str:
        """Re-encrypt under the primary key (key rotation); the plaintext lives only in this frame."""
        return self.encrypt(self.decrypt(blob, context), context)

    def take_encryption_counts(self) -> dict[str, int]:
        """Counts since the last call, for the store to add to its persistent per-key totals."""
        with self._lock:
            counts = dict(self.encryptions)
            self.encryptions.clear()
        return counts
