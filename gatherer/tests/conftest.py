"""One sandbox of every landed product for the gatherer's tests, and tap settings pointing at it."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest

from xlr8_gather.gather import sandbox_sources
from xlr8_sandbox.platform.server import Sandbox, run_sandbox

MELTANO_YML = Path(__file__).resolve().parents[2] / "meltano.yml"
#: emulator per product id (Workday HCM and Financials are one tenant)
EMULATOR = {"workday_hcm": "workday", "workday_fins": "workday"}
LANDED = ["salesforce", "successfactors", "ukg_pro", "ukg_wfm", "workday_hcm", "workday_fins"]


@pytest.fixture(scope="session")
def sandbox() -> t.Iterator[Sandbox]:
    with run_sandbox(sorted({EMULATOR.get(p, p) for p in LANDED}), seed=42, scale=40) as running:
        yield running


@pytest.fixture(scope="session")
def sources(sandbox: Sandbox) -> dict[str, dict[str, t.Any]]:
    """meltano.yml's sandbox settings per product, with the URLs of this sandbox's ephemeral ports."""
    found: dict[str, dict[str, t.Any]] = {}
    for product, config in sandbox_sources(str(MELTANO_YML)).items():
        if product not in LANDED:
            continue
        config = dict(config)
        for key in ("login_url", "api_url", "base_url"):
            if key in config:
                config[key] = sandbox.url(EMULATOR.get(product, product))
        found[product] = config
    return found


@pytest.fixture(autouse=True)
def _redactor_restored() -> t.Iterator[None]:
    """Credentials registered by a test (every field, ``auth.type`` = "password" too) leave the process-wide
    redactor as they found it, so later tests in the same worker see their own messages unmasked."""
    from xlr8_kit.redaction import Redactor

    redactor = Redactor.default()
    with redactor._lock:
        saved = (set(redactor._secrets), redactor._pattern)
    yield
    with redactor._lock:
        redactor._secrets, redactor._pattern = saved
