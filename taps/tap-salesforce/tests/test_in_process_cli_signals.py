"""The tap's CLI invoked in-process several times (a test's runner): a signal that ended one run leaves the next
runs as a process of their own would start, their requests sent and their signals handled (review 21f Info 2: the
process's termination was never undone, so every later run gave up its requests and ignored every signal)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from xlr8_kit.exits import EXIT_TERMINATED

RUNS = textwrap.dedent(
    """
    import json, os, signal, sys, tempfile, threading, time
    from click.testing import CliRunner
    from xlr8_sandbox.company import Company
    from xlr8_sandbox.platform.emulator import SandboxContext
    from xlr8_sandbox.platform.faults import FaultSpec
    from xlr8_sandbox.platform.server import run_sandbox
    from xlr8_tap_salesforce.tap import TapSalesforce

    ctx = SandboxContext(company=Company(seed=42, scale=100), options={"salesforce": {"counts": {"Account": 5}}})
    with run_sandbox(["salesforce"], ctx=ctx) as sandbox:
        creds = sandbox.emulator("salesforce").test_credentials()
        config = {"login_url": sandbox.url("salesforce"), "auth_type": "password", "api_type": "rest",
                  "objects": ["Account"],
                  **{k: creds[k] for k in ("client_id", "client_secret", "username", "password", "security_token")}}
        path = os.path.join(tempfile.mkdtemp(), "config.json")
        with open(path, "w") as handle:
            json.dump(config, handle)
        runs = []

        def run(stalled):
            sandbox.faults.clear("salesforce")
            if stalled:  # every query stalls; SIGTERM once the run waits on one
                sandbox.faults.add("salesforce", "/services/data/*/query*", FaultSpec("stall", seconds=8, times=None))
                threading.Timer(2.0, os.kill, (os.getpid(), signal.SIGTERM)).start()
            began = time.monotonic()
            result = CliRunner().invoke(TapSalesforce.cli, ["--config", path])
            records = [line for line in result.stdout.splitlines() if line.startswith('{"type":"RECORD"')]
            runs.append({"code": result.exit_code, "took": round(time.monotonic() - began, 2),
                         "records": len(records)})

        for stalled in (True, False, True):
            run(stalled)
        sandbox.faults.clear("salesforce")
        print(json.dumps(runs), flush=True)
    """
)


def test_a_run_after_an_in_process_run_a_signal_ended_sends_its_requests_and_handles_its_signals() -> None:
    done = subprocess.run([sys.executable, "-c", RUNS], capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    first, second, third = json.loads(done.stdout.strip().splitlines()[-1])
    assert first["code"] == EXIT_TERMINATED, (first, done.stderr[-3000:])
    assert first["took"] < 6, first  # the stalled query cut, not waited out (8 s)
    assert second == {**second, "code": 0, "records": 5}, (second, done.stderr[-3000:])
    assert third["code"] == EXIT_TERMINATED, (third, done.stderr[-3000:])
    assert third["took"] < 6, third  # handled, not ignored as a second signal of the first run
    assert "during the way out: ignored" not in done.stderr
