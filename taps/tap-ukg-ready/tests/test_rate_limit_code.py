"""UKG Ready's rate-limit error is ``{"errors": [{"code": 100, ...}]}`` (a public Ready client retries exactly that
code, whatever the status). The tap took it for a plain error: a 200 or a 4xx carrying it stopped the run at once,
a 5xx got the 1-2-4-8 s backoff. Now it is waited out as a 429 is (Retry-After, else the product's one-minute
``http.rate_window``), within ``http.max_attempts``, and a request that gives up on it raises ``RateLimitedError``."""

from __future__ import annotations

import json
import typing as t

import pytest

from xlr8_kit.http.errors import RateLimitedError
from xlr8_kit.testing.fake_time import FakeTime, with_fake_time
from xlr8_kit.testing.singer_cli import SingerOutput, select_streams, sync_in_process
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_ready import UkgReadyEmulator
from xlr8_tap_ukg_ready.tap import TapUkgReady

from .conftest import REPORTS, SCALE, ready_config

CODE_100 = json.dumps({"errors": [{"code": 100, "message": "Too many requests. Please try again later."}]})
EMPLOYEES = "/ta/rest/v2/companies/*/employees"


def _sync(config: dict[str, t.Any], streams: set[str], fake: FakeTime) -> SingerOutput:
    catalog = select_streams(TapUkgReady(config=config, parse_env_config=False).catalog_dict, streams)
    tap = with_fake_time(TapUkgReady, fake)(config=config, catalog=catalog, parse_env_config=False)
    return sync_in_process(tap)


@pytest.mark.parametrize("status", [200, 400, 403, 503])
def test_code_100_is_waited_out_like_a_429(url: str, sandbox: Sandbox, emulator: UkgReadyEmulator, status: int) -> None:
    sandbox.faults.add("ukg_ready", EMPLOYEES, FaultSpec("status", status=status, body=CODE_100, after=1, times=2))
    fake = FakeTime()
    out = _sync(ready_config(url), {"employees"}, fake)
    ids = [row["employee_id"] for row in out.records("employees")]
    assert len(ids) == len(set(ids)) == SCALE  # every page landed once
    assert fake.sleeps == [60.0, 60.0]  # Ready's window each time, not 0.5 .. 8 s nor a stop


def test_code_100_honours_retry_after(url: str, sandbox: Sandbox, emulator: UkgReadyEmulator) -> None:
    spec = FaultSpec("status", status=400, body=CODE_100, headers={"Retry-After": "7"}, times=1)
    sandbox.faults.add("ukg_ready", EMPLOYEES, spec)
    fake = FakeTime()
    out = _sync(ready_config(url), {"employees"}, fake)
    assert len(out.records("employees")) == SCALE
    assert fake.sleeps == [7.0]


def test_code_100_retries_are_bounded(url: str, sandbox: Sandbox, emulator: UkgReadyEmulator) -> None:
    sandbox.faults.add("ukg_ready", EMPLOYEES, FaultSpec("status", status=400, body=CODE_100))
    fake = FakeTime()
    with pytest.raises(RateLimitedError, match="still rate limited"):
        _sync(ready_config(url, http={"max_attempts": 3}), {"employees"}, fake)
    assert fake.sleeps == [60.0, 60.0]  # three attempts, two waits, then a named stop


def test_code_100_on_a_streamed_report_is_waited_out(url: str, sandbox: Sandbox, emulator: UkgReadyEmulator) -> None:
    config = ready_config(url, reports=[REPORTS[0]])
    clean = _sync(config, {"pay_statements"}, FakeTime())
    spec = FaultSpec("status", status=400, body=CODE_100, times=1, method="GET")
    sandbox.faults.add("ukg_ready", "/ta/rest/v1/report/saved/1001", spec)
    fake = FakeTime()
    out = _sync(config, {"pay_statements"}, fake)
    assert out.records("pay_statements") == clean.records("pay_statements")
    assert fake.sleeps == [60.0]


def test_code_100_in_a_200_on_an_employee_record_is_waited_out(
    url: str, sandbox: Sandbox, emulator: UkgReadyEmulator
) -> None:
    """review26a M2: with ``employee_details`` each employee's record is read through ``ReportClient.get_json``,
    whose verdict came from the kit's default classifier: a 200 carrying code 100 stopped the run at once."""
    config = ready_config(url, employee_details=True)
    clean = _sync(config, {"employees"}, FakeTime())
    spec = FaultSpec("status", status=200, body=CODE_100, after=2, times=1, method="GET")
    rule = sandbox.faults.add("ukg_ready", EMPLOYEES + "/*", spec)
    fake = FakeTime()
    out = _sync(config, {"employees"}, fake)
    assert rule.fired == 1
    assert out.records("employees") == clean.records("employees")  # every row, with its details, once
    assert fake.sleeps == [60.0]


def test_other_errors_in_a_200_on_an_employee_record_still_stop(
    url: str, sandbox: Sandbox, emulator: UkgReadyEmulator
) -> None:
    """The guard: only code 100 is waited out; another error in a 200 is not data and stops the run at once."""
    body = json.dumps({"errors": [{"code": 5, "message": "Invalid API key"}]})
    sandbox.faults.add("ukg_ready", EMPLOYEES + "/*", FaultSpec("status", status=200, body=body, times=1, method="GET"))
    fake = FakeTime()
    with pytest.raises(Exception, match="Invalid API key"):
        _sync(ready_config(url, employee_details=True), {"employees"}, fake)
    assert fake.sleeps == []


@pytest.mark.parametrize("status", [400, 403])
def test_a_flat_top_level_code_100_is_not_taken_for_the_rate_limit(
    url: str, sandbox: Sandbox, emulator: UkgReadyEmulator, status: int
) -> None:
    """review26a L4: only ``errors[].code == 100`` is Ready's rate limit. An answer ``{"code": 100, ...}`` (no
    ``errors`` list) stops at once with its own error, not after minutes of 60 s waits."""
    flat = json.dumps({"code": 100, "message": "Invalid company"})
    sandbox.faults.add("ukg_ready", EMPLOYEES, FaultSpec("status", status=status, body=flat))
    fake = FakeTime()
    with pytest.raises(Exception, match="Invalid company") as info:
        _sync(ready_config(url), {"employees"}, fake)
    assert not isinstance(info.value, RateLimitedError)
    assert fake.sleeps == []  # told at once
