"""Mutual TLS against a local HTTPS server that requires a client certificate from its own test CA."""

from __future__ import annotations

import json
import os
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from xlr8_kit.auth import MutualTLS
from xlr8_kit.redaction import Redactor

PASSPHRASE = "client-key-passphrase"


class _PeerHandler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):
        pass

    def do_GET(self):
        peer = self.connection.getpeercert()
        subject = dict(item[0] for item in peer["subject"]) if peer else {}
        body = json.dumps({"client_cn": subject.get("commonName")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def pki(tmp_path_factory, key_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca = key_factory("xlr8 test CA", ca=True)
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    ca_name = x509.load_pem_x509_certificate(ca.cert_pem).subject
    server = key_factory("127.0.0.1", issuer=(ca_key, ca_name), san_ip="127.0.0.1")
    client = key_factory("acme-integration-client", issuer=(ca_key, ca_name))
    files = {
        "ca": ca.cert_pem,
        "server_cert": server.cert_pem,
        "server_key": server.key_pem,
        "client_cert": client.cert_pem,
        "client_key": client.key_pem,
        "client_key_encrypted": client.encrypted_key_pem(PASSPHRASE),
        "other_key": key_factory("other").key_pem,
    }
    paths = {}
    for name, data in files.items():
        path = folder / f"{name}.pem"
        path.write_bytes(data)
        paths[name] = str(path)
    return paths


@pytest.fixture
def mtls_url(pki):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["server_cert"], pki["server_key"])
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(pki["ca"])
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _PeerHandler)
    httpd.daemon_threads = True
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}/whoami"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _clear_key_bytes(pem_path: str) -> bytes:
    """The DER body of the clear key: what any decrypted copy on disk would contain (PEM or not)."""
    key = serialization.load_pem_private_key(Path(pem_path).read_bytes(), password=None)
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _holding(folder: Path, secret: bytes) -> list[Path]:
    import base64

    forms = (secret, base64.b64encode(secret)[16:80])
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            flat = b"".join(data.split())
            if any(form in data or form in flat for form in forms):
                found.append(path)
    return found


@pytest.mark.parametrize("session_kind", ["resilient", "plain"])
def test_mtls_encrypted_key_never_written_decrypted(pki, mtls_url, tmp_path, monkeypatch, session_kind):
    """audit25d F7: the clear key was written to TMPDIR for the whole run (a SIGKILL left it); now OpenSSL decrypts
    the customer's encrypted file in memory at the handshake, over the kit's session and a plain one alike."""
    from xlr8_kit.http.session import HttpPolicy, ResilientSession

    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    secret = _clear_key_bytes(pki["client_key"])
    session = ResilientSession(HttpPolicy(ca_bundle=pki["ca"])) if session_kind == "resilient" else requests.Session()
    with session:
        session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment overrides session.verify
        session.verify = pki["ca"]
        mtls = MutualTLS(pki["client_cert"], pki["client_key_encrypted"], PASSPHRASE, redactor=Redactor())
        mtls.apply_to(session)
        assert list(tmpdir.iterdir()) == []
        assert mtls.key_file == pki["client_key_encrypted"]
        assert PASSPHRASE not in repr(session.cert)
        assert session.get(mtls_url, auth=mtls).json() == {"client_cn": "acme-integration-client"}
        assert session.get(mtls_url, auth=mtls).json() == {"client_cn": "acme-integration-client"}  # pooled
        assert list(tmpdir.iterdir()) == []  # mid-run: a SIGKILL now leaves nothing
        assert _holding(tmp_path, secret) == []
    mtls.close()
    assert b"ENCRYPTED" in Path(pki["client_key_encrypted"]).read_bytes()  # the customer's file untouched


def test_mtls_removes_clear_keys_earlier_versions_left(pki, tmp_path, monkeypatch):
    tmpdir = tmp_path / "tmpdir"
    (tmpdir / "xlr8-mtls-abc123").mkdir(parents=True)
    (tmpdir / "xlr8-mtls-abc123" / "client.key").write_bytes(Path(pki["client_key"]).read_bytes())
    (tmpdir / "unrelated").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    MutualTLS(pki["client_cert"], pki["client_key_encrypted"], PASSPHRASE, redactor=Redactor())
    assert sorted(p.name for p in tmpdir.iterdir()) == ["unrelated"]


