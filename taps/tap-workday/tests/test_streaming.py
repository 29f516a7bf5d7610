"""RaaS reports are read as they stream (issue 14, goal 4): the same rows and state as a whole read, a body cut
mid-transfer is asked for again and resumed after the bytes already read, and a body that keeps breaking off
fails the run without moving the bookmark."""

from __future__ import annotations

import contextlib
import io
import logging
import typing as t

import pytest

from xlr8_kit import streaming
from xlr8_kit.testing.singer_cli import SingerOutput
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.workday import WorkdayEmulator

from .conftest import SLEEPS, RecordingTap, base_config, report_url, run_tap

REPORT_PATH = "/ccx/service/customreport2/*/XLR8_Workers"


def worker_report(url: str) -> dict[str, t.Any]:
    return {
        "name": "worker_report", "url": report_url(url, "XLR8_Workers"), "primary_keys": ["Employee_ID"],
        "incremental": {"from_prompt": "Updated_From", "to_prompt": "Updated_Through", "start_date": "2024-01-01",
                        "end_date": "2026-12-31", "window_days": 1100, "replication_key": "Last_Updated"},
    }  # fmt: skip


@pytest.fixture
def small_peek(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every report body larger than 300 bytes is streamed, in odd-sized pieces (chunk edges land everywhere)."""
    monkeypatch.setattr(streaming, "PEEK_BYTES", 300)
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 97)


def report_gets(sandbox: Sandbox) -> list[int]:
    return [r.status for r in sandbox.requests("workday", "/ccx/service/customreport2/") if "XLR8_Workers" in r.path]


def test_streamed_report_lands_what_a_whole_read_lands(
    url: str, emulator: WorkdayEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = run_tap(base_config(url, streams=[], reports=[worker_report(url)]))
    monkeypatch.setattr(streaming, "PEEK_BYTES", 300)
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 97)
    streamed = run_tap(base_config(url, streams=[], reports=[worker_report(url)]))
    assert len(whole.records("worker_report")) > 10
    assert streamed.records("worker_report") == whole.records("worker_report")
    assert streamed.state == whole.state


def test_a9_report_cut_mid_body_is_resumed_after_the_rows_read(
    url: str, emulator: WorkdayEmulator, sandbox: Sandbox, small_peek: None, caplog: pytest.LogCaptureFixture
) -> None:
    expected = run_tap(base_config(url, streams=[], reports=[worker_report(url)])).records("worker_report")
    asked = len(report_gets(sandbox))  # the XSD and the one window
    sandbox.faults.add("workday", REPORT_PATH, FaultSpec("truncate", after=asked - 1, times=1))
    SLEEPS.clear()
    with caplog.at_level(logging.WARNING, logger="xlr8_kit.streaming"):
        result = run_tap(base_config(url, streams=[], reports=[worker_report(url)]))
    assert result.records("worker_report") == expected  # every row once, none lost or repeated
    assert any("broke off after" in r.getMessage() for r in caplog.records)
    assert len(SLEEPS) == 1
    assert report_gets(sandbox)[-2:] == [200, 200]  # the cut answer (logged 200, half sent), then the resumed one


def test_report_that_keeps_breaking_off_fails_and_keeps_the_bookmark(
    url: str, emulator: WorkdayEmulator, sandbox: Sandbox, small_peek: None
) -> None:
    report = worker_report(url)
    earlier = {"bookmarks": {"worker_report": {"replication_key_value": "2024-01-01T00:00:00+00:00"}}}
    sandbox.faults.add("workday", REPORT_PATH, FaultSpec("truncate", after=1))  # the XSD, then every window cut
    buffer = io.StringIO()
    tap = RecordingTap(config=base_config(url, streams=[], reports=[report]), state=earlier, parse_env_config=False)
    with contextlib.redirect_stdout(buffer), pytest.raises(streaming.StreamedBodyError, match="broke off after"):
        tap.sync_all()
    output = SingerOutput.parse(buffer.getvalue(), exact_decimals=True)
    for state in output.of_type("STATE"):
        value = state["value"]["bookmarks"]["worker_report"]
        assert value.get("replication_key_value") == "2024-01-01T00:00:00+00:00"  # never past unread rows
    assert len(report_gets(sandbox)) == 1 + 2  # the XSD, then the report run twice, not max_attempts (5) times (F13)


def test_cli_run_whose_report_keeps_breaking_off_exits_non_zero(
    url: str,
    emulator: WorkdayEmulator,
    sandbox: Sandbox,
    small_peek: None,
    tmp_path: t.Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Through the real command: one error line naming the cut and a non-zero exit."""
    from click.testing import CliRunner

    from xlr8_kit.testing.singer_cli import write_json
    from xlr8_tap_workday.tap import TapWorkday

    config = base_config(url, streams=[], reports=[worker_report(url)], http={"max_attempts": 2, "backoff_base": 0})
    sandbox.faults.add("workday", REPORT_PATH, FaultSpec("truncate", after=1))  # the XSD, then every read cut
    with caplog.at_level(logging.ERROR):
        result = CliRunner().invoke(TapWorkday.cli, ["--config", write_json(tmp_path / "config.json", config)])
    assert isinstance(result.exception, SystemExit)
    assert result.exit_code != 0
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("broke off after" in e and "failed twice" in e for e in errors)
