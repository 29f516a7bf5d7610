"""meltano.yml describes the tap's settings as its config schema does: one flat setting per key, every secret
sensitive, kinds matching the JSON types, and one settings_group_validation group per auth path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from xlr8_kit.rest import kit_config_schema
from xlr8_kit.testing.meltano_e2e import declared_plugin
from xlr8_tap_ukg_wfm.tap import PRODUCT_SETTINGS, REQUIRED_BY_AUTH

ROOT = Path(__file__).resolve().parents[3]
KINDS = {"string": {"string", "options"}, "integer": {"integer"}, "number": {"decimal", "integer"},
         "boolean": {"boolean"}, "object": {"object"}, "array": {"array"}}  # fmt: skip


def _plugin() -> dict[str, Any]:
    return declared_plugin(ROOT, "extractors", "tap-ukg-wfm")


def test_settings_match_the_config_schema() -> None:
    plugin = _plugin()
    settings = {s["name"]: s for s in plugin["settings"]}
    # built afresh: the SDK adds its own settings (stream_maps, batch_config ...) to the class attribute at run time
    schema = kit_config_schema(PRODUCT_SETTINGS)["properties"]
    assert list(settings) == list(schema)
    for name, spec in schema.items():
        types = spec.get("type") or ["string"]
        kind = next(k for k in (types if isinstance(types, list) else [types]) if k != "null")
        if spec.get("format") == "date":
            assert settings[name]["kind"] == "date_iso8601", name
        else:
            assert settings[name]["kind"] in KINDS[kind], name
        assert bool(settings[name].get("sensitive")) == bool(spec.get("secret")), name


def test_capabilities_are_what_the_tap_reports() -> None:
    executable = str(Path(sys.executable).parent / "tap-ukg-wfm")
    about = subprocess.run([executable, "--about", "--format=json"], capture_output=True, text=True, check=True)
    assert sorted(_plugin()["capabilities"]) == sorted(json.loads(about.stdout)["capabilities"])


def test_one_validation_group_per_auth_path() -> None:
    groups = [set(g) for g in _plugin()["settings_group_validation"]]
    assert {"base_url", *REQUIRED_BY_AUTH["appkey"]} in groups
    assert {"base_url", "auth_type", *REQUIRED_BY_AUTH["platform"]} in groups
