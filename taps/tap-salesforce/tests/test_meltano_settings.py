"""meltano.yml's sandbox config for the tap; the plugin definition itself is checked against ``--about`` for every tap
in ``tests/packaging/test_plugin_definitions.py``."""

from __future__ import annotations

from pathlib import Path

import yaml

from xlr8_kit.testing.meltano_e2e import declared_plugin
from xlr8_tap_salesforce.tap import SalesforceSettings

ROOT = Path(__file__).resolve().parents[3]


def test_every_credential_field_is_its_own_sensitive_setting() -> None:
    plugin = declared_plugin(ROOT, "extractors", "tap-salesforce")
    kinds = {s["name"]: (s["kind"], bool(s.get("sensitive"))) for s in plugin["settings"]}
    assert "auth" not in kinds  # no object-typed auth setting: Meltano would print its secrets and store them in yml
    for name in ("client_secret", "password", "security_token", "refresh_token", "private_key"):
        assert kinds[name] == ("string", True), name
    assert kinds["auth_type"] == ("options", False)
    groups = plugin["settings_group_validation"]
    assert ["login_url", "auth_type", "client_id", "client_secret", "username", "password"] in groups


def test_sandbox_environment_points_at_the_fixed_emulator_port() -> None:
    from xlr8_sandbox.platform.server import DEFAULT_PORTS
    from xlr8_sandbox.products.salesforce import CLIENT_ID, PASSWORD, SECURITY_TOKEN, USERNAME

    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    sandbox = next(e for e in project["environments"] if e["name"] == "sandbox")
    config = next(p for p in sandbox["config"]["plugins"]["extractors"] if p["name"] == "tap-salesforce")["config"]
    assert config["login_url"] == f"http://127.0.0.1:{DEFAULT_PORTS['salesforce']}"
    assert (config["client_id"], config["username"], config["password"], config["security_token"]) == (
        CLIENT_ID,
        USERNAME,
        PASSWORD,
        SECURITY_TOKEN,
    )
    assert SalesforceSettings.parse(config).auth.type == "password"  # the sandbox config is valid as written
