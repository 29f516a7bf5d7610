"""The AWS Secrets Manager backend against moto's server mode on 127.0.0.1 (real HTTP, real boto3): CAS through
AWSCURRENT staging (B6), rotation and AWSPREVIOUS policy (B7), AccessDenied / throttling / unreachable failing fast
(B8) against a local fault server, and resolve_config / the CLI with an aws-sm:// store."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from xlr8_kit.credentials.backends.aws import AwsSecretsManagerStore, open_aws_manager
from xlr8_kit.credentials.errors import (
    BackendUnavailableError,
    CredentialAlreadyExistsError,
    CredentialConflictError,
    CredentialError,
    CredentialValidationError,
)
from xlr8_kit.credentials.manager import CredentialManager
from xlr8_kit.credentials.model import ProductCredential
from xlr8_kit.credentials.resolve import resolve_config

CANARY = "CANARY-aws-6bc1bee22e409f96"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    return AWS_ENV


@pytest.fixture
def moto_url(aws_env: dict[str, str]) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    requests.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()  # moto's state is process-wide
    yield url
    server.stop()


@pytest.fixture
def open_aws(moto_url: str) -> Iterator[Callable[..., CredentialManager]]:
    opened: list[CredentialManager] = []

    def make(allow_previous: bool = False) -> CredentialManager:
        manager = open_aws_manager(store_url(moto_url, allow_previous), environ={})
        opened.append(manager)
        return manager

    yield make
    for manager in opened:
        manager.close()


def store_url(endpoint: str, allow_previous: bool = False) -> str:
    return f"aws-sm://us-east-1/xlr8/credentials?endpoint_url={endpoint}" + (
        "&allow_previous=1" if allow_previous else ""
    )


def sm_client(moto_url: str) -> Any:
    return boto3.client("secretsmanager", endpoint_url=moto_url, region_name="us-east-1")


def rotate_like_a_lambda(client: Any, name: str, mutate: Callable[[dict[str, Any]], None]) -> None:
    """What a Secrets Manager rotation function does: write AWSPENDING, then move AWSCURRENT onto it."""
    current = client.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    document = json.loads(current["SecretString"])
    mutate(document)
    pending = client.put_secret_value(SecretId=name, SecretString=json.dumps(document), VersionStages=["AWSPENDING"])
    client.update_secret_version_stage(
        SecretId=name,
        VersionStage="AWSCURRENT",
        MoveToVersionId=pending["VersionId"],
        RemoveFromVersionId=current["VersionId"],
    )


def test_aws_round_trip(
    open_aws: Callable[..., CredentialManager], make_credential: Callable[..., ProductCredential]
) -> None:
    manager = open_aws()
    manager.store(make_credential("sf-prod", client_secret=CANARY))
    manager.store(make_credential("wd-prod", project_id="other", password="pw-2"))
    got = manager.get("sf-prod")
    assert got.credentials == {"client_secret": CANARY}
    assert got.instance_url == "https://acme.my.salesforce.com"
    assert [c.credential_id for c in manager.list_by_project("acme")] == ["sf-prod"]
    assert [row["credential_id"] for row in manager.describe()] == ["sf-prod", "wd-prod"]
    with pytest.raises(CredentialAlreadyExistsError, match="'sf-prod' already exists"):
        manager.store(make_credential("sf-prod"))
    used = manager.get_for_run("sf-prod")
    assert manager.get("sf-prod").last_used == used.last_used
    assert manager.get("sf-prod").version == 1  # last_used is a tag, not a new secret version
    report = manager.rotate_key()  # nothing to re-encrypt: KMS owns the key
    assert (report.rewrapped, report.failed) == ([], [])
    assert sorted(report.already_current) == ["sf-prod", "wd-prod"]


def test_b6_aws_cas_exactly_one_winner(
    open_aws: Callable[..., CredentialManager], make_credential: Callable[..., ProductCredential]
) -> None:
    a, b = open_aws(), open_aws()
    a.store(make_credential("sf-prod", refresh_token="rt-1"))
    assert b.get("sf-prod").version == 1  # b read version 1 too
    a.update_secret("sf-prod", {"refresh_token": "rt-2-a"}, expected_version=1)
    with pytest.raises(CredentialConflictError, match="'sf-prod' changed concurrently"):
        b.update_secret("sf-prod", {"refresh_token": "rt-2-b"}, expected_version=1)
    assert b.get("sf-prod").credentials["refresh_token"] == "rt-2-a"
    assert b.refresh_token("sf-prod", lambda c: {"refresh_token": "rt-3"}).credentials["refresh_token"] == "rt-3"
    assert a.get("sf-prod").credentials["refresh_token"] == "rt-3"


def test_b6_aws_writers_racing_on_the_same_anchor(
    moto_url: str, make_credential: Callable[..., ProductCredential]
) -> None:
    """Both writers put their new version before either promotes it: the stage move decides one winner."""
    manager = open_aws_manager(store_url(moto_url), environ={})
    manager.store(make_credential("sf-prod", refresh_token="rt-1"))
    client = sm_client(moto_url)
    stores = [AwsSecretsManagerStore(client, prefix="xlr8/credentials", region="us-east-1") for _ in range(2)]
    sealed = [s.load("sf-prod") for s in stores]
    assert all(s is not None and s.version == 1 for s in sealed)
    outcomes = []
    for store, s, token in zip(stores, sealed, ["A", "B"], strict=True):
        assert s is not None
        try:
            store.swap(s.__class__(**{**s.__dict__, "blobs": {"refresh_token": token}, "version": 2}),
                       expected_version=1, encryptions={})  # fmt: skip
            outcomes.append(f"won:{token}")
        except CredentialConflictError:
            outcomes.append("lost")
    assert outcomes == ["won:A", "lost"]
    winner = stores[1].load("sf-prod")  # backend level: these raw rows carry no metadata seal for the manager
    assert winner is not None
    assert winner.blobs == {"refresh_token": "A"}
    manager.close()


def test_b7_rotation_moves_awscurrent_and_previous_needs_policy(
    moto_url: str,
    open_aws: Callable[..., CredentialManager],
    make_credential: Callable[..., ProductCredential],
    caplog: pytest.LogCaptureFixture,
) -> None:
    manager = open_aws()
    manager.store(make_credential("sf-prod", client_secret="secret-v1"))
    assert manager.get("sf-prod").credentials["client_secret"] == "secret-v1"
    client = sm_client(moto_url)
    rotate_like_a_lambda(client, "xlr8/credentials/sf-prod", lambda d: d["credentials"].update(client_secret="v2"))
    assert manager.get("sf-prod").credentials["client_secret"] == "v2"  # the re-fetch after a 401 sees AWSCURRENT
    with pytest.raises(CredentialError, match="AWSPREVIOUS is not allowed"):
        manager.backend.load_previous("sf-prod")  # type: ignore[attr-defined]
    lenient = open_aws(allow_previous=True)
    previous = lenient.backend.load_previous("sf-prod")  # type: ignore[attr-defined]
    assert previous.blobs["client_secret"] == "secret-v1"

    # A rotation that wrote a broken AWSCURRENT: refused by default, last-known-good only when allowed.
    pending = client.put_secret_value(
        SecretId="xlr8/credentials/sf-prod", SecretString="not json " + CANARY, VersionStages=["AWSPENDING"]
    )
    current = client.get_secret_value(SecretId="xlr8/credentials/sf-prod", VersionStage="AWSCURRENT")
    client.update_secret_version_stage(
        SecretId="xlr8/credentials/sf-prod",
        VersionStage="AWSCURRENT",
        MoveToVersionId=pending["VersionId"],
        RemoveFromVersionId=current["VersionId"],
    )
    with pytest.raises(CredentialError, match=r"'sf-prod': the AWSCURRENT version .* is not an xlr8 credential") as err:
        manager.get("sf-prod")
    assert CANARY not in str(err.value)
    assert lenient.get("sf-prod").credentials["client_secret"] == "v2"
    assert "AWSCURRENT unusable" in caplog.text


class _FaultHandler(BaseHTTPRequestHandler):
    """Answers every Secrets Manager call with one AWS JSON-protocol error."""

    code = "AccessDeniedException"
    counter: list[str]

    def do_POST(self) -> None:
        self.counter.append(self.headers.get("X-Amz-Target", ""))
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"__type": self.code, "message": "User: arn:aws:iam::123456789012:user/x is not authorized"})
        status = 400
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def fault_server(aws_env: dict[str, str]) -> Iterator[Callable[[str], tuple[str, list[str]]]]:
    servers: list[ThreadingHTTPServer] = []

    def start(code: str) -> tuple[str, list[str]]:
        counter: list[str] = []
        handler = type("Handler", (_FaultHandler,), {"code": code, "counter": counter})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", counter

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def recorded_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore sleeps between its retries through ``time.sleep`` in botocore.endpoint: record instead."""
    import botocore.endpoint

    sleeps: list[float] = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", sleeps.append)
    return sleeps


