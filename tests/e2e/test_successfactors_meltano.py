"""``meltano run tap-sap-successfactors target-xlr8-truths`` in the sandbox environment, end to end into DuckDB.

The emulator runs on an ephemeral port; the URL and file paths are overridden through Meltano's environment
variables, exactly as an operator would, in a temporary copy of the project. Assertions are on the rows that landed.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from xlr8_kit.testing.meltano_e2e import MeltanoProject
from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.server import run_sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
STREAMS = ["User", "EmpJob", "FODepartment", "cust_EquipmentAssignment"]


def test_meltano_run_lands_successfactors_truths(tmp_path: Path) -> None:
    company = Company(seed=42, scale=100)
    project = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path)
    cache = tmp_path / "metadata-cache"

    def rows(stream: str, columns: list[str], order: str) -> list[tuple[Any, ...]]:
        return project.rows("successfactors", stream, columns, order)

    with run_sandbox(["successfactors"], scale=100) as sandbox:
        emulator: Any = sandbox.emulator("successfactors")
        env = {
            "TAP_SAP_SUCCESSFACTORS_API_URL": sandbox.url("successfactors"),
            "TAP_SAP_SUCCESSFACTORS_ENTITY_SETS": json.dumps(STREAMS),
            "TAP_SAP_SUCCESSFACTORS_PAGE_SIZE": "40",
            "TAP_SAP_SUCCESSFACTORS_METADATA_CACHE_DIR": str(cache),
        }
        first = project.run("tap-sap-successfactors", env=env)
        assert first.returncode == 0, first.stderr[-3000:]
        users = rows("User", ["user_id", "first_name", "last_name", "department"], "user_id")
        assert len(users) == 100
        expected = company.employee(0)
        assert users[0] == (expected.employee_id, expected.first_name, expected.last_name, expected.department_code)
        jobs = rows("EmpJob", ["user_id", "seq_number", "fte"], "user_id")
        # today's rows and the rows that take effect later (future-dated terminations, audit24a H2)
        later = sum(1 for e in company.employees() if e.termination_date and e.termination_date > date(2026, 1, 5))
        assert later
        assert len(jobs) == 100 + later
        assert {row[0] for row in jobs} == {row[0] for row in users}
        assert all(Decimal(str(row[2])) in (Decimal("1.00"), Decimal("0.50")) for row in jobs)
        departments = rows("FODepartment", ["external_code", "name"], "external_code")
        assert departments == [(d.code, d.name) for d in company.departments]
        assert len(rows("cust_EquipmentAssignment", ["external_code"], "external_code")) == 100

        emulator.insert_records(3)
        second = project.run("tap-sap-successfactors", env=env)
        assert second.returncode == 0, second.stderr[-3000:]
    users = rows("User", ["user_id"], "user_id")
    assert len(users) == 103  # the new hires were added; the rest upserted by key, not appended
    assert [u[0] for u in users[:3]] == ["A000001", "A000002", "A000003"]
    for output in (first, second):
        assert "sandbox-sf-password" not in output.stdout + output.stderr
    assert len(list(cache.glob("*.edmx"))) == 1  # discovery and sync shared one download
