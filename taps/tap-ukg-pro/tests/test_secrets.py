"""RELIABILITY D1/D5 for UKG Pro: a DEBUG sync of REST and RaaS (with a session expiry and a 429 injected) leaves
no secret or session token in stdout, stderr, STATE or the audit log, in any encoding; the audit has one line per
HTTP attempt, LogOn labelled as a token call; the RaaS session is logged off at the end."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote

from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_pro import CUSTOMER_API_KEY, PASSWORD, USER_ACCESS_KEY, USERNAME, UkgProEmulator
from xlr8_sandbox.products.ukg_pro.raas import FOLDER

from .conftest import ukg_config

JOB_CODES = f"{FOLDER}/report[@name='XLR8 Job Codes']"


def _forms(secret: str) -> list[str]:
    return [secret, base64.b64encode(secret.encode()).decode(), quote(secret, safe=""), json.dumps(secret)[1:-1]]


def test_d1_d5_no_secret_anywhere_and_one_audit_line_per_attempt(
    url: str, sandbox: Sandbox, emulator: UkgProEmulator, tmp_path: Path
) -> None:
    emulator.working_polls = 1
    audit = tmp_path / "audit.jsonl"
    config = ukg_config(url, raas_reports=[{"path": JOB_CODES}], raas_poll_interval=0, audit_log_path=str(audit))
    write_json(tmp_path / "config.json", config)
    discovered = run_tap_cli("tap-ukg-pro", ["--config", "config.json", "--discover"], tmp_path)
    assert discovered.returncode == 0, discovered.stderr
    catalog = json.loads(discovered.stdout)
    write_json(tmp_path / "catalog.json", select_streams(catalog, {"raas_xlr8_job_codes", "jobs"}))
    audit.unlink()
    sandbox.faults.add("ukg_pro", "/configuration/v1/jobs", FaultSpec("rate_limit", retry_after=0, times=1))
    sandbox.faults.add("ukg_pro", "/services/BIDataService", FaultSpec("revoke_tokens", after=1, times=1))
    synced = run_tap_cli(
        "tap-ukg-pro", ["--config", "config.json", "--catalog", "catalog.json"], tmp_path, env={"LOGLEVEL": "DEBUG"}
    )
    assert synced.returncode == 0, synced.stderr
    records = [m for m in parse_singer_messages(synced.stdout) if m["type"] == "RECORD"]
    assert {r["stream"] for r in records} == {"raas_xlr8_job_codes", "jobs"}

    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    attempts = [(line["kind"], line["method"], line["path"], line["status"]) for line in lines]
    assert attempts.count(("api", "GET", "/configuration/v1/jobs", 429)) == 1
    # the short first page (a cap of the server's, or the end) and the empty page after it (audit24b H2)
    assert attempts.count(("api", "GET", "/configuration/v1/jobs", 200)) == 2
    logons = [a for a in attempts if a[0] == "token"]
    assert logons == [("token", "POST", "/services/BIDataService", 200)] * 2  # first LogOn, then after the revoke
    assert len([a for a in attempts if a[2] == "/services/BIStreamingService"]) == 2  # Working, then Completed
    assert sandbox.ctx.tokens.revoke_all("ukg_pro") == 0  # LogOff ended the session

    everything = synced.stdout + synced.stderr + discovered.stderr + audit.read_text()
    session_tokens = list(sandbox.ctx.tokens._tokens)  # every RaaS token the emulator issued in this test (D2)
    assert len(session_tokens) >= 3
    secrets = [PASSWORD, CUSTOMER_API_KEY, USER_ACCESS_KEY, f"{USERNAME}:{PASSWORD}", *session_tokens]
    leaked = [form for secret in secrets for form in _forms(secret) if form in everything]
    assert leaked == []
    assert "/configuration/v1/jobs" in everything  # positive control: the scan reads real output
