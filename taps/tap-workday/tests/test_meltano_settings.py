"""meltano.yml describes exactly the settings the tap accepts, secrets marked sensitive (no drift)."""

from __future__ import annotations

from pathlib import Path

import yaml

from xlr8_kit.rest import KIT_SETTINGS
from xlr8_kit.testing.meltano_e2e import declared_plugin
from xlr8_sandbox.platform.server import DEFAULT_PORTS
from xlr8_sandbox.products.workday import TENANT
from xlr8_tap_workday.tap import PRODUCT_SETTINGS, WorkdaySettings

MELTANO_YML = Path(__file__).resolve().parents[3] / "meltano.yml"


def test_meltano_settings_match_the_config_schema() -> None:
    project = yaml.safe_load(MELTANO_YML.read_text())
    plugin = declared_plugin(MELTANO_YML.parent, "extractors", "tap-workday")
    settings = {s["name"]: s for s in plugin["settings"]}
    schema = {**PRODUCT_SETTINGS.to_dict()["properties"], **KIT_SETTINGS.to_dict()["properties"]}
    assert set(settings) == set(schema)
    for name, spec in schema.items():
        assert bool(settings[name].get("sensitive")) == bool(spec.get("secret")), name
    sandbox = next(e for e in project["environments"] if e["name"] == "sandbox")
    configured = next(p for p in sandbox["config"]["plugins"]["extractors"] if p["name"] == "tap-workday")["config"]
    assert configured["base_url"] == f"http://127.0.0.1:{DEFAULT_PORTS['workday']}"
    assert configured["tenant"] == TENANT
    parsed = WorkdaySettings.from_config(configured)  # the sandbox config is valid as written
    assert [r.name for r in parsed.reports] == ["worker_report", "journal_lines"]
    assert parsed.reports[0].incremental is not None
