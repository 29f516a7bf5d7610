"""``meltano run tap-sap-successfactors target-xlr8-truths`` in the sandbox environment, end to end into DuckDB.

The emulator runs on an ephemeral port; the URL and file paths are overridden through Meltano's environment
variables, exactly as an operator would. Assertions are on the rows that landed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
STREAMS = ["User", "EmpJob", "FODepartment", "cust_EquipmentAssignment"]


def _meltano_run(url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        # Own .meltano directory: concurrent runs must not share catalog and config files.
        "MELTANO_SYS_DIR_ROOT": str(tmp_path / ".meltano"),
        "TAP_SAP_SUCCESSFACTORS_API_URL": url,
        "TAP_SAP_SUCCESSFACTORS_ENTITY_SETS": json.dumps(STREAMS),
        "TAP_SAP_SUCCESSFACTORS_PAGE_SIZE": "40",
        "TAP_SAP_SUCCESSFACTORS_METADATA_CACHE_DIR": str(tmp_path / "metadata-cache"),
        "TARGET_XLR8_TRUTHS_DUCKDB_PATH": str(tmp_path / "truths.duckdb"),
        "TARGET_XLR8_TRUTHS_UPLOAD_STAGING_PATH": str(tmp_path / "staging.duckdb"),
    }
    return subprocess.run(
        [MELTANO, "--environment=sandbox", "run", "tap-sap-successfactors", "target-xlr8-truths"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _table(con: duckdb.DuckDBPyConnection, stream: str) -> str:
    names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
    matches = [n for n in names if n.endswith(f"_successfactors_{snake_case(stream)}")]
    assert len(matches) == 1, f"expected one table for {stream}, found {names}"
    return matches[0]


def _rows(path: Path, stream: str, columns: str, order: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(f'SELECT {columns} FROM "{_table(con, stream)}" ORDER BY {order}').fetchall()
    finally:
        con.close()


def test_meltano_run_lands_successfactors_truths(tmp_path: Path) -> None:
    company = Company(seed=42, scale=100)
    with run_sandbox(["successfactors"], scale=100) as sandbox:
        emulator: Any = sandbox.emulator("successfactors")
        first = _meltano_run(sandbox.url("successfactors"), tmp_path)
        assert first.returncode == 0, first.stderr[-3000:]
        db = tmp_path / "truths.duckdb"
        users = _rows(db, "User", "user_id, first_name, last_name, department", "user_id")
        assert len(users) == 100
        expected = company.employee(0)
        assert users[0] == (expected.employee_id, expected.first_name, expected.last_name, expected.department_code)
        jobs = _rows(db, "EmpJob", "user_id, seq_number, fte", "user_id")
        assert len(jobs) == 100  # today's rows only
        assert {row[0] for row in jobs} == {row[0] for row in users}
        assert all(Decimal(str(row[2])) in (Decimal("1.00"), Decimal("0.50")) for row in jobs)
        departments = _rows(db, "FODepartment", "external_code, name", "external_code")
        assert departments == [(d.code, d.name) for d in company.departments]
        assert len(_rows(db, "cust_EquipmentAssignment", "external_code", "external_code")) == 100

        emulator.insert_records(3)
        second = _meltano_run(sandbox.url("successfactors"), tmp_path)
        assert second.returncode == 0, second.stderr[-3000:]
    users = _rows(db, "User", "user_id", "user_id")
    assert len(users) == 103  # the new hires were added; the rest upserted by key, not appended
    assert [u[0] for u in users[:3]] == ["A000001", "A000002", "A000003"]
    for output in (first, second):
        assert "sandbox-sf-password" not in output.stdout + output.stderr
    assert len(list((tmp_path / "metadata-cache").glob("*.edmx"))) == 1  # discovery and sync shared one download
