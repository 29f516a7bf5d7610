"""Auth flows (Basic, OAuth client credentials, OAuth JWT user assertion), throttling with Retry-After, and bad
input: clear errors naming the setting or attribute, a non-zero exit, no secret in any output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from singer_sdk.exceptions import ConfigValidationError

from xlr8_kit.credentials.model import ProductCredential
from xlr8_kit.oracle import FusionSettings
from xlr8_kit.testing.credential_store import seeded_credential_store
from xlr8_kit.testing.fake_time import FakeTime
from xlr8_kit.testing.singer_cli import assert_one_error_line, run_tap_cli, write_json
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.oracle_fusion.hcm import CLIENT_ID, CLIENT_SECRET, PASSWORD, USERNAME, OracleHcmEmulator

from .conftest import hcm_config, run_tap


def oauth_config(url: str, **extra: object) -> dict[str, object]:
    config = hcm_config(url, resources=["jobs"], token_url=f"{url}/oauth2/v1/token", client_id=CLIENT_ID, **extra)
    del config["password"]
    return config


def test_oauth_client_credentials(url: str, sandbox: Sandbox) -> None:
    config = oauth_config(url, auth_type="oauth_client_credentials", client_secret=CLIENT_SECRET)
    del config["username"]
    out = run_tap(config)
    assert len(out.records("jobs")) == 8
    assert "/oauth2/v1/token" in [r.path for r in sandbox.requests("oracle_hcm")]


def test_oauth_jwt_user_assertion(url: str, emulator: OracleHcmEmulator) -> None:
    config = oauth_config(url, auth_type="oauth_jwt", private_key=emulator.jwt_private_key_pem)
    assert config["username"] == USERNAME
    assert len(run_tap(config).records("jobs")) == 8


def test_missing_settings_are_named() -> None:
    with pytest.raises(ConfigValidationError, match="'client_secret' is required when auth_type is"):
        FusionSettings.from_config(
            {
                "base_url": "https://acme.fa.us2.oraclecloud.com",
                "auth_type": "oauth_client_credentials",
                "client_id": "x",
                "token_url": "https://idcs.example/oauth2/v1/token",
            },
            tap_name="tap-oracle-hcm",
            default_resources=(),
        )
    with pytest.raises(ConfigValidationError, match="'page_size' must be an integer between 1 and 500"):
        FusionSettings.from_config(
            hcm_config("https://acme.example", page_size=900), tap_name="tap-oracle-hcm", default_resources=()
        )


def test_rejected_password_exits_non_zero_without_the_secret(url: str, tmp_path: Path) -> None:
    config = write_json(tmp_path / "config.json", hcm_config(url, password="wrong-canary-pw-3141"))
    result = run_tap_cli("tap-oracle-hcm", ["--config", config, "--discover"], tmp_path)
    assert result.returncode != 0
    assert "HTTP 401" in result.stderr
    assert "wrong-canary-pw-3141" not in result.stdout + result.stderr


def test_unknown_resource_is_named(url: str, tmp_path: Path) -> None:
    config = write_json(tmp_path / "config.json", hcm_config(url, resources=["workers", "nosuchResource"]))
    result = run_tap_cli("tap-oracle-hcm", ["--config", config, "--discover"], tmp_path)
    assert result.returncode != 0
    assert "nosuchResource" in result.stderr


def test_discover_through_the_cli(url: str, tmp_path: Path) -> None:
    config = write_json(tmp_path / "config.json", hcm_config(url))
    result = run_tap_cli("tap-oracle-hcm", ["--config", config, "--discover"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    streams = {s["tap_stream_id"] for s in json.loads(result.stdout)["streams"]}
    assert {"workers", "workers_emails", "workers_workRelationships_assignments", "jobs", "absences"} <= streams
    assert PASSWORD not in result.stdout + result.stderr


def test_throttling_503_waits_retry_after_then_lands_everything(url: str, emulator: OracleHcmEmulator) -> None:
    emulator.throttle(2, retry_after=7)
    fake = FakeTime()
    out = run_tap(hcm_config(url, resources=["jobs"]), fake=fake)
    assert len(out.records("jobs")) == 8
    assert fake.sleeps.count(7) == 2


def test_quota_429_with_retry_after(url: str, sandbox: Sandbox, emulator: OracleHcmEmulator) -> None:
    sandbox.faults.add("oracle_hcm", "/hcmRestApi/resources/*/positions", FaultSpec("quota", times=1))
    fake = FakeTime()
    out = run_tap(hcm_config(url, resources=["positions"]), fake=fake)
    assert len(out.records("positions")) == 56
    assert 1 in fake.sleeps


def test_html_sign_in_page_with_200_is_an_error_not_zero_rows(
    url: str, sandbox: Sandbox, emulator: OracleHcmEmulator
) -> None:
    """A sign-in page answered 200 is an error naming the stream (``emulator`` resets the fault after: its firings
    left would answer the module's next test)."""
    sandbox.faults.add("oracle_hcm", "/hcmRestApi/resources/*/grades", FaultSpec("error_body", times=10))
    with pytest.raises(Exception, match="grades") as caught:
        run_tap(hcm_config(url, resources=["grades"], http={"max_attempts": 2}), fake=FakeTime())
    assert "not JSON" in str(caught.value) or "HTTP 200" in str(caught.value)


def test_credential_id_resolves_the_password_from_the_store(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "credentials.db"
    credential = ProductCredential(
        credential_id="ohcm-sandbox",
        project_id="acme",
        product_id="oracle_hcm",
        auth_type="basic",
        credentials={"password": PASSWORD},
    )
    seeded_credential_store(store, monkeypatch, credential).close()
    config = hcm_config(url, resources=["jobs"], credential_id="ohcm-sandbox", credential_store=str(store))
    del config["password"]
    out = run_tap(config)
    assert len(out.records("jobs")) == 8
    assert PASSWORD not in "\n".join(out.lines)


def test_latency_concurrent_requests_below_max_concurrent_requests_is_named(url: str, tmp_path: Path) -> None:
    """review 21b: widening is opt-in; a ``latency_concurrent_requests`` below ``max_concurrent_requests`` (the default
    8) would limit nothing, so the tap says so rather than read at 8 anyway; equal is accepted (never widens)."""
    bad = write_json(tmp_path / "bad.json", hcm_config(url, latency_concurrent_requests=4))
    result = run_tap_cli("tap-oracle-hcm", ["--config", bad, "--discover"], tmp_path)
    assert result.returncode != 0
    assert "'latency_concurrent_requests' (4) must be at least max_concurrent_requests (8)" in result.stderr
    same = hcm_config(url, latency_concurrent_requests=2, max_concurrent_requests=2)
    equal = write_json(tmp_path / "equal.json", same)
    assert run_tap_cli("tap-oracle-hcm", ["--config", equal, "--discover"], tmp_path).returncode == 0


def test_discover_failures_are_one_error_line(url: str, tmp_path: Path) -> None:
    """audit23b #8: a wrong password or an unknown resource at ``--discover`` is one ERROR line and exit 1."""
    wrong = write_json(tmp_path / "wrong.json", hcm_config(url, password="wrong-canary-pw-2718"))
    result = run_tap_cli("tap-oracle-hcm", ["--config", wrong, "--discover"], tmp_path)
    assert result.returncode == 1
    assert_one_error_line(result.stderr, "HTTP 401")
    assert "wrong-canary-pw-2718" not in result.stdout + result.stderr
    unknown = write_json(tmp_path / "unknown.json", hcm_config(url, resources=["nosuchResource"]))
    result = run_tap_cli("tap-oracle-hcm", ["--config", unknown, "--discover"], tmp_path)
    assert result.returncode == 1
    assert_one_error_line(result.stderr, "nosuchResource")
