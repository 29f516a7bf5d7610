"""The DuckDB store's pending rows are kept as encoded JSON lines: the bytes staged must be the ones the row list
gave before, value for value."""

from __future__ import annotations

import msgspec

from target_xlr8_truths.duckdb_store import DuckDBStore
from target_xlr8_truths.store import SEQ, RowLines, Store


def test_row_lines_hold_the_bytes_the_row_list_was_spooled_as() -> None:
    rows = [
        {"id": 1, "name": 'Ünïcode "quoted"\nline', "amount": "12345678901234567890.123", SEQ: 1},
        {"id": 2**62, "name": None, "amount": 1.25, "flag": True, "nested": '{"a": [1, 2]}', SEQ: 2},
        {"id": -3, "name": "", "amount": 0.1, "flag": False, "nested": None, SEQ: 3},
    ]
    lines = RowLines()
    for row in rows:
        lines.append(row)
    assert len(lines) == 3
    assert bytes(lines.data) == msgspec.json.Encoder().encode_lines(rows)
    assert list(lines) == rows


def test_only_the_duckdb_store_buffers_rows_as_lines() -> None:
    assert DuckDBStore.rows_type is RowLines
    assert Store.rows_type is list  # PostgreSQL's COPY takes the values