def test_mtls_unencrypted_key_used_in_place(pki, mtls_url):
    mtls = MutualTLS(pki["client_cert"], pki["client_key"])
    assert mtls.cert == (pki["client_cert"], pki["client_key"])
    with requests.Session() as session:
        session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment overrides session.verify
        session.verify = pki["ca"]
        mtls.apply_to(session)
        assert session.get(mtls_url).json() == {"client_cn": "acme-integration-client"}
    mtls.close()
    assert os.path.exists(pki["client_key"])  # the customer's own file is never removed


def test_mtls_server_really_requires_a_client_cert(pki, mtls_url):
    """Positive control: without the certificate the handshake fails."""
    with requests.Session() as session:
        session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment overrides session.verify
        session.verify = pki["ca"]
        with pytest.raises(requests.exceptions.ConnectionError):
            session.get(mtls_url)


def test_mtls_errors_name_the_setting(pki, tmp_path):
    with pytest.raises(ValueError, match="wrong passphrase") as caught:
        MutualTLS(pki["client_cert"], pki["client_key_encrypted"], "not-the-passphrase")
    assert "not-the-passphrase" not in str(caught.value)
    with pytest.raises(ValueError, match="key_file is encrypted; set the passphrase"):
        MutualTLS(pki["client_cert"], pki["client_key_encrypted"])
    with pytest.raises(ValueError, match=r"key_file .* does not exist"):
        MutualTLS(pki["client_cert"], str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError, match="cert_file could not be parsed"):
        MutualTLS(pki["client_key"], pki["client_key"])
    with pytest.raises(ValueError, match="key_file does not belong to the certificate in cert_file"):
        MutualTLS(pki["client_cert"], pki["other_key"])


def test_mtls_combined_pem_file(pki, tmp_path, mtls_url):
    combined = tmp_path / "combined.pem"
    combined.write_bytes(Path(pki["client_cert"]).read_bytes() + Path(pki["client_key"]).read_bytes())
    mtls = MutualTLS(str(combined))
    with requests.Session() as session:
        session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment overrides session.verify
        session.verify = pki["ca"]
        mtls.apply_to(session)
        assert session.get(mtls_url).json() == {"client_cn": "acme-integration-client"}


def test_a11_token_endpoint_tls_failure_is_not_retried(mtls_url):
    """An untrusted certificate at the token endpoint stops at once: no backoff, no second attempt."""
    from xlr8_kit.auth import OAuth2ClientCredentials
    from xlr8_kit.http.errors import TLSVerificationError

    waits: list[float] = []
    with requests.Session() as session:
        session.trust_env = False  # system CAs only: the test CA is not trusted
        auth = OAuth2ClientCredentials(
            mtls_url.replace("/whoami", "/oauth/token"),
            "client-tls",
            "tls-client-secret",
            session=session,
            sleep=waits.append,
            redactor=Redactor(),
        )
        with pytest.raises(TLSVerificationError, match="TLS verification failed for token endpoint /oauth/token"):
            auth.current_token()
    assert waits == []


def test_f6_a_session_with_an_encrypted_client_key_copies_and_refuses_pickling_clearly(pki, mtls_url):
    """review25b F6: ``ClientCertificate`` (a tuple carrying the passphrase) made ``copy``/``deepcopy`` of any session
    holding it fail (``__new__() missing 'key_file'``). Copies now keep the passphrase and still handshake; a pickle
    is refused with a reason, never writing the passphrase into bytes."""
    import copy
    import pickle

    with requests.Session() as session:
        session.trust_env = False
        session.verify = pki["ca"]
        mtls = MutualTLS(pki["client_cert"], pki["client_key_encrypted"], PASSPHRASE, redactor=Redactor())
        mtls.apply_to(session)
        for copied in (copy.copy(session), copy.deepcopy(session)):
            with copied:
                assert copied.cert == (pki["client_cert"], pki["client_key_encrypted"])
                assert copied.get(mtls_url).json() == {"client_cn": "acme-integration-client"}
        with pytest.raises(TypeError, match="not picklable: it carries the client key's passphrase") as info:
            pickle.dumps(session)
        assert PASSPHRASE not in str(info.value)
