"""The SDK's standard tap tests against the UKG Ready emulator: every REST stream and the configured reports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from singer_sdk.testing import get_tap_test_class

from xlr8_kit.testing.in_process import answered_in_process
from xlr8_kit.testing.singer_cli import select_streams
from xlr8_sandbox.platform.server import run_sandbox
from xlr8_tap_ukg_ready.tap import TapUkgReady

from .conftest import REPORTS, ready_config

# The standard suite needs its config when the class is built, so the sandbox starts at import and stops when
# this module's tests are done (fixture below).
_SANDBOX = run_sandbox(["ukg_ready"], scale=30)
_RUNNING = _SANDBOX.__enter__()
CONFIG = ready_config(_RUNNING.url("ukg_ready"), reports=REPORTS)


@pytest.fixture(scope="module", autouse=True)
def _stop_sandbox() -> Iterator[None]:
    yield
    _SANDBOX.__exit__(None, None, None)


# The class is built while pytest collects, its streams discovered then: answered by the emulator's app in process,
# not over a socket, so collection never depends on a request answered on a loaded machine (the tests go over HTTP).
with answered_in_process(_RUNNING.apps()):
    # Every stream selected, the per-employee ones too (they are not selected by default).
    _DISCOVERED = TapUkgReady(config=CONFIG, parse_env_config=False).catalog_dict
    CATALOG = select_streams(_DISCOVERED, {s["tap_stream_id"] for s in _DISCOVERED["streams"]})
    TestTapUkgReady = get_tap_test_class(TapUkgReady, config=CONFIG, catalog=CATALOG)
