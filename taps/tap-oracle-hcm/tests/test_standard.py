"""The SDK's standard tap tests against the Oracle HCM emulator: every default resource and child stream."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from singer_sdk.testing import get_tap_test_class

from xlr8_kit.testing.in_process import answered_in_process
from xlr8_sandbox.platform.server import run_sandbox
from xlr8_tap_oracle_hcm.tap import TapOracleHcm

from .conftest import hcm_config

# The standard suite needs its config when the class is built, so the sandbox starts at import and stops when
# this module's tests are done (fixture below).
_SANDBOX = run_sandbox(["oracle_hcm"], scale=60)
_RUNNING = _SANDBOX.__enter__()
CONFIG = hcm_config(_RUNNING.url("oracle_hcm"), page_size=25)


@pytest.fixture(scope="module", autouse=True)
def _stop_sandbox() -> Iterator[None]:
    yield
    _SANDBOX.__exit__(None, None, None)


# The class is built while pytest collects, its streams discovered then: answered by the emulator's app in process,
# not over a socket, so collection never depends on a request answered on a loaded machine (the tests go over HTTP).
with answered_in_process(_RUNNING.apps()):
    TestTapOracleHcm = get_tap_test_class(TapOracleHcm, config=CONFIG)
