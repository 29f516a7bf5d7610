"""The SDK's standard tap tests against the Salesforce emulator (every discovered object, full sync)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from singer_sdk.testing import get_tap_test_class

from xlr8_kit.testing.in_process import answered_in_process
from xlr8_sandbox.platform.server import run_sandbox
from xlr8_tap_salesforce.tap import TapSalesforce

# The standard suite needs its config when the class is built, so the sandbox starts at import and stops when
# this module's tests are done (fixture below).
_SANDBOX = run_sandbox(["salesforce"], scale=100)
_RUNNING = _SANDBOX.__enter__()
_EMULATOR = _RUNNING.emulator("salesforce")
_CREDS = _EMULATOR.test_credentials()
# One row of every deletable object in the recycle bin, so the suite's _sdc_deleted_at checks have a value to check
# (without it they warn "no records" and pass or fail with the order the tests ran in).
for _name, _object in _EMULATOR.objects.items():
    if _object.has_is_deleted:
        _EMULATOR.delete(_name, 1)
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


# The class is built while pytest collects, its streams discovered then: answered by the emulator's app in process,
# not over a socket, so collection never depends on a request answered on a loaded machine (the tests go over HTTP).
with answered_in_process(_RUNNING.apps()):
    TestTapSalesforce = get_tap_test_class(TapSalesforce, config=CONFIG)
