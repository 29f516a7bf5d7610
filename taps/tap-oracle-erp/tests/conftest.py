"""Shared fixtures: one Oracle ERP emulator per test module (ephemeral port), the tap's config for it, and an
in-process run that returns what the tap wrote (both from the kit's ``fusion_test_helpers``)."""

from __future__ import annotations

from xlr8_kit.oracle.testing import fusion_test_helpers
from xlr8_sandbox.products.oracle_fusion.erp import PASSWORD, USERNAME
from xlr8_sandbox.testing import emulator_fixtures
from xlr8_tap_oracle_erp.tap import TapOracleErp

SCALE = 100

sandbox, emulator, url = emulator_fixtures("oracle_erp", scale=SCALE)
erp_config, run_tap = fusion_test_helpers(TapOracleErp, username=USERNAME, password=PASSWORD)
