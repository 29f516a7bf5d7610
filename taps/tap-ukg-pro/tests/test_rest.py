"""REST over real HTTP against the emulator: page/per_Page paging to the end, employee-changes windows and their
bookmark (E14), 429 with Retry-After (A1), an error object inside a 200 (A8), the status and termination filters,
exact values and configuration streams, bad settings."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from singer_sdk.exceptions import ConfigValidationError

from xlr8_kit.http.errors import ErrorBodyError, KitHTTPError
from xlr8_kit.testing.fake_time import FakeTime
from xlr8_sandbox.company import EPOCH, Company
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_pro import UkgProEmulator
from xlr8_tap_ukg_pro.tap import TapUkgPro

from .conftest import SCALE, run_tap, ukg_config

COMPANY = Company(seed=42, scale=SCALE)
ALL_IDS = {f"E{i + 1:06d}" for i in range(SCALE)}
STATUS = {"active": "A", "leave": "L", "terminated": "T"}


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("window", [1, 4])
@pytest.mark.parametrize(("per_page", "pages"), [(7, 16), (10, 11), (10_000, 2)])
def test_paging_to_the_end(
    url: str, sandbox: Sandbox, emulator: UkgProEmulator, per_page: int, pages: int, window: int
) -> None:
    """Only an empty page ends the stream (review24b #3: a short page may have rows after it), so a short or full
    last page costs exactly one more (empty) request. With a window of
    requests in flight (``max_concurrent_requests``), the pages asked for past the end before the end was seen
    (at most window - 1) are the only extra requests. A stream that fits in one short page costs one more
    request too: a short first page may be the server's cap (audit24b H2), so its length is taken as the page
    size and the next page, empty, ends the read."""
    before = len(sandbox.requests("ukg_pro", "/personnel/v1/employment-details"))
    config = ukg_config(url, per_page=per_page, max_concurrent_requests=window)
    rows = run_tap(config, streams={"employment_details"}).records("employment_details")
    assert len(rows) == SCALE
    assert {r["employeeID"] for r in rows} == ALL_IDS
    asked = len(sandbox.requests("ukg_pro", "/personnel/v1/employment-details")) - before
    assert asked == pages + window - 1


def test_exact_values_and_annotations(url: str, emulator: UkgProEmulator) -> None:
    result = run_tap(
        ukg_config(url, per_page=50),
        streams={"employment_details", "compensation_details", "jobs", "org_levels", "code_table_values"},
    )
    by_id = {r["employeeID"]: r for r in result.records("employment_details")}
    for i in (0, 13, 64, 99):
        e = COMPANY.employee(i)
        row = by_id[e.employee_id]
        assert row["employeeStatusCode"] == STATUS[e.status]
        assert (row["primaryJobCode"], row["orgLevel1Code"], row["companyID"]) == (
            e.job_code,
            e.department_code,
            e.company_code,
        )
        assert row["originalHireDate"] == e.hire_date.isoformat()
        assert row["dateOfTermination"] == (e.termination_date.isoformat() if e.termination_date else None)
        assert datetime.fromisoformat(row["dateTimeChanged"]) == e.last_modified
    pay = {r["employeeID"]: r for r in result.records("compensation_details")}
    assert pay["E000001"]["annualSalary"] == COMPANY.employee(0).annual_salary
    assert isinstance(pay["E000001"]["hourlyPayRate"], Decimal)
    jobs = {r["jobCode"]: r["description"] for r in result.records("jobs")}
    assert jobs["J004"] == "Director\u2019s Office Lead"
    levels = result.records("org_levels")
    assert {(r["level"], r["code"]) for r in levels} >= {(1, "D001"), (2, "CC01")}
    values = result.records("code_table_values")
    assert {"codeTable": "EMPLOYEESTATUS", "code": "T", "description": "Terminated", "isActive": True} in values
    employment = result.schema("employment_details")["x-xlr8"]
    assert employment["entity"] == "employee"
    assert employment["truth_type"] == "reality"
    assert employment["canonical_fields"]["employeeStatusCode"] == "employment_status"
    job_schema = result.schema("jobs")["x-xlr8"]
    assert (job_schema["entity"], job_schema["truth_type"]) == ("job", "configuration")
    values_schema = result.schema("code_table_values")["x-xlr8"]
    assert (values_schema["entity"], values_schema["hub"]["column"]) == ("code_value", "code")


def test_employee_changes_windows_and_bookmark(url: str, sandbox: Sandbox, emulator: UkgProEmulator) -> None:
    sandbox.ctx.clock.advance(timedelta(days=20))
    start, end = EPOCH, EPOCH + timedelta(days=20)
    config = ukg_config(url, start_date=_stamp(start), end_date=_stamp(end), employee_changes_window_days=7, per_page=5)
    first = run_tap(config, streams={"employee_changes"})
    windows = [(start, start + timedelta(days=7)), (start + timedelta(days=7), start + timedelta(days=14)),
               (start + timedelta(days=14), end)]  # fmt: skip
    assert emulator.change_windows == [(_stamp(a), _stamp(b)) for a, b in windows]
    rows = first.records("employee_changes")
    got: dict[str, set[str]] = {}
    for row in rows:
        got.setdefault(row["changeWindowEnd"], set()).add(row["employeeId"])
    expected: dict[str, set[str]] = {}
    for a, b in windows:
        changed = {c.key for c in COMPANY.changes_between(a, b) if c.entity == "employee"}
        if changed:
            expected[b.isoformat()] = changed
    assert got == expected
    assert sum(len(v) for v in expected.values()) == len(rows) > 0  # paged (per_page 5) without loss or repeat
    bookmark = first.state["bookmarks"]["employee_changes"]["replication_key_value"]
    assert bookmark == max(expected)

    # E14: the next run starts at the bookmark and only reads later windows.
    emulator.change_windows.clear()
    sandbox.ctx.clock.advance(timedelta(days=10))
    later = ukg_config(url, start_date=_stamp(start), end_date=_stamp(end + timedelta(days=10)),
                       employee_changes_window_days=7)  # fmt: skip
    second = run_tap(later, streams={"employee_changes"}, state=first.state)
    assert emulator.change_windows[0][0] == _stamp(datetime.fromisoformat(bookmark))
    newer = {c.key for c in COMPANY.changes_between(datetime.fromisoformat(bookmark), end + timedelta(days=10))
             if c.entity == "employee"}  # fmt: skip
    assert {r["employeeId"] for r in second.records("employee_changes")} == newer
    assert all(r["changeWindowEnd"] > bookmark for r in second.records("employee_changes"))


def test_a1_429_retry_after_is_honoured_and_the_page_read_once(
    url: str, sandbox: Sandbox, emulator: UkgProEmulator
) -> None:
    sandbox.faults.add(
        "ukg_pro", "/personnel/v1/person-details", FaultSpec("rate_limit", retry_after=30, after=1, times=1)
    )
    fake = FakeTime()
    rows = run_tap(ukg_config(url, per_page=25), streams={"person_details"}, fake=fake).records("person_details")
    assert len(rows) == SCALE
    assert {r["employeeID"] for r in rows} == ALL_IDS  # no page lost or doubled
    assert len(fake.sleeps) == 1
    assert fake.sleeps[0] >= 30
    logged = sandbox.requests("ukg_pro", "/personnel/v1/person-details")
    # 5 pages (the last one empty), page 2 twice (the 429), in turn: the tap's default is one page read ahead
    assert [r.status for r in logged[-6:]] == [200, 429, 200, 200, 200, 200]


def test_a1_429_beyond_the_cap_stops_with_rate_limited_until(
    url: str, sandbox: Sandbox, emulator: UkgProEmulator
) -> None:
    sandbox.faults.add("ukg_pro", "/configuration/v1/jobs", FaultSpec("rate_limit", retry_after=86_400))
    with pytest.raises(KitHTTPError, match="rate limited until"):
        run_tap(ukg_config(url), streams={"jobs"}, fake=FakeTime())


def test_a8_error_inside_a_200_is_not_an_empty_page(url: str, sandbox: Sandbox, emulator: UkgProEmulator) -> None:
    sandbox.faults.add("ukg_pro", "/configuration/v1/locations", FaultSpec("error_body", times=1))
    with pytest.raises(ErrorBodyError, match="body is an error"):
        run_tap(ukg_config(url), streams={"locations"}, fake=FakeTime())


def test_status_and_termination_filters(url: str, sandbox: Sandbox, emulator: UkgProEmulator) -> None:
    config = ukg_config(url, employee_status_codes=["A", "T"], terminated_since="2019-01-01")
    rows = run_tap(config, streams={"employment_details"}).records("employment_details")
    expected = {
        e.employee_id
        for e in COMPANY.employees()
        if e.status in ("active", "terminated")
        and (e.termination_date is None or e.termination_date >= date(2019, 1, 1))
    }
    assert {r["employeeID"] for r in rows} == expected
    assert {r["employeeStatusCode"] for r in rows} <= {"A", "T"}
    assert all(r["dateOfTermination"] is None or r["dateOfTermination"] >= "2019-01-01" for r in rows)


def test_bad_credentials_stop_with_a_redacted_error(url: str, emulator: UkgProEmulator) -> None:
    with pytest.raises(KitHTTPError, match="HTTP 401") as info:
        run_tap(ukg_config(url, customer_api_key="WRONG1"), streams={"jobs"}, fake=FakeTime())
    assert "WRONG1" not in str(info.value)


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"per_page": 20_000}, "per_page"),
        ({"base_url": "ftp://service5.ultipro.com"}, "base_url"),
        ({"base_url": "https://service5.ultipro.com/personnel/v1"}, "base_url"),
        ({"user_access_key": None, "raas_all_reports": True}, "user_access_key"),
        ({"raas_reports": [{"name": "x"}]}, "raas_reports[0].path"),
        ({"raas_reports": [{"path": "/r", "references": {"EmployeeID": ""}}]}, "raas_reports[0].references"),
        ({"raas_reports": [{"path": "/r", "truth_type": "fact"}]}, "raas_reports.0.truth_type"),
        ({"employee_changes_window_days": 0}, "employee_changes_window_days"),
        ({"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, "end_date"),
        ({"raas_csv_encoding": "klingon"}, "raas_csv_encoding"),
        ({"raas_timezone": "Mars/Olympus_Mons"}, "raas_timezone"),
        ({"filters": "employee where (((("}, "filters"),
    ],
)
def test_bad_settings_are_named(override: dict[str, object], named: str) -> None:
    config = {**ukg_config("https://service5.ultipro.com"), **override}
    config = {k: v for k, v in config.items() if v is not None}
    with pytest.raises(ConfigValidationError) as info:
        TapUkgPro(config=config, parse_env_config=False)
    said = " ".join([str(info.value), *map(str, info.value.errors)])
    assert named in said or named.split(".")[-1] in said


def test_universal_filter_is_pushed_and_verified(url: str, sandbox: Sandbox, emulator: UkgProEmulator) -> None:
    config = ukg_config(url, filters="employee where employment_status = 'leave' and hire_date >= '2018-01-01'")
    result = run_tap(config, streams={"employment_details", "person_details", "jobs"})
    rows = result.records("employment_details")
    expected = {e.employee_id for e in COMPANY.employees() if e.status == "leave" and e.hire_date >= date(2018, 1, 1)}
    assert expected
    assert {r["employeeID"] for r in rows} == expected
    # person_details carries no status: it is read unfiltered (with a warning), never silently emptied
    assert len(result.records("person_details")) == SCALE
    assert len(result.records("jobs")) == len(COMPANY.jobs)
