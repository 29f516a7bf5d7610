"""meltano.yml describes exactly the settings the tap accepts (flat, secrets sensitive), the capabilities it reports
and one settings group per auth flow; the sandbox environment points at the ERP emulator's fixed port."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from xlr8_kit.oracle.settings import REQUIRED_BY_AUTH
from xlr8_kit.rest import KIT_SETTINGS
from xlr8_kit.testing.singer_cli import run_tap_cli
from xlr8_sandbox.platform.server import DEFAULT_PORTS
from xlr8_tap_oracle_erp.tap import PRODUCT_SETTINGS

MELTANO_YML = Path(__file__).resolve().parents[3] / "meltano.yml"
TAP = "tap-oracle-erp"


def test_meltano_plugin_matches_the_tap(tmp_path: Path) -> None:
    project = yaml.safe_load(MELTANO_YML.read_text())
    plugin = next(p for p in project["plugins"]["extractors"] if p["name"] == TAP)
    settings = {s["name"]: s for s in plugin["settings"]}
    schema = {**PRODUCT_SETTINGS.to_dict()["properties"], **KIT_SETTINGS.to_dict()["properties"]}
    assert set(settings) == set(schema)
    for name, spec in schema.items():
        assert bool(settings[name].get("sensitive")) == bool(spec.get("secret")), name
        assert settings[name]["kind"] != "object" or name == "http", name  # flat: no object-typed auth setting
    about = run_tap_cli(TAP, ["--about", "--format=json"], tmp_path)
    assert about.returncode == 0, about.stderr
    assert plugin["capabilities"] == json.loads(about.stdout)["capabilities"]
    assert plugin["pip_url"] == f"-e ./shared -e ./taps/{TAP}"
    flows = [set(group) - {"base_url", "auth_type"} for group in plugin["settings_group_validation"]]
    assert flows == [set(REQUIRED_BY_AUTH[k]) for k in ("basic", "oauth_client_credentials", "oauth_jwt")]
    sandbox = next(e for e in project["environments"] if e["name"] == "sandbox")
    configured = next(p for p in sandbox["config"]["plugins"]["extractors"] if p["name"] == TAP)
    assert configured["config"]["base_url"] == f"http://127.0.0.1:{DEFAULT_PORTS['oracle_erp']}"
