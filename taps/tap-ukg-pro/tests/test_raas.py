"""RaaS over real SOAP against the emulator: LogOn failure (Status Failed), reports still Working then Completed,
the polling timeout, failed reports, Windows-1252 text, XML and CSV giving the same typed rows, session expiry."""

from __future__ import annotations

import logging
import time
import typing as t
from decimal import Decimal

import pytest

from xlr8_kit.http.errors import (
    AuthenticationError,
    ErrorBodyError,
    ReauthorizationRequiredError,
    ServerUnavailableError,
)
from xlr8_kit.testing.fake_time import FakeTime, with_fake_time
from xlr8_kit.testing.timeouts import sent_timeouts
from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_pro import UkgProEmulator
from xlr8_sandbox.products.ukg_pro.raas import FOLDER
from xlr8_tap_ukg_pro.tap import TapUkgPro

from .conftest import SCALE, run_tap, ukg_config

COMPANY = Company(seed=42, scale=SCALE)
EMPLOYEES = f"{FOLDER}/report[@name='XLR8 Employees']"
EARNINGS = f"{FOLDER}/report[@name='XLR8 Earnings History']"
JOB_CODES = f"{FOLDER}/report[@name='XLR8 Job Codes']"
STATUS = {"active": "A", "leave": "L", "terminated": "T"}


def _tap(url: str, fake: FakeTime, **extra: object) -> TapUkgPro:
    return with_fake_time(TapUkgPro, fake)(config=ukg_config(url, **extra), parse_env_config=False)


def test_logon_failure_status_failed_names_the_settings(url: str, emulator: UkgProEmulator) -> None:
    tap = _tap(url, FakeTime(), password="not-the-password")
    with pytest.raises(AuthenticationError) as info:
        tap.raas.list_reports()
    message = str(info.value)
    assert "Status Failed" in message
    assert "user name, password, or access keys are incorrect" in message
    assert "'password'" in message
    assert "'user_access_key'" in message
    assert "not-the-password" not in message


def test_report_working_then_completed_is_polled_patiently(url: str, emulator: UkgProEmulator) -> None:
    emulator.working_polls = 3
    fake = FakeTime()
    result = run_tap(ukg_config(url, raas_reports=[{"path": EMPLOYEES}]), streams={"raas_xlr8_employees"}, fake=fake)
    rows = result.records("raas_xlr8_employees")
    assert len(rows) == SCALE
    assert fake.sleeps == [2, 2, 2]  # three Working answers, one poll interval each, no other waits
    by_id = {r["EmployeeID"]: r for r in rows}
    for i in (0, 7, 42, 99):
        e = COMPANY.employee(i)
        row = by_id[e.employee_id]
        assert (row["FirstName"], row["LastName"], row["EmployeeStatusCode"]) == (
            e.first_name,
            e.last_name,
            STATUS[e.status],
        )
        assert row["AnnualSalary"] == e.annual_salary
        assert row["HireDate"] == e.hire_date.isoformat()
        assert row["TerminationDate"] == (e.termination_date.isoformat() if e.termination_date else None)
        assert row["FullTime"] is e.full_time
    schema = result.schema_message("raas_xlr8_employees")
    assert schema["key_properties"] == ["EmployeeID"]
    props = schema["schema"]["properties"]
    assert props["AnnualSalary"]["type"] == ["number", "null"]
    assert props["HireDate"] == {"type": ["string", "null"], "format": "date"}
    assert props["LastModified"]["format"] == "date-time"
    assert props["EmployeeNumber"]["type"] == ["string", "null"]  # "000042" keeps its zeros
    assert schema["schema"]["x-xlr8"]["entity"] == "employee"


def test_report_still_working_at_the_timeout_stops_with_the_setting_named(
    url: str, emulator: UkgProEmulator, sandbox: Sandbox
) -> None:
    emulator.working_polls = 1000
    fake = FakeTime()
    tap = _tap(url, fake, raas_timeout=10, raas_poll_interval=3)
    before = len(sandbox.requests("ukg_pro", "/services/BIStreamingService"))
    with pytest.raises(ServerUnavailableError, match=r"still Working after 9 s and 4 polls.*'raas_timeout'"):
        tap.raas.run_report(EMPLOYEES)
    assert fake.sleeps == [3, 3, 3]
    assert len(sandbox.requests("ukg_pro", "/services/BIStreamingService")) - before == 4


def test_failed_report_is_an_error_with_the_vendor_message(url: str, emulator: UkgProEmulator) -> None:
    emulator.fail_next_report = "The report timed out in the reporting engine."
    tap = _tap(url, FakeTime())
    with pytest.raises(Exception, match="Status Failed: The report timed out in the reporting engine") as info:
        tap.raas.run_report(EMPLOYEES)
    assert "body is an error" in str(info.value)  # HTTP 200, classified as an error (A8), never zero rows


