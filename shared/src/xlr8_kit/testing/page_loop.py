"""Watching the kit's plain page loop from a tap's tests: which pages reached the writer whole, and a run's messages
compared with the SDK's record-by-record loop (``XLR8_TAP_SDK_RECORD_LOOP``) apart from the clock.

Shared so that every tap that writes whole pages proves it the same way.
"""

from __future__ import annotations

from typing import Any

import pytest

from xlr8_kit.singer_io import KitSingerWriter


def count_whole_pages(monkeypatch: pytest.MonkeyPatch, *, sdk_loop: bool) -> list[int]:
    """The list the run fills with the size of each page the writer took whole (0: a page it checked record by
    record); ``sdk_loop`` runs the SDK's own loop instead of the kit's."""
    whole: list[int] = []
    page_emitter = KitSingerWriter.record_page_emitter

    def counting(writer: KitSingerWriter, stream: str, version: int | None) -> Any:
        emit_page = page_emitter(writer, stream, version)

        def emit(records: list[dict[str, Any]], plain: bool = False) -> None:
            whole.append(len(records) if plain else 0)
            emit_page(records, plain)

        return emit

    monkeypatch.setattr(KitSingerWriter, "record_page_emitter", counting)
    monkeypatch.setenv("XLR8_TAP_SDK_RECORD_LOOP", "1" if sdk_loop else "0")
    return whole


def without_clock(output: Any) -> list[dict[str, Any]]:
    """A run's messages without ``time_extracted`` (the only field two runs of the same read differ in)."""
    return [{k: v for k, v in m.items() if k != "time_extracted"} for m in output.messages]
