"""Pages read one ahead: the same records in the same order, Retry-After honoured, a failed page stops the stream
after the pages before it (``xlr8_sandbox.read_ahead_checks``)."""

from __future__ import annotations

import typing as t

from xlr8_kit.testing.fake_time import FakeTime
from xlr8_sandbox.read_ahead_checks import ReadAheadCase
from xlr8_tap_oracle_hcm.tap import TapOracleHcm

from .conftest import hcm_config, unstamped


def case(url: str, sandbox: t.Any, window: int = 1) -> ReadAheadCase:
    """Keyset pages; at window 1 read one page ahead (with more, ranges are read side by side:
    ``test_keyset_ranges.py``)."""
    config = hcm_config(url, resources=["workers"], page_size=10, max_concurrent_requests=window)
    return ReadAheadCase(
        TapOracleHcm, config, "workers", sandbox, "oracle_hcm", "/hcmRestApi/resources/*/workers", page_rows=10
    )


def test_read_ahead_keeps_page_order_and_honours_retry_after(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    case(url, sandbox).check_retry_after_on_page_2()


def test_read_ahead_error_on_page_3_comes_after_pages_1_and_2(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    case(url, sandbox).check_error_on_page_3()


def offset_case(url: str, sandbox: t.Any) -> ReadAheadCase:
    """Pages by ``offset`` (framework 1 has no keyset ``q``), so the stream reads with a window of requests."""
    config = hcm_config(url, resources=["workers"], page_size=10, rest_framework_version="1")
    return ReadAheadCase(TapOracleHcm, config, "workers", sandbox, "oracle_hcm", "/hcmRestApi/resources/*/workers",
                         page_rows=10, page_query=lambda k: {"offset": str((k - 1) * 10)},
                         state_view=unstamped)  # fmt: skip


def test_offset_window_keeps_page_order_and_honours_retry_after(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    offset_case(url, sandbox).check_retry_after_on_page_2()


def test_offset_window_error_on_page_3_comes_after_pages_1_and_2(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    offset_case(url, sandbox).check_error_on_page_3()


def test_offset_window_of_page_requests(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    offset_case(url, sandbox).check_window()


def test_keyset_pages_stay_one_page_ahead_at_window_1(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    """Keyset pages start after the previous page's last row: never asked for before that page arrives."""
    keyset = case(url, sandbox)
    keyset.sandbox.faults.set_latency(keyset.product, 20, keyset.path)
    try:
        keyset.run(FakeTime())
    finally:
        keyset.sandbox.faults.set_latency(keyset.product, 0, keyset.path)
    assert keyset.max_in_flight == 1


def test_keyset_ranges_keep_up_to_the_window_in_flight(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    """With a window of 4, ranges of the keyset order are read side by side: more than one request in
    flight, never more than the window."""
    keyset = case(url, sandbox, window=4)
    keyset.sandbox.faults.set_latency(keyset.product, 20, keyset.path)
    try:
        output, error = keyset.run(FakeTime())
    finally:
        keyset.sandbox.faults.set_latency(keyset.product, 0, keyset.path)
    assert error is None, error
    assert len(output.records("workers")) == 100
    assert 1 < keyset.max_in_flight <= 4


def test_offset_window_default_is_8(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    """Offset pages check ``totalResults`` on every page of a window, so the window is on by default (8: what the
    keyset ranges need at 100 ms a request, ``FUSION_CONCURRENT_REQUESTS``)."""
    unset = offset_case(url, sandbox)
    unset.check_default_window(8)
