"""Shared fixtures: one Oracle HCM emulator per test module (ephemeral port), the tap's config for it, and an
in-process run that returns what the tap wrote (both from the kit's ``fusion_test_helpers``), and ``unstamped`` to
compare two runs' STATEs."""

from __future__ import annotations

from xlr8_kit.oracle.stream import FULL_READ_AT
from xlr8_kit.oracle.testing import fusion_test_helpers, unstamped
from xlr8_sandbox.products.oracle_fusion.hcm import PASSWORD, USERNAME
from xlr8_sandbox.testing import emulator_fixtures
from xlr8_tap_oracle_hcm.tap import TapOracleHcm

SCALE = 100

sandbox, emulator, url = emulator_fixtures("oracle_hcm", scale=SCALE)
hcm_config, run_tap = fusion_test_helpers(TapOracleHcm, username=USERNAME, password=PASSWORD)

__all__ = ["FULL_READ_AT", "emulator", "hcm_config", "run_tap", "sandbox", "unstamped", "url"]
