"""Both authentication paths against the emulator over real HTTP, and the credential lifecycle: a clear error
naming the setting for a missing or wrong appkey, refresh before expiry, and a 401 in the middle of a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from xlr8_kit.http.errors import AuthenticationError, ClientRequestError
from xlr8_kit.testing.fake_time import FakeTime
from xlr8_kit.testing.singer_cli import run_tap_cli, write_json
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_wfm import APPKEY, PASSWORD, UkgWfmEmulator

from .conftest import run_tap, wfm_config

TIME = {"timecards", "punches"}


def _expected_timecard_days(sandbox: Sandbox) -> int:
    """Days with both punches in the conftest window, straight from the company (one REG row each)."""
    from datetime import date, timedelta

    company = sandbox.ctx.company
    days = 0
    for i in range(company.employee_count()):
        day = date(2025, 12, 22)
        while day <= date(2026, 1, 2):
            worked = company.worked_day(i, day)
            days += worked is not None and worked.hours is not None
            day += timedelta(days=1)
    return days


def test_appkey_path_reads_time_data(url: str, sandbox: Sandbox, emulator: UkgWfmEmulator) -> None:
    out = run_tap(wfm_config(url), streams=TIME)
    timecards = out.records("timecards")
    assert len({(r["personNumber"], r["applyDate"]) for r in timecards}) == _expected_timecard_days(sandbox)
    assert emulator.grants == ["password"]
    calls = sandbox.requests("ukg_wfm", "/api/v1/timekeeping/timecard/multi_read")
    assert calls
    assert all(c.status == 200 for c in calls)


def test_platform_oauth_path_reads_the_same_rows(url: str, sandbox: Sandbox, emulator: UkgWfmEmulator) -> None:
    platform = {"base_url": url, "auth_type": "platform", **emulator.platform_credentials(url)}
    config = {k: v for k, v in wfm_config(url).items() if k not in ("appkey", "username", "password")}
    out = run_tap({**config, **platform}, streams=TIME)
    classic = run_tap(wfm_config(url), streams=TIME)
    assert out.records("timecards") == classic.records("timecards")
    assert "client_credentials" in emulator.grants


def test_platform_path_without_the_tenant_header_is_refused(url: str, emulator: UkgWfmEmulator) -> None:
    """A token without ``global-tenant-id`` gets the vendor's 403: the tap stops with that error, not zero rows."""
    platform = {"base_url": url, "auth_type": "platform", **emulator.platform_credentials(url)}
    platform["global_tenant_id"] = "another-tenant"
    config = {k: v for k, v in wfm_config(url).items() if k not in ("appkey", "username", "password")}
    with pytest.raises(ClientRequestError, match="global-tenant-id"):
        run_tap({**config, **platform}, streams={"timecards"})


@pytest.mark.parametrize("appkey", [None, "wrong-appkey-0042"])
def test_missing_or_wrong_appkey_names_the_setting(
    url: str, emulator: UkgWfmEmulator, tmp_path: Path, appkey: str | None
) -> None:
    config = wfm_config(url)
    if appkey is None:
        del config["appkey"]
    else:
        config["appkey"] = appkey
    result = run_tap_cli("tap-ukg-wfm", ["--config", write_json(tmp_path / "c.json", config)], tmp_path, timeout=120)
    assert result.returncode != 0
    assert "'appkey'" in result.stderr
    if appkey is None:
        assert "setting 'appkey' is required" in result.stderr
    else:
        assert "Invalid ApiKey" in result.stderr
        assert appkey not in result.stderr  # the wrong key is still a secret
    assert PASSWORD not in result.stderr + result.stdout
    assert emulator.grants == []


def test_wrong_password_names_the_settings(url: str, emulator: UkgWfmEmulator) -> None:
    with pytest.raises(AuthenticationError, match="'username' and 'password'") as err:
        run_tap(wfm_config(url, password="not-the-password-77"), streams={"pay_codes"})
    assert "not-the-password-77" not in str(err.value)


def test_token_is_refreshed_with_the_refresh_token_before_it_expires(
    url: str, sandbox: Sandbox, emulator: UkgWfmEmulator
) -> None:
    """A 429 asks for 1,900 s: by then the 1,800 s token is stale, so the tap refreshes (refresh grant) first."""
    fake = FakeTime()
    sandbox.faults.add("ukg_wfm", "/api/v1/timekeeping/*", FaultSpec("rate_limit", retry_after=1900, after=1, times=1))
    config = wfm_config(url, http={"max_retry_after": 3600, "max_elapsed": 7200})
    out = run_tap(config, streams={"timecards"}, fake=fake)
    assert 1900 in fake.sleeps
    assert emulator.grants == ["password", "refresh_token"]
    assert not [r for r in sandbox.requests("ukg_wfm") if r.status == 401]
    assert len({(r["personNumber"], r["applyDate"]) for r in out.records("timecards")}) == _expected_timecard_days(
        sandbox
    )


def test_401_mid_run_refreshes_once_and_carries_on(url: str, sandbox: Sandbox, emulator: UkgWfmEmulator) -> None:
    """Every token revoked mid-run (RELIABILITY B2): one refresh, the same request again, every row still lands."""
    sandbox.faults.add("ukg_wfm", "/api/v1/timekeeping/*", FaultSpec("revoke_tokens", after=2, times=1))
    out = run_tap(wfm_config(url), streams={"timecards"})
    rejected = [r for r in sandbox.requests("ukg_wfm") if r.status == 401]
    assert len(rejected) == 1
    assert emulator.grants == ["password", "refresh_token"]
    assert len({(r["personNumber"], r["applyDate"]) for r in out.records("timecards")}) == _expected_timecard_days(
        sandbox
    )


def test_expired_refresh_token_falls_back_to_the_password(url: str, sandbox: Sandbox, emulator: UkgWfmEmulator) -> None:
    """Refresh tokens expire (and are single use): a refused refresh logs in with the password again."""
    emulator.accept_refresh = False
    sandbox.faults.add("ukg_wfm", "/api/v1/timekeeping/*", FaultSpec("revoke_tokens", after=1, times=1))
    out = run_tap(wfm_config(url), streams={"timecards"})
    assert emulator.grants == ["password", "refresh_token", "password"]
    assert len({(r["personNumber"], r["applyDate"]) for r in out.records("timecards")}) == _expected_timecard_days(
        sandbox
    )


def test_appkey_never_leaves_the_process(url: str, emulator: UkgWfmEmulator) -> None:
    out = run_tap(wfm_config(url), streams={"pay_codes"})
    assert APPKEY not in "\n".join(out.lines)
