"""audit25d F8 / F16 through the real CLI, default settings: the breaker counts failed requests, not attempts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from xlr8_sandbox.platform.faults import FaultSpec

TAP = Path(sys.executable).parent / "tap-salesforce"


def _run(config: dict, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    settings = tmp_path / "config.json"
    settings.write_text(json.dumps(config))
    return subprocess.run(
        [str(TAP), "--config", str(settings)], capture_output=True, text=True, timeout=300, check=False
    )


def test_a_502_blip_on_the_ranges_read_side_by_side_is_ridden_out(sf, tmp_path: Path) -> None:
    """F8: six 502s on the queries in flight (``rest_concurrent_queries`` 6) opened the circuit and the run ended
    with 4,000 of 30,000 rows, none of the requests retried."""
    with sf.start_sandbox({"Account": 30_000}) as sandbox:
        config = sf.password_config(sandbox, objects=["Account"], api_type="rest", start_date="2000-01-01T00:00:00Z")
        # the six 502s go to whichever requests arrive (by arrival order): on a loaded machine one request's retries
        # can take five of them and give up by design at the default 5 attempts, so 7 attempts: no request can run
        # out, and the breaker alone (5 consecutive failures, the setting under test) is what could stop the run
        config["http"] = {"max_attempts": 7}
        blip = FaultSpec(kind="status", status=502, body="<html>502 Bad Gateway</html>", after=3, times=6)
        sandbox.faults.add("salesforce", "/services/data/*/query*", blip)
        run = _run(config, tmp_path)
    ids = {json.loads(line)["record"]["Id"] for line in run.stdout.splitlines() if '"type":"RECORD"' in line}
    assert "circuit open" not in run.stderr
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(ids) == 30_000


def test_the_bulk_job_is_aborted_after_its_poll_gives_up(sf, tmp_path: Path) -> None:
    """F16: the poll's five 503s were the five consecutive failures of ``breaker_fail_max`` 5, so the abort of the
    job it polled was refused without reaching the org, and the job ran on."""
    with sf.start_sandbox({"Account": 50}, bulk_job_seconds=120.0) as sandbox:
        config = sf.password_config(
            sandbox,
            objects=["Account"],
            api_type="bulk",
            bulk_poll_interval=0.2,
            http={"backoff_base": 0.05, "backoff_max": 0.1},
        )
        poll = FaultSpec(kind="status", status=503, method="GET", times=5)
        sandbox.faults.add("salesforce", "/services/data/*/jobs/query/*", poll)
        run = _run(config, tmp_path)
        aborts = [r for r in sandbox.requests("salesforce") if r.method == "PATCH"]
        states = [job.state for job in sf.emulator(sandbox)._jobs.values()]
    assert run.returncode != 0
    assert "gave up after 5 attempts" in run.stderr
    assert "could not abort" not in run.stderr
    assert len(aborts) == 1
    assert states == ["Aborted"]
