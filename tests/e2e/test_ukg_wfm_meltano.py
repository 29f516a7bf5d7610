"""``meltano run tap-ukg-wfm target-xlr8-truths`` in the sandbox environment, end to end into DuckDB: people,
timecards, punches, shifts and accrual balances land as Reality truths, pay codes and the business structure as
Configuration; a second run four sandbox days later re-reads the lookback and upserts edited punches by key.

The emulator runs on an ephemeral port; the URL is overridden through Meltano's environment variables, exactly as an
operator would, in a temporary copy of the project. Assertions are on the rows that landed.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from xlr8_kit.testing.meltano_e2e import MeltanoProject
from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.server import run_sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SELECT = ["persons.*", "timecards.*", "punches.*", "schedules.*", "accruals.*", "pay_codes.*", "locations.*"]
FIRST, LAST = date(2025, 12, 22), date(2026, 1, 9)


def _punch_ids(company: Company) -> set[str]:
    return {
        p.punch_id
        for i in range(company.employee_count())
        for n in range((LAST - FIRST).days + 1)
        if (worked := company.worked_day(i, FIRST + timedelta(days=n))) is not None
        for p in worked.punches
    }


def test_meltano_run_lands_ukg_wfm_truths(tmp_path: Path) -> None:
    project = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path)
    with run_sandbox(["ukg_wfm"], scale=100) as sandbox:
        company = sandbox.ctx.company
        env = {
            "TAP_UKG_WFM_BASE_URL": sandbox.url("ukg_wfm"),
            "TAP_UKG_WFM_START_DATE": FIRST.isoformat(),
            "TAP_UKG_WFM_END_DATE": "2026-01-05",
            "TAP_UKG_WFM__SELECT": json.dumps(SELECT),
        }
        first = project.run("tap-ukg-wfm", env=env)
        assert first.returncode == 0, first.stderr[-3000:]
        before = {r[0]: r[1] for r in project.rows("ukg_wfm", "punches", ["punchId", "punchDateTime"], "punchId")}
        sandbox.ctx.clock.advance(timedelta(days=4))
        second = project.run("tap-ukg-wfm", env={**env, "TAP_UKG_WFM_END_DATE": LAST.isoformat()})
        assert second.returncode == 0, second.stderr[-3000:]
        expected_punches = _punch_ids(company)
        edited = {
            p.punch_id: p
            for i in range(company.employee_count())
            for n in range((LAST - FIRST).days + 1)
            if (worked := company.worked_day(i, FIRST + timedelta(days=n))) is not None
            for p in worked.punches
            if p.edited
        }
    punches = project.rows("ukg_wfm", "punches", ["punchId", "punchDateTime", "editedByManager"], "punchId")
    landed = [r[0] for r in punches]
    assert len(landed) == len(set(landed))  # every punch once: upserted by key, not appended
    # the emulator adds night shifts' meal punches (PMO-/PMI-) to the company's in/out pair (review28g M5)
    assert [p for p in landed if not p.startswith(("PMO-", "PMI-"))] == sorted(expected_punches)
    meals = {p[4:] for p in landed if p.startswith(("PMO-", "PMI-"))}
    assert meals, "no night shift's meal punch landed"
    assert meals <= {p[3:] for p in expected_punches if p.startswith("PO-")}
    changed = [r for r in punches if r[0] in edited and r[0] in before and str(r[1]) != str(before[r[0]])]
    assert changed, "punches edited after the first run must land, changed, on the second"
    assert all(r[2] for r in changed)
    persons = project.rows("ukg_wfm", "persons", ["personNumber", "firstName", "primaryJob"], "personNumber")
    e = company.employee(41)
    assert (e.employee_id, e.first_name, e.job_code) in persons
    timecards = project.rows("ukg_wfm", "timecards", ["personNumber", "applyDate", "payCode", "hours"], "applyDate")
    assert {r[2] for r in timecards} == {"REG", "OT"}
    worked = company.worked_day(0, date(2025, 12, 22))
    mine = [r for r in timecards if r[0] == "E000001" and str(r[1])[:10] == "2025-12-22"]
    assert worked is not None
    assert worked.hours is not None
    assert sum(Decimal(str(r[3])) for r in mine) == worked.hours  # REG plus OT of that day
    accruals = project.rows("ukg_wfm", "accruals", ["personNumber", "asOfDate"], "personNumber")
    employed = [
        x
        for x in company.employees()
        if x.hire_date <= LAST and (x.termination_date is None or x.termination_date >= LAST)
    ]
    assert sum(1 for r in accruals if str(r[1])[:10] == LAST.isoformat()) == 2 * len(employed)  # a snapshot per run
    assert len(project.rows("ukg_wfm", "schedules", ["shiftId"], "shiftId")) > 0
    codes = project.rows("ukg_wfm", "pay_codes", ["name", "description"], "name")
    assert ("REG", "Regular") in codes
    for output in (first, second):
        assert "sandbox-wfm-password" not in output.stdout + output.stderr
        assert "sandbox-wfm-appkey-7Qx2" not in output.stdout + output.stderr
        assert "sandbox-wfm-client-secret" not in output.stdout + output.stderr
