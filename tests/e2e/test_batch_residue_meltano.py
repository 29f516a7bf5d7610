"""audit25e F20 through ``meltano run``: a failed target run left the tap's BATCH files (records in clear, salaries
and dates of birth) in ``.meltano/batches`` for good, mode 0644. Now the files are the owner's alone while they
exist, and none is left after the failure: the target removes those of the BATCH messages it received (and of those
already waiting in its input), the tap those it could not name once the target was gone. The rerun reads the source
again from the last STATE relayed and lands every row: no file was needed again."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from xlr8_kit.testing.meltano_e2e import MeltanoProject
from xlr8_sandbox.platform.server import run_sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
#: companies holds no personal data (lands, its file removed once committed); compensation_details does (salaries):
#: without a PII key the target stops at its SCHEMA; employment_details comes after it.
SELECT = ["companies.*", "compensation_details.*", "employee_demographics.*", "employment_details.*"]
EMPLOYEES = 40


def _left(project: MeltanoProject) -> list[str]:
    root = project.sys_dir / "batches"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_failed_target_run_leaves_no_batch_file_and_the_rerun_lands_every_row(tmp_path: Path) -> None:
    project = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path)
    with run_sandbox(["ukg_pro"], scale=EMPLOYEES) as sandbox:
        env = {
            "TAP_UKG_PRO_BASE_URL": sandbox.url("ukg_pro"),
            "TAP_UKG_PRO_RAAS_POLL_INTERVAL": "0",
            "TAP_UKG_PRO__SELECT": json.dumps(SELECT),
        }
        failed = project.run("tap-ukg-pro", env={**env, "TARGET_XLR8_TRUTHS_PII_KEY_FILE": ""})
        assert failed.returncode != 0
        assert "no PII key is configured" in failed.stderr, failed.stderr[-3000:]
        assert '"type":"BATCH"' in failed.stderr or (project.sys_dir / "batches" / "tap-ukg-pro").exists()
        assert _left(project) == []
        folder = project.sys_dir / "batches" / "tap-ukg-pro"
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700  # made by the tap's first file

        rerun = project.run("tap-ukg-pro", env=env)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert _left(project) == []
    for stream in ("compensation_details", "employee_demographics", "employment_details"):
        rows = project.rows("ukg_pro", stream, ["employeeID"], "employeeID")
        assert len({row[0] for row in rows}) == EMPLOYEES, stream
