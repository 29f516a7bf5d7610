"""``meltano run tap-ukg-pro target-xlr8-truths`` in the sandbox environment, end to end into DuckDB: REST
personnel and configuration streams and a RaaS report (SOAP, Windows-1252 CSV) land as truths.

The emulator runs on an ephemeral port; the URL and paths are overridden through Meltano's environment variables,
exactly as an operator would, in a temporary copy of the project. Assertions are on the rows that landed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from xlr8_kit.testing.meltano_e2e import MeltanoProject
from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.server import run_sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SELECT = ["employment_details.*", "jobs.*", "org_levels.*", "raas_xlr8_employees.*", "raas_xlr8_job_codes.*"]
STATUS = {"active": "A", "leave": "L", "terminated": "T"}


def test_meltano_run_lands_ukg_pro_truths(tmp_path: Path) -> None:
    company = Company(seed=42, scale=100)
    project = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path)

    def rows(stream: str, columns: list[str], order: str) -> list[tuple[Any, ...]]:
        return project.rows("ukg_pro", stream, columns, order)

    with run_sandbox(["ukg_pro"], scale=100) as sandbox:
        env = {
            "TAP_UKG_PRO_BASE_URL": sandbox.url("ukg_pro"),
            "TAP_UKG_PRO_RAAS_POLL_INTERVAL": "0",
            "TAP_UKG_PRO__SELECT": json.dumps(SELECT),
        }
        first = project.run("tap-ukg-pro", env=env)
        assert first.returncode == 0, first.stderr[-3000:]
        second = project.run("tap-ukg-pro", env=env)  # idempotent re-run (E12)
        assert second.returncode == 0, second.stderr[-3000:]
    employment = rows("employment_details", ["employeeID", "employeeStatusCode", "primaryJobCode"], "employeeID")
    assert len(employment) == 100  # upserted by key on the second run, not appended
    expected = company.employee(41)
    assert employment[41] == (expected.employee_id, STATUS[expected.status], expected.job_code)
    jobs = rows("jobs", ["jobCode", "description"], "jobCode")
    assert dict(jobs)["J004"] == "Director\u2019s Office Lead"
    assert len(rows("org_levels", ["code"], "code")) == len(company.departments) + len(company.cost_centers)
    report = rows("raas_xlr8_employees", ["EmployeeID", "FirstName", "LastName"], "EmployeeID")
    assert len(report) == 100
    names = {row[0]: (row[1], row[2]) for row in report}
    for e in company.employees():
        assert names[e.employee_id] == (e.first_name, e.last_name)  # é, ü, ö decoded from Windows-1252
    codes = dict(rows("raas_xlr8_job_codes", ["Code", "Description"], "Code"))
    assert codes["J008"] == "Consultant \u2013 Client\u2019s Site"
    for output in (first, second):
        assert "sandbox-ukg-password" not in output.stdout + output.stderr
        assert "sandbox-ukg-user-access-key" not in output.stdout + output.stderr
