"""``meltano run tap-ukg-ready target-xlr8-truths`` in the sandbox environment, end to end into DuckDB.

Employees (Reality), cost centers and job titles (Configuration) and a saved timesheet report land as truths, sent
as BATCH files (the sandbox config sets ``batch_config``). Between
two runs the tenant adds a column to the report and a week passes: the second run's schema carries the column, the
target keeps the rows of the first run (now out of the report's window) and lands the new ones with it. After both
runs nothing the runs wrote (Meltano's output at DEBUG, every file under the test directory, the system db and the
truths store row by row) holds a canary secret or a session token in any form (RELIABILITY C6/D1).

The emulator runs on an ephemeral port and accepts only the canary credentials; URL and secrets are given through
Meltano's environment variables as an operator would, in a temporary copy of the project.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from xlr8_kit.testing.meltano_e2e import MeltanoProject
from xlr8_kit.testing.residue import Canary, duckdb_dump, scan, sqlite_dump, tree_files
from xlr8_sandbox.platform.server import run_sandbox
from xlr8_sandbox.products import ukg_ready as ready_emulator

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SELECT = ["employees.*", "cost_centers.*", "job_titles.*", "timesheets.*"]
CANARY_API_KEY = 'CANARY-ready-key/5e+Q="x&1'
CANARY_PASSWORD = "CANARY-ready-pw/9c1d+b=&z?4"
SCALE = 80


def test_meltano_run_lands_ukg_ready_truths_and_the_report_evolves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ready_emulator, "API_KEY", CANARY_API_KEY)
    monkeypatch.setattr(ready_emulator, "PASSWORD", CANARY_PASSWORD)
    (tmp_path / "tmp").mkdir()
    project = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path, env={"TMPDIR": str(tmp_path / "tmp")})
    outputs: dict[str, bytes] = {}

    with run_sandbox(["ukg_ready"], scale=SCALE) as sandbox:
        env = {
            "TAP_UKG_READY_BASE_URL": sandbox.url("ukg_ready"),
            "TAP_UKG_READY_API_KEY": CANARY_API_KEY,
            "TAP_UKG_READY_PASSWORD": CANARY_PASSWORD,
            "TAP_UKG_READY_AUDIT_LOG_PATH": str(tmp_path / "audit.jsonl"),
            "TAP_UKG_READY__SELECT": json.dumps(SELECT),
        }
        company = sandbox.ctx.company
        first_cards = {tc.timecard_id for tc in company.timecards()}
        first = project.meltano("--log-level=debug", "run", "tap-ukg-ready", "target-xlr8-truths", env=env)
        outputs.update({"run 1 stdout": first.stdout.encode(), "run 1 stderr": first.stderr.encode()})
        assert first.returncode == 0, first.stderr[-3000:]

        emulator = sandbox.emulator("ukg_ready")
        assert isinstance(emulator, ready_emulator.UkgReadyEmulator)
        emulator.add_report_column("saved", 1002, "CostCenter", "STRING", lambda tc: "CC-" + tc.employee_id[-2:])
        sandbox.ctx.clock.advance(timedelta(days=7))
        second_cards = {tc.timecard_id for tc in company.timecards()}
        second = project.meltano("--log-level=debug", "run", "tap-ukg-ready", "target-xlr8-truths", env=env)
        outputs.update({"run 2 stdout": second.stdout.encode(), "run 2 stderr": second.stderr.encode()})
        assert second.returncode == 0, second.stderr[-3000:]
        session_tokens = list(sandbox.ctx.tokens._tokens)  # every token the emulator issued in this test (D2)
        employees = list(company.employees())

    for run in (first, second):  # the sandbox config sends BATCH messages (Meltano logs them at DEBUG), no RECORDs
        assert run.stderr.count('"type":"BATCH"') >= len(SELECT)
        assert '"type":"RECORD"' not in run.stderr
    assert not list((project.sys_dir / "batches" / "tap-ukg-ready").iterdir())  # the target consumed its files
    landed = project.rows("ukg_ready", "employees", ["employee_id", "status", "hired_date"], "employee_id")
    assert len(landed) == len(employees)  # upserted by key on the second run, not appended
    e = employees[7]
    assert landed[7][:2] == (e.employee_id, ready_emulator.STATUS[e.status])
    assert str(landed[7][2])[:10] == e.hire_date.isoformat()
    centers = project.rows("ukg_ready", "cost_centers", ["external_id", "name"], "external_id")
    assert centers == [(c.code, c.name) for c in company.cost_centers]
    assert len(project.rows("ukg_ready", "job_titles", ["code"], "code")) == len(company.jobs)

    cards = project.rows(
        "ukg_ready", "timesheets", ["TimesheetEntryId", "EmployeeId", "CostCenter"], "TimesheetEntryId"
    )
    by_id = {row[0]: row for row in cards}
    dropped = first_cards - second_cards  # out of the report's 14-day window by the second run
    assert dropped
    assert set(by_id) == first_cards | second_cards  # the first run's rows are kept
    assert all(by_id[i][2] is None for i in dropped)  # landed before the column existed
    assert all(by_id[i][2] == "CC-" + by_id[i][1][-2:] for i in second_cards)

    blobs = {**outputs, **tree_files(tmp_path)}
    blobs["system db rows"] = sqlite_dump(project.sys_dir / "meltano.db")
    blobs["truths rows"] = duckdb_dump(project.truths)
    canaries = [
        Canary("ukg_ready api_key", CANARY_API_KEY),
        Canary("ukg_ready password", CANARY_PASSWORD, user=ready_emulator.USERNAME),
        *(Canary(f"session token {i}", token) for i, token in enumerate(session_tokens)),
    ]
    assert len(session_tokens) >= 2
    leaks = scan(canaries, blobs)
    assert not leaks, "canary found:\n" + "\n".join(leaks)
    assert any(b"/ta/rest/v1/login" in data for data in blobs.values())  # positive control: the audit log is read
