"""``xlr8-sandbox`` as users run it: a real subprocess, stopped with SIGTERM."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

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
