"""Shared fixtures: one Oracle HCM emulator per test module (ephemeral port), the tap's config for it, and an
in-process run that returns what the tap wrote (both from the kit's ``fusion_test_helpers``), and ``unstamped`` to
compare two runs' STATEs."""

from __future__ import annotations

import typing as t

from xlr8_kit.oracle.testing import fusion_test_helpers
from xlr8_sandbox.products.oracle_fusion.hcm import PASSWORD, USERNAME
from xlr8_sandbox.testing import emulator_fixtures
from xlr8_tap_oracle_hcm.tap import TapOracleHcm

SCALE = 100

sandbox, emulator, url = emulator_fixtures("oracle_hcm", scale=SCALE)
hcm_config, run_tap = fusion_test_helpers(TapOracleHcm, username=USERNAME, password=PASSWORD)

FULL_READ_AT = "xlr8_full_read_at"


def unstamped(states: t.Any) -> t.Any:
    """STATE messages (or one state) with every whole-read stamp (``xlr8_full_read_at``) blanked: it is a clock
    reading, so two runs' STATEs differ by it alone. The runs compared keep the shipped ``full_read_every_days``
    (review24f #2), so a stamp must be there: none means the default's path was not run."""
    found = 0

    def blank(value: t.Any) -> t.Any:
        nonlocal found
        if isinstance(value, dict):
            found += FULL_READ_AT in value
            return {k: "<stamp>" if k == FULL_READ_AT else blank(v) for k, v in value.items()}
        if isinstance(value, list):
            return [blank(v) for v in value]
        return value

    blanked = blank(states)
    assert found, f"no {FULL_READ_AT} in the STATE: the shipped full_read_every_days was not run"
    return blanked
