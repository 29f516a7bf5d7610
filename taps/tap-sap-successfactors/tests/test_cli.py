"""The tap as users run it: the console script in a subprocess, against the emulator on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.successfactors import API_PASSWORD, SuccessFactorsEmulator

from .conftest import SCALE, basic_config

TAP = str(Path(sys.executable).parent / "tap-sap-successfactors")


def _run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TAP, *args], capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)


def _write(path: Path, value: Any) -> str:
    path.write_text(json.dumps(value))
    return str(path)


def test_discover_every_entity_set_then_sync_with_state(
    url: str, sandbox: Sandbox, emulator: SuccessFactorsEmulator, tmp_path: Path
) -> None:
    config_file = _write(tmp_path / "config.json", basic_config(url, entity_sets=["*"]))
    discovered = _run(["--config", config_file, "--discover"], tmp_path)
    assert discovered.returncode == 0, discovered.stderr
    catalog = json.loads(discovered.stdout)
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert set(streams) == set(emulator.entities)
    assert streams["EmpJob"]["key_properties"] == ["seqNumber", "startDate", "userId"]
    assert streams["EmpJob"]["replication_key"] == "lastModifiedDateTime"
    assert streams["cust_EquipmentAssignment"]["schema"]["properties"]["cust_assetValue"]["type"] == [
        "number",
        "null",
    ]

    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] == "PerPersonal"
    catalog_file = _write(tmp_path / "catalog.json", catalog)
    synced = _run(["--config", config_file, "--catalog", catalog_file], tmp_path)
    assert synced.returncode == 0, synced.stderr
    messages = [json.loads(line) for line in synced.stdout.splitlines()]
    assert {m["stream"] for m in messages if m["type"] == "RECORD"} == {"PerPersonal"}
    assert sum(1 for m in messages if m["type"] == "RECORD") == SCALE
    state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
    assert state["bookmarks"]["PerPersonal"]["replication_key"] == "lastModifiedDateTime"

    emulator.insert_records(2)  # two hires after the first run
    state_file = _write(tmp_path / "state.json", state)
    again = _run(["--config", config_file, "--catalog", catalog_file, "--state", state_file], tmp_path)
    assert again.returncode == 0, again.stderr
    changed = [json.loads(line)["record"] for line in again.stdout.splitlines() if '"RECORD"' in line]
    assert {"PA000001", "PA000002"} <= {r["personIdExternal"] for r in changed}
    bookmark = state["bookmarks"]["PerPersonal"]["replication_key_value"]
    assert all(r["lastModifiedDateTime"] >= bookmark for r in changed)
    for output in (discovered, synced, again):
        assert API_PASSWORD not in output.stdout + output.stderr


def test_bad_config_exits_non_zero_naming_the_setting(url: str, tmp_path: Path) -> None:
    config = basic_config(url)
    del config["auth"]["password"]
    result = _run(["--config", _write(tmp_path / "config.json", config), "--discover"], tmp_path)
    assert result.returncode != 0
    assert "auth.password" in result.stderr


def test_about_lists_secrets_as_secret(tmp_path: Path) -> None:
    result = _run(["--about", "--format=json"], tmp_path)
    assert result.returncode == 0, result.stderr
    about = json.loads(result.stdout)
    auth = about["settings"]["properties"]["auth"]["properties"]
    assert auth["password"]["secret"] is True
    assert auth["private_key"]["secret"] is True
    assert "api_url" in about["settings"]["required"]
