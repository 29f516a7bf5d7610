"""The tap as users run it: the console script in a subprocess against the emulator, and refresh-token rotation
persisted through the credential store across runs (RELIABILITY B5)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest

from xlr8_kit.credentials.crypto import EnvelopeCipher, Keyring
from xlr8_kit.credentials.manager import CredentialManager
from xlr8_kit.credentials.model import AuthType, ProductCredential
from xlr8_kit.credentials.store import SQLiteCredentialStore
from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.workday import (
    CLIENT_ID,
    CLIENT_SECRET,
    ISU_PASSWORD,
    REFRESH_TOKEN,
    TENANT,
    WorkdayEmulator,
)

from .conftest import base_config, report_url


def _run(args: list[str], tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_tap_cli("tap-workday", args, tmp_path, env=env)


def test_discover_then_sync_selected_report_with_state(url: str, emulator: WorkdayEmulator, tmp_path: Path) -> None:
    report = {
        "name": "worker_report", "url": report_url(url, "XLR8_Workers"), "primary_keys": ["Employee_ID"],
        "incremental": {"from_prompt": "Updated_From", "to_prompt": "Updated_Through", "start_date": "2025-10-01",
                        "end_date": "2026-01-31", "window_days": 31, "replication_key": "Last_Updated"},
    }  # fmt: skip
    config_file = write_json(tmp_path / "config.json", base_config(url, reports=[report]))
    discovered = _run(["--config", config_file, "--discover"], tmp_path)
    assert discovered.returncode == 0, discovered.stderr
    catalog = json.loads(discovered.stdout)
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert set(streams) == {"workers", "organizations", "jobs", "soap_workers", "soap_organizations", "journals",
                            "suppliers", "worker_report"}  # fmt: skip
    assert streams["worker_report"]["replication_key"] == "Last_Updated"
    assert streams["worker_report"]["schema"]["properties"]["Organizations_group"]["type"] == ["array", "null"]
    catalog_file = write_json(tmp_path / "catalog.json", select_streams(catalog, {"worker_report"}))
    synced = _run(["--config", config_file, "--catalog", catalog_file], tmp_path)
    assert synced.returncode == 0, synced.stderr
    messages = parse_singer_messages(synced.stdout)
    rows = [m["record"] for m in messages if m["type"] == "RECORD"]
    assert {m["stream"] for m in messages if m["type"] == "RECORD"} == {"worker_report"}
    assert {r["Employee_ID"] for r in rows} == {
        e.employee_id for e in emulator.company.employees() if e.last_modified.date().isoformat() >= "2025-10-01"
    }
    state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
    bookmark = state["bookmarks"]["worker_report"]["replication_key_value"]

    state_file = write_json(tmp_path / "s.json", state)
    again = _run(["--config", config_file, "--catalog", catalog_file, "--state", state_file], tmp_path)
    assert again.returncode == 0, again.stderr
    resumed = [m["record"] for m in parse_singer_messages(again.stdout) if m["type"] == "RECORD"]
    assert all(r["Last_Updated"][:10] >= bookmark[:10] for r in resumed)
    assert len(resumed) < len(rows)
    for output in (discovered, synced, again):
        assert ISU_PASSWORD not in output.stdout + output.stderr
        assert CLIENT_SECRET not in output.stdout + output.stderr


def test_bad_config_exits_non_zero_naming_the_setting(url: str, tmp_path: Path) -> None:
    config = base_config(url, soap_page_size=5000)
    del config["client_secret"]
    result = _run(["--config", write_json(tmp_path / "config.json", config), "--discover"], tmp_path)
    assert result.returncode != 0
    assert "'client_secret'" in result.stderr
    assert "soap_page_size" in result.stderr
    assert ISU_PASSWORD not in result.stderr


def test_incremental_report_without_primary_keys_is_refused_naming_the_setting(url: str, tmp_path: Path) -> None:
    """audit24b M3: the bookmark's day is re-read every run; without a key each run would append it again."""
    report = {
        "name": "worker_report",
        "url": report_url(url, "XLR8_Workers"),
        "incremental": {"from_prompt": "Updated_From", "to_prompt": "Updated_Through", "start_date": "2025-01-01",
                        "replication_key": "Last_Updated"},
    }  # fmt: skip
    config = base_config(url, streams=[], reports=[report])
    result = _run(["--config", write_json(tmp_path / "config.json", config), "--discover"], tmp_path)
    assert result.returncode != 0
    assert "'reports[0].primary_keys' is required" in result.stderr


def test_about_marks_secrets(tmp_path: Path) -> None:
    result = _run(["--about", "--format=json"], tmp_path)
    assert result.returncode == 0, result.stderr
    props = json.loads(result.stdout)["settings"]["properties"]
    assert props["client_secret"]["secret"] is True
    assert props["refresh_token"]["secret"] is True
    assert props["password"]["secret"] is True


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, str]]:
    key = f"k1:{base64.b64encode(os.urandom(32)).decode()}"
    monkeypatch.setenv("XLR8_CREDENTIALS_KEY", key)
    monkeypatch.delenv("XLR8_CREDENTIALS_KEY_FILE", raising=False)
    db = tmp_path / "credentials.db"
    manager = CredentialManager(SQLiteCredentialStore(db), EnvelopeCipher(Keyring.parse(key, source="test")))
    manager.store(
        ProductCredential(
            credential_id="wd-acme",
            project_id="acme",
            product_id="workday_hcm",
            auth_type=AuthType.OAUTH2_REFRESH_TOKEN,
            credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN},
        )
    )
    manager.close()
    return db, {"XLR8_CREDENTIALS_KEY": key}


def test_b5_rotated_refresh_token_is_persisted_and_used_next_run(
    url: str, emulator: WorkdayEmulator, sandbox: Sandbox, store: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    db, env = store
    emulator.rotate_refresh_tokens = True  # single-use refresh tokens
    config = {"base_url": url, "tenant": TENANT, "credential_id": "wd-acme", "credential_store": str(db),
              "streams": ["jobs"]}  # fmt: skip
    config_file = write_json(tmp_path / "config.json", config)
    for _run_number in range(2):
        result = _run(["--config", config_file], tmp_path, env)
        assert result.returncode == 0, result.stderr
        assert sum(1 for line in result.stdout.splitlines() if '"RECORD"' in line) == len(emulator.company.jobs)
    manager = CredentialManager(SQLiteCredentialStore(db), EnvelopeCipher(Keyring.from_environment(env)))
    stored = manager.get("wd-acme").credentials["refresh_token"]
    manager.close()
    assert stored != REFRESH_TOKEN
    assert emulator.refresh_tokens == {stored}  # the second run spent the first rotation and stored the next
    assert stored not in result.stdout + result.stderr
