"""``meltano run tap-salesforce target-xlr8-truths`` in the sandbox environment, end to end into a DuckDB file.

The emulator runs on an ephemeral port; the URL and file paths are overridden through Meltano's environment
variables, exactly as an operator would. Assertions are on the rows that landed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from xlr8_sandbox.platform.server import run_sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
MELTANO = str(Path(sys.executable).parent / "meltano")


def _meltano_run(url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "TAP_SALESFORCE_LOGIN_URL": url,
        "TAP_SALESFORCE_OBJECTS": json.dumps(["Account", "Contact", "Project__c"]),
        "TARGET_XLR8_TRUTHS_DUCKDB_PATH": str(tmp_path / "truths.duckdb"),
        "TARGET_XLR8_TRUTHS_UPLOAD_STAGING_PATH": str(tmp_path / "staging.duckdb"),
    }
    return subprocess.run(
        [MELTANO, "--environment=sandbox", "run", "tap-salesforce", "target-xlr8-truths"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _table(con: duckdb.DuckDBPyConnection, stream: str) -> str:
    names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
    matches = [n for n in names if n.endswith(f"_salesforce_{stream}")]
    assert len(matches) == 1, f"expected one table for {stream}, found {names}"
    return matches[0]


def _rows(path: Path, stream: str, columns: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(f'SELECT {columns} FROM "{_table(con, stream)}" ORDER BY id').fetchall()
    finally:
        con.close()


def test_meltano_run_lands_salesforce_truths(tmp_path: Path) -> None:
    with run_sandbox(["salesforce"], scale=100) as sandbox:
        emulator: Any = sandbox.emulator("salesforce")
        first = _meltano_run(sandbox.url("salesforce"), tmp_path)
        assert first.returncode == 0, first.stderr[-3000:]
        db = tmp_path / "truths.duckdb"
        accounts = _rows(db, "account", "id, name, annual_revenue, _sdc_deleted_at")
        assert len(accounts) == 50
        expected = emulator.objects["Account"].base_record(0)
        assert accounts[0][0] == expected["Id"]
        assert accounts[0][1] == expected["Name"]
        assert Decimal(str(accounts[0][2])) == expected["AnnualRevenue"]
        assert all(row[3] is None for row in accounts)
        assert len(_rows(db, "contact", "id")) == 100
        assert len(_rows(db, "project_c", "id")) == 10

        emulator.ctx.clock.advance(timedelta(days=1))
        emulator.delete("Account", 5)
        second = _meltano_run(sandbox.url("salesforce"), tmp_path)
        assert second.returncode == 0, second.stderr[-3000:]
    accounts = _rows(db, "account", "id, _sdc_deleted_at")
    assert len(accounts) == 50  # upserted by Id, not appended
    deleted = [row for row in accounts if row[1] is not None]
    assert [row[0] for row in deleted] == [emulator.objects["Account"].record_id(5)]
    secrets = emulator.test_credentials()
    for output in (first, second):
        assert secrets["password"] not in output.stdout + output.stderr
        assert secrets["client_secret"] not in output.stdout + output.stderr
