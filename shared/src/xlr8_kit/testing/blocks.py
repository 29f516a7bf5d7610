"""Checks for block builders (``xlr8_kit.columns.cells_block_builder`` and the taps' column-wise row builders)
against the row-by-row builders they replace."""

from __future__ import annotations

import typing as t


def assert_block_is_rows(
    got: tuple[list[dict[str, t.Any]], t.Mapping[str, t.Sequence[t.Any]]] | None,
    rows: list[object],
    columns: t.Iterable[str],
) -> None:
    """``got`` (a block's records and each key's values, or None for a block left to the row builder) against
    ``rows``, what the row builder gave for each row (a record, or a tuple standing for its error): None only
    when some row fails; else the same records (values and key order, compared by ``repr``) and each key's values
    in record order."""
    if got is None:
        assert any(isinstance(one, tuple) for one in rows), "a block of rows that all build was refused"
        return
    records, by_column = got
    assert repr(records) == repr(rows)
    assert list(by_column) == list(columns)
    assert all(list(values) == [record[name] for record in records] for name, values in by_column.items())
