"""The SDK's standard tap tests against the SuccessFactors emulator (a person set, an effective-dated set, an FO
object and the custom MDF object)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from singer_sdk.testing import get_tap_test_class

from xlr8_kit.testing.in_process import answered_in_process
from xlr8_sandbox.platform.server import run_sandbox
from xlr8_tap_sap_successfactors.tap import TapSapSuccessFactors

from .conftest import basic_config

# The standard suite needs its config when the class is built, so the sandbox starts at import and stops when
# this module's tests are done (fixture below).
_SANDBOX = run_sandbox(["successfactors"], scale=100)
_RUNNING = _SANDBOX.__enter__()
CONFIG = basic_config(
    _RUNNING.url("successfactors"),
    entity_sets=["User", "EmpJob", "FODepartment", "cust_EquipmentAssignment"],
    page_size=40,
)


@pytest.fixture(scope="module", autouse=True)
def _stop_sandbox() -> Iterator[None]:
    yield
    _SANDBOX.__exit__(None, None, None)


# The class is built while pytest collects, its streams discovered then: answered by the emulator's app in process,
# not over a socket, so collection never depends on a request answered on a loaded machine (the tests go over HTTP).
with answered_in_process(_RUNNING.apps()):
    TestTapSapSuccessFactors = get_tap_test_class(TapSapSuccessFactors, config=CONFIG)
