"""The SDK's standard tap tests against the Workday emulator: REST, SOAP and two RaaS report streams."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from singer_sdk.testing import get_tap_test_class

from xlr8_kit.testing.in_process import answered_in_process
from xlr8_sandbox.platform.server import run_sandbox
from xlr8_tap_workday.tap import TapWorkday

from .conftest import base_config, report_url

# The standard suite needs its config when the class is built, so the sandbox starts at import and stops when
# this module's tests are done (fixture below).
_SANDBOX = run_sandbox(["workday"], scale=100)
_RUNNING = _SANDBOX.__enter__()
_URL = _RUNNING.url("workday")
CONFIG = base_config(
    _URL,
    rest_page_size=40,
    soap_page_size=40,
    reports=[
        {"name": "worker_report", "url": report_url(_URL, "XLR8_Workers"), "primary_keys": ["Employee_ID"]},
        {"name": "journal_lines", "url": report_url(_URL, "XLR8_Journal_Lines"), "primary_keys": ["Journal_Number"],
         "product": "workday_fins", "entity": "journal_entry"},
    ],
)  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def _stop_sandbox() -> Iterator[None]:
    yield
    _SANDBOX.__exit__(None, None, None)


# The class is built while pytest collects, its streams discovered then: answered by the emulator's app in process,
# not over a socket, so collection never depends on a request answered on a loaded machine (the tests go over HTTP).
with answered_in_process(_RUNNING.apps()):
    TestTapWorkday = get_tap_test_class(TapWorkday, config=CONFIG)
