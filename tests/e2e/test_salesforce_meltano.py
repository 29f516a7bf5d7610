"""``meltano run tap-salesforce target-xlr8-truths`` in the sandbox environment, end to end into a DuckDB file.

The emulator runs on an ephemeral port; the URL and file paths are overridden through Meltano's environment
variables, exactly as an operator would, in a temporary copy of the project. Assertions are on the rows that landed.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from xlr8_kit.testing.meltano_e2e import MeltanoProject
from xlr8_sandbox.platform.server import run_sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
OBJECTS = ["Account", "Contact", "Project__c"]


def test_meltano_run_lands_salesforce_truths(tmp_path: Path) -> None:
    project = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path)
    with run_sandbox(["salesforce"], scale=100) as sandbox:
        emulator: Any = sandbox.emulator("salesforce")
        env = {"TAP_SALESFORCE_LOGIN_URL": sandbox.url("salesforce"), "TAP_SALESFORCE_OBJECTS": json.dumps(OBJECTS)}
        first = project.run("tap-salesforce", env=env)
        assert first.returncode == 0, first.stderr[-3000:]
        accounts = project.rows("salesforce", "account", ["id", "name", "annual_revenue", "_sdc_deleted_at"], "id")
        assert len(accounts) == 50
        expected = emulator.objects["Account"].base_record(0)
        assert accounts[0][0] == expected["Id"]
        assert accounts[0][1] == expected["Name"]
        assert Decimal(str(accounts[0][2])) == expected["AnnualRevenue"]
        assert all(row[3] is None for row in accounts)
        assert len(project.rows("salesforce", "contact", ["id"], "id")) == 100
        assert len(project.rows("salesforce", "project_c", ["id"], "id")) == 10

        emulator.ctx.clock.advance(timedelta(days=1))
        emulator.delete("Account", 5)
        second = project.run("tap-salesforce", env=env)
        assert second.returncode == 0, second.stderr[-3000:]
    accounts = project.rows("salesforce", "account", ["id", "_sdc_deleted_at"], "id")
    assert len(accounts) == 50  # upserted by Id, not appended
    deleted = [row for row in accounts if row[1] is not None]
    assert [row[0] for row in deleted] == [emulator.objects["Account"].record_id(5)]
    secrets = emulator.test_credentials()
    for output in (first, second):
        assert secrets["password"] not in output.stdout + output.stderr
        assert secrets["client_secret"] not in output.stdout + output.stderr
