"""Envelope encryption: C1 tampering, C2 swapped blobs, C4 unknown version/kid, C5 nonces, B9 key problems."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from xlr8_kit.credentials.crypto import (
    FORMAT_VERSION,
    MAGIC,
    NONCE_BYTES,
    AadContext,
    EnvelopeCipher,
    Keyring,
    write_key_file,
)
from xlr8_kit.credentials.errors import CredentialUndecryptableError, KeyringError

CTX = AadContext("acme", "sf-prod", "client_secret")
SECRET = "p@ss-w0rd-with-ünïcode"


def raw(blob: str) -> bytearray:
    return bytearray(base64.b64decode(blob))


def encode(data: bytes | bytearray) -> str:
    return base64.b64encode(bytes(data)).decode()


def test_round_trip_and_layout(keyring: Keyring) -> None:
    cipher = EnvelopeCipher(keyring)
    blob = cipher.encrypt(SECRET, CTX)
    data = raw(blob)
    assert data[:4] == MAGIC
    assert data[4] == FORMAT_VERSION
    assert data[6 : 6 + data[5]] == b"k1"
    assert SECRET.encode() not in data
    assert cipher.decrypt(blob, CTX) == SECRET
    assert cipher.kid_of(blob, CTX) == "k1"
    # Independent check that this is AES-256-GCM with the header + context as associated data.
    header_end = 6 + data[5]
    nonce = bytes(data[header_end : header_end + NONCE_BYTES])
    key = keyring.key("k1")
    assert key is not None
    assert len(key) == 32
    aad = bytes(data[:header_end]) + CTX.encode()
    assert AESGCM(key).decrypt(nonce, bytes(data[header_end + NONCE_BYTES :]), aad) == SECRET.encode()


@pytest.mark.parametrize("region", ["magic", "version", "kid_len", "kid", "nonce", "ciphertext", "tag"])
def test_c1_bit_flip_anywhere_is_refused(keyring: Keyring, region: str) -> None:
    cipher = EnvelopeCipher(keyring)
    blob = cipher.encrypt(SECRET, CTX)
    data = raw(blob)
    header_end = 6 + data[5]
    offsets = {
        "magic": 1,
        "version": 4,
        "kid_len": 5,
        "kid": 6,
        "nonce": header_end + 3,
        "ciphertext": header_end + NONCE_BYTES + 2,
        "tag": len(data) - 1,
    }
    data[offsets[region]] ^= 0x01
    with pytest.raises(CredentialUndecryptableError) as err:
        cipher.decrypt(encode(data), CTX)
    message = str(err.value)
    assert "'sf-prod' undecryptable" in message
    assert SECRET not in message
    assert err.value.credential_id == "sf-prod"


@pytest.mark.parametrize("keep", [0, 3, 6, 8, 20, 30])
def test_c1_truncated_blob_is_refused(keyring: Keyring, keep: int) -> None:
    cipher = EnvelopeCipher(keyring)
    data = raw(cipher.encrypt(SECRET, CTX))
    with pytest.raises(CredentialUndecryptableError, match="sf-prod"):
        cipher.decrypt(encode(data[:keep]), CTX)


def test_c1_blob_one_byte_short_of_tag_fails_authentication(keyring: Keyring) -> None:
    cipher = EnvelopeCipher(keyring)
    data = raw(cipher.encrypt(SECRET, CTX))
    with pytest.raises(CredentialUndecryptableError, match=r"kid=k1\).*failed authentication"):
        cipher.decrypt(encode(data[:-1]), CTX)


def test_c1_not_base64_is_refused(keyring: Keyring) -> None:
    with pytest.raises(CredentialUndecryptableError, match="not base64"):
        EnvelopeCipher(keyring).decrypt("%%% not base64 %%%", CTX)


@pytest.mark.parametrize(
    "other",
    [
        AadContext("acme", "wd-prod", "client_secret"),  # another credential's row
        AadContext("acme", "sf-prod", "refresh_token"),  # another field of the same row
        AadContext("globex", "sf-prod", "client_secret"),  # same id in another tenant
    ],
)
def test_c2_blob_copied_to_another_row_field_or_tenant_fails(keyring: Keyring, other: AadContext) -> None:
    cipher = EnvelopeCipher(keyring)
    blob = cipher.encrypt(SECRET, CTX)
    with pytest.raises(CredentialUndecryptableError, match="failed authentication") as err:
        cipher.decrypt(blob, other)
    assert err.value.credential_id == other.credential_id
    assert err.value.kid == "k1"


def test_c2_context_encoding_is_unambiguous() -> None:
    assert AadContext("ab", "c", "f").encode() != AadContext("a", "bc", "f").encode()


def test_c4_unknown_format_version_is_rejected(keyring: Keyring) -> None:
    cipher = EnvelopeCipher(keyring)
    data = raw(cipher.encrypt(SECRET, CTX))
    data[4] = 7
    with pytest.raises(CredentialUndecryptableError, match="unsupported envelope format version 7"):
        cipher.decrypt(encode(data), CTX)


def test_c4_unknown_kid_is_rejected_naming_the_kid() -> None:
    writer = EnvelopeCipher(Keyring.parse(f"k9:{base64.b64encode(os.urandom(32)).decode()}", source="t"))
    reader = EnvelopeCipher(Keyring.parse(f"k1:{base64.b64encode(os.urandom(32)).decode()}", source="t"))
    blob = writer.encrypt(SECRET, CTX)
    with pytest.raises(CredentialUndecryptableError) as err:
        reader.decrypt(blob, CTX)
    assert str(err.value).startswith("credential 'sf-prod' undecryptable (kid=k9): key id not in the keyring")


def test_b9_wrong_key_with_same_kid_is_refused_not_garbage() -> None:
    right = EnvelopeCipher(Keyring.parse(f"k1:{base64.b64encode(os.urandom(32)).decode()}", source="t"))
    wrong = EnvelopeCipher(Keyring.parse(f"k1:{base64.b64encode(os.urandom(32)).decode()}", source="t"))
    with pytest.raises(CredentialUndecryptableError, match=r"\(kid=k1\).*wrong key"):
        wrong.decrypt(right.encrypt(SECRET, CTX), CTX)


def test_c5_nonces_unique_over_100k_encryptions_and_counted(keyring: Keyring) -> None:
    cipher = EnvelopeCipher(keyring)
    header_end = 6 + 2
    nonces = {raw(cipher.encrypt("x", CTX))[header_end : header_end + NONCE_BYTES].hex() for _ in range(100_000)}
    assert len(nonces) == 100_000
    assert cipher.encryptions["k1"] == 100_000
    assert cipher.take_encryption_counts() == {"k1": 100_000}
    assert cipher.take_encryption_counts() == {}


def test_b9_missing_key_names_both_settings() -> None:
    with pytest.raises(KeyringError, match=r"XLR8_CREDENTIALS_KEY.*XLR8_CREDENTIALS_KEY_FILE"):
        Keyring.from_environment({})


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_b9_wrong_length_key_is_refused_naming_kid(size: int) -> None:
    material = base64.b64encode(os.urandom(size)).decode()
    with pytest.raises(KeyringError, match=rf"kid=prod is {size} bytes") as err:
        Keyring.parse(f"prod:{material}", source="XLR8_CREDENTIALS_KEY")
    if material:
        assert material not in str(err.value)


def test_b9_key_not_base64_is_refused_without_echoing_it() -> None:
    with pytest.raises(KeyringError, match="kid=default is not valid base64") as err:
        Keyring.from_environment({"XLR8_CREDENTIALS_KEY": "this-is-not-base64!"})
    assert "this-is-not-base64" not in str(err.value)


def test_keyring_order_sets_primary_and_env_var_wins_over_file(tmp_path: Path) -> None:
    a, b = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    ring = Keyring.from_environment({"XLR8_CREDENTIALS_KEY": f"new:{a}, old:{b}"})
    assert ring.primary == "new"
    assert ring.kids == ["new", "old"]
    assert Keyring.from_environment({"XLR8_CREDENTIALS_KEY": a}).kids == ["default"]
    with pytest.raises(KeyringError, match="listed twice"):
        Keyring.parse(f"x:{a},x:{b}", source="t")


def test_key_file_created_0600_and_loose_permissions_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "credentials.key"
    ring = write_key_file(path, "k1")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ring.kids == ["k1"]
    ring2 = write_key_file(path, "k2", add=True)
    assert ring2.primary == "k2"
    assert ring2.kids == ["k2", "k1"]
    assert ring2.key("k1") == ring.key("k1")
    with pytest.raises(KeyringError, match="already exists"):
        write_key_file(path, "k3")
    path.chmod(0o644)
    with pytest.raises(KeyringError, match="readable by others"):
        Keyring.from_environment({"XLR8_CREDENTIALS_KEY_FILE": str(path)})
    with pytest.raises(KeyringError, match="does not exist"):
        Keyring.from_file(tmp_path / "missing.key")
