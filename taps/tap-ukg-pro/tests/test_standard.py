"""The SDK's standard tap tests against the UKG Pro emulator: every REST stream and every RaaS report."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from singer_sdk.testing import get_tap_test_class

from xlr8_kit.testing.in_process import answered_in_process
from xlr8_sandbox.platform.server import run_sandbox
from xlr8_tap_ukg_pro.tap import TapUkgPro

from .conftest import ukg_config

# The standard suite needs its config when the class is built, so the sandbox starts at import and stops when
# this module's tests are done (fixture below). Reports answer Completed at once so no poll waits really sleep.
_SANDBOX = run_sandbox(["ukg_pro"], scale=60)
_RUNNING = _SANDBOX.__enter__()
_RUNNING.emulator("ukg_pro").working_polls = 0  # type: ignore[attr-defined]
_RUNNING.ctx.clock.advance(timedelta(days=20))  # people change, so employee_changes has rows
CONFIG = ukg_config(
    _RUNNING.url("ukg_pro"),
    raas_all_reports=True,
    per_page=25,
    start_date="2026-01-05T00:00:00Z",
    end_date="2026-01-25T00:00:00Z",
    employee_changes_window_days=7,
)


@pytest.fixture(scope="module", autouse=True)
def _stop_sandbox() -> Iterator[None]:
    yield
    _SANDBOX.__exit__(None, None, None)


# The class is built while pytest collects, its streams discovered then: answered by the emulator's app in process,
# not over a socket, so collection never depends on a request answered on a loaded machine (the tests go over HTTP).
with answered_in_process(_RUNNING.apps()):
    TestTapUkgPro = get_tap_test_class(TapUkgPro, config=CONFIG)
