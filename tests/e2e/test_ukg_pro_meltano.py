"""``meltano run tap-ukg-pro target-xlr8-truths`` in the sandbox environment, end to end into DuckDB: REST
personnel and configuration streams and a RaaS report (SOAP, Windows-1252 CSV) land as truths.

The emulator runs on an ephemeral port; the URL and paths are overridden through Meltano's environment variables,
exactly as an operator would. Assertions are on the rows that landed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from target_xlr8_truths.naming import snake_case
from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.server import run_sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
MELTANO = str(Path(sys.executable).parent / "meltano")
SELECT = ["employment_details.*", "jobs.*", "org_levels.*", "raas_xlr8_employees.*", "raas_xlr8_job_codes.*"]
STATUS = {"active": "A", "leave": "L", "terminated": "T"}


def _meltano_run(url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_SYS_DIR_ROOT": str(tmp_path / ".meltano"),
        "TAP_UKG_PRO_BASE_URL": url,
        "TAP_UKG_PRO_RAAS_POLL_INTERVAL": "0",
        "TAP_UKG_PRO__SELECT": json.dumps(SELECT),
        "TARGET_XLR8_TRUTHS_DUCKDB_PATH": str(tmp_path / "truths.duckdb"),
        "TARGET_XLR8_TRUTHS_UPLOAD_STAGING_PATH": str(tmp_path / "staging.duckdb"),
    }
    return subprocess.run(
        [MELTANO, "--environment=sandbox", "run", "tap-ukg-pro", "target-xlr8-truths"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _table(con: duckdb.DuckDBPyConnection, stream: str) -> str:
    names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
    matches = [n for n in names if n.endswith(f"_ukg_pro_{snake_case(stream)}")]
    assert len(matches) == 1, f"expected one table for {stream}, found {names}"
    return matches[0]


def _rows(path: Path, stream: str, columns: list[str], order: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        cols = ", ".join(f'"{snake_case(c)}"' for c in columns)
        return con.execute(f'SELECT {cols} FROM "{_table(con, stream)}" ORDER BY "{snake_case(order)}"').fetchall()
    finally:
        con.close()


def test_meltano_run_lands_ukg_pro_truths(tmp_path: Path) -> None:
    company = Company(seed=42, scale=100)
    with run_sandbox(["ukg_pro"], scale=100) as sandbox:
        first = _meltano_run(sandbox.url("ukg_pro"), tmp_path)
        assert first.returncode == 0, first.stderr[-3000:]
        second = _meltano_run(sandbox.url("ukg_pro"), tmp_path)  # idempotent re-run (E12)
        assert second.returncode == 0, second.stderr[-3000:]
    db = tmp_path / "truths.duckdb"
    employment = _rows(db, "employment_details", ["employeeID", "employeeStatusCode", "primaryJobCode"], "employeeID")
    assert len(employment) == 100  # upserted by key on the second run, not appended
    expected = company.employee(41)
    assert employment[41] == (expected.employee_id, STATUS[expected.status], expected.job_code)
    jobs = _rows(db, "jobs", ["jobCode", "description"], "jobCode")
    assert dict(jobs)["J004"] == "Director\u2019s Office Lead"
    assert len(_rows(db, "org_levels", ["code"], "code")) == len(company.departments) + len(company.cost_centers)
    report = _rows(db, "raas_xlr8_employees", ["EmployeeID", "FirstName", "LastName"], "EmployeeID")
    assert len(report) == 100
    names = {row[0]: (row[1], row[2]) for row in report}
    for e in company.employees():
        assert names[e.employee_id] == (e.first_name, e.last_name)  # é, ü, ö decoded from Windows-1252
    codes = dict(_rows(db, "raas_xlr8_job_codes", ["Code", "Description"], "Code"))
    assert codes["J008"] == "Consultant \u2013 Client\u2019s Site"
    for output in (first, second):
        assert "sandbox-ukg-password" not in output.stdout + output.stderr
        assert "sandbox-ukg-user-access-key" not in output.stdout + output.stderr