def test_b8_access_denied_fails_fast_without_retry(
    fault_server: Callable[[str], tuple[str, list[str]]], recorded_sleeps: list[float]
) -> None:
    url, calls = fault_server("AccessDeniedException")
    manager = open_aws_manager(store_url(url), environ={})
    with pytest.raises(BackendUnavailableError, match=r"denied reading xlr8/credentials/sf-prod \(AccessDenied"):
        manager.get("sf-prod")
    assert calls == ["secretsmanager.GetSecretValue"]
    assert recorded_sleeps == []
    manager.close()


def test_b8_throttled_is_retried_a_bounded_number_of_times(
    fault_server: Callable[[str], tuple[str, list[str]]], recorded_sleeps: list[float]
) -> None:
    url, calls = fault_server("ThrottlingException")
    manager = open_aws_manager(store_url(url), environ={})
    with pytest.raises(BackendUnavailableError, match=r"unavailable .* \(ThrottlingException\) after bounded retries"):
        manager.get("sf-prod")
    assert len(calls) == 3
    assert len(recorded_sleeps) == 2
    manager.close()


def test_b8_unreachable_fails_fast(aws_env: dict[str, str], recorded_sleeps: list[float]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    manager = open_aws_manager(store_url(f"http://127.0.0.1:{port}"), environ={})
    with pytest.raises(BackendUnavailableError, match=r"unreachable .* after bounded retries"):
        manager.get("sf-prod")
    assert len(recorded_sleeps) == 2
    manager.close()


def test_aws_url_validation(aws_env: dict[str, str]) -> None:
    with pytest.raises(CredentialValidationError, match="endpoint_url must be https"):
        open_aws_manager("aws-sm://us-east-1/xlr8?endpoint_url=http://sm.example.com", environ={})
    with pytest.raises(CredentialValidationError, match="expected aws-sm://<region>/<prefix>"):
        open_aws_manager("aws-sm://us-east-1", environ={})


def test_resolve_and_cli_with_aws_store(moto_url: str, run_cli: Callable[..., Any], residue: Any) -> None:
    url = store_url(moto_url)
    add_args = ["add", "--id", "sf-aws", "--project", "acme", "--product", "salesforce", "--auth-type", "api_key"]
    added = run_cli("--store", url, *add_args, "--stdin", stdin=json.dumps({"api_key": CANARY}), env=AWS_ENV)
    assert added.code == 0, added.stderr
    listed = run_cli("--store", url, "list", env=AWS_ENV)
    assert "sf-aws\tacme\tsalesforce\tapi_key\tactive\tfields=api_key" in listed.stdout
    resolved = resolve_config({"credential_id": "sf-aws", "credential_store": url}, product_id="salesforce")
    assert resolved["api_key"] == CANARY
    revoked = run_cli("--store", url, "revoke", "sf-aws", env=AWS_ENV)
    assert revoked.code == 0, revoked.stderr
    with pytest.raises(CredentialError, match="'sf-aws' is revoked"):
        resolve_config({"credential_id": "sf-aws", "credential_store": url}, product_id="salesforce")
    output = "".join(r.stdout + r.stderr for r in (added, listed, revoked)).encode()
    assert residue.scan(CANARY, {"cli": output}) == []
