"""``meltano run tap-workday target-xlr8-truths`` in the sandbox environment, end to end into DuckDB.

The emulator runs on an ephemeral port; the URL and file paths are overridden through Meltano's environment
variables, exactly as an operator would. Assertions are on the rows that landed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
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


def _meltano_run(url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_SYS_DIR_ROOT": str(tmp_path / ".meltano"),
        "TAP_WORKDAY_BASE_URL": url,
        "TAP_WORKDAY_SOAP_PAGE_SIZE": "40",
        "TARGET_XLR8_TRUTHS_DUCKDB_PATH": str(tmp_path / "truths.duckdb"),
        "TARGET_XLR8_TRUTHS_UPLOAD_STAGING_PATH": str(tmp_path / "staging.duckdb"),
    }
    return subprocess.run(
        [MELTANO, "--environment=sandbox", "run", "tap-workday", "target-xlr8-truths"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _table(con: duckdb.DuckDBPyConnection, product: str, stream: str) -> str:
    names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
    matches = [n for n in names if n.endswith(f"_{product}_{snake_case(stream)}")]
    assert len(matches) == 1, f"expected one table for {product}/{stream}, found {names}"
    return matches[0]


def _rows(path: Path, product: str, stream: str, columns: str, order: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(f'SELECT {columns} FROM "{_table(con, product, stream)}" ORDER BY {order}').fetchall()
    finally:
        con.close()


def test_meltano_run_lands_workday_truths(tmp_path: Path) -> None:
    company = Company(seed=42, scale=100)
    with run_sandbox(["workday"], scale=100) as sandbox:
        first = _meltano_run(sandbox.url("workday"), tmp_path)
        assert first.returncode == 0, first.stderr[-3000:]
        db = tmp_path / "truths.duckdb"
        people = list(company.employees())
        rest = _rows(db, "workday_hcm", "workers", "worker_id", "worker_id")
        assert [r[0] for r in rest] == [e.employee_id for e in people]
        soap = _rows(db, "workday_hcm", "soap_workers", "employee_id, first_name, annual_salary", "employee_id")
        assert soap[0][:2] == (people[0].employee_id, people[0].first_name)
        assert Decimal(str(soap[0][2])) == people[0].annual_salary
        report = _rows(db, "workday_hcm", "worker_report", "employee_id, worker_status", "employee_id")
        assert len(report) == 100
        journals = _rows(db, "workday_fins", "journals", "journal_number", "journal_number")
        assert [j[0] for j in journals] == [j.journal_id for j in company.journals()]
        lines = _rows(db, "workday_fins", "journal_lines", "journal_number", "journal_number")
        assert len(lines) == company.journal_count
        suppliers = _rows(db, "workday_fins", "suppliers", "supplier_id", "supplier_id")
        assert [s[0] for s in suppliers] == [s.supplier_id for s in company.suppliers()]

        sandbox.ctx.clock.advance(timedelta(days=3))  # hires and changes: the next run reads the transaction log
        second = _meltano_run(sandbox.url("workday"), tmp_path)
        assert second.returncode == 0, second.stderr[-3000:]
        company.clock = sandbox.ctx.clock
        grown = _rows(db, "workday_hcm", "soap_workers", "employee_id", "employee_id")
        assert len(grown) == company.employee_count() > 100  # new hires added, the rest upserted by key
    for output in (first, second):
        assert "sandbox-wd-isu-password" not in output.stdout + output.stderr
        assert "sandbox-wd-client-secret" not in output.stdout + output.stderr
