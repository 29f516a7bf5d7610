"""Compact column declarations for streams whose vendor objects are fixed (UKG Pro, UKG Ready, Common):
``{"hired": "d"}`` instead of a JSON schema per column, and the JSON schema of a report column by its type.

Codes: ``s`` string, ``i`` integer, ``n`` number, ``b`` boolean, ``o`` object (any keys), ``d`` ISO date,
``dt`` ISO date-time; every column is nullable.
"""

from __future__ import annotations

import contextlib
import re
import typing as t
from decimal import Decimal
from itertools import repeat

import msgspec

from xlr8_kit.singer_io import TINY_FRACTIONS, written_record_type

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


class TextMemo(dict[t.Any, t.Any]):
    """``convert`` of each distinct text, kept: a text seen before costs one C lookup (``__getitem__``, also mapped
    over a column). At most ``size`` texts are held, then it starts afresh (memory follows the texts' variety, never
    the run's length). A value that is not a text is converted each time and not kept (a number key would find an
    equal text's result); a text ``convert`` refuses raises each time. ``seed`` (e.g. ``{None: None}``, so that a
    column's empty cells are looked up in C too) is held from the start and again after each fresh start."""

    __slots__ = ("_convert", "_seed", "_size")

    def __init__(
        self, convert: t.Callable[[t.Any], t.Any], size: int = MEMO_SIZE, seed: t.Mapping[t.Any, t.Any] | None = None
    ) -> None:
        super().__init__(seed or ())
        self._convert = convert
        self._size = size
        self._seed = dict(seed or ())

    def __missing__(self, value: t.Any) -> t.Any:
        found = self._convert(value)
        if type(value) is str:
            if len(self) >= self._size:
                self.clear()
                self.update(self._seed)
            self[value] = found
        return found


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
    written: t.Collection[str] = (),
    vouch: t.Callable[[t.Mapping[str, t.Sequence[t.Any]]], bool] | None = None,
) -> t.Callable[[list[list[str]]], tuple[list[dict[str, t.Any]], dict[str, t.Sequence[t.Any]]] | None]:
    """``cells_record_builder`` for a block of rows, column by column: the records of rows that each have one cell
    per ``header`` name (what ``cells_record_builder`` gives row by row, same keys in the same order), and each
    record key's values across the block (for ``xlr8_kit.conform.Conformer.keeps_columns``).

    A reader's ``bulk`` attribute, when it has one (``text_memo``'s remembered texts; a number reader's direct
    conversion), is a C callable that, for every value it does not raise for, gives what the reader gives: it is
    mapped over the whole column first. A reader's ``column`` attribute, when it has one, is tried before that:
    called once with the whole column (None for an empty cell with ``empty_is_none``), it gives the list of what
    the reader gives for each cell (None for None), or raises. If ``bulk`` raises, the reader is mapped over the
    column (with ``empty_is_none``: over the non-empty cells). If that raises too, the block gives None, and the
    caller types those rows one by one with ``cells_record_builder``, which raises the same error at the same row,
    after the same rows before it.

    ``written`` (with ``vouch``, the stream's ``Conformer.keeps_columns``): columns whose records are only ever
    written by the kit's writer (``KitRESTStream.records_written_only``; never a replication key). A column of
    them whose reader's ``bulk`` is ``Decimal`` and whose cells ``written_numbers`` accepts is given as those
    texts (``msgspec.Raw``: the bytes the writer would write for each Decimal, which conformance keeps as they
    are) when ``vouch`` says conformance keeps the block's other columns; that column is then left out of the
    values returned (``keeps_columns`` of them is the same), and the block's records are
    ``xlr8_kit.singer_io.WrittenRecord`` structs (written exactly as the dicts; the dicts where the keys cannot
    name fields). Otherwise the column is read as without ``written``."""
    where = {name: index for index, name in enumerate(header)}
    keys = tuple(columns)
    plan = tuple(
        (
            name,
            where[name],
            readers.get(name),
            getattr(readers.get(name), "bulk", None),
            getattr(readers.get(name), "column", None),
            vouch is not None and name in written and getattr(readers.get(name), "bulk", None) is Decimal,
        )
        for name in keys
    )

    # The records of a block whose numbers are kept as texts (written, and vouched): only the writer reads them.
    written_type = written_record_type(keys) if any(as_text for *_, as_text in plan) else None

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
        texts: dict[str, t.Sequence[t.Any]] = {}
        for name, index, read, bulk, column, as_text in plan:
            cells: t.Sequence[t.Any] = by_position[index]
            if as_text:
                raw = written_numbers(cells)
                if raw is not None:
                    texts[name] = raw
                    continue
            if read is None:  # a text column: only its empty cells change (most columns have none)
                values[name] = list(map(none_if_empty, cells, cells)) if empty_is_none and "" in cells else cells
                continue
            converted = converted_column(cells, read, bulk, empty_is_none=empty_is_none, column=column)
            if converted is None:
                return None
            values[name] = converted
        if texts:
            assert vouch is not None  # as_text
            if not vouch(values):  # the block's records are conformed: Decimals, as without ``written``
                for name in texts:
                    _, index, read, bulk, column, _ = plan[keys.index(name)]
                    assert read is not None  # a number reader (``bulk`` is Decimal)
                    converted = converted_column(
                        by_position[index], read, bulk, empty_is_none=empty_is_none, column=column
                    )
                    if converted is None:
                        return None
                    values[name] = converted
                values = {name: values[name] for name in keys}  # in the records' key order
                texts = {}
            order = {**dict.fromkeys(keys), **values, **texts}  # the records' key order
            columns = t.cast("list[t.Sequence[t.Any]]", list(order.values()))  # every key has its column by now
            if texts and written_type is not None and all(map(len(rows).__eq__, map(len, columns))):
                # only the writer reads them, and the loop writes the vouched block whole: structs, one C call a row
                structs: list[t.Any] = list(map(written_type, *columns))
                return structs, values
            records = list(map(dict, map(zip, repeat(keys), zip(*columns, strict=True))))
            return records, values
        records = list(map(dict, map(zip, repeat(keys), zip(*values.values(), strict=True))))
        return records, values

    return build_block


