"""meltano.yml describes the tap's settings by hand; this keeps it from drifting from the config schema."""

from __future__ import annotations

from pathlib import Path

import yaml

from xlr8_tap_salesforce.tap import settings_schema

ROOT = Path(__file__).resolve().parents[3]


def _extractor() -> dict:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    return next(p for p in project["plugins"]["extractors"] if p["name"] == "tap-salesforce")


def test_meltano_settings_match_the_config_schema() -> None:
    plugin = _extractor()
    assert plugin["executable"] == "tap-salesforce"
    assert "pip_url" not in plugin
    assert {"catalog", "discover", "state", "about"} <= set(plugin["capabilities"])
    declared = {s["name"] for s in plugin["settings"]}
    assert declared == set(settings_schema()["properties"])  # the SDK's own built-ins (stream_maps ...) aside
    sensitive = {s["name"] for s in plugin["settings"] if s.get("sensitive")}
    assert "auth" in sensitive
    assert all("kind" in s for s in plugin["settings"])


def test_sandbox_environment_points_at_the_fixed_emulator_port() -> None:
    from xlr8_sandbox.platform.server import DEFAULT_PORTS
    from xlr8_sandbox.products.salesforce import CLIENT_ID, PASSWORD, SECURITY_TOKEN, USERNAME

    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    sandbox = next(e for e in project["environments"] if e["name"] == "sandbox")
    config = next(p for p in sandbox["config"]["plugins"]["extractors"] if p["name"] == "tap-salesforce")["config"]
    assert config["login_url"] == f"http://127.0.0.1:{DEFAULT_PORTS['salesforce']}"
    auth = config["auth"]
    assert (auth["client_id"], auth["username"], auth["password"], auth["security_token"]) == (
        CLIENT_ID,
        USERNAME,
        PASSWORD,
        SECURITY_TOKEN,
    )
