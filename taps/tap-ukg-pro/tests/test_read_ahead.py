"""REST pages by page number, so they are read with a window of requests in flight (``xlr8_kit.http.window``):
the same records in the same order as one page read ahead, Retry-After honoured, a failed page stops the stream
after the pages before it (``xlr8_sandbox.read_ahead_checks``)."""

from __future__ import annotations

import typing as t

from xlr8_sandbox.read_ahead_checks import ReadAheadCase
from xlr8_tap_ukg_pro.tap import TapUkgPro

from .conftest import ukg_config


def case(url: str, sandbox: t.Any) -> ReadAheadCase:
    config = ukg_config(url, per_page=10)
    return ReadAheadCase(TapUkgPro, config, "person_details", sandbox, "ukg_pro", "/personnel/v1/person-details",
                         page_rows=10, page_query=lambda k: {"page": str(k)})  # fmt: skip


def test_read_ahead_keeps_page_order_and_honours_retry_after(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    case(url, sandbox).check_retry_after_on_page_2()


def test_read_ahead_error_on_page_3_comes_after_pages_1_and_2(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    case(url, sandbox).check_error_on_page_3()


def test_window_of_page_requests(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    case(url, sandbox).check_window()


def test_default_window(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    """One page read ahead unless a window is asked for: pages answered out of order could hide an inserted row."""
    case(url, sandbox).check_default_window(1)