def test_unknown_report_path_and_parameter_fail_clearly(url: str, emulator: UkgProEmulator) -> None:
    tap = _tap(url, FakeTime())
    with pytest.raises(Exception, match="report path was not found"):
        tap.raas.execute_report(f"{FOLDER}/report[@name='Nope']")
    with pytest.raises(Exception, match="Unknown report parameter 'Colour'"):
        tap.raas.execute_report(EMPLOYEES, {"Colour": "blue"})


def test_windows_1252_report_text_is_decoded_exactly(url: str, emulator: UkgProEmulator) -> None:
    tap = _tap(url, FakeTime())
    raw = tap.raas.run_report(JOB_CODES)
    assert b"Director\x92s Office Lead" in raw  # U+2019 as Windows-1252 byte 0x92, as the real service sends it
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    people = tap.raas.run_report(EMPLOYEES)
    accented = [e for e in COMPANY.employees() if not (e.first_name + e.last_name).isascii()]
    assert accented, "the company should have accented names"
    assert any(e.last_name == "Müller" or "é" in e.first_name for e in accented)
    assert "Müller".encode("cp1252") in people or "é".encode("cp1252") in people

    result = run_tap(
        ukg_config(url, raas_reports=[{"path": JOB_CODES}, {"path": EMPLOYEES}]),
        streams={"raas_xlr8_job_codes", "raas_xlr8_employees"},
    )
    descriptions = {r["Code"]: r["Description"] for r in result.records("raas_xlr8_job_codes")}
    assert descriptions["J004"] == "Director\u2019s Office Lead"
    assert descriptions["J008"] == "Consultant \u2013 Client\u2019s Site"
    assert set(descriptions) == {j.code for j in COMPANY.jobs}
    names = {r["EmployeeID"]: (r["FirstName"], r["LastName"]) for r in result.records("raas_xlr8_employees")}
    for e in accented:
        assert names[e.employee_id] == (e.first_name, e.last_name)


def test_xml_output_types_from_metadata_match_csv_rows(url: str, emulator: UkgProEmulator) -> None:
    params = {"PayDateFrom": "2025-12-01", "PayDateTo": "2025-12-31"}
    report = [{"path": EARNINGS, "parameters": params}]
    csv_rows = run_tap(ukg_config(url, raas_reports=report), streams={"raas_xlr8_earnings_history"})
    xml_rows = run_tap(ukg_config(url, raas_reports=report, raas_output="xml"), streams={"raas_xlr8_earnings_history"})
    from_csv = csv_rows.records("raas_xlr8_earnings_history")
    from_xml = xml_rows.records("raas_xlr8_earnings_history")
    assert from_csv
    assert from_csv == from_xml
    pay_dates = {r["PayDate"] for r in from_csv}
    periods = [p for p in COMPANY.pay_periods() if "2025-12-01" <= p.pay_date.isoformat() <= "2025-12-31"]
    assert pay_dates == {p.pay_date.isoformat() for p in periods}
    expected = 0
    for i in range(SCALE):
        for period in periods:
            statement = COMPANY.pay_statement(i, period)
            expected += len(statement.earnings) if statement else 0
    assert len(from_csv) == expected
    regular = next(r for r in from_csv if r["EarningCode"] == "REG")
    assert regular["Hours"] == Decimal(80)
    assert isinstance(regular["Amount"], Decimal)
    xml_schema = xml_rows.schema("raas_xlr8_earnings_history")["properties"]
    assert xml_schema["Amount"]["type"] == ["number", "null"]
    assert xml_schema["PayDate"]["format"] == "date"


def test_b2_expired_session_logs_on_again_once(url: str, emulator: UkgProEmulator, sandbox: Sandbox) -> None:
    tap = _tap(url, FakeTime())
    sandbox.faults.add("ukg_pro", "/services/BIDataService", FaultSpec("revoke_tokens", after=1, times=1))
    before = len(sandbox.requests("ukg_pro", "/services/BIDataService"))
    content = tap.raas.run_report(JOB_CODES)
    assert b"Director" in content
    # LogOn, ExecuteReport (token revoked: Status Failed), LogOn again, ExecuteReport
    assert len(sandbox.requests("ukg_pro", "/services/BIDataService")) - before == 4
    assert tap.raas_authenticator.refresh_count == 2


def test_b2_session_rejected_after_a_fresh_logon_is_fatal(url: str, emulator: UkgProEmulator, sandbox: Sandbox) -> None:
    tap = _tap(url, FakeTime())
    sandbox.faults.add("ukg_pro", "/services/BIDataService", FaultSpec("revoke_tokens", after=1))
    with pytest.raises(ReauthorizationRequiredError, match="re-authentication required"):
        tap.raas.run_report(JOB_CODES)
    assert tap.raas_authenticator.refresh_count == 2  # one forced LogOn, no loop


