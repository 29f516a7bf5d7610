"""RaaS reports are read as they stream (issue 14, goal 4): the SOAP answer parsed incrementally, its base64
ReportStream decoded in pieces, CSV and XML rows read as they arrive. Same rows as a whole read; a download cut
mid-body is asked for again (same ReportKey) and resumed after the bytes already read; one that keeps breaking
off fails the sync."""

from __future__ import annotations

import logging
import typing as t
from decimal import Decimal

import msgspec
import pytest

from xlr8_kit import streaming
from xlr8_kit.testing.fake_time import FakeTime
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_pro import UkgProEmulator
from xlr8_sandbox.products.ukg_pro.raas import FOLDER
from xlr8_tap_ukg_pro import discovery

from .conftest import SCALE, run_tap, ukg_config

EMPLOYEES = f"{FOLDER}/report[@name='XLR8 Employees']"
EARNINGS = f"{FOLDER}/report[@name='XLR8 Earnings History']"
STREAM_PATH = "/services/BIStreamingService"


@pytest.fixture
def small_peek(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every answer above 300 bytes is streamed, in odd-sized pieces (chunk edges land everywhere)."""
    monkeypatch.setattr(streaming, "PEEK_BYTES", 300)
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 97)


def retrievals(sandbox: Sandbox) -> int:
    return len(sandbox.requests("ukg_pro", STREAM_PATH))


@pytest.mark.parametrize("output", ["csv", "xml"])
def test_streamed_report_gives_the_rows_of_a_whole_read(
    url: str, emulator: UkgProEmulator, monkeypatch: pytest.MonkeyPatch, output: str
) -> None:
    config = ukg_config(url, raas_reports=[{"path": EARNINGS}], raas_output=output)
    whole = run_tap(config, streams={"raas_xlr8_earnings_history"})
    monkeypatch.setattr(streaming, "PEEK_BYTES", 300)
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 97)
    streamed = run_tap(config, streams={"raas_xlr8_earnings_history"})
    assert len(whole.records("raas_xlr8_earnings_history")) > SCALE
    assert streamed.records("raas_xlr8_earnings_history") == whole.records("raas_xlr8_earnings_history")


def test_a9_download_cut_mid_body_is_resumed(
    url: str, emulator: UkgProEmulator, sandbox: Sandbox, small_peek: None, caplog: pytest.LogCaptureFixture
) -> None:
    config = ukg_config(url, raas_reports=[{"path": EMPLOYEES}])
    before = retrievals(sandbox)
    plain = FakeTime()
    expected = run_tap(config, streams={"raas_xlr8_employees"}, fake=plain).records("raas_xlr8_employees")
    per_run = retrievals(sandbox) - before  # discovery's run of the report, then the sync's
    sandbox.faults.add("ukg_pro", STREAM_PATH, FaultSpec("truncate", after=per_run - 1, times=1))
    fake = FakeTime()
    with caplog.at_level(logging.WARNING, logger="xlr8_kit.streaming"):
        result = run_tap(config, streams={"raas_xlr8_employees"}, fake=fake)
    assert len(expected) == SCALE
    assert result.records("raas_xlr8_employees") == expected  # every row once
    assert any("broke off after" in r.getMessage() for r in caplog.records)
    assert fake.sleeps == [*plain.sleeps, 0.5]  # the same polls, then one backoff before asking again
    assert retrievals(sandbox) - before == 2 * per_run + 1


def test_download_that_keeps_breaking_off_fails_the_sync(
    url: str, emulator: UkgProEmulator, sandbox: Sandbox, small_peek: None
) -> None:
    config = ukg_config(url, raas_reports=[{"path": EMPLOYEES}], http={"max_attempts": 3})
    before = retrievals(sandbox)
    run_tap(config, streams={"raas_xlr8_employees"})
    per_run = retrievals(sandbox) - before
    sandbox.faults.add("ukg_pro", STREAM_PATH, FaultSpec("truncate", after=per_run - 1))
    with pytest.raises(streaming.StreamedBodyError, match=r"broke off after .* 3 times"):
        run_tap(config, streams={"raas_xlr8_employees"}, fake=FakeTime())


@pytest.mark.parametrize("output", ["csv", "xml"])
@pytest.mark.parametrize("report", [EMPLOYEES, EARNINGS, f"{FOLDER}/report[@name='XLR8 Job Codes']"])
def test_streamed_discovery_profile_equals_the_whole_report_parse(
    url: str, emulator: UkgProEmulator, small_peek: None, output: str, report: str
) -> None:
    """Discovery profiles a report as it streams (types and key from per-column summaries, no rows kept): the
    same types and key as parsing the whole report."""
    from xlr8_kit.testing.fake_time import with_fake_time
    from xlr8_tap_ukg_pro import discovery
    from xlr8_tap_ukg_pro.tap import TapUkgPro

    tap = with_fake_time(TapUkgPro, FakeTime())(config=ukg_config(url, raas_output=output), parse_env_config=False)
    table = discovery.parse_report(tap.raas.run_report(report))
    shape = discovery.profile_report(tap.raas.stream_run(report))
    assert shape.columns == table.columns
    assert shape.types == table.types
    assert shape.primary_keys == discovery.pick_primary_keys(table)
    assert shape.typed_by_vendor == table.typed_by_vendor


def test_profile_of_edge_cases_equals_infer_types_and_pick_primary_keys() -> None:
    from xlr8_tap_ukg_pro import discovery

    csv_text = (
        "Name,EmployeeNumber,Hours,Amount,Flag,Start,Stamp,Mixed,Code,Dup\r\n"
        "Zoë,000042,8,1.50,true,2024-01-31,2024-01-31T08:00:00Z,7,A1,x\r\n"
        '"Multi\r\nline",000043,,2,FALSE,01/02/2024,,x,A2,x\r\n'
        "Omar,000044,7,,true,2024-02-01,2024-02-01 09:30,3,A3,y\r\n"
    )
    content = csv_text.encode("cp1252")
    table = discovery.parse_report(content)
    for size in (1, 5, 64):
        shape = discovery.profile_report([content[i : i + size] for i in range(0, len(content), size)])
        assert shape.types == table.types
        assert shape.primary_keys == discovery.pick_primary_keys(table)
    assert table.types["Hours"] == "number"  # whole hours are still a measure
    assert shape.primary_keys == ["EmployeeNumber"]


def test_report_numbers_the_writer_alone_reads_are_written_as_their_texts(
    url: str, emulator: UkgProEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the plain loop the report's number column is handed to the writer as the texts it would write for the
    Decimals (``block_builder``'s ``written``): the landed records are those of the SDK's loop, which types every
    number as a Decimal."""
    config = ukg_config(url, raas_reports=[{"path": EMPLOYEES}])
    built = discovery.block_builder
    raw_values: list[msgspec.Raw] = []

    def spying(*args: t.Any, **kwargs: t.Any) -> t.Any:
        build = built(*args, **kwargs)

        def build_block(rows: list[list[str]]) -> t.Any:
            got = build(rows)
            if got is not None:
                raw_values.extend(v for record in got[0] for v in record.values() if type(v) is msgspec.Raw)
            return got

        return build_block

    monkeypatch.setattr(discovery, "block_builder", spying)
    plain = run_tap(config, streams={"raas_xlr8_employees"}).records("raas_xlr8_employees")
    assert len(raw_values) == len(plain) > 0  # one AnnualSalary text per row
    monkeypatch.setenv("XLR8_TAP_SDK_RECORD_LOOP", "1")
    raw_values.clear()
    sdk = run_tap(config, streams={"raas_xlr8_employees"}).records("raas_xlr8_employees")
    assert raw_values == []
    assert repr(plain) == repr(sdk)  # exact decimals: 1.50 is not 1.5
    assert {type(record["AnnualSalary"]) for record in plain} <= {Decimal, int, type(None)}
