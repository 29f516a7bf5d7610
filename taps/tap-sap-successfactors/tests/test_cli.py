"""The tap as users run it: the console script in a subprocess, against the emulator on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.successfactors import API_PASSWORD, SuccessFactorsEmulator

from .conftest import SCALE, basic_config


def _run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return run_tap_cli("tap-sap-successfactors", args, tmp_path)


def test_discover_every_entity_set_then_sync_with_state(
    url: str, sandbox: Sandbox, emulator: SuccessFactorsEmulator, tmp_path: Path
) -> None:
    config_file = write_json(tmp_path / "config.json", basic_config(url, entity_sets=["*"]))
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

    catalog_file = write_json(tmp_path / "catalog.json", select_streams(catalog, {"PerPersonal"}))
    synced = _run(["--config", config_file, "--catalog", catalog_file], tmp_path)
    assert synced.returncode == 0, synced.stderr
    messages = parse_singer_messages(synced.stdout)
    assert {m["stream"] for m in messages if m["type"] == "RECORD"} == {"PerPersonal"}
    assert sum(1 for m in messages if m["type"] == "RECORD") == SCALE
    state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
    assert state["bookmarks"]["PerPersonal"]["replication_key"] == "lastModifiedDateTime"

    emulator.insert_records(2)  # two hires after the first run
    state_file = write_json(tmp_path / "state.json", state)
    again = _run(["--config", config_file, "--catalog", catalog_file, "--state", state_file], tmp_path)
    assert again.returncode == 0, again.stderr
    changed = [m["record"] for m in parse_singer_messages(again.stdout) if m["type"] == "RECORD"]
    assert {"PA000001", "PA000002"} <= {r["personIdExternal"] for r in changed}
    bookmark = state["bookmarks"]["PerPersonal"]["replication_key_value"]
    assert all(r["lastModifiedDateTime"] >= bookmark for r in changed)
    for output in (discovered, synced, again):
        assert API_PASSWORD not in output.stdout + output.stderr


def test_bad_config_exits_non_zero_naming_the_setting(url: str, tmp_path: Path) -> None:
    config = basic_config(url)
    del config["auth"]["password"]
    result = _run(["--config", write_json(tmp_path / "config.json", config), "--discover"], tmp_path)
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


def test_a_saml_config_missing_its_private_key_is_told_so(tmp_path: Path) -> None:
    """review24a L2: no ``auth.type``, SAML settings given but the private key forgotten: the error names
    ``auth.private_key``, not Basic's ``auth.username`` (Basic is retired for SuccessFactors APIs)."""
    config = basic_config("https://api4.successfactors.com", entity_sets=["User"])
    config["auth"] = {"client_id": "api-key", "user_id": "sfapi", "certificate": "-----BEGIN CERTIFICATE-----"}
    result = _run(["--config", write_json(tmp_path / "config.json", config), "--discover"], tmp_path)
    assert result.returncode != 0
    assert "setting 'auth.private_key' is required when auth.type is 'saml_bearer'" in result.stderr
    assert "auth.username" not in result.stderr
    assert "auth.password" not in result.stderr