def test_report_list_and_parameters(url: str, emulator: UkgProEmulator) -> None:
    tap = _tap(url, FakeTime())
    reports = {r.name: r.path for r in tap.raas.list_reports()}
    assert reports == {"XLR8 Employees": EMPLOYEES, "XLR8 Earnings History": EARNINGS, "XLR8 Job Codes": JOB_CODES}
    params = {p.name: p for p in tap.raas.report_parameters(EARNINGS)}
    assert set(params) == {"PayDateFrom", "PayDateTo"}
    assert params["PayDateFrom"].data_type == "Date"
    assert not params["PayDateFrom"].required
    with pytest.raises(ErrorBodyError, match="report path was not found"):
        tap.raas.report_parameters("/content/nowhere")


def test_report_parameters_from_config_reach_the_report(url: str, emulator: UkgProEmulator) -> None:
    config = ukg_config(
        url, raas_reports=[{"path": EMPLOYEES, "name": "leavers", "parameters": {"EmployeeStatus": ["T"]}}]
    )
    rows = run_tap(config, streams={"leavers"}).records("leavers")
    expected = {e.employee_id for e in COMPANY.employees() if e.status == "terminated"}
    assert {r["EmployeeID"] for r in rows} == expected
    assert all(r["TerminationDate"] for r in rows)


def test_report_annotation_from_config_and_default(url: str, emulator: UkgProEmulator) -> None:
    earnings = {"path": EARNINGS, "entity": "pay_statement", "references": {"EarningCode": "earning"},
                "parameters": {"PayDateFrom": "2026-01-01"}}  # fmt: skip
    result = run_tap(
        ukg_config(url, raas_reports=[earnings, {"path": EMPLOYEES}, {"path": JOB_CODES}]),
        streams={"raas_xlr8_earnings_history", "raas_xlr8_employees", "raas_xlr8_job_codes"},
    )
    pay = result.schema("raas_xlr8_earnings_history")["x-xlr8"]
    assert (pay["entity"], pay["truth_type"], pay["key_columns"]) == ("pay_statement", "reality", ["EarningLineID"])
    assert pay["references"]["EmployeeID"]["entity"] == "employee"  # added because the rows are not employees
    assert pay["references"]["EarningCode"]["entity"] == "earning"
    assert result.schema("raas_xlr8_employees")["x-xlr8"]["entity"] == "employee"  # keyed by EmployeeID
    assert "x-xlr8" not in result.schema("raas_xlr8_job_codes")  # no entity given: plain Singer schema


def test_a3_a9_transient_soap_failures_are_retried(url: str, emulator: UkgProEmulator, sandbox: Sandbox) -> None:
    """503 twice on ExecuteReport, then the report download cut mid-body: both retried, rows complete."""
    sandbox.faults.add("ukg_pro", "/services/BIDataService", FaultSpec("status", status=503, after=1, times=2))
    sandbox.faults.add("ukg_pro", "/services/BIStreamingService", FaultSpec("truncate", after=1, times=1))
    fake = FakeTime()
    content = _tap(url, fake).raas.run_report(EMPLOYEES)
    assert content.count(b"\r\n") == SCALE + 1  # header and every employee, nothing cut
    logged = [r.status for r in sandbox.requests("ukg_pro", "/services/")]
    assert logged.count(503) == 2
    assert len(fake.sleeps) == 4  # two backoffs, one poll interval (Working), one retry after the truncation


