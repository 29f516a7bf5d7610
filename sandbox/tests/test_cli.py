"""``xlr8-sandbox`` as users run it: a real subprocess, stopped with SIGTERM."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from xlr8_sandbox.products import EMULATORS


def sandbox_command() -> list[str]:
    script = shutil.which("xlr8-sandbox") or str(Path(sys.executable).with_name("xlr8-sandbox"))
    assert Path(script).exists(), "the xlr8-sandbox console script is not installed (uv sync)"
    return [script]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_every_registered_product_and_stops_cleanly(stop_signal: signal.Signals) -> None:
    assert EMULATORS, "no emulator registered: nothing for the CLI to serve"
    proc = subprocess.Popen(
        [*sandbox_command(), "--ephemeral", "--json", "--seed", "7", "--scale", "100", "--faults", "flaky"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else ""
        served = json.loads(line)
        assert set(served) == set(EMULATORS)
        for info in served.values():
            assert info["url"].startswith("http://127.0.0.1:")
            assert info["credentials"]
            clock = requests.get(f"{info['url']}/__sandbox/clock", timeout=5)
            assert clock.status_code == 200
            faults = requests.get(f"{info['url']}/__sandbox/faults", timeout=5).json()["faults"]
            assert len(faults) == 4  # the flaky profile
        proc.send_signal(stop_signal)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for info in served.values():
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{info['url']}/__sandbox/clock", timeout=2)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["no-such-product"], 2, "unknown product(s) no-such-product"),
        (["--scale", "0"], 2, "--scale: must be >= 1"),
        (["--latency-ms", "-5"], 2, "--latency-ms: must be >= 0"),
        (["--faults", "meteor"], 2, "--faults: invalid choice"),
    ],
)
def test_cli_rejects_bad_input_naming_the_setting(args: list[str], code: int, message: str) -> None:
    result = subprocess.run([*sandbox_command(), *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == code
    assert message in result.stderr


# Run in a fresh child process so that no other test's freeze or threshold can satisfy (or disturb) the checks, and
# so that the pytest process's collector and signal handlers are never touched. The stopper signals only once the
# server is up and is joined before ``main``'s caller returns: a ``main`` that fails early leaves no thread behind.
CLI_COLLECTOR_PROBE = r"""
import contextlib, gc, json, os, signal, sys, threading
import requests
from xlr8_sandbox import cli

built, seen = {}, {}
up, finished = threading.Event(), threading.Event()
real_run_sandbox, real_describe = cli.run_sandbox, cli.describe

@contextlib.contextmanager
def run_sandbox(*args, **kwargs):
    with real_run_sandbox(*args, **kwargs) as sandbox:
        built["sandbox"] = sandbox
        yield sandbox

def describe(sandbox):
    info = real_describe(sandbox)
    seen["url"] = info["oracle_hcm"]["url"]
    up.set()
    return info

def check_then_stop():
    while not up.wait(0.1):
        if finished.is_set():
            return  # main ended before it served: nothing to stop
    try:
        jobs = built["sandbox"].ctx.company.jobs  # built at start-up, lives as long as the server
        seen["jobs_tracked"] = gc.is_tracked(jobs)
        seen["jobs_frozen"] = not any(o is jobs for o in gc.get_objects())  # leaves out the frozen generation
        seen["frozen"] = gc.get_freeze_count()
        seen["threshold"] = gc.get_threshold()
        seen["status"] = requests.get(seen.pop("url") + "/__sandbox/clock", timeout=10).status_code
    finally:
        os.kill(os.getpid(), signal.SIGTERM)  # main's own handler: it stops and returns

cli.run_sandbox, cli.describe = run_sandbox, describe
seen["threshold_before"] = gc.get_threshold()
stopper = threading.Thread(target=check_then_stop)
stopper.start()
try:
    seen["code"] = cli.main(sys.argv[1:])
finally:
    finished.set()
    stopper.join()
    print("PROBE " + json.dumps(seen), flush=True)
"""


def probe(code: str, *args: str) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
    lines = [line for line in result.stdout.splitlines() if line.startswith("PROBE ")]
    failed = f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, failed
    assert lines, failed
    return {**json.loads(lines[-1].removeprefix("PROBE ")), "stderr": result.stderr[-2000:]}


def test_cli_tunes_its_collector_for_serving() -> None:
    """The standalone server freezes what start-up built (``gc.freeze``) and collects its youngest generation less
    often before it serves: full collections then walk only what requests leave behind (issue 14 goal 1,
    bench/README "Cold reads, seventh pass"). A table the company built must be frozen, not just some objects: a
    freeze before the emulators exist would freeze nothing that matters."""
    from xlr8_sandbox.platform.server import SERVING_GC_THRESHOLD

    seen = probe(CLI_COLLECTOR_PROBE, "oracle_hcm", "--ephemeral", "--json", "--quiet", "--scale", "50")
    assert seen["code"] == 0, seen
    assert seen.get("status") == 200, f"the server never served: {seen}"
    assert seen["jobs_tracked"], seen
    assert seen["jobs_frozen"], f"the company's start-up tables are not frozen ({seen['frozen']} objects frozen)"
    older = seen["threshold_before"][1:]
    assert seen["threshold"] == [SERVING_GC_THRESHOLD, *older]


RUN_SANDBOX_PROBE = r"""
import gc, json
import requests
from xlr8_sandbox.platform.server import run_sandbox

seen = {"frozen_before": gc.get_freeze_count(), "threshold_before": gc.get_threshold()}
with run_sandbox(["oracle_hcm"], scale=50) as sandbox:
    url = sandbox.products["oracle_hcm"].url
    seen["status"] = requests.get(url + "/__sandbox/clock", timeout=10).status_code
    jobs = sandbox.ctx.company.jobs
    seen["jobs_tracked"] = gc.is_tracked(jobs)
    seen["jobs_frozen"] = not any(o is jobs for o in gc.get_objects())
    seen["frozen"] = gc.get_freeze_count()
    seen["threshold"] = gc.get_threshold()
print("PROBE " + json.dumps(seen), flush=True)
"""


def test_in_process_sandboxes_leave_the_collector_alone() -> None:
    """``run_sandbox`` runs inside tests, the demo and ``bench/run.py``, whose collector is theirs: only the
    standalone server tunes it."""
    seen = probe(RUN_SANDBOX_PROBE)
    assert seen["status"] == 200, seen
    assert seen["jobs_tracked"], seen
    assert not seen["jobs_frozen"], seen
    assert seen["frozen"] == seen["frozen_before"], seen
    assert seen["threshold"] == seen["threshold_before"], seen
