"""audit25d F9, the real CLI: with the customer's egress proxy in the environment (``HTTP(S)_PROXY``), the token
went through it and every data call direct (blocked egress, or a session locked to the proxy's IP answering 401).
Now every request of the run goes through it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from xlr8_kit.testing.proxy import TestProxy


def test_every_request_goes_through_the_environment_proxy(sf, tmp_path: Path) -> None:
    with sf.start_sandbox({"Account": 50}) as sandbox, TestProxy("egress", "proxy-pass-81") as proxy:
        settings = tmp_path / "config.json"
        settings.write_text(json.dumps(sf.password_config(sandbox, objects=["Account"], api_type="rest")))
        env = {k: v for k, v in os.environ.items() if k.lower() not in {"http_proxy", "https_proxy", "no_proxy"}}
        env |= {"HTTP_PROXY": proxy.url.replace("http://", "http://egress:proxy-pass-81@"), "NO_PROXY": ""}
        tap = Path(sys.executable).parent / "tap-salesforce"
        run = subprocess.run(
            [str(tap), "--config", str(settings)], capture_output=True, text=True, env=env, timeout=120, check=False
        )
        at_vendor = len(sandbox.requests("salesforce"))
    assert run.returncode == 0, run.stderr[-1500:]
    assert run.stdout.count('"type":"RECORD"') == 50
    assert at_vendor >= 3
    assert len(proxy.log.accepted) == at_vendor
    assert "proxy-pass-81" not in run.stderr
