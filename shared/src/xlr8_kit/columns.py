"""Compact column declarations for streams whose vendor objects are fixed (UKG Pro, UKG Ready, Common):
``{"hired": "d"}`` instead of a JSON schema per column, and the JSON schema of a report column by its type.

Codes: ``s`` string, ``i`` integer, ``n`` number, ``b`` boolean, ``o`` object (any keys), ``d`` ISO date,
``dt`` ISO date-time; every column is nullable.
"""

from __future__ import annotations

import typing as t
from itertools import repeat

#: Type codes used by stream declarations; every column may be null.
TYPE_CODES: dict[str, dict[str, t.Any]] = {
    "s": {"type": ["string", "null"]},
    "i": {"type": ["integer", "null"]},
    "n": {"type": ["number", "null"]},
    "b": {"type": ["boolean", "null"]},
    "o": {"type": ["object", "null"], "additionalProperties": True},
    "d": {"type": ["string", "null"], "format": "date"},
    "dt": {"type": ["string", "null"], "format": "date-time"},
}

ColumnType = t.Literal["string", "integer", "number", "boolean", "date", "date-time"]


def schema_of(columns: dict[str, str]) -> dict[str, t.Any]:
    """``{"employeeID": "s", "originalHireDate": "d"}`` as a JSON schema."""
    return {"type": "object", "properties": {name: dict(TYPE_CODES[code]) for name, code in columns.items()}}


def json_schema_for(column_type: ColumnType) -> dict[str, t.Any]:
    """The nullable JSON schema of one typed column (dates as formatted strings)."""
    if column_type in ("date", "date-time"):
        return {"type": ["string", "null"], "format": column_type}
    return {"type": [column_type, "null"]}


#: Distinct texts a column's ``text_memo`` remembers before it starts afresh.
MEMO_SIZE = 4096


def text_memo(convert: t.Callable[[t.Any], t.Any], size: int | None = None) -> t.Callable[[t.Any], t.Any]:
    """``convert`` with its result for each distinct text remembered (a report's dates, date-times and flags repeat
    row after row); values that are not text, and texts ``convert`` refuses (the error is raised each time), are
    not remembered. At most ``size`` (default ``MEMO_SIZE``) texts are held: then it starts afresh."""
    memo: dict[str, t.Any] = {}
    limit = MEMO_SIZE if size is None else size

    def read(value: t.Any) -> t.Any:
        if type(value) is not str:
            return convert(value)
        found = memo.get(value, memo)
        if found is memo:
            found = convert(value)
            if len(memo) >= limit:
                memo.clear()
            memo[value] = found
        return found

    read.bulk = memo.__getitem__  # type: ignore[attr-defined]  # see ``cells_block_builder``
    return read


def cells_record_builder(
    header: t.Sequence[str],
    columns: t.Sequence[str],
    readers: t.Mapping[str, t.Callable[[t.Any], t.Any]],
    *,
    empty_is_none: bool,
) -> t.Callable[[list[str]], dict[str, t.Any]]:
    """The typed record of a CSV row's cells under ``header``, without a row dict first (report taps, per row).

    ``columns`` (each in ``header``; a repeated header name means its last cell, as a row dict would) are the
    record's keys in order; a column with a reader in ``readers`` goes through it, the others (text columns) keep
    the cell's text. With ``empty_is_none`` an empty cell is None and is not read; otherwise every cell is."""
    where = {name: index for index, name in enumerate(header)}
    keys = tuple(columns)
    indices = tuple(where[name] for name in keys)
    whole = indices == tuple(range(len(header)))
    converted = tuple((name, readers[name]) for name in keys if name in readers)
    if empty_is_none:
        none_if_empty = {"": None}.get

        def build_present(cells: list[str]) -> dict[str, t.Any]:
            picked = cells if whole else [cells[index] for index in indices]
            record: dict[str, t.Any] = dict(zip(keys, map(none_if_empty, picked, picked), strict=True))
            for name, read in converted:
                value = record[name]
                if value is not None:
                    record[name] = read(value)
            return record

        return build_present

    def build(cells: list[str]) -> dict[str, t.Any]:
        record = dict(zip(keys, cells if whole else map(cells.__getitem__, indices), strict=True))
        for name, read in converted:
            record[name] = read(record[name])
        return record

    return build


#: Rows ``cells_block_builder`` types at once (a column of a block is converted by one C loop).
BLOCK_ROWS = 256


def cells_block_builder(
    header: t.Sequence[str],
    columns: t.Sequence[str],
    readers: t.Mapping[str, t.Callable[[t.Any], t.Any]],
    *,
    empty_is_none: bool,
) -> t.Callable[[list[list[str]]], tuple[list[dict[str, t.Any]], dict[str, t.Sequence[t.Any]]] | None]:
    """``cells_record_builder`` for a block of rows, column by column: the records of rows that each have one cell
    per ``header`` name (what ``cells_record_builder`` gives row by row, same keys in the same order), and each
    record key's values across the block (for ``xlr8_kit.conform.Conformer.keeps_columns``).

    A reader's ``bulk`` attribute, when it has one (``text_memo``'s remembered texts; a number reader's direct
    conversion), is a C callable that, for every value it does not raise for, gives what the reader gives: it is
    mapped over the whole column first. If it raises, the reader is mapped over the column (with
    ``empty_is_none``: over the non-empty cells). If that raises too, the block gives None, and the caller types
    those rows one by one with ``cells_record_builder``, which raises the same error at the same row, after
    the same rows before it."""
    where = {name: index for index, name in enumerate(header)}
    keys = tuple(columns)
    plan = tuple((name, where[name], readers.get(name), getattr(readers.get(name), "bulk", None)) for name in keys)
    none_if_empty = {"": None}.get

    def build_block(rows: list[list[str]]) -> tuple[list[dict[str, t.Any]], dict[str, t.Sequence[t.Any]]] | None:
        if not keys or not rows:
            return [{} for _ in rows], {name: [] for name in keys}
        try:
            by_position = list(zip(*rows, strict=True))
        except ValueError:  # rows of different lengths: row by row
            return None
        if len(by_position) != len(header):
            return None
        values: dict[str, t.Sequence[t.Any]] = {}
        for name, index, read, bulk in plan:
            cells: t.Sequence[t.Any] = by_position[index]
            if empty_is_none:
                cells = list(map(none_if_empty, cells, cells))
            if read is None:
                values[name] = cells
                continue
            converted: list[t.Any] | None = None
            if bulk is not None:
                try:
                    converted = list(map(bulk, cells))
                except Exception:  # noqa: BLE001 - the reader decides (and raises its own error) below
                    converted = None
            if converted is None:
                try:
                    if not empty_is_none:
                        converted = list(map(read, cells))
                    elif cells.count(None) == len(cells):
                        converted = list(cells)
                    else:
                        converted = [None if cell is None else read(cell) for cell in cells]
                except Exception:  # noqa: BLE001 - typed row by row by the caller, which raises it in place
                    return None
            values[name] = converted
        records = list(map(dict, map(zip, repeat(keys), zip(*values.values(), strict=True))))
        return records, values

    return build_block
