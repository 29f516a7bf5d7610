"""The engine's field cipher: AES-256-GCM, 96-bit random nonce, ``ENC256:`` + base64(nonce + ciphertext + tag).

No associated data, exactly as the engine's ``FieldEncryptor`` writes and reads it, so the engine decrypts what the
target lands. Keyed hashing (for join keys a policy wants comparable but unreadable) uses HMAC-SHA256 under a key
derived from the same engine key, so one key file serves both and a hash is stable across runs.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import typing as t
from functools import cached_property
from pathlib import Path

if t.TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENC_PREFIX = "ENC256:"
HASH_PREFIX = "HMAC256:"
_NONCE_BYTES = 12
_NONCES_PER_DRAW = 1024
_KEY_BYTES = 32
_HASH_LABEL = b"xlr8-pii-hash-v1"


class PrivacyKeyError(ValueError):
    """The PII key is missing, unreadable or not 32 bytes; the message names the setting, never the key."""


def _decode_key(raw: bytes, source: str) -> bytes:
    """32 raw bytes, or the same as base64 or hex text (how key files are usually written)."""
    if len(raw) == _KEY_BYTES:
        return raw
    text = raw.strip()
    for decode in (base64.b64decode, base64.urlsafe_b64decode, binascii.unhexlify):
        try:
            key = decode(text)
        except (binascii.Error, ValueError):
            continue
        if len(key) == _KEY_BYTES:
            return key
    raise PrivacyKeyError(f"{source}: expected a 32-byte AES-256 key (raw, base64 or hex), got {len(raw)} bytes")


def load_key(*, key_file: str | None = None, key_value: str | None = None, setting: str = "pii_key_file") -> bytes:
    """The engine key from a file (the engine's default is ``/data/.encryption_key_v2``) or a resolved secret."""
    if key_value:
        return _decode_key(key_value.encode(), f"setting {setting!r}")
    if not key_file:
        raise PrivacyKeyError(f"setting {setting!r} is not set")
    path = Path(key_file).expanduser()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PrivacyKeyError(f"setting {setting!r}: cannot read key file {path}: {exc.strerror}") from None
    return _decode_key(raw, f"setting {setting!r} ({path})")


def generate_key_file(path: str | Path) -> Path:
    """A new random key, written 0600 as base64 text (the sandbox demo makes its own).

    The key is written to a private temporary file and then hard-linked into place, so the key file appears whole
    or not at all: a reader never sees it empty or half written. Raises ``FileExistsError`` when it already exists.
    """
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(base64.b64encode(os.urandom(_KEY_BYTES)) + b"\n")
            out.flush()
            os.fsync(out.fileno())
        os.link(scratch, target)  # atomic, and fails rather than replace a key another process wrote
    finally:
        scratch.unlink(missing_ok=True)
    return target


def ensure_key_file(path: str | Path) -> Path:
    """The key file at ``path``, made first when missing; safe when several processes start at once.

    Whoever links first wins and every other process reads that same key, so concurrent first runs never end up
    with two keys or read a file still being written.
    """
    target = Path(path).expanduser()
    if not target.exists():
        with contextlib.suppress(FileExistsError):  # another process linked first: use its key
            generate_key_file(target)
    return target


class _Nonces:
    """Fresh random 96-bit nonces drawn from the OS ``_NONCES_PER_DRAW`` at a time: one ``getrandom`` call instead of
    one per value (a third of an encryption's CPU). Each nonce is handed out once: ``list.pop`` is atomic, so threads
    encrypting at once (DuckDB calls the target's protector from its own threads) never get the same one; a forked
    child starts with none, so parent and child never draw from the same bytes."""

    def __init__(self) -> None:
        self._pool: list[bytes] = []

    def take(self) -> bytes:
        try:
            return self._pool.pop()
        except IndexError:
            block = os.urandom(_NONCE_BYTES * _NONCES_PER_DRAW)
            self._pool = [block[i : i + _NONCE_BYTES] for i in range(0, len(block), _NONCE_BYTES)]
            return self._pool.pop()

    def forget(self) -> None:
        self._pool = []


_NONCES = _Nonces()
os.register_at_fork(after_in_child=_NONCES.forget)


class FieldCipher:
    """Encrypts, decrypts and hashes single values with one engine key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise PrivacyKeyError("AES-256-GCM needs a 32-byte key")
        self._key = key
        self._hash_key = hmac.new(key, _HASH_LABEL, hashlib.sha256).digest()

    @cached_property
    def _aead(self) -> AESGCM:
        """Built at the first value encrypted or decrypted: cryptography costs ~10 ms of CPU to import, and a run
        with a key configured but nothing to encrypt (no PII column, or a policy that hashes or drops) never needs
        it."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(self._key)

    def encrypt(self, plaintext: str) -> str:
        nonce = _NONCES.take()
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), None)
        return ENC_PREFIX + binascii.b2a_base64(nonce + sealed, newline=False).decode("ascii")

    def decrypt(self, token: str) -> str:
        if not token.startswith(ENC_PREFIX):
            raise ValueError("not an ENC256 value")
        blob = base64.b64decode(token[len(ENC_PREFIX) :])
        aead = self._aead
        from cryptography.exceptions import InvalidTag  # loaded with ``_aead``

        try:
            return aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], None).decode("utf-8")
        except InvalidTag:
            raise ValueError("ENC256 value does not decrypt with this key") from None

    def hash(self, plaintext: str) -> str:
        """Keyed, deterministic: equal inputs give equal outputs under one key, so joins still work."""
        return HASH_PREFIX + hmac.new(self._hash_key, plaintext.encode("utf-8"), hashlib.sha256).hexdigest()
