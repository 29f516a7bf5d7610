"""audit25d F1, the real CLI: a Bulk 2.0 job create the org acted on but answered after ``http.read_timeout`` was
sent again by the kit: a second job was made and read, the first ran on the org unread and never aborted. Now the
create is never resent once it may have reached the org: one job, and an error that says one may be running."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from xlr8_sandbox.platform.faults import FaultSpec

CREATE = "/services/data/v60.0/jobs/query"


def test_a_create_answered_late_makes_one_job(sf, tmp_path: Path) -> None:
    with sf.start_sandbox({"Account": 30}) as sandbox:
        sandbox.faults.add("salesforce", CREATE, FaultSpec(kind="slow_answer", seconds=3.0, method="POST", times=1))
        config = sf.password_config(sandbox, objects=["Account"], api_type="bulk", http={"read_timeout": 1})
        settings = tmp_path / "config.json"
        settings.write_text(json.dumps(config))
        tap = Path(sys.executable).parent / "tap-salesforce"
        run = subprocess.run(
            [str(tap), "--config", str(settings)], capture_output=True, text=True, timeout=120, check=False
        )
        jobs = sf.emulator(sandbox)._jobs
    assert len(jobs) == 1, f"{len(jobs)} Bulk jobs made on the org"
    assert run.returncode != 0
    assert "may be running on the org unread" in run.stderr
    assert "http.read_timeout" in run.stderr
