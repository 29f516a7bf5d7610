"""meltano.yml describes exactly the settings the tap accepts, secrets marked sensitive, capabilities as the tap
reports them, and a sandbox config that is valid as written."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from xlr8_kit.rest import KIT_SETTINGS
from xlr8_kit.testing.meltano_e2e import declared_plugin
from xlr8_kit.testing.singer_cli import run_tap_cli
from xlr8_sandbox.platform.server import DEFAULT_PORTS
from xlr8_sandbox.products.ukg_ready import COMPANY_SHORT_NAME
from xlr8_tap_ukg_ready.tap import PRODUCT_SETTINGS, UkgReadySettings

MELTANO_YML = Path(__file__).resolve().parents[3] / "meltano.yml"


def test_meltano_settings_match_the_config_schema(tmp_path: Path) -> None:
    project = yaml.safe_load(MELTANO_YML.read_text())
    plugin = declared_plugin(MELTANO_YML.parent, "extractors", "tap-ukg-ready")
    settings = {s["name"]: s for s in plugin["settings"]}
    schema = {**PRODUCT_SETTINGS.to_dict()["properties"], **KIT_SETTINGS.to_dict()["properties"]}
    assert set(settings) == set(schema)
    for name, spec in schema.items():
        assert bool(settings[name].get("sensitive")) == bool(spec.get("secret")), name
    about = run_tap_cli("tap-ukg-ready", ["--about", "--format=json"], tmp_path)
    assert about.returncode == 0, about.stderr
    assert sorted(plugin["capabilities"]) == sorted(json.loads(about.stdout)["capabilities"])
    groups = plugin["settings_group_validation"]
    assert all(set(group) <= set(settings) for group in groups)
    sandbox = next(e for e in project["environments"] if e["name"] == "sandbox")
    configured = next(p for p in sandbox["config"]["plugins"]["extractors"] if p["name"] == "tap-ukg-ready")["config"]
    assert configured["base_url"] == f"http://127.0.0.1:{DEFAULT_PORTS['ukg_ready']}"
    assert configured["company_short_name"] == COMPANY_SHORT_NAME
    parsed = UkgReadySettings.from_config(configured)  # the sandbox config is valid as written
    assert [r.name for r in parsed.reports] == ["pay_statements", "timesheets", "accruals"]
    assert parsed.flow == "login"
