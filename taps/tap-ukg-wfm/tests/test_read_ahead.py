"""Pages read one ahead: the same records in the same order, Retry-After honoured, a failed page stops the stream
after the pages before it (``xlr8_sandbox.read_ahead_checks``)."""

from __future__ import annotations

import typing as t

from xlr8_sandbox.read_ahead_checks import ReadAheadCase
from xlr8_tap_ukg_wfm.tap import TapUkgWfm

from .conftest import wfm_config


def case(url: str, sandbox: t.Any) -> ReadAheadCase:
    config = wfm_config(url, persons_per_request=10)
    return ReadAheadCase(
        TapUkgWfm, config, "persons", sandbox, "ukg_wfm", "/api/v1/commons/persons/multi_read", page_rows=10
    )


def test_read_ahead_keeps_page_order_and_honours_retry_after(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    case(url, sandbox).check_retry_after_on_page_2()


def test_read_ahead_error_on_page_3_comes_after_pages_1_and_2(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    case(url, sandbox).check_error_on_page_3()