class CellRefused(ValueError):
    """Raised by a reader's ``column`` when a cell is one its reader refuses: ``converted_column`` then skips
    ``bulk`` (which may accept what the reader does not, e.g. ``int`` and a leading zero) for the reader."""


#: The integer and number texts a report column typed so takes: no leading zero, sign, exponent, space, underscore,
#: NaN or Infinity. ``int``/``Decimal`` would read ``04411`` as 4411 (a badge or GL segment losing its zero) and
#: ``NaN`` as a number (audit24b M6; UKG Pro RaaS and UKG Ready reports).
INTEGER_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)")
NUMBER_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
#: A column of such texts joined by newlines (``plain_number_column``'s one match).
_INTEGER_TEXTS = re.compile(rf"(?:{INTEGER_TEXT.pattern}\n)*{INTEGER_TEXT.pattern}")
_NUMBER_TEXTS = re.compile(rf"(?:{NUMBER_TEXT.pattern}\n)*{NUMBER_TEXT.pattern}")


def plain_number_text(kind: str) -> re.Pattern[str]:
    """``INTEGER_TEXT`` for an ``integer`` column, else ``NUMBER_TEXT``: what its reader converts (else refuses)."""
    return INTEGER_TEXT if kind == "integer" else NUMBER_TEXT


def plain_number_column(kind: str, column: str) -> t.Callable[[t.Sequence[str | None]], list[t.Any]]:
    """A number reader's ``column`` (``converted_column``): the whole column checked in one match, then converted
    (empty cells, None or "", are None). A text outside ``plain_number_text`` raises ``CellRefused``, so the
    column goes to the reader, which raises its error at the row (``int``/``Decimal``, the ``bulk``, would take it)."""
    many = _INTEGER_TEXTS if kind == "integer" else _NUMBER_TEXTS
    convert: t.Callable[[str], t.Any] = int if kind == "integer" else Decimal

    def read_column(cells: t.Sequence[str | None]) -> list[t.Any]:
        texts = [cell for cell in cells if cell] if None in cells or "" in cells else cells
        if texts and not many.fullmatch("\n".join(t.cast("t.Sequence[str]", texts))):
            raise CellRefused(column)
        if texts is cells:
            return list(map(convert, t.cast("t.Sequence[str]", cells)))
        return [convert(cell) if cell else None for cell in cells]

    return read_column


