"""F13 for ExecuteReport answers that break off: ExecuteReport runs the report on the tenant, so an answer reset or
cut part way after the request reached it is sent once more with a warning, then the run fails naming the report
(its path), instead of running it ``max_attempts`` (5) times. RetrieveReport only fetches a finished run by its key:
it keeps a page's read timeout and retries (review26a L2)."""

from __future__ import annotations

import logging
import typing as t

import pytest
from click.testing import CliRunner

from xlr8_kit.http.errors import ServerUnavailableError
from xlr8_kit.testing.fake_time import FakeTime, with_fake_time
from xlr8_kit.testing.singer_cli import SingerOutput, select_streams, write_json
from xlr8_kit.testing.timeouts import sent_timeouts
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_pro import UkgProEmulator
from xlr8_sandbox.products.ukg_pro.raas import FOLDER
from xlr8_tap_ukg_pro.tap import TapUkgPro

from .conftest import ukg_config

EMPLOYEES = f"{FOLDER}/report[@name='XLR8 Employees']"
JOB_CODES = f"{FOLDER}/report[@name='XLR8 Job Codes']"
DATA_PATH = "/services/BIDataService"


def _tap(url: str, **extra: object) -> TapUkgPro:
    return with_fake_time(TapUkgPro, FakeTime())(config=ukg_config(url, **extra), parse_env_config=False)


@pytest.mark.parametrize("fault", ["reset", "truncate"])
def test_execute_report_broken_off_twice_runs_twice_then_fails_naming_the_report(
    url: str, emulator: UkgProEmulator, sandbox: Sandbox, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    tap = _tap(url)
    cut = sandbox.faults.add("ukg_pro", DATA_PATH, FaultSpec(t.cast("t.Any", fault), after=1))  # LogOn, then runs
    with caplog.at_level(logging.WARNING), pytest.raises(ServerUnavailableError) as info:
        tap.raas.run_report(JOB_CODES)
    assert (cut.seen, cut.fired) == (3, 2)  # LogOn, then ExecuteReport twice: not max_attempts (5) times
    assert f"report {JOB_CODES!r} failed twice after the tenant ran it" in str(info.value)
    assert "http.max_attempts counts page requests, not report runs" in str(info.value)
    assert sum("running the report once more" in r.getMessage() for r in caplog.records) == 1  # said, not silent


def test_cli_sync_whose_execute_report_keeps_breaking_off_exits_non_zero_and_lands_nothing(
    url: str, emulator: UkgProEmulator, sandbox: Sandbox, tmp_path: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    config = ukg_config(url, raas_reports=[{"path": EMPLOYEES}], http={"backoff_base": 0})
    discovered = TapUkgPro(config=config, parse_env_config=False).catalog_dict
    catalog = select_streams(discovered, {"raas_xlr8_employees"})
    args = ["--config", write_json(tmp_path / "c.json", config), "--catalog", write_json(tmp_path / "k.json", catalog)]
    cut = sandbox.faults.add("ukg_pro", DATA_PATH, FaultSpec("reset", after=1, times=2))  # LogOn, runs
    with caplog.at_level(logging.ERROR):
        result = CliRunner().invoke(TapUkgPro.cli, args)
    assert isinstance(result.exception, SystemExit)
    assert result.exit_code != 0
    assert (cut.seen, cut.fired) == (4, 2)  # LogOn, ExecuteReport twice (not 5 times), then the LogOff
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(f"report {EMPLOYEES!r} failed twice" in e for e in errors), errors
    assert SingerOutput.parse(result.stdout, exact_decimals=True).records("raas_xlr8_employees") == []


def test_retrieve_report_waits_the_page_read_timeout_and_is_retried_like_a_page(
    url: str, emulator: UkgProEmulator, sandbox: Sandbox
) -> None:
    """Only ExecuteReport runs the report: RetrieveReport is sent with ``read_timeout``, and a RetrieveReport reset
    three times (a fetch of the finished run, no re-run) is still retried up to ``max_attempts`` and lands it all."""
    tap = _tap(url, http={"read_timeout": 7, "report_read_timeout": 60})
    with sent_timeouts() as sent:
        whole = tap.raas.run_report(JOB_CODES)
    fetches = [s.read for s in sent if "BIStreamingService" in (s.request.url or "")]
    assert fetches
    assert set(fetches) == {7}
    assert [s.read for s in sent if b"ExecuteReport" in s.body] == [60]
    resets = sandbox.faults.add("ukg_pro", "/services/BIStreamingService", FaultSpec("reset", times=3))
    assert _tap(url).raas.run_report(JOB_CODES) == whole
    assert resets.fired == 3
