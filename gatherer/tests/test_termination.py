"""A gather stopped by SIGTERM while its tap is stuck on the vendor exits 143. The tap and target-xlr8-truths run in
the gathering process, and the target, the last plugin made, owns the signal: it lands what it has and exits 0, as
a pipeline's target should, so the gather that never finished its read (no truth, no answer) exited 0."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
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
    target's landing (the target owns it: it lands what it has, its summary says so): either way exit 143. Nothing
    but the gather's own lines on its stdout: the tap of a connector writes no Singer stream, so no STATE either
    (ends22: a stop during the token or describe requests printed ``{"type":"STATE","value":{}}``)."""
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
    assert [line for line in lines if not line.startswith("salesforce: ")] == [], lines


#: A gather reading Salesforce through Bulk API 2.0 (its create's wait bounded by ``argv[4]`` s after a stop).
BULK_CHILD = """
import sys
import xlr8_tap_salesforce.early as early
from xlr8_gather.gather import gather, sandbox_sources
early.CREATE_GRACE_SECONDS = float(sys.argv[4])
config = {**sandbox_sources(sys.argv[1])["salesforce"], "login_url": sys.argv[2], "api_type": "bulk"}
truths = gather("Total amount of opportunities by stage in Salesforce", project="9d6a1c55-6f0c-4a9e-8b7e-3f2d5a8c1e42",
                sources={"salesforce": config}, duckdb_path=sys.argv[3], progress=lambda m: print(m, flush=True))
print("GATHERED", len(truths), flush=True)
"""


@pytest.mark.parametrize(
    ("answer_after", "grace", "jobs"),
    [(3.0, 10.0, ["Aborted"]), (8.0, 1.0, ["UploadComplete"])],
    ids=["answered-within-the-grace", "unanswered-at-the-grace-s-end"],
)
def test_e3_a_second_sigterm_while_a_gather_stops_is_logged_and_ignored_and_its_bulk_job_is_aborted(
    tmp_path: Path, answer_after: float, grace: float, jobs: list[str]
) -> None:
    """A gather stopped while its Bulk create is out (the org made the job, its answer comes late): the way out
    waits for the answer to abort the job, bounded by the create grace from the stop; a second SIGTERM meanwhile is
    logged and ignored (before: ignored unsaid by the target, and the wait unbounded: the whole 8 s answer)."""
    ctx = SandboxContext(company=Company(seed=42, scale=300), options={"salesforce": {"counts": {"Opportunity": 2000}}})
    with run_sandbox(["salesforce"], ctx=ctx) as sandbox:
        org = sandbox.emulator("salesforce")
        org.bulk_job_seconds = 120.0  # still running when aborted
        late = FaultSpec(kind="slow_answer", seconds=answer_after, method="POST")
        sandbox.faults.add("salesforce", "/services/data/v60.0/jobs/query", late)
        args = [sys.executable, "-c", BULK_CHILD, str(MELTANO_YML), sandbox.url("salesforce"), str(tmp_path / "t.db")]
        run = Running([*args, str(grace)])
        try:
            run.wait_for(lambda: bool(org._jobs), "the Bulk job")
            time.sleep(0.3)
            run.proc.send_signal(signal.SIGTERM)
            stopped = time.monotonic()
            time.sleep(0.5)
            code = run.end(signal.SIGTERM)
            took = time.monotonic() - stopped
        finally:
            run.close()
            sandbox.faults.clear("salesforce")
        states = [job.state for job in org._jobs.values()]
    stderr = "".join(run.err)
    assert code == EXIT_TERMINATED, stderr[-3000:]
    assert states == jobs, (states, stderr[-3000:])
    assert "SIGTERM during the gather's way out: ignored" in stderr, stderr[-3000:]
    assert took < grace + 3, took  # the create's wait bounded from the stop, not its answer's time
    unseen = "salesforce bulk query job of Opportunity: its create is still unanswered"
    assert stderr.count(unseen) == (jobs != ["Aborted"]), stderr[-3000:]  # once: close() and the exit hook logged it
    late = "aborted if the create answers before this process exits"  # close() leaves it to the create's thread
    assert (late in stderr) == (jobs != ["Aborted"]), stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]


#: A caller (a service) with its own SIGTERM handler gathers, then is sent SIGTERM and SIGINT.
CALLER = """
import json, os, signal, sys
from xlr8_gather.gather import gather, sandbox_sources
seen = []
signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
config = {**sandbox_sources(sys.argv[1])["salesforce"], "login_url": sys.argv[2]}
truths = gather("How many opportunities are there in Salesforce", project="9d6a1c55-6f0c-4a9e-8b7e-3f2d5a8c1e42",
                sources={"salesforce": config}, duckdb_path=sys.argv[3])
os.kill(os.getpid(), signal.SIGTERM)
try:
    os.kill(os.getpid(), signal.SIGINT)
    interrupted = None
except KeyboardInterrupt:
    interrupted = "KeyboardInterrupt"
print(json.dumps({"truths": len(truths), "seen": seen, "interrupted": interrupted}), flush=True)
"""


