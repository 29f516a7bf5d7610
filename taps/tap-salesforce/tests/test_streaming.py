"""Bulk API 2.0 result pages are read as they stream (issue 14, goal 4): the same records as REST, and a page cut
mid-transfer is asked for again (same locator) and resumed after the bytes already read."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from xlr8_kit import streaming
from xlr8_sandbox.platform.faults import FaultSpec

RESULTS = "/services/data/*/jobs/query/*/results"


def test_bulk_page_cut_mid_body_is_resumed(
    sf: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with sf.start_sandbox({"Account": 450}) as sandbox:
        config = sf.password_config(sandbox, objects=["Account"], http={"backoff_base": 0.01})
        rest = sf.run_tap({**config, "api_type": "rest"}).records("Account")
        monkeypatch.setattr(streaming, "PEEK_BYTES", 500)  # every page larger than this is streamed
        monkeypatch.setattr(streaming, "CHUNK_BYTES", 333)
        sandbox.faults.add("salesforce", RESULTS, FaultSpec("truncate", times=1))  # the first page
        with caplog.at_level(logging.WARNING, logger="xlr8_kit.streaming"):
            bulk = sf.run_tap({**config, "api_type": "bulk", "bulk_max_records": 100}).records("Account")
        pages = [p for _, p in sf.emulator(sandbox).request_log if p.endswith("/results")]
    assert bulk == rest
    assert len(bulk) == 450
    assert len(pages) == 6  # five pages, the first one asked twice
    assert any("broke off after" in r.getMessage() for r in caplog.records)


def test_bulk_page_that_cannot_be_asked_again_fails_clearly(sf: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulator spends a locator when it answers (the cut answer included): asking again is refused, and the
    sync stops with that answer named instead of emitting a short page."""
    with sf.start_sandbox({"Account": 450}) as sandbox:
        config = sf.password_config(sandbox, objects=["Account"], http={"backoff_base": 0.01})
        monkeypatch.setattr(streaming, "PEEK_BYTES", 500)
        monkeypatch.setattr(streaming, "CHUNK_BYTES", 333)
        sandbox.faults.add("salesforce", RESULTS, FaultSpec("truncate", after=1, times=1))  # the second page
        with pytest.raises(streaming.StreamedBodyError, match="asking again answered HTTP 400"):
            sf.run_tap({**config, "api_type": "bulk", "bulk_max_records": 100})
