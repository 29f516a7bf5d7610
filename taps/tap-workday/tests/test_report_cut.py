"""F13 for a report whose answer breaks off: every RaaS request runs the whole report on the tenant, so a report
reset or cut part way (before the first peeked bytes, or while it streams) is run once more with a warning, then
the run fails naming the report, instead of being run ``max_attempts`` (5) times. The bookmark never moves and no
record lands cut short."""

from __future__ import annotations

import json
import logging
import typing as t

import pytest
from click.testing import CliRunner

from xlr8_kit import streaming
from xlr8_kit.testing.singer_cli import SingerOutput, write_json
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.workday import WorkdayEmulator
from xlr8_tap_workday.tap import TapWorkday

from .conftest import base_config, run_tap
from .test_streaming import REPORT_PATH, report_gets, worker_report

EARLIER = "2024-01-01T00:00:00+00:00"


def _cli_run_from_earlier(url: str, tmp_path: t.Any, caplog: pytest.LogCaptureFixture) -> t.Any:
    """The report read through the tap's CLI from a bookmark at ``EARLIER``, no backoff, warnings captured."""
    config = base_config(url, streams=[], reports=[worker_report(url)], http={"backoff_base": 0})
    earlier = {"bookmarks": {"worker_report": {"replication_key_value": EARLIER}}}
    args = ["--config", write_json(tmp_path / "c.json", config), "--state", write_json(tmp_path / "s.json", earlier)]
    with caplog.at_level(logging.WARNING):
        return CliRunner().invoke(TapWorkday.cli, args)


def _assert_bookmark_kept(output: SingerOutput) -> None:
    """No STATE moved the report's bookmark past ``EARLIER``."""
    for state in output.of_type("STATE"):
        assert state["value"]["bookmarks"]["worker_report"].get("replication_key_value") == EARLIER


@pytest.mark.parametrize(
    ("fault", "peek"),
    [
        ("truncate", None),  # half the body, cut inside the bytes read before the answer is judged
        ("truncate", 300),  # cut while the rows stream (``body_chunks``): resumed once, then stopped
        ("reset", None),  # the connection dropped after the request reached the tenant
    ],
)
def test_report_broken_off_twice_runs_twice_then_the_cli_fails_naming_the_report(
    url: str,
    emulator: WorkdayEmulator,
    sandbox: Sandbox,
    tmp_path: t.Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
    peek: int | None,
) -> None:
    expected = run_tap(base_config(url, streams=[], reports=[worker_report(url)])).records("worker_report")
    if peek is not None:
        monkeypatch.setattr(streaming, "PEEK_BYTES", peek)
        monkeypatch.setattr(streaming, "CHUNK_BYTES", 97)
    before = len(report_gets(sandbox))
    cut = sandbox.faults.add("workday", REPORT_PATH, FaultSpec(t.cast("t.Any", fault), after=1))  # XSD, then runs
    result = _cli_run_from_earlier(url, tmp_path, caplog)
    assert isinstance(result.exception, SystemExit)
    assert result.exit_code != 0
    assert (cut.seen, cut.fired) == (3, 2)  # the XSD, then the report run twice: not max_attempts (5) times
    if fault == "truncate":
        assert report_gets(sandbox)[before:] == [200, 200, 200]  # logged 200, half sent
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert sum("once more" in w for w in warnings) == 1  # said, not silent
    assert any("report 'XLR8_Workers' failed twice after the tenant ran it" in e for e in errors), errors
    assert any("http.max_attempts counts page requests, not report runs" in e for e in errors)
    output = SingerOutput.parse(result.stdout, exact_decimals=True)
    landed = output.records("worker_report")
    assert all(record in expected for record in landed)  # whole rows only, none cut short
    if peek is None:
        assert landed == []  # the cut came before any row was handed out
    else:  # rows streamed before the cut landed once each, in order, none skipped: a prefix of a clean run (L5)
        assert 0 < len(landed) < len(expected)
        assert landed == expected[: len(landed)]
        assert len({json.dumps(r, sort_keys=True, default=str) for r in landed}) == len(landed)
    _assert_bookmark_kept(output)


def test_report_broken_off_once_is_run_again_and_lands_every_row(
    url: str, emulator: WorkdayEmulator, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """The one re-run is real: a report reset once lands every row once, and says it ran the report again."""
    expected = run_tap(base_config(url, streams=[], reports=[worker_report(url)]))
    sandbox.faults.add("workday", REPORT_PATH, FaultSpec("reset", after=1, times=1))
    with caplog.at_level(logging.WARNING):
        result = run_tap(base_config(url, streams=[], reports=[worker_report(url)], http={"backoff_base": 0}))
    assert len(expected.records("worker_report")) > 10
    assert result.records("worker_report") == expected.records("worker_report")
    assert result.state == expected.state
    assert sum("running the report once more ('XLR8_Workers'" in r.getMessage() for r in caplog.records) == 1


#: Envoy's 503 body for an upstream reset, as its router words it; ``retried and the latest`` only when it retried.
ENVOY_RESET = "upstream connect error or disconnect/reset before headers. {}reset reason: connection termination"


@pytest.mark.parametrize(
    ("retried", "runs", "error"),
    [
        # Envoy (and the edges built on it) answers this 503 when the upstream closed the connection after it was
        # made: the tenant may have run the report. Before, such 503s ran the report ``max_attempts`` (5) times; now
        # twice, as a reset.
        (False, 2, "report 'XLR8_Workers' failed twice after the tenant ran it"),
        # "retried and the latest reset reason" says Envoy sent the report request again itself: the tenant may have
        # run it several times already, so it is not run again (review28e L1). Before, it was run a second time.
        (True, 1, "report 'XLR8_Workers': a gateway in front of the tenant retried"),
    ],
    ids=["upstream-reset-counts-as-a-run", "after-its-own-retries-is-not-run-again"],
)
def test_a_gateways_503_for_an_upstream_reset(
    url: str,
    sandbox: Sandbox,
    emulator: WorkdayEmulator,
    tmp_path: t.Any,
    caplog: pytest.LogCaptureFixture,
    retried: bool,
    runs: int,
    error: str,
) -> None:
    """A gateway's 503 for an upstream reset counts as a run of the report: the XSD, then the report ``runs`` times
    (never ``max_attempts``), the CLI fails naming the report, no row lands and the bookmark stays."""
    body = ENVOY_RESET.format("retried and the latest " if retried else "")
    cut = sandbox.faults.add("workday", REPORT_PATH, FaultSpec("status", status=503, body=body, after=1))
    result = _cli_run_from_earlier(url, tmp_path, caplog)
    assert result.exit_code != 0
    assert (cut.seen, cut.fired) == (1 + runs, runs)  # the XSD, then the report: not max_attempts (5) times
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(error in e for e in errors), errors
    output = SingerOutput.parse(result.stdout, exact_decimals=True)
    assert output.records("worker_report") == []
    _assert_bookmark_kept(output)
