"""audit25d F10 over real HTTP: an org whose clock is a few seconds behind ours refused the JWT bearer assertion
(``iat`` = our now: issued in its future, the emulator checking as PyJWT does, without leeway), so the tap could not
sign in at all; ``iat``/``nbf`` are now set back 30 s (``xlr8_kit.auth.jwt_bearer.ISSUED_SKEW_S``)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize("skew", [-5.0, 5.0])
def test_an_org_clock_seconds_off_ours_signs_in_by_jwt_and_reads(sf: Any, skew: float) -> None:
    with sf.start_sandbox({"Account": 20}) as sandbox:
        emulator = sf.emulator(sandbox)
        emulator.clock_offset_s = skew
        creds = emulator.test_credentials()
        config = {
            "login_url": sandbox.url("salesforce"),
            "auth_type": "jwt_bearer",
            **{k: creds[k] for k in ("client_id", "username", "private_key")},
            "objects": ["Account"],
            "api_type": "rest",
        }
        run = sf.run_tap(config)
    assert len(run.records("Account")) == 20
