"""meltano.yml describes exactly the settings the tap accepts, secrets marked sensitive (no drift)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from xlr8_kit.rest import KIT_SETTINGS
from xlr8_kit.testing.meltano_e2e import declared_plugin
from xlr8_tap_sap_successfactors.tap import PRODUCT_SETTINGS

MELTANO_YML = Path(__file__).resolve().parents[3] / "meltano.yml"


def _flatten(properties: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, spec in properties.items():
        if "properties" in spec and name != "http":
            out.update(_flatten(spec["properties"], f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = spec
    return out


def test_meltano_settings_match_the_config_schema() -> None:
    project = yaml.safe_load(MELTANO_YML.read_text())
    plugin = declared_plugin(MELTANO_YML.parent, "extractors", "tap-sap-successfactors")
    settings = {s["name"]: s for s in plugin["settings"]}
    # The tap's own settings (the SDK adds its built-ins such as batch_config to the class schema at run time).
    schema = _flatten({**PRODUCT_SETTINGS.to_dict()["properties"], **KIT_SETTINGS.to_dict()["properties"]})
    assert set(settings) == set(schema)
    for name, spec in schema.items():
        assert bool(settings[name].get("sensitive")) == bool(spec.get("secret")), name
    sandbox = next(e for e in project["environments"] if e["name"] == "sandbox")
    configured = next(p for p in sandbox["config"]["plugins"]["extractors"] if p["name"] == "tap-sap-successfactors")
    assert configured["config"]["api_url"] == "http://127.0.0.1:18102"  # DEFAULT_PORTS["successfactors"]
