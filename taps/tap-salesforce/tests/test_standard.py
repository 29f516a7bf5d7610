"""The SDK's standard tap tests against the Salesforce emulator (every discovered object, full sync)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from singer_sdk.testing import get_tap_test_class

from xlr8_sandbox.platform.server import run_sandbox
from xlr8_tap_salesforce.tap import TapSalesforce

# The standard suite needs its config when the class is built, so the sandbox starts at import and stops when
# this module's tests are done (fixture below).
_SANDBOX = run_sandbox(["salesforce"], scale=100)
_RUNNING = _SANDBOX.__enter__()
_CREDS = _RUNNING.emulator("salesforce").test_credentials()
CONFIG = {
    "login_url": _RUNNING.url("salesforce"),
    "auth_type": "client_credentials",
    "client_id": _CREDS["client_id"],
    "client_secret": _CREDS["client_secret"],
}


@pytest.fixture(scope="module", autouse=True)
def _stop_sandbox() -> Iterator[None]:
    yield
    _SANDBOX.__exit__(None, None, None)


TestTapSalesforce = get_tap_test_class(TapSalesforce, config=CONFIG)
