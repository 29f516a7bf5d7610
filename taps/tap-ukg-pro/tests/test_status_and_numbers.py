"""audit24b L2 and L5 over real HTTP: ``employeeNumber`` from the change feed as text even where UKG sends a number
(its EmployeeChangesResponse model types it Double); ``employee_status_codes`` pushed as ``employeeStatusCode``
only when it is one code (no UKG document says the parameter takes a list), several checked per row."""

from __future__ import annotations

from datetime import timedelta

from xlr8_sandbox.company import EPOCH, Company
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_pro import UkgProEmulator

from .conftest import SCALE, run_tap, ukg_config

COMPANY = Company(seed=42, scale=SCALE)
STATUS = {"active": "A", "leave": "L", "terminated": "T"}
PATH = "/personnel/v1/employment-details"


def test_a_numeric_employee_number_is_emitted_as_text(url: str, sandbox: Sandbox, emulator: UkgProEmulator) -> None:
    sandbox.ctx.clock.advance(timedelta(days=20))
    emulator.numeric_employee_numbers = True
    end = EPOCH + timedelta(days=20)
    config = ukg_config(url, start_date=EPOCH.isoformat(), end_date=end.isoformat(), employee_changes_window_days=20)
    result = run_tap(config, streams={"employee_changes"})
    rows = result.records("employee_changes")
    assert rows
    assert result.schema("employee_changes")["properties"]["employeeNumber"]["type"] == ["string", "null"]
    for row in rows:
        assert row["employeeNumber"] == str(int(row["employeeId"].lstrip("E")))  # 000001 served as 1: "1"


def test_several_status_codes_are_not_pushed_as_a_list(url: str, sandbox: Sandbox, emulator: UkgProEmulator) -> None:
    # a server that reads "A,L" as one literal status answers no rows: played here as an error, so a pushed list fails
    sandbox.faults.add("ukg_pro", PATH, FaultSpec("status", status=400, body='{"message": "no such status"}',
                                                  query={"employeeStatusCode": "A,L"}))  # fmt: skip
    rows = run_tap(ukg_config(url, employee_status_codes=["A", "L"], per_page=40), streams={"employment_details"})
    got = {r["employeeID"] for r in rows.records("employment_details")}
    assert got == {e.employee_id for e in COMPANY.employees() if e.status in ("active", "leave")}
    assert all(r.status == 200 for r in sandbox.requests("ukg_pro", PATH))


def test_one_status_code_is_still_pushed(url: str, sandbox: Sandbox, emulator: UkgProEmulator) -> None:
    sandbox.faults.add("ukg_pro", PATH, FaultSpec("status", status=503, query={"employeeStatusCode": "T"}, times=1))
    rows = run_tap(ukg_config(url, employee_status_codes=["T"], per_page=40), streams={"employment_details"})
    got = {r["employeeID"] for r in rows.records("employment_details")}
    assert got == {e.employee_id for e in COMPANY.employees() if e.status == "terminated"}
    assert sandbox.requests("ukg_pro", PATH)[0].status == 503  # asked with the code, then retried
