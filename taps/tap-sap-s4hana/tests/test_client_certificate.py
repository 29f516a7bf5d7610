"""X.509 logon: the certificate and key are checked to be a pair when the tap starts (errors name this tap's
settings) and put on the session every request goes through. The handshake itself is the kit's ``MutualTLS``,
tested against a TLS server in ``shared/tests/auth/test_mtls.py``; the emulator speaks plain HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from singer_sdk.exceptions import ConfigValidationError

from xlr8_kit.redaction import Redactor
from xlr8_tap_sap_s4hana.auth import build_authenticator
from xlr8_tap_sap_s4hana.tap import S4Settings, TapSapS4Hana


def write_pair(folder: Path, name: str) -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


def config(cert: str, key: str | None) -> dict[str, object]:
    return {
        "base_url": "https://s4.example.com",
        "auth_type": "client_certificate",
        "client_certificate_file": cert,
        **({"client_key_file": key} if key else {}),
    }


def test_certificate_and_key_go_on_the_session(tmp_path: Path) -> None:
    cert, key = write_pair(tmp_path, "XLR8_COMM_USER")
    runtime = SimpleNamespace(session=requests.Session(), redactor=Redactor())
    mtls = build_authenticator(S4Settings.from_config(config(cert, key)), runtime)  # type: ignore[arg-type]
    assert runtime.session.cert == (cert, key)
    prepared = mtls(requests.Request("GET", "https://s4.example.com/").prepare())
    assert "Authorization" not in prepared.headers  # the certificate is the credential


def test_a_key_of_another_certificate_names_the_setting(tmp_path: Path, url: str) -> None:
    cert, _ = write_pair(tmp_path, "one")
    _, other_key = write_pair(tmp_path, "two")
    with pytest.raises(ConfigValidationError, match="client_key_file does not belong to the certificate"):
        TapSapS4Hana(config={**config(cert, other_key), "base_url": url}, parse_env_config=False)


def test_a_missing_certificate_file_names_the_setting(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigValidationError, match=r"client_certificate_file .* does not exist"):
        TapSapS4Hana(config={**config(str(tmp_path / "absent.crt"), None), "base_url": url}, parse_env_config=False)


def test_a_sigkilled_run_leaves_no_clear_client_key(tmp_path: Path, url: str, sandbox) -> None:
    """audit25d F7, the real CLI: a passphrase-protected key was decrypted into TMPDIR for the whole run, and a
    SIGKILL (an orchestrator's kill, the OOM killer) left it there for good. Now nothing holds it, during or after."""
    import base64
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    from xlr8_sandbox.platform.faults import FaultSpec

    cert, clear_key = write_pair(tmp_path, "XLR8_COMM_USER")
    key = serialization.load_pem_private_key(Path(clear_key).read_bytes(), password=None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"CANARY-keypass-77"),
        )
    )
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    Path(clear_key).unlink()
    settings = tmp_path / "config.json"
    settings.write_text(
        json.dumps({**config(cert, str(encrypted)), "base_url": url, "client_key_passphrase": "CANARY-keypass-77"})
    )
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()

    def holders() -> list[Path]:
        found = []
        for path in tmpdir.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                body = b"".join(line for line in data.splitlines() if not line.startswith(b"-----"))
                try:
                    decoded = base64.b64decode(body)
                except ValueError:
                    decoded = b""
                if der in data or der in decoded or path.name.endswith(".key"):
                    found.append(path)
        return found

    stall = sandbox.faults.add("s4hana", "*", FaultSpec(kind="stall", seconds=30))
    tap = Path(sys.executable).parent / "tap-sap-s4hana"
    run = subprocess.Popen(
        [str(tap), "--config", str(settings)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TMPDIR": str(tmpdir)},
    )
    try:
        deadline = time.monotonic() + 60
        while stall.fired == 0 and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert stall.fired > 0, "the run never reached the vendor"
        assert holders() == []  # the run is past its auth, its request in flight
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        sandbox.faults.clear("s4hana")
    assert holders() == []
