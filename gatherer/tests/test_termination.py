"""A gather stopped by SIGTERM while its tap is stuck on the vendor exits 143. The tap and target-xlr8-truths run in
the gathering process, and the target, the last plugin made, owns the signal: it lands what it has and exits 0, as
a pipeline's target should, so the gather that never finished its read (no truth, no answer) exited 0."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest

from xlr8_kit.exits import EXIT_TERMINATED
from xlr8_kit.testing.singer_cli import Running
from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.emulator import SandboxContext
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import run_sandbox

MELTANO_YML = Path(__file__).resolve().parents[2] / "meltano.yml"
#: The gathering process: meltano.yml's sandbox settings for Salesforce, pointed at this test's emulator.
CHILD = """
import sys
from xlr8_gather.gather import gather, sandbox_sources
config = {**sandbox_sources(sys.argv[1])["salesforce"], "login_url": sys.argv[2]}
truths = gather("Total amount of opportunities by stage in Salesforce", project="9d6a1c55-6f0c-4a9e-8b7e-3f2d5a8c1e42",
                sources={"salesforce": config}, duckdb_path=sys.argv[3], progress=lambda m: print(m, flush=True))
print("GATHERED", len(truths), flush=True)
"""


@pytest.mark.parametrize("landing", [False, True], ids=["before landing", "while landing"])
def test_e3_a_gather_stuck_on_its_read_and_ended_by_sigterm_exits_143(tmp_path: Path, landing: bool) -> None:
    """Stuck on the stream's first requests (the tap owns the signal), or once its read has begun inside the
    target's landing (the target owns it: it lands what it has, its summary says so): either way exit 143."""
    ctx = SandboxContext(
        company=Company(seed=42, scale=300), options={"salesforce": {"counts": {"Opportunity": 20_000}}}
    )
    with run_sandbox(["salesforce"], ctx=ctx) as sandbox:
        run = Running(
            [sys.executable, "-c", CHILD, str(MELTANO_YML), sandbox.url("salesforce"), str(tmp_path / "t.db")]
        )
        try:
            run.wait_for(lambda: any("reading" in line for line in run.out), "the read")
            # stuck from here: every request, or every query after the count and the first page
            stall = FaultSpec("stall", seconds=8, times=None, after=2 if landing else 0)
            sandbox.faults.add("salesforce", "/services/data/*/query*" if landing else "*", stall)
            time.sleep(2)
            code = run.end(signal.SIGTERM)
        finally:
            run.close()
            sandbox.faults.clear("salesforce")
    lines, stderr = run.out, "".join(run.err)
    assert code == EXIT_TERMINATED, stderr[-3000:]
    assert not any(line.startswith("GATHERED") for line in lines)
    assert ("XLR8_TRUTHS_SUMMARY" in stderr) == landing  # who owned the signal
