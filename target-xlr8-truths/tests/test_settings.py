"""meltano.yml describes exactly the settings the target accepts (one source of truth: the config schema)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml
from truths_testkit import TARGET_EXE

from xlr8_kit.testing.meltano_e2e import declared_plugin

ROOT = Path(__file__).resolve().parents[2]
SDK_PLUMBING = {"batch_config", "faker_config", "load_method", "stream_map_config", "stream_maps",
                "process_activate_version_messages"}  # fmt: skip


def test_meltano_settings_match_the_config_schema() -> None:
    about = subprocess.run([TARGET_EXE, "--about", "--format=json"], capture_output=True, text=True, check=True)
    schema = json.loads(about.stdout)["settings"]["properties"]
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    loader = declared_plugin(ROOT, "loaders", "target-xlr8-truths")
    declared = {s["name"]: s for s in loader["settings"]}
    assert set(declared) == set(schema) - SDK_PLUMBING
    for name, setting in declared.items():
        assert setting.get("description"), name
        assert bool(setting.get("sensitive")) == bool(schema[name].get("secret")), name
    assert {n for n, s in schema.items() if s.get("secret")} == {"postgres_dsn", "upload_api_key"}
    sandbox = next(e for e in project["environments"] if e["name"] == "sandbox")
    sandbox_config = next(p for p in sandbox["config"]["plugins"]["loaders"] if p["name"] == "target-xlr8-truths")
    assert sandbox_config["config"]["duckdb_path"].startswith(".xlr8/")