def test_a_caller_s_own_signal_handling_is_back_once_its_gather_returned(tmp_path: Path) -> None:
    """The plugins a gather builds install their handlers in the caller's process; the last target's stayed and
    ignored every later SIGTERM and SIGINT (a service that had gathered no longer stopped). The handlers found at
    the gather's start are put back when it returns."""
    ctx = SandboxContext(company=Company(seed=42, scale=300), options={"salesforce": {"counts": {"Opportunity": 50}}})
    with run_sandbox(["salesforce"], ctx=ctx) as sandbox:
        args = [sys.executable, "-c", CALLER, str(MELTANO_YML), sandbox.url("salesforce"), str(tmp_path / "t.db")]
        done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"truths": 1, "seen": [signal.SIGTERM], "interrupted": "KeyboardInterrupt"}, done.stderr[-3000:]


#: A gather of two entities whose target's end of stream (drain, finalize, report) takes 3 s: a long stream's.
ENDING_CHILD = """
import sys, time
import target_xlr8_truths.target as tt
original = tt.TargetXlr8Truths.report
def slow_end(self):
    print("ENDING", flush=True, file=sys.stderr)
    time.sleep(3)
    original(self)
tt.TargetXlr8Truths.report = slow_end
from xlr8_gather.gather import gather, sandbox_sources
config = {**sandbox_sources(sys.argv[1])["salesforce"], "login_url": sys.argv[2]}
truths = gather("How many opportunities and accounts are there in Salesforce",
                project="9d6a1c55-6f0c-4a9e-8b7e-3f2d5a8c1e42", sources={"salesforce": config},
                duckdb_path=sys.argv[3], progress=lambda m: print(m, flush=True))
print("GATHERED", len(truths), flush=True)
"""


def test_a_sigterm_the_target_ignores_while_it_ends_its_stream_still_stops_the_gather(tmp_path: Path) -> None:
    """The target ignores a signal while it ends its stream (its way out is under way). The gather took that signal
    as its stop and then ignored every later one: it read the next entity and exited 0 (review 22a). Now it stops
    before the next entity, 143."""
    ctx = SandboxContext(
        company=Company(seed=42, scale=300),
        options={"salesforce": {"counts": {"Opportunity": 200, "Account": 2000}}},
    )
    with run_sandbox(["salesforce"], ctx=ctx) as sandbox:
        args = [sys.executable, "-c", ENDING_CHILD, str(MELTANO_YML), sandbox.url("salesforce"), str(tmp_path / "t.db")]
        run = Running(args)
        try:
            run.wait_for(lambda: any("ENDING" in line for line in run.err), "the first stream's end")
            time.sleep(0.5)
            run.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 60
            while run.proc.poll() is None and not any("reading crm_account" in line for line in run.out):
                assert time.monotonic() < deadline, "neither stopped nor read on"
                time.sleep(0.01)
            if run.proc.poll() is None:  # it read on: a later signal during that read must stop it
                time.sleep(1.5)
                run.proc.send_signal(signal.SIGTERM)
            code = run.proc.wait(timeout=60)
        finally:
            run.close()
    lines, stderr = run.out, "".join(run.err)
    assert code == EXIT_TERMINATED, (lines, stderr[-3000:])
    assert not any("reading crm_account" in line for line in lines), lines
    assert not any(line.startswith("GATHERED") for line in lines), lines
    assert "Traceback" not in stderr, stderr[-3000:]


def test_a_gather_on_a_worker_thread_leaves_the_main_gather_s_first_signal_to_its_target() -> None:
    """A gather on a worker thread (a ``LiveDataGatherer`` in a pool) while the main thread gathers: its ``_built``
    put back its stale snapshot of the main gather's owners, so the main target lost the first signal (review 22a)."""
    from xlr8_gather import gather as g

    def target_handler(signum: int, frame: object) -> None:
        """The main gather's target's (never called here)."""

    events = {name: threading.Event() for name in ("worker_in", "main_in", "worker_out")}

    def worker() -> None:
        with g._built():
            events["worker_in"].set()
            events["main_in"].wait(10)
        events["worker_out"].set()

    @g._stops_once
    def main_gather() -> tuple[bool, object]:
        thread = threading.Thread(target=worker)
        thread.start()
        events["worker_in"].wait(10)
        signal.signal(signal.SIGTERM, target_handler)  # the main gather's target is built
        with g._built():
            assert g._STOP is not None
            owned = g._STOP.owner.get(signal.SIGTERM) is target_handler
            events["main_in"].set()
            events["worker_out"].wait(10)
            thread.join(10)
            return owned, g._STOP.owner.get(signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    owned, after = main_gather()
    assert owned
    assert after is target_handler
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_handler_set_outside_python_does_not_fail_the_gather_s_return(monkeypatch: pytest.MonkeyPatch) -> None:
    """``signal.getsignal`` gives None for a handler an embedding host set outside Python, and ``signal.signal``
    refuses None: putting it back raised TypeError from the gather's end (review 22a Info). It is left as it is."""
    from xlr8_gather import gather as g

    real = signal.getsignal
    before = {sig: real(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    monkeypatch.setattr(g.signal, "getsignal", lambda sig: None if sig == signal.SIGTERM else real(sig))

    @g._stops_once
    def a_gather() -> str:
        return "gathered"

    try:
        assert a_gather() == "gathered"
        assert real(signal.SIGINT) == before[signal.SIGINT]  # the others are put back as found
    finally:
        monkeypatch.undo()
        for sig, handler in before.items():
            signal.signal(sig, handler)
