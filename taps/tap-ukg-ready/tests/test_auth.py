"""Both auth paths against the emulator: login failures name the setting to fix (through the real CLI, no secret
in the output), a token expiring mid-run costs one re-login and no record, OAuth client credentials for v2, and the
company addressed by short name or numeric id."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from xlr8_kit.testing.responses import DEEP_JSON
from xlr8_kit.testing.singer_cli import run_tap_cli, write_json
from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_ready import (
    CLIENT_ID,
    CLIENT_SECRET,
    COMPANY_ID,
    LOCKED_USERNAME,
    PASSWORD,
    UkgReadyEmulator,
)

from .conftest import REPORTS, SCALE, ready_config, run_tap

COMPANY = Company(seed=42, scale=SCALE)


def _discover(config: dict[str, object], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    write_json(tmp_path / "config.json", config)
    return run_tap_cli("tap-ukg-ready", ["--config", "config.json", "--discover"], tmp_path, timeout=120)


@pytest.mark.parametrize(
    ("change", "setting", "reason"),
    [
        ({"api_key": "wrong-api-key-77"}, "'api_key'", "code 4002"),
        ({"company_short_name": "NOSUCHCO"}, "'company_short_name'", "code 4004"),
        ({"username": LOCKED_USERNAME}, "'username' is locked", "code 4031"),
        ({"password": "wrong-password-88"}, "'username' and 'password'", "code 4001"),
    ],
    ids=["wrong_api_key", "wrong_company_short_name", "locked_user", "wrong_password"],
)
def test_login_failures_name_the_setting(
    url: str, emulator: UkgReadyEmulator, tmp_path: Path, change: dict[str, str], setting: str, reason: str
) -> None:
    result = _discover(ready_config(url, reports=REPORTS[:1], **change), tmp_path)  # a report: discovery logs in
    assert result.returncode != 0
    assert "ukg_ready login failed" in result.stderr
    assert setting in result.stderr
    assert reason in result.stderr
    output = result.stdout + result.stderr
    for secret in (PASSWORD, *change.values()):
        if secret not in (LOCKED_USERNAME, "NOSUCHCO"):
            assert secret not in output
    assert emulator.logins == 0


def test_a_login_refused_with_a_body_nested_too_deep_is_the_login_error(
    url: str, sandbox: Sandbox, emulator: UkgReadyEmulator, tmp_path: Path
) -> None:
    """A 401 whose JSON body is nested deeper than Python's parser recurses: the login's own error (no vendor error
    codes), not a RecursionError traceback."""
    deep = DEEP_JSON.decode()
    sandbox.faults.add("ukg_ready", "/ta/rest/v1/login", FaultSpec("status", status=401, body=deep, times=1))
    result = _discover(ready_config(url, reports=REPORTS[:1]), tmp_path)
    assert result.returncode != 0
    assert "ukg_ready login failed (HTTP 401, no error body)" in result.stderr
    assert "'username' and 'password'" in result.stderr
    assert "RecursionError" not in result.stderr
    assert [r.status for r in sandbox.requests("ukg_ready", "/ta/rest/v1/login")] == [401]


@pytest.mark.parametrize("status", [408, 425, 429, 503])
def test_a_login_answered_408_425_429_or_5xx_is_sent_again_and_the_run_goes_on(
    url: str, sandbox: Sandbox, emulator: UkgReadyEmulator, status: int
) -> None:
    """Throttled or unavailable at login: the kit's session sends it again (``login_verdict``), where a refused
    login goes back to the tap at once (the test above: one 401)."""
    sandbox.faults.add("ukg_ready", "/ta/rest/v1/login", FaultSpec("status", status=status, times=1))
    config = ready_config(url, page_size=10, http={"backoff_base": 0.01, "backoff_max": 0.05})
    output = run_tap(config, streams={"employees"})
    assert [r["employee_id"] for r in output.records("employees")] == [e.employee_id for e in COMPANY.employees()]
    assert [r.status for r in sandbox.requests("ukg_ready", "/ta/rest/v1/login")] == [status, 200]
    assert emulator.logins == 1


def test_missing_login_settings_are_named_before_any_request(
    url: str, emulator: UkgReadyEmulator, tmp_path: Path
) -> None:
    config = ready_config(url)
    del config["api_key"]
    result = _discover(config, tmp_path)
    assert result.returncode != 0
    assert "setting 'api_key' is required" in result.stderr
    assert emulator.authorised_calls == 0


def test_token_expiry_mid_run_relogs_in_once_and_loses_nothing(
    url: str, sandbox: Sandbox, emulator: UkgReadyEmulator
) -> None:
    # the token dies after the second page of employees
    sandbox.faults.add("ukg_ready", "/ta/rest/v2/companies/*/employees", FaultSpec("expire_tokens", after=2, times=1))
    output = run_tap(ready_config(url, page_size=10), streams={"employees"})
    ids = [r["employee_id"] for r in output.records("employees")]
    assert ids == [e.employee_id for e in COMPANY.employees()]  # every employee once, in order
    assert len(ids) == SCALE
    assert emulator.logins == 2  # the first login and exactly one re-login
    statuses = [r.status for r in sandbox.requests("ukg_ready", "/ta/rest/v2/companies/") if r.method == "GET"]
    assert statuses == [200, 200, 401, 200, 200, 200, 200]  # page 3 refused once, then asked again
    assert [q.get("page") for q in emulator.employee_queries] == [None, "1", "2", "3", "4", "5"]


def test_oauth_client_credentials_and_numeric_company_id(url: str, emulator: UkgReadyEmulator) -> None:
    config = {"base_url": url, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "company_id": COMPANY_ID}
    output = run_tap(config, streams={"employees", "cost_centers"})
    assert len(output.records("employees")) == SCALE
    assert {r["external_id"] for r in output.records("cost_centers")} == {c.code for c in COMPANY.cost_centers}
    assert emulator.logins == 1


def test_wrong_oauth_secret_is_an_authentication_error(url: str, emulator: UkgReadyEmulator, tmp_path: Path) -> None:
    config = {"base_url": url, "client_id": CLIENT_ID, "client_secret": "not-the-secret-5", "company_id": COMPANY_ID}
    write_json(tmp_path / "config.json", config)
    catalog = run_tap_cli("tap-ukg-ready", ["--config", "config.json", "--discover"], tmp_path)
    assert catalog.returncode == 0, catalog.stderr  # no reports configured: discovery needs no call
    result = run_tap_cli("tap-ukg-ready", ["--config", "config.json"], tmp_path, timeout=120)
    assert result.returncode != 0
    assert "invalid_client" in result.stderr
    assert "check the settings 'client_id', 'client_secret'" in result.stderr
    assert "not-the-secret-5" not in result.stdout + result.stderr
