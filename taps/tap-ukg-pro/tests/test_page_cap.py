"""UKG serves at most 100 rows a page on the resources outside its 10,000 list, whatever ``per_Page`` asks
(audit24b H2). The tap asks for 1,000 (its default) and must read every page, not stop at the first 100.
An emulator of its own: 2,500 employees."""

from __future__ import annotations

from datetime import datetime, timedelta

import requests

from xlr8_sandbox.company import EPOCH, Company
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_pro import CUSTOMER_API_KEY, PASSWORD, USERNAME, UkgProEmulator
from xlr8_sandbox.testing import emulator_fixtures

from .conftest import run_tap, ukg_config

SCALE = 2_500
sandbox, emulator, url = emulator_fixtures("ukg_pro", scale=SCALE)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_capped_resources_are_read_to_the_end(url: str, sandbox: Sandbox, emulator: UkgProEmulator) -> None:
    """2,500+ demographics rows and every change of a window with more than 100, at 100 a page."""
    sandbox.ctx.clock.advance(timedelta(days=30))
    end = EPOCH + timedelta(days=30)
    company = Company(seed=42, scale=SCALE)
    changed = {c.key for c in company.changes_between(EPOCH, end) if c.entity == "employee"}
    assert len(changed) > 100
    config = ukg_config(url, start_date=_stamp(EPOCH), end_date=_stamp(end), employee_changes_window_days=30)
    assert "per_page" not in config  # the default, 1,000
    result = run_tap(config, streams={"employee_demographics", "employee_changes", "employment_details"})
    people = company.employee_count(sandbox.ctx.clock.now())  # hires since the start included
    assert people >= SCALE
    demographics = result.records("employee_demographics")
    assert len({r["employeeID"] for r in demographics}) == len(demographics) == people
    assert {r["employeeId"] for r in result.records("employee_changes")} == changed
    assert len(result.records("employment_details")) == people  # a listed resource: 1,000 a page as asked


def test_a_capped_page_is_100_rows(url: str, sandbox: Sandbox, emulator: UkgProEmulator) -> None:
    """The emulator's side: per_Page above 100 on a capped resource gives 100 rows, on a listed one as asked."""

    def count(path: str) -> int:
        answer = requests.get(f"{url}{path}", params={"page": 1, "per_Page": 1000}, auth=(USERNAME, PASSWORD),
                              headers={"US-Customer-Api-Key": CUSTOMER_API_KEY}, timeout=60)  # fmt: skip
        answer.raise_for_status()
        return len(answer.json())

    assert count("/personnel/v1/employee-demographic-details") == 100
    assert count("/personnel/v1/employment-details") == 1000