def converted_column(
    cells: t.Sequence[t.Any],
    read: t.Callable[[t.Any], t.Any],
    bulk: t.Callable[[t.Any], t.Any] | None,
    *,
    empty_is_none: bool = False,
    column: t.Callable[[t.Sequence[t.Any]], list[t.Any]] | None = None,
) -> list[t.Any] | None:
    """A column's cells through its reader (``cells_block_builder``; Workday's report blocks): ``column`` of the
    whole column first, then ``bulk`` mapped (``text_memo``'s raises for a text it has not seen); None when the
    reader raises for a cell (the caller then types the rows one by one). ``column`` raising ``CellRefused`` goes
    straight to the reader."""
    if empty_is_none and "" in cells:
        cells = list(map(none_if_empty, cells, cells))
    if column is not None:
        try:
            return column(cells)
        except CellRefused:
            bulk = None
        except Exception:  # noqa: BLE001, S110 - ``bulk`` and the reader decide (and raise their own error) below
            pass
    if bulk is not None:
        with contextlib.suppress(Exception):  # the reader decides (and raises its own error) below
            return list(map(bulk, cells))
    try:
        if not empty_is_none:
            return list(map(read, cells))
        if cells.count(None) == len(cells):
            return list(cells)
        return [None if cell is None else read(cell) for cell in cells]
    except Exception:  # noqa: BLE001 - typed row by row by the caller, which raises it in place
        return None


none_if_empty = {"": None}.get

#: The only characters of a column ``written_numbers`` takes (cells joined by commas).
_NUMBER_BYTES = b"0123456789.-,"
#: ``singer_io.decimal_keeps_text``'s tiny fractions (written with an exponent), after a separating comma.
_TINY_FRACTIONS = tuple("," + fraction for fraction in TINY_FRACTIONS)
#: Longest cell ``written_numbers`` takes: its Decimal is then below 10**300 in magnitude, finite as a float (what
#: conformance asks of a Decimal it keeps).
_WRITTEN_TEXT_MAX = 300
_JSON_NUMBERS = msgspec.json.Decoder(list[float])


def written_numbers(cells: t.Sequence[t.Any]) -> list[msgspec.Raw] | None:
    """The cells as ``msgspec.Raw`` texts when, for every cell, the kit's writer writes ``Decimal(cell)`` as the
    cell's own text and conformance keeps that Decimal as it is: every cell a JSON number without exponent or
    surrounding whitespace (``-?(0|[1-9][0-9]*)(.[0-9]+)?``: what ``str(Decimal(cell))`` gives back unchanged,
    except a fraction whose first significant digit is past the sixth place), at most ``_WRITTEN_TEXT_MAX``
    characters (finite as a float). None (read them as Decimals) otherwise, also for no cells or an empty cell.
    The checks run in C over the column joined: only digits, ``.`` and ``-`` (no exponent), no tiny fraction, then
    msgspec's JSON grammar: ``singer_io.decimal_keeps_text`` of every cell."""
    if not cells or not set(map(type, cells)) <= _STR:
        return None
    joined = ",".join(cells)
    if (
        not joined.isascii()
        or joined.encode().translate(None, _NUMBER_BYTES)
        or joined.count(",") != len(cells) - 1
        or any(map(("," + joined).__contains__, _TINY_FRACTIONS))
        or max(map(len, cells)) > _WRITTEN_TEXT_MAX
    ):
        return None
    try:
        if len(_JSON_NUMBERS.decode("[" + joined + "]")) != len(cells):  # a lone empty cell reads as no number
            return None
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return list(map(msgspec.Raw, cells))


_STR = frozenset({str})


def remembered_verdicts(
    keeps: t.Callable[[t.Mapping[str, t.Sequence[t.Any]]], bool],
) -> tuple[
    t.Callable[[t.Mapping[str, t.Sequence[t.Any]]], bool], t.Callable[[t.Mapping[str, t.Sequence[t.Any]]], bool]
]:
    """``keeps`` (a stream's ``Conformer.keeps_columns``) as two functions: ``judge``, for a block builder to call
    on the columns it builds (``cells_block_builder``'s ``vouch``), and ``verdict``, for the columns the builder
    then returns: what ``judge`` said when it judged those very columns (the same object), else ``keeps`` of them.
    A block is judged once."""
    judged: list[t.Any] = [None, False]

    def judge(columns: t.Mapping[str, t.Sequence[t.Any]]) -> bool:
        judged[:] = columns, keeps(columns)
        return t.cast("bool", judged[1])

    def verdict(columns: t.Mapping[str, t.Sequence[t.Any]]) -> bool:
        return t.cast("bool", judged[1]) if judged[0] is columns else keeps(columns)

    return judge, verdict
