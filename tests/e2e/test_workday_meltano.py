"""``meltano run tap-workday target-xlr8-truths`` in the sandbox environment, end to end into DuckDB.

The emulator runs on an ephemeral port; the URL and file paths are overridden through Meltano's environment
variables, exactly as an operator would, in a temporary copy of the project. Assertions are on the rows that landed.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from xlr8_kit.testing.meltano_e2e import MeltanoProject
from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.server import run_sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_meltano_run_lands_workday_truths(tmp_path: Path) -> None:
    company = Company(seed=42, scale=100)
    project = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path)
    with run_sandbox(["workday"], scale=100) as sandbox:
        env = {"TAP_WORKDAY_BASE_URL": sandbox.url("workday"), "TAP_WORKDAY_SOAP_PAGE_SIZE": "40"}
        first = project.run("tap-workday", env=env)
        assert first.returncode == 0, first.stderr[-3000:]
        people = list(company.employees())
        rest = project.rows("workday_hcm", "workers", ["worker_id"], "worker_id")
        assert [r[0] for r in rest] == [e.employee_id for e in people]
        soap_columns = ["employee_id", "first_name", "annual_salary"]
        soap = project.rows("workday_hcm", "soap_workers", soap_columns, "employee_id")
        assert soap[0][:2] == (people[0].employee_id, people[0].first_name)
        assert str(soap[0][2]).startswith("ENC256:")  # PII: encrypted with the engine key
        assert Decimal(project.decrypt(soap[0][2])) == people[0].annual_salary
        report = project.rows("workday_hcm", "worker_report", ["employee_id", "worker_status"], "employee_id")
        assert len(report) == 100
        journals = project.rows("workday_fins", "journals", ["journal_number"], "journal_number")
        assert [j[0] for j in journals] == [j.journal_id for j in company.journals()]
        lines = project.rows("workday_fins", "journal_lines", ["journal_number"], "journal_number")
        assert len(lines) == company.journal_count
        suppliers = project.rows("workday_fins", "suppliers", ["supplier_id"], "supplier_id")
        assert [s[0] for s in suppliers] == [s.supplier_id for s in company.suppliers()]

        sandbox.ctx.clock.advance(timedelta(days=3))  # hires and changes: the next run reads the transaction log
        second = project.run("tap-workday", env=env)
        assert second.returncode == 0, second.stderr[-3000:]
        company.clock = sandbox.ctx.clock
        grown = project.rows("workday_hcm", "soap_workers", ["employee_id"], "employee_id")
        assert len(grown) == company.employee_count() > 100  # new hires added, the rest upserted by key
    for output in (first, second):
        assert "sandbox-wd-isu-password" not in output.stdout + output.stderr
        assert "sandbox-wd-client-secret" not in output.stdout + output.stderr
