"""audit25d F9, the real CLI: with the customer's egress proxy in the environment (``HTTP(S)_PROXY``), the token
went through it and every data call direct (blocked egress, or a session locked to the proxy's IP answering 401).
Now every request of the run goes through it; and none when ``NO_PROXY`` names the tenant's host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from xlr8_kit.testing.proxy import TestProxy


def _run(sf: Any, tmp_path: Path, no_proxy: str) -> tuple[subprocess.CompletedProcess[str], list[Any], TestProxy]:
    """The tap's CLI with ``HTTP_PROXY`` naming a local forward proxy and ``NO_PROXY`` as given: the run, the
    requests the emulator saw, the proxy."""
    with sf.start_sandbox({"Account": 50}) as sandbox, TestProxy("egress", "proxy-pass-81") as proxy:
        settings = tmp_path / "config.json"
        settings.write_text(json.dumps(sf.password_config(sandbox, objects=["Account"], api_type="rest")))
        env = {k: v for k, v in os.environ.items() if k.lower() not in {"http_proxy", "https_proxy", "no_proxy"}}
        env |= {"HTTP_PROXY": proxy.url.replace("http://", "http://egress:proxy-pass-81@"), "NO_PROXY": no_proxy}
        tap = Path(sys.executable).parent / "tap-salesforce"
        run = subprocess.run(
            [str(tap), "--config", str(settings)], capture_output=True, text=True, env=env, timeout=120, check=False
        )
        at_vendor = sandbox.requests("salesforce")
    return run, at_vendor, proxy


def test_every_request_goes_through_the_environment_proxy(sf: Any, tmp_path: Path) -> None:
    run, at_vendor, proxy = _run(sf, tmp_path, no_proxy="")
    assert run.returncode == 0, run.stderr[-1500:]
    assert run.stdout.count('"type":"RECORD"') == 50
    data = [r for r in at_vendor if "/sobjects/" in r.path or "/query" in r.path]
    assert data, "the run read Account over the REST API"
    assert len(at_vendor) > len(data), "and asked for its token"
    assert len(proxy.log.accepted) == len(at_vendor)  # the token call and every data call
    assert "proxy-pass-81" not in run.stderr


def test_no_proxy_naming_the_host_sends_every_request_direct(sf: Any, tmp_path: Path) -> None:
    run, at_vendor, proxy = _run(sf, tmp_path, no_proxy="127.0.0.1")
    assert run.returncode == 0, run.stderr[-1500:]
    assert run.stdout.count('"type":"RECORD"') == 50
    assert len(at_vendor) >= 3
    assert proxy.log.accepted == []
    assert proxy.log.refused == 0
