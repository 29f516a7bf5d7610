"""ERP's offset-paged resources read with the window by default (``totalResults`` checked on every page)."""

from __future__ import annotations

import typing as t

from xlr8_sandbox.read_ahead_checks import ReadAheadCase
from xlr8_tap_oracle_erp.tap import TapOracleErp

from .conftest import erp_config


def test_offset_window_default_is_4(url: str, sandbox: t.Any, emulator: t.Any) -> None:
    config = erp_config(url, resources=["invoices"], page_size=10, rest_framework_version="1")
    case = ReadAheadCase(TapOracleErp, config, "invoices", sandbox, "oracle_erp", "/fscmRestApi/resources/*/invoices",
                         page_rows=10, page_query=lambda k: {"offset": str((k - 1) * 10)})  # fmt: skip
    case.check_default_window(4)
    case.check_window_matches_one_page_ahead()
