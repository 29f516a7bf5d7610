"""F13 for Ready's own report runs (review26a L10): every ``GET /ta/rest/v1/report/{kind}/{id}`` runs the report on
the tenant, as a Workday RaaS request does. It waits ``http.report_read_timeout`` (not a page's ``read_timeout``),
and one reset or cut part way is run once more with a warning, then the run fails naming the report, instead of
running it ``max_attempts`` (5) times."""

from __future__ import annotations

import logging

import pytest

from xlr8_kit.http.errors import ServerUnavailableError
from xlr8_kit.testing.timeouts import sent_timeouts
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_ready import UkgReadyEmulator

from .conftest import REPORTS, ready_config, run_tap

REPORT = "/ta/rest/v1/report/saved/1001"


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_report_run_waits_report_read_timeout_and_other_calls_read_timeout(
    url: str, emulator: UkgReadyEmulator, fmt: str
) -> None:
    config = ready_config(
        url, reports=REPORTS[:1], report_format=fmt, http={"read_timeout": 7, "report_read_timeout": 60}
    )
    with sent_timeouts() as sent:
        output = run_tap(config, streams={"pay_statements"})
    assert output.records("pay_statements")
    runs = [s.read for s in sent if (s.request.url or "").split("?")[0].endswith(REPORT)]
    assert runs == [60]  # the run itself, once
    others = {s.read for s in sent if not (s.request.url or "").split("?")[0].endswith(REPORT)}
    assert others == {7}  # login, metadata: page calls


@pytest.mark.parametrize(("fmt", "fault"), [("csv", "truncate"), ("csv", "reset"), ("json", "truncate")])
def test_a_report_run_broken_off_twice_is_run_twice_then_fails_naming_the_report(
    url: str, sandbox: Sandbox, emulator: UkgReadyEmulator, caplog: pytest.LogCaptureFixture, fmt: str, fault: str
) -> None:
    cut = sandbox.faults.add("ukg_ready", REPORT, FaultSpec(fault, method="GET"))  # type: ignore[arg-type]
    config = ready_config(url, reports=REPORTS[:1], report_format=fmt, http={"backoff_base": 0})
    with caplog.at_level(logging.WARNING), pytest.raises(ServerUnavailableError) as info:
        run_tap(config, streams={"pay_statements"})
    assert cut.fired == 2  # run twice: not max_attempts (5) times
    assert "report 'saved/1001' failed twice after the tenant ran it" in str(info.value)
    assert sum("once more" in r.getMessage() for r in caplog.records) == 1  # said, not silent
