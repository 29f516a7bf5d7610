"""Pages read one ahead: the same records in the same order, Retry-After honoured, a failed page stops the stream
after the pages before it (``xlr8_sandbox.read_ahead_checks``)."""

from __future__ import annotations

import typing as t

from xlr8_sandbox.read_ahead_checks import ReadAheadCase
from xlr8_tap_sap_successfactors.tap import TapSapSuccessFactors

from .conftest import basic_config


def case(url: str, sandbox: t.Any) -> ReadAheadCase:
    config = basic_config(url, entity_sets=["User"], page_size=10, snapshot_paging_threshold=0)
    return ReadAheadCase(
        TapSapSuccessFactors, config, "User", sandbox, "successfactors", "/odata/v2/User", page_rows=10
    )


def test_read_ahead_keeps_page_order_and_honours_retry_after(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    case(url, sandbox).check_retry_after_on_page_2()


def test_read_ahead_error_on_page_3_comes_after_pages_1_and_2(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    case(url, sandbox).check_error_on_page_3()
