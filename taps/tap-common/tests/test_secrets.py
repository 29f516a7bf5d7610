"""RELIABILITY D1/D2/D5 for Common: a DEBUG sync with canary credentials, a token expired mid-run (401, re-login)
and a 429 leaves no password, client secret, access or refresh token in stdout, stderr, STATE or the audit log, in
any encoding; the audit has one line per HTTP attempt with the logins labelled as token calls."""

from __future__ import annotations

import json
from pathlib import Path

from xlr8_kit.testing.residue import Canary, scan
from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.common import EMAIL, CommonEmulator

from .conftest import common_config, oauth_config

CANARY_PASSWORD = 'CANARY-cmpw/7c1d+Qv="k&x 41'
CANARY_CLIENT_SECRET = "CANARY-cmcs/3e9a+b=&z?8"


def _sync(tmp_path: Path, config: dict[str, object], name: str) -> tuple[str, Path]:
    audit = tmp_path / f"{name}-audit.jsonl"
    write_json(tmp_path / f"{name}.json", {**config, "audit_log_path": str(audit)})
    discovered = run_tap_cli("tap-common", ["--config", f"{name}.json", "--discover"], tmp_path)
    assert discovered.returncode == 0, discovered.stderr
    catalog = select_streams(json.loads(discovered.stdout), {"purchase_orders", "erp_sync_pending_updates"})
    write_json(tmp_path / f"{name}-catalog.json", catalog)
    synced = run_tap_cli(
        "tap-common",
        ["--config", f"{name}.json", "--catalog", f"{name}-catalog.json"],
        tmp_path,
        env={"LOGLEVEL": "DEBUG"},
    )
    assert synced.returncode == 0, synced.stderr
    messages = parse_singer_messages(synced.stdout)
    assert any(m["type"] == "RECORD" and m["stream"] == "purchase_orders" for m in messages)
    return synced.stdout + synced.stderr + discovered.stderr + discovered.stdout + audit.read_text(), audit


def test_d1_d5_no_secret_anywhere_and_one_audit_line_per_attempt(
    url: str, sandbox: Sandbox, emulator: CommonEmulator, tmp_path: Path
) -> None:
    emulator.password = CANARY_PASSWORD
    emulator.client_secret = CANARY_CLIENT_SECRET
    sandbox.faults.add("common", "/api/v1/purchase-orders", FaultSpec("rate_limit", retry_after=0, times=1))
    sandbox.faults.add("common", "/api/v1/erp-sync/pending-updates", FaultSpec("revoke_tokens", times=1))
    password_run, audit = _sync(tmp_path, common_config(url, password=CANARY_PASSWORD, page_size=20), "password")
    attempts = [
        (a["kind"], a["method"], a["path"], a["status"]) for a in map(json.loads, audit.read_text().split("\n")[:-1])
    ]
    assert attempts.count(("api", "GET", "/api/v1/purchase-orders", 429)) == 1
    assert ("token", "POST", "/api/v1/auth/login", 200) in attempts
    assert ("api", "GET", "/api/v1/erp-sync/pending-updates", 401) in attempts
    oauth_run, _ = _sync(
        tmp_path, oauth_config(url, emulator.buyer_company_id, client_secret=CANARY_CLIENT_SECRET), "oauth"
    )
    issued = list(sandbox.ctx.tokens._tokens)  # every access token the emulator issued in this test (D2)
    assert len(issued) >= 3  # login, the refresh after the revocation, the OAuth token
    assert len(emulator.issued_refresh_tokens) >= 2
    canaries = [
        Canary("password", CANARY_PASSWORD, user=EMAIL),
        Canary("client_secret", CANARY_CLIENT_SECRET),
        *(Canary(f"token{i}", token) for i, token in enumerate(issued)),
        *(Canary(f"refresh{i}", token) for i, token in enumerate(emulator.issued_refresh_tokens)),
    ]
    leaks = scan(canaries, {"password run": password_run.encode(), "oauth run": oauth_run.encode()})
    assert leaks == []
    assert "PO00000001" in password_run  # positive control: data and paths are not masked away
    assert "/api/v1/auth/login" in password_run
