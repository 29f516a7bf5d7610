"""Pages read ahead: the same records in the same order, Retry-After honoured, a failed page stops the stream
after the pages before it (``xlr8_sandbox.read_ahead_checks``). REST pages by offset and SOAP by page number, so
both are read with a window of requests in flight (``xlr8_kit.http.window``)."""

from __future__ import annotations

import typing as t

from xlr8_sandbox.read_ahead_checks import ReadAheadCase
from xlr8_tap_workday.tap import TapWorkday

from .conftest import base_config


def case(url: str, sandbox: t.Any) -> ReadAheadCase:
    config = base_config(url, streams=["workers"], rest_page_size=10)
    return ReadAheadCase(TapWorkday, config, "workers", sandbox, "workday", "/ccx/api/v1/*/workers", page_rows=10,
                         page_query=lambda k: {"offset": str((k - 1) * 10)})  # fmt: skip


def test_read_ahead_keeps_page_order_and_honours_retry_after(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    case(url, sandbox).check_retry_after_on_page_2()


def test_read_ahead_error_on_page_3_comes_after_pages_1_and_2(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    case(url, sandbox).check_error_on_page_3()


def test_window_of_page_requests(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    case(url, sandbox).check_window()


def test_default_window(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    """Four REST pages in flight by default: every page reports total, so a moved total is seen."""
    case(url, sandbox).check_default_window(4)


def soap_case(url: str, sandbox: t.Any) -> ReadAheadCase:
    config = base_config(url, streams=["soap_workers"], soap_page_size=10)
    return ReadAheadCase(TapWorkday, config, "soap_workers", sandbox, "workday", "/ccx/service/*/Human_Resources/*",
                         page_rows=10, windowed=True)  # fmt: skip


def test_soap_window_of_page_requests(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    soap_case(url, sandbox).check_window()
