"""audit25d F12, the real CLI: two runs of one stored rotating-refresh-token credential start together (partitions
of one tenant, two Meltano jobs of one org). The org rotates on receipt and answers late; the loser of the race
presented the spent token, reloaded the store before the winner had saved the new one, and failed "re-authorise the
connection" although the credential was fine. Now each refresh is spent under the store's lease
(``CredentialManager.refresh_token``): the second run waits for the first to persist and spends what it stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from xlr8_sandbox.platform.faults import FaultSpec

BIN = Path(sys.executable).parent


def test_two_runs_refreshing_together_both_land(sf, tmp_path: Path) -> None:
    env = {**os.environ, "XLR8_CREDENTIALS_KEY_FILE": str(tmp_path / "key")}
    subprocess.run(
        [str(BIN / "xlr8-credentials"), "generate-key", "--key-file", str(tmp_path / "key")],
        env=env,
        capture_output=True,
        check=True,
    )
    store = tmp_path / "c.db"
    with sf.start_sandbox({"Account": 200, "Contact": 200}) as sandbox:
        emulator = sf.emulator(sandbox)
        emulator.rotate_refresh_tokens = True
        creds = emulator.test_credentials()
        secrets = {k: creds[k] for k in ("client_id", "client_secret", "refresh_token")}
        subprocess.run(
            [
                *(str(BIN / "xlr8-credentials"), "--store", str(store), "add", "--id", "sf", "--project", "p"),
                *("--product", "salesforce", "--auth-type", "oauth2_refresh_token", "--stdin"),
            ],
            input=json.dumps(secrets),
            text=True,
            env=env,
            check=True,
            capture_output=True,
        )
        late = FaultSpec(kind="slow_answer", seconds=0.8, times=1)  # rotated on receipt, answered late
        sandbox.faults.add("salesforce", "/services/oauth2/token", late)
        runs = []
        for sobject in ("Account", "Contact"):
            config = {
                "login_url": sandbox.url("salesforce"),
                "auth_type": "refresh_token",
                "credential_id": "sf",
                "credential_store": str(store),
                "objects": [sobject],
            }
            settings = tmp_path / f"{sobject}.json"
            settings.write_text(json.dumps(config))
            command = [str(BIN / "tap-salesforce"), "--config", str(settings)]
            runs.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
            time.sleep(0.05)
        results = [(*run.communicate(timeout=120), run.returncode) for run in runs]
    for out, err, code in results:
        assert code == 0, err[-1500:]
        assert "invalid_grant" not in err
        assert "re-authorise" not in err
        assert out.count('"type":"RECORD"') == 200
