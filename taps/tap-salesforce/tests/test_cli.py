"""The tap as users run it: the console script in a subprocess, against the emulator on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json


def _run(args: list[str], tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_tap_cli("tap-salesforce", args, tmp_path, env=env)


def test_discover_then_sync_selected_object_with_state(sf: Any, sandbox: Any, tmp_path: Path) -> None:
    config = sf.password_config(sandbox, lookback_seconds=0)  # the sandbox clock stands still: no window re-read
    config_file = write_json(tmp_path / "config.json", config)
    discovered = _run(["--config", config_file, "--discover"], tmp_path)
    assert discovered.returncode == 0, discovered.stderr
    catalog = json.loads(discovered.stdout)
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert set(streams) == {"Account", "Contact", "Opportunity", "Lead", "User", "Case", "Project__c", "Attachment"}
    account = streams["Account"]
    assert account["schema"]["properties"]["AnnualRevenue"]["type"] == ["number", "null"]
    assert account["replication_key"] == "SystemModstamp"
    assert account["key_properties"] == ["Id"]

    catalog_file = write_json(tmp_path / "catalog.json", select_streams(catalog, {"Project__c"}))
    synced = _run(["--config", config_file, "--catalog", catalog_file], tmp_path)
    assert synced.returncode == 0, synced.stderr
    messages = parse_singer_messages(synced.stdout)
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    assert {m["stream"] for m in messages if m["type"] == "RECORD"} == {"Project__c"}
    assert len(records) == 10
    assert isinstance(records[0]["Budget__c"], float | int)
    state = [m["value"] for m in messages if m["type"] == "STATE"][-1]

    state_file = write_json(tmp_path / "state.json", state)
    sf.emulator(sandbox).touch("Project__c", 3, Status__c="Done")
    again = _run(["--config", config_file, "--catalog", catalog_file, "--state", state_file], tmp_path)
    assert again.returncode == 0, again.stderr
    changed = [m["record"] for m in parse_singer_messages(again.stdout) if m["type"] == "RECORD"]
    assert [r["Id"] for r in changed] == ["a01000000000003AAA"]
    assert changed[0]["Status__c"] == "Done"
    secrets = sf.emulator(sandbox).test_credentials()
    for output in (discovered, synced, again):
        for name in ("client_secret", "password", "security_token"):
            assert secrets[name] not in output.stdout + output.stderr


def test_bad_config_exits_non_zero_naming_the_setting(sf: Any, sandbox: Any, tmp_path: Path) -> None:
    config = sf.password_config(sandbox)
    config.update(client_id="x", client_secret="s3cr3t-value", username="u")
    del config["password"]
    result = _run(["--config", write_json(tmp_path / "config.json", config), "--discover"], tmp_path)
    assert result.returncode != 0
    assert "auth_type 'password' needs setting(s): 'password'" in result.stderr
    assert "s3cr3t-value" not in result.stderr


def test_d1_debug_logs_carry_no_secret_nor_token(sf: Any, sandbox: Any, tmp_path: Path) -> None:
    em = sf.emulator(sandbox)
    em.revoke_sessions_at_request = 3  # a 401 and a token refresh happen inside the logged run
    config = sf.password_config(sandbox, objects=["Account"], batch_size=200)
    config_file = write_json(tmp_path / "config.json", config)
    result = _run(["--config", config_file], tmp_path, env={"LOGLEVEL": "DEBUG"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "DEBUG" in result.stderr  # positive control: debug logging really was on
    issued = [token.token for token in em.ctx.tokens._tokens.values()]
    assert len(issued) == 2  # the first session and the one after the forced refresh
    creds = em.test_credentials()
    canaries = [*issued, creds["client_secret"], creds["password"], creds["security_token"]]
    for canary in canaries:
        assert canary not in result.stdout
        assert canary not in result.stderr


def test_sync_describes_only_selected_objects_and_keeps_the_others_bookmarks(
    sf: Any, sandbox: Any, tmp_path: Path
) -> None:
    """Meltano hands the whole discovered catalog to every sync. The sync describes only what the catalog selects:
    an unselected object the org no longer has (deleted since discovery) cannot fail it, the rows are those of a
    catalog holding the selected object alone, and the other streams' bookmarks pass through the STATE."""
    config_file = write_json(tmp_path / "config.json", sf.password_config(sandbox))
    discovered = _run(["--config", config_file, "--discover"], tmp_path)
    assert discovered.returncode == 0, discovered.stderr
    catalog = select_streams(json.loads(discovered.stdout), {"Project__c"})
    gone = json.loads(json.dumps(next(s for s in catalog["streams"] if s["tap_stream_id"] == "Project__c")))
    gone["tap_stream_id"] = gone["stream"] = "Gone__c"
    for entry in gone["metadata"]:
        entry["metadata"]["selected"] = False
    catalog["streams"].append(gone)
    alone = {"streams": [s for s in catalog["streams"] if s["tap_stream_id"] == "Project__c"]}
    contact = {"replication_key": "SystemModstamp", "replication_key_value": "2021-03-04T05:06:07.000000Z"}
    state_file = write_json(tmp_path / "state.json", {"bookmarks": {"Contact": contact}})

    runs = {}
    for name, entries in (("whole", catalog), ("alone", alone)):
        catalog_file = write_json(tmp_path / f"{name}.json", entries)
        synced = _run(["--config", config_file, "--catalog", catalog_file, "--state", state_file], tmp_path)
        assert synced.returncode == 0, synced.stderr[-2000:]
        runs[name] = parse_singer_messages(synced.stdout)
    records = {
        name: [(m["stream"], m["record"]) for m in messages if m["type"] == "RECORD"] for name, messages in runs.items()
    }
    assert len(records["whole"]) == 10
    assert {stream for stream, _ in records["whole"]} == {"Project__c"}
    assert records["whole"] == records["alone"]
    final = {name: [m["value"] for m in messages if m["type"] == "STATE"][-1] for name, messages in runs.items()}
    assert final["whole"]["bookmarks"]["Contact"] == contact
    assert final["whole"] == final["alone"]
