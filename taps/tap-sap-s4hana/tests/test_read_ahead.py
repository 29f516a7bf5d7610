"""``$top``/``$skip`` windows read with several requests in flight (``xlr8_kit.http.window``): the same records
in the same order as one page read ahead, Retry-After honoured, a failed page stops the stream after the pages
before it (``xlr8_sandbox.read_ahead_checks``)."""

from __future__ import annotations

import typing as t

from xlr8_sandbox.read_ahead_checks import ReadAheadCase
from xlr8_tap_sap_s4hana.tap import TapSapS4Hana

from .conftest import basic_config


def case(url: str, sandbox: t.Any) -> ReadAheadCase:
    config = basic_config(url, entity_sets=["A_BusinessPartner"], page_size=10)
    return ReadAheadCase(
        TapSapS4Hana,
        config,
        "A_BusinessPartner",
        sandbox,
        "s4hana",
        "/sap/opu/odata/sap/API_BUSINESS_PARTNER/A_BusinessPartner",
        page_rows=10,
        # Page 1 has no $skip; every window of a read asks for the count, so a fault by query cannot single out
        # page 1 (the checks fault pages 2 and 3 only).
        page_query=lambda k: {"$skip": str((k - 1) * 10)} if k > 1 else {"$inlinecount": "allpages"},
    )


def test_read_ahead_keeps_page_order_and_honours_retry_after(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    case(url, sandbox).check_retry_after_on_page_2()


def test_read_ahead_error_on_page_3_comes_after_pages_1_and_2(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    case(url, sandbox).check_error_on_page_3()


def test_window_of_page_requests(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    case(url, sandbox).check_window()


def test_window_default_is_4(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    """``$skip`` windows check ``$inlinecount`` on every page, so the window is on by default."""
    case(url, sandbox).check_default_window(4)
