"""meltano.yml describes exactly the settings the tap accepts (flat, secrets sensitive), the capabilities it reports
and one settings group per auth flow; the sandbox environment points at the emulator's fixed port."""

from __future__ import annotations

from pathlib import Path

from xlr8_kit.oracle.testing import assert_meltano_plugin
from xlr8_sandbox.platform.server import DEFAULT_PORTS
from xlr8_tap_oracle_erp.tap import PRODUCT_SETTINGS

MELTANO_YML = Path(__file__).resolve().parents[3] / "meltano.yml"


def test_meltano_plugin_matches_the_tap(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{DEFAULT_PORTS['oracle_erp']}"
    assert_meltano_plugin(MELTANO_YML, "tap-oracle-erp", PRODUCT_SETTINGS, url, tmp_path)
