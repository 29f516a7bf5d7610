"""F13: a RaaS report runs on the tenant while its request waits, far longer than a page takes. It waits
``http.report_read_timeout`` (not the pages' ``read_timeout``); a report that outlasts even that is run once more
with a warning and then fails naming the setting, instead of being re-run from scratch ``max_attempts`` times."""

from __future__ import annotations

import logging
import time
import typing as t

import pytest

from xlr8_kit.testing.singer_cli import SingerOutput, write_json
from xlr8_kit.testing.timeouts import sent_timeouts
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.workday import WorkdayEmulator

from .conftest import base_config, run_tap
from .test_streaming import REPORT_PATH, report_gets, worker_report

#: Every run of the report (after the XSD request) answers only after 5 s, as a heavy report on a busy tenant does.
SLOW_REPORT = FaultSpec("stall", seconds=5, after=1)


def test_f13_report_waits_report_read_timeout_and_runs_once(
    url: str, emulator: WorkdayEmulator, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """The report run is sent with ``http.report_read_timeout`` as its read timeout, every other call (the XSD,
    the token) with ``read_timeout``; the report runs once. Held by the timeouts the session asked for, not by a
    stall racing a 2 s page timeout on a loaded runner (review26a M4: the XSD GET answering late was retried)."""
    expected = run_tap(base_config(url, streams=[], reports=[worker_report(url)]))
    before = len(report_gets(sandbox))
    config = base_config(
        url, streams=[], reports=[worker_report(url)], http={"read_timeout": 7, "report_read_timeout": 60}
    )
    with caplog.at_level(logging.WARNING), sent_timeouts() as sent:
        result = run_tap(config)
    assert len(expected.records("worker_report")) > 10
    assert result.records("worker_report") == expected.records("worker_report")
    assert result.state == expected.state
    assert report_gets(sandbox)[before:] == [200, 200]  # the XSD, then the report run once: never re-run
    runs = [s for s in sent if "XLR8_Workers" in (s.request.url or "") and "xsds" not in (s.request.url or "")]
    assert [s.read for s in runs] == [60]
    others = [s for s in sent if s not in runs]
    assert others  # the XSD (and any token call)
    assert {s.read for s in others} == {7}
    assert not [r for r in caplog.records if "read timeout" in r.getMessage() or "once more" in r.getMessage()]


def test_f13_report_outlasting_report_read_timeout_runs_twice_then_the_cli_fails_naming_the_setting(
    url: str, emulator: WorkdayEmulator, sandbox: Sandbox, tmp_path: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    from click.testing import CliRunner

    from xlr8_tap_workday.tap import TapWorkday

    slow = sandbox.faults.add("workday", REPORT_PATH, SLOW_REPORT)
    config = base_config(url, streams=[], reports=[worker_report(url)], http={"report_read_timeout": 1})
    earlier = {"bookmarks": {"worker_report": {"replication_key_value": "2024-01-01T00:00:00+00:00"}}}
    args = [
        "--config",
        write_json(tmp_path / "config.json", config),
        "--state",
        write_json(tmp_path / "s.json", earlier),
    ]
    with caplog.at_level(logging.WARNING):
        result = CliRunner().invoke(TapWorkday.cli, args)
    assert isinstance(result.exception, SystemExit)
    assert result.exit_code != 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert sum("running the report once more" in w for w in warnings) == 1  # said, not silent
    assert any("http.report_read_timeout=1 s, twice" in e for e in errors)
    assert slow.seen == 1 + 2  # the XSD, then the report run twice: not max_attempts (5) times
    assert slow.fired == 2
    for _ in range(300):  # let the tenant finish the two runs the client stopped waiting for (clean shutdown)
        if len(report_gets(sandbox)) >= 3:
            break
        time.sleep(0.05)
    for state in SingerOutput.parse(result.stdout, exact_decimals=True).of_type("STATE"):
        value = state["value"]["bookmarks"]["worker_report"]
        assert value.get("replication_key_value") == "2024-01-01T00:00:00+00:00"  # never past rows not read
