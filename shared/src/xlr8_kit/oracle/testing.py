"""Checks both Oracle taps' tests share: the Meltano plugin definition matches what the tap reports (settings,
secrets, capabilities, one settings group per auth flow, ``pip_url``) and the sandbox points at the emulator."""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import yaml

from xlr8_kit.oracle.settings import REQUIRED_BY_AUTH
from xlr8_kit.rest import KIT_SETTINGS
from xlr8_kit.testing.singer_cli import run_tap_cli


def assert_meltano_plugin(
    meltano_yml: Path, tap: str, product_settings: t.Any, sandbox_url: str, workdir: Path
) -> None:
    project = yaml.safe_load(meltano_yml.read_text())
    plugin = next(p for p in project["plugins"]["extractors"] if p["name"] == tap)
    settings = {s["name"]: s for s in plugin["settings"]}
    schema = {**product_settings.to_dict()["properties"], **KIT_SETTINGS.to_dict()["properties"]}
    assert set(settings) == set(schema)
    for name, spec in schema.items():
        assert bool(settings[name].get("sensitive")) == bool(spec.get("secret")), name
        assert settings[name]["kind"] != "object" or name == "http", name  # flat: no object-typed auth setting
    about = run_tap_cli(tap, ["--about", "--format=json"], workdir)
    assert about.returncode == 0, about.stderr
    assert sorted(plugin["capabilities"]) == sorted(json.loads(about.stdout)["capabilities"])
    assert plugin["pip_url"] == f"-e ./shared -e ./taps/{tap}"
    flows = [set(group) - {"base_url", "auth_type"} for group in plugin["settings_group_validation"]]
    assert flows == [set(REQUIRED_BY_AUTH[k]) for k in ("basic", "oauth_client_credentials", "oauth_jwt")]
    sandbox = next(e for e in project["environments"] if e["name"] == "sandbox")
    configured = next(p for p in sandbox["config"]["plugins"]["extractors"] if p["name"] == tap)
    assert configured["config"]["base_url"] == sandbox_url
