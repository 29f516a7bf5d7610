"""meltano.yml describes exactly the settings the tap accepts, flat, secrets marked sensitive, kinds matching the
schema, one settings group per auth flow, and the sandbox environment points at the emulator's fixed port."""

from __future__ import annotations

from pathlib import Path

import yaml

from xlr8_kit.rest import KIT_SETTINGS
from xlr8_kit.testing.meltano_e2e import declared_plugin
from xlr8_sandbox.platform.server import DEFAULT_PORTS
from xlr8_tap_sap_s4hana.tap import AUTH_TYPES, PRODUCT_SETTINGS

MELTANO_YML = Path(__file__).resolve().parents[3] / "meltano.yml"
KINDS = {"string": "string", "integer": "integer", "boolean": "boolean", "array": "array", "object": "object"}


def test_meltano_settings_match_the_config_schema() -> None:
    project = yaml.safe_load(MELTANO_YML.read_text())
    plugin = declared_plugin(MELTANO_YML.parent, "extractors", "tap-sap-s4hana")
    settings = {s["name"]: s for s in plugin["settings"]}
    schema = {**PRODUCT_SETTINGS.to_dict()["properties"], **KIT_SETTINGS.to_dict()["properties"]}
    assert set(settings) == set(schema)
    for name, spec in schema.items():
        assert bool(settings[name].get("sensitive")) == bool(spec.get("secret")), name
        first = next(t for t in ([spec["type"]] if isinstance(spec["type"], str) else spec["type"]) if t != "null")
        if "enum" in spec:
            expected = "options"
        elif spec.get("format") in ("date-time", "date"):
            expected = "date_iso8601"
        else:
            expected = KINDS[first]
        assert settings[name]["kind"] == expected, name
    assert [o["value"] for o in settings["auth_type"]["options"]] == list(AUTH_TYPES)
    assert plugin["pip_url"] == "-e ./shared -e ./taps/tap-sap-s4hana"
    groups = plugin["settings_group_validation"]
    assert len(groups) == len(AUTH_TYPES)
    assert all(set(group) <= set(settings) for group in groups)
    sandbox = next(e for e in project["environments"] if e["name"] == "sandbox")
    configured = next(p for p in sandbox["config"]["plugins"]["extractors"] if p["name"] == "tap-sap-s4hana")
    assert configured["config"]["base_url"] == f"http://127.0.0.1:{DEFAULT_PORTS['s4hana']}"
