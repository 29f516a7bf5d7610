"""Loading customer keys and certificates with errors that name the setting and never echo the key material."""

from __future__ import annotations

from typing import TYPE_CHECKING

# cryptography is imported by the functions (10-20 ms): a tap whose settings use no key never loads it.
if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def load_private_key(pem: str | bytes, passphrase: str | None, *, setting: str, flow: str) -> PrivateKeyTypes:
    """Parse a PEM private key; errors say which setting is wrong (missing, encrypted, wrong passphrase)."""
    if not pem:
        raise ValueError(f"{flow}: {setting} is required (a PEM private key)")
    data = _as_bytes(pem)
    if b"-----BEGIN" not in data:
        raise ValueError(f"{flow}: {setting} is not a PEM private key (expected '-----BEGIN ... PRIVATE KEY-----')")
    from cryptography.hazmat.primitives import serialization

    password = passphrase.encode() if passphrase else None
    try:
        return serialization.load_pem_private_key(data, password=password)
    except TypeError:
        if password is None:
            raise ValueError(f"{flow}: {setting} is encrypted; set the passphrase") from None
        raise ValueError(f"{flow}: {setting} is not encrypted; leave the passphrase empty") from None
    except ValueError:
        if password is not None:
            raise ValueError(f"{flow}: could not decrypt {setting}: wrong passphrase or damaged key") from None
        raise ValueError(f"{flow}: {setting} could not be parsed as a PEM private key") from None


def load_certificate(pem: str | bytes, *, setting: str, flow: str) -> x509.Certificate:
    if not pem:
        raise ValueError(f"{flow}: {setting} is required (a PEM X.509 certificate)")
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(_as_bytes(pem))
    except ValueError:
        raise ValueError(f"{flow}: {setting} could not be parsed as a PEM X.509 certificate") from None


def ensure_key_matches_certificate(
    key: PrivateKeyTypes, cert: x509.Certificate, *, key_setting: str, cert_setting: str, flow: str
) -> None:
    """Fail at construction, not at the vendor, when the key and certificate are not a pair."""
    from cryptography.hazmat.primitives import serialization

    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    ours = key.public_key().public_bytes(serialization.Encoding.DER, spki)
    theirs = cert.public_key().public_bytes(serialization.Encoding.DER, spki)
    if ours != theirs:
        raise ValueError(f"{flow}: {key_setting} does not belong to the certificate in {cert_setting}")
