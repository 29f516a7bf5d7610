"""A stream whose sets the target replaces (UKG WFM timecards, by person-day) read through the kit's ``filters``
setting is a read of part of each set: ``meltano run`` with a filter after a whole run must leave the other rows
of every day live (audit25e: the filtered run marked every other pay code of those days deleted, exit 0)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xlr8_kit.testing.meltano_e2e import MeltanoProject
from xlr8_sandbox.platform.server import run_sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_a_filtered_run_of_a_replaced_set_stream_marks_nothing_deleted(tmp_path: Path) -> None:
    project = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path)
    with run_sandbox(["ukg_wfm"], scale=10) as sandbox:
        env = {
            "TAP_UKG_WFM_BASE_URL": sandbox.url("ukg_wfm"),
            "TAP_UKG_WFM_START_DATE": "2025-12-22",
            "TAP_UKG_WFM_END_DATE": "2026-01-05",
            "TAP_UKG_WFM__SELECT": json.dumps(["timecards.*"]),
        }
        whole = project.run("tap-ukg-wfm", env=env)
        assert whole.returncode == 0, whole.stderr[-3000:]
        before = project.rows(
            "ukg_wfm", "timecards", ["personNumber", "applyDate", "payCode", "_sdc_deleted_at"], "applyDate"
        )
        assert {r[2] for r in before} == {"REG", "OT"}
        assert all(r[3] is None for r in before)
        part = project.run(
            "tap-ukg-wfm",
            env={**env, "TAP_UKG_WFM_FILTERS": "timecard where earning_code = 'OT'"},
        )
        assert part.returncode == 0, part.stderr[-3000:]
        assert "re-read sets" not in part.stderr
    after = project.rows(
        "ukg_wfm", "timecards", ["personNumber", "applyDate", "payCode", "_sdc_deleted_at"], "applyDate"
    )
    assert sorted(after, key=repr) == sorted(before, key=repr)