@pytest.mark.parametrize("name", ["__EmployeeNumber", "__len__", "__post_init__"])
def test_a_report_column_named_like_a_python_internal_lands_every_record(
    name: str, url: str, emulator: UkgProEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A RaaS header is the user's text: ``__EmployeeNumber`` or ``__len__`` are identifiers that no struct field
    can be (name mangling, dunders), so those records stay dicts and land as the report with its usual name does."""
    import dataclasses

    from xlr8_sandbox.products.ukg_pro import raas

    config = ukg_config(url, raas_reports=[{"path": EMPLOYEES}])
    usual = run_tap(config, streams={"raas_xlr8_employees"}).records("raas_xlr8_employees")
    first = raas.REPORTS[0]
    assert first.path == EMPLOYEES
    columns = tuple(dataclasses.replace(c, name=name) if c.name == "EmployeeNumber" else c for c in first.columns)
    monkeypatch.setattr(raas, "REPORTS", (dataclasses.replace(first, columns=columns), *raas.REPORTS[1:]))
    emulator.row_cache.clear()  # the emulator keeps a report's rows by path: serve the renamed header, and after
    try:  # the test, the usual one again
        renamed = run_tap(config, streams={"raas_xlr8_employees"}).records("raas_xlr8_employees")
    finally:
        emulator.row_cache.clear()
    assert len(usual) == len(list(COMPANY.employees())) > 0
    assert [list(record) for record in renamed] == [[name if k == "EmployeeNumber" else k for k in r] for r in usual]
    assert [{("EmployeeNumber" if k == name else k): v for k, v in r.items()} for r in renamed] == usual


def test_a_lone_surrogate_in_a_report_cell_lands_the_record_the_sdk_loop_lands(
    url: str, emulator: UkgProEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report in UTF-7 (``raas_csv_encoding``) whose text cell decodes to a lone surrogate: msgspec refuses that
    record, the SDK's serializer writes it, and it must be the record (its amount a number), as in the SDK loop;
    not a JSON string holding a struct's repr, nor ``<msgspec.Raw object ...>`` for the amount."""
    from xlr8_sandbox.products.ukg_pro import raas

    def rows(_company: object, _params: object) -> t.Iterator[tuple[str, str, Decimal]]:
        yield ("A1", "plain", Decimal("1.50"))
        yield ("A2", "lone +2AA- surrogate", Decimal("2.25"))  # UTF-7 for "lone \ud800 surrogate"
        yield ("A3", "after", Decimal("3.00"))

    columns = (raas.Column("Code", "xs:string"), raas.Column("Label", "xs:string"), raas.Column("Amount", "xs:decimal"))
    report = raas.Report("XLR8 Surrogate", columns, (), rows)
    monkeypatch.setattr(raas, "REPORTS", (*raas.REPORTS, report))
    config = ukg_config(url, raas_reports=[{"path": report.path}], raas_csv_encoding="utf-7", raas_output="csv")
    plain = run_tap(config, streams={"raas_xlr8_surrogate"}).records("raas_xlr8_surrogate")
    monkeypatch.setenv("XLR8_TAP_SDK_RECORD_LOOP", "1")
    sdk = run_tap(config, streams={"raas_xlr8_surrogate"}).records("raas_xlr8_surrogate")
    assert plain[1] == {"Code": "A2", "Label": "lone \ud800 surrogate", "Amount": Decimal("2.25")}
    assert plain == sdk
    assert [record["Amount"] for record in plain] == [Decimal("1.50"), Decimal("2.25"), Decimal("3.00")]


#: ExecuteReport (after the LogOn) answers only after 5 s every time, as a heavy report on a busy tenant does.
SLOW_EXECUTE = FaultSpec("stall", seconds=5, after=1)


def test_f13_execute_report_waits_report_read_timeout_and_runs_once(
    url: str, emulator: UkgProEmulator, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """ExecuteReport runs the report on the tenant: it is sent with ``http.report_read_timeout`` as its read
    timeout, the LogOn with ``read_timeout``. Held by the timeouts the session asked for, not by a stall racing a
    2 s LogOn timeout on a loaded runner (review26a M4)."""
    tap = _tap(url, FakeTime(), http={"read_timeout": 7, "report_read_timeout": 60})
    before = len(sandbox.requests("ukg_pro", "/services/BIDataService"))
    with caplog.at_level(logging.WARNING), sent_timeouts() as sent:
        content = tap.raas.run_report(JOB_CODES)
    assert b"Director" in content
    assert len(sandbox.requests("ukg_pro", "/services/BIDataService")) - before == 2  # LogOn, ExecuteReport once
    data = [s for s in sent if "BIDataService" in (s.request.url or "")]
    assert [(b"ExecuteReport" in s.body, b"LogOn" in s.body, s.read) for s in data] == [
        (False, True, 7),
        (True, False, 60),
    ]
    assert not [r for r in caplog.records if "read timeout" in r.getMessage() or "once more" in r.getMessage()]


def test_f13_execute_report_outlasting_report_read_timeout_runs_twice_then_fails_naming_the_setting(
    url: str, emulator: UkgProEmulator, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    tap = _tap(url, FakeTime(), http={"report_read_timeout": 1})
    before = len(sandbox.requests("ukg_pro", "/services/BIDataService"))
    slow = sandbox.faults.add("ukg_pro", "/services/BIDataService", SLOW_EXECUTE)
    with (
        caplog.at_level(logging.WARNING),
        pytest.raises(ServerUnavailableError, match=r"ExecuteReport|BIDataService") as info,
    ):
        tap.raas.run_report(JOB_CODES)
    assert "no answer within http.report_read_timeout=1 s, twice" in str(info.value)
    assert sum("running the report once more" in r.getMessage() for r in caplog.records) == 1  # said, not silent
    assert (slow.seen, slow.fired) == (3, 2)  # LogOn, then ExecuteReport twice: not max_attempts (5) times
    for _ in range(300):  # let the tenant finish the two runs the client stopped waiting for (clean shutdown)
        if len(sandbox.requests("ukg_pro", "/services/BIDataService")) >= before + 3:
            break
        time.sleep(0.05)
