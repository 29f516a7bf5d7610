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


def test_cli_tunes_its_collector_for_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    """The standalone server freezes what start-up built (``gc.freeze``) and collects its youngest generation less
    often before it serves: full collections then walk only what requests leave behind (issue 14 goal 1,
    bench/README "Cold reads, seventh pass"). ``main`` runs in this process (the collector is per process), stopped
    by its own SIGTERM handler once it has answered a request; the test puts this process's collector back."""
    import gc
    import os
    import threading

    from xlr8_sandbox import cli
    from xlr8_sandbox.platform.server import SERVING_GC_THRESHOLD

    described = threading.Event()
    real_describe = cli.describe

    def describe(sandbox: Any) -> dict[str, dict[str, object]]:
        info = real_describe(sandbox)
        seen["info"] = info
        described.set()
        return info

    seen: dict[str, Any] = {}

    def serve_then_stop() -> None:
        if described.wait(60):
            seen["frozen"] = gc.get_freeze_count()
            seen["threshold"] = gc.get_threshold()
            url = seen["info"]["oracle_hcm"]["url"]
            seen["status"] = requests.get(f"{url}/__sandbox/clock", timeout=10).status_code
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(cli, "describe", describe)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    threshold = gc.get_threshold()
    stopper = threading.Thread(target=serve_then_stop, daemon=True)
    stopper.start()
    try:
        code = cli.main(["oracle_hcm", "--ephemeral", "--json", "--quiet", "--scale", "50"])
    finally:
        stopper.join(10)
        for number, handler in handlers.items():
            signal.signal(number, handler)
        gc.unfreeze()  # this test process's collector as it was
        gc.set_threshold(*threshold)
    assert code == 0
    assert seen.get("status") == 200, seen
    assert seen["frozen"] > 1000, f"start-up heap not frozen: {seen['frozen']} objects"
    assert seen["threshold"] == (SERVING_GC_THRESHOLD, threshold[1], threshold[2])
