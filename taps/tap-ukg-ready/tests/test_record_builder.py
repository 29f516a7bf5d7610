"""``record_builder`` (a CSV row typed straight from its cells) gives what the row dict and ``cell_reader`` give,
values and errors alike: repeated header names, columns missing from the header, every column kind."""

from __future__ import annotations

import typing as t

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from xlr8_kit.singer_io import WrittenRecord
from xlr8_kit.testing.blocks import assert_block_is_rows
from xlr8_tap_ukg_ready import reports

KINDS: list[t.Any] = ["string", "integer", "number", "boolean", "date", "date-time"]
NAMES = ["A", "B", "C", "D"]
CELL_TEXT = st.one_of(
    st.text(max_size=4),
    st.sampled_from(["", "12", " 7 ", "1.50", "NaN", "x", "true", "no", "01/31/2026", "2026-01-31", "13/45/2026"]),
)


def _general(column_types: dict[str, t.Any], names: list[str], cells: list[str]) -> object:
    row = dict(zip(names, cells, strict=False))
    try:
        return {name: reports.cell_reader(kind, name)(row.get(name)) for name, kind in column_types.items()}
    except reports.ReportDataError as exc:
        return ("error", str(exc))


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(st.sampled_from(NAMES), st.sampled_from(KINDS), min_size=1),
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=5),
    st.data(),
)
def test_record_builder_is_the_row_dict(column_types: dict[str, t.Any], names: list[str], data: t.Any) -> None:
    """Row by row, ``record_builder`` gives what the row dict gives; a block typed column by column
    (``block_builder``) gives what ``record_builder`` gives row by row, or None when a row of it fails."""
    build = reports.record_builder(column_types, names)
    build_block = reports.block_builder(column_types, names)
    if not set(column_types) <= set(names):
        assert build is None
        assert build_block is None
        return
    assert build is not None
    assert build_block is not None
    for _ in range(3):  # the readers' memos warm up row after row, and block after block
        rows = data.draw(st.lists(st.lists(CELL_TEXT, min_size=len(names), max_size=len(names)), max_size=6))
        got = [_built(build, cells) for cells in rows]
        assert repr(got) == repr([_general(column_types, names, cells) for cells in rows])
        assert all(list(record) == list(column_types) for record in got if isinstance(record, dict))
        assert_block_is_rows(build_block(rows), got, column_types)


def _built(build: t.Callable[[list[str]], dict[str, t.Any]], cells: list[str]) -> object:
    try:
        return build(cells)
    except reports.ReportDataError as exc:
        return ("error", str(exc))


def test_block_builder_types_whole_columns() -> None:
    """The usual block (every cell converts) is typed column-wise, not refused."""
    build_block = reports.block_builder({"A": "string", "B": "number", "C": "date", "D": "integer"}, NAMES)
    assert build_block is not None
    got = build_block([["a", "1.5", "01/31/2026", "7"], ["b", "", "2026-02-01", "8"]])
    assert got is not None
    assert got[0] == [
        {"A": "a", "B": reports.Decimal("1.5"), "C": "2026-01-31", "D": 7},
        {"A": "b", "B": None, "C": "2026-02-01", "D": 8},
    ]
    # a number text int() would change (spaces, a leading zero) refuses the block: typed row by row, it raises
    assert build_block([["a", "1.5", "01/31/2026", "7"], ["b", "", "2026-02-01", " 8 "]]) is None


def _old_read_csv_cells(chunks: list[bytes], content_type: str) -> t.Iterator[tuple[list[str], list[str]]]:
    """``reports.read_csv_cells`` before blocks (main 6db7a8b), the reference."""
    import codecs
    import csv
    import re

    found = re.search(r"charset=([\w.-]+)", content_type, re.IGNORECASE)
    decoder = codecs.getincrementaldecoder(found.group(1) if found else "utf-8")(errors="strict")

    def lines() -> t.Iterator[str]:
        pending = ""
        for chunk in chunks:
            pending += decoder.decode(chunk)
            *complete, pending = pending.split("\n")
            for line in complete:
                yield line + "\n"
        pending += decoder.decode(b"", final=True)
        if pending:
            yield pending

    reader = csv.reader(lines())
    header = next(reader, None)
    if header is None:
        return
    names = [h.lstrip("\ufeff").strip() for h in header]
    for cells in reader:
        if cells:
            yield names, cells


def _outcome(rows: t.Iterator[tuple[list[str], t.Any]]) -> list[object]:
    out: list[object] = []
    try:
        for names, cells in rows:
            out.append((names, cells))
    except Exception as exc:
        out.append(("error", type(exc).__name__, str(exc)))
    return out


CSV_PIECES = st.sampled_from(
    ["a", "b,c", ",", "\n", "\r\n", "\r", '"', '"x\ny"', '""', " ", "\ufeff", "é", "\u2028", "1.5", "\x0c"]
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(CSV_PIECES, max_size=40),
    st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=8),
    st.sampled_from(["text/csv", "text/csv; charset=utf-8", "text/csv; charset=latin-1"]),
    st.integers(min_value=1, max_value=4),
    st.booleans(),
)
def test_csv_blocks_are_the_rows_read_one_by_one(
    pieces: list[str], cuts: list[int], content_type: str, size: int, cut_mid_character: bool
) -> None:
    """The same header, rows, order and errors as the line-by-line reader, whatever the chunking (pieces cut
    inside a character, quoted newlines, blank lines, a body that does not decode)."""
    from types import SimpleNamespace
    from unittest import mock

    body = "".join(pieces).encode("utf-8")
    if cut_mid_character:
        body += b"\xc3"  # a cut-off UTF-8 sequence: the decoder fails at the end
    chunks: list[bytes] = []
    position = 0
    for index in range(len(body)):
        step = cuts[index % len(cuts)]
        if position >= len(body):
            break
        chunks.append(body[position : position + step])
        position += step
    response = SimpleNamespace(headers={"Content-Type": content_type})
    expected = _outcome(_old_read_csv_cells(chunks, content_type))
    with mock.patch.object(reports, "body_chunks", side_effect=lambda *_args, **_kwargs: iter(chunks)):
        got = _outcome(reports.read_csv_cells(response))  # type: ignore[arg-type]
        blocks = _outcome(reports.read_csv_blocks(response, size))  # type: ignore[arg-type]
    assert got == expected
    flattened: list[object] = []
    for item in blocks:
        if item[0] == "error":
            flattened.append(item)
            continue
        names, block = t.cast("tuple[list[str], list[list[str]]]", item)
        assert 0 < len(block) <= size
        flattened.extend((names, cells) for cells in block)
    assert flattened == expected


NUMBER_TEXT = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
    st.sampled_from(["", "12", "1.50", "-0", "0.0000001", "01", "NaN", "1e400", "x", " 7 "]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.sampled_from(NAMES), st.sampled_from(KINDS), min_size=1),
    st.lists(st.lists(st.one_of(NUMBER_TEXT, CELL_TEXT), min_size=len(NAMES), max_size=len(NAMES)), max_size=5),
    st.sets(st.sampled_from(NAMES)),
    st.booleans(),
)
def test_written_number_columns_write_what_decimals_write(
    column_types: dict[str, t.Any], rows: list[list[str]], written: set[str], vouching: bool
) -> None:
    """With ``written`` number columns, a block's records hold those columns' texts only when the rest of the block
    is vouched (``keeps_columns``, here the real conformer's or one that refuses): written, they are the same
    bytes in the same key order as the Decimals the block builder gives without ``written``; not vouched, the
    records are those very records."""
    import logging

    from singer_sdk.helpers.conform import TypeConformanceLevel

    from xlr8_kit.columns import json_schema_for
    from xlr8_kit.conform import Conformer
    from xlr8_kit.singer_io import _ENCODER

    schema = {"type": "object", "properties": {name: json_schema_for(kind) for name, kind in column_types.items()}}
    conformer = Conformer("s", schema, TypeConformanceLevel.RECURSIVE, logging.getLogger())
    asked: list[bool] = []

    def vouch(values: t.Mapping[str, t.Sequence[t.Any]]) -> bool:
        asked.append(conformer.keeps_columns(values) and vouching)
        return asked[-1]

    plain = reports.block_builder(column_types, NAMES)
    texts = reports.block_builder(column_types, NAMES, written=written, vouch=vouch)
    assert plain is not None
    assert texts is not None
    expected, got = plain(rows), texts(rows)
    if expected is None or got is None:
        assert expected is None
        assert got is None
        return
    records, values = got
    raw = {name for record in records for name, value in record.items() if type(value) is msgspec.Raw}
    assert raw <= {name for name in written if column_types.get(name) == "number"}
    assert [list(record) for record in records] == [list(record) for record in expected[0]]
    if not raw:
        assert repr(got) == repr(expected)
        return
    assert asked == [True]
    assert all(isinstance(record, WrittenRecord) for record in records)  # only the writer reads them: structs
    assert conformer.keeps_columns(expected[1])  # the Decimals would have been vouched for too
    assert _ENCODER.encode(records) == _ENCODER.encode(expected[0])
    assert {name: list(column) for name, column in values.items()} == {
        name: list(column) for name, column in expected[1].items() if name not in raw
    }


def test_written_number_columns_are_taken_for_the_usual_block() -> None:
    """Not a check that can only refuse: a block of amounts is written as its texts."""
    build = reports.block_builder({"A": "string", "B": "number"}, ["A", "B"], written={"B"}, vouch=lambda _values: True)
    assert build is not None
    got = build([["a", "9840.02"], ["b", "-0.50"]])
    assert got is not None
    # only the writer reads them: structs of the record's keys (``WrittenRecord``), the dicts they stand for
    assert all(isinstance(record, WrittenRecord) for record in got[0])
    assert [dict(record.items()) for record in got[0]] == [
        {"A": "a", "B": msgspec.Raw("9840.02")},
        {"A": "b", "B": msgspec.Raw("-0.50")},
    ]
    assert got[1] == {"A": ("a", "b")}


def test_report_blocks_are_marked_by_their_own_columns() -> None:
    """Each block's mark is what ``keeps_columns`` says of that block's columns, also after a block whose number
    column was kept as texts (its verdict is not reused for the next block)."""
    import logging
    from types import SimpleNamespace

    from singer_sdk.helpers.conform import TypeConformanceLevel

    from xlr8_kit.columns import json_schema_for
    from xlr8_kit.conform import Conformer
    from xlr8_tap_ukg_ready.client import ReportStream

    column_types: dict[str, t.Any] = {"A": "string", "B": "number"}
    schema = {"type": "object", "properties": {name: json_schema_for(kind) for name, kind in column_types.items()}}
    stream = SimpleNamespace(
        settings=SimpleNamespace(report_format="csv", report_date_format="MM/DD/YYYY"),
        _conformer=Conformer("s", schema, TypeConformanceLevel.RECURSIVE, logging.getLogger()),
        column_types=column_types,
        records_written_only=True,
        replication_key=None,
        report=None,
    )
    names = ["A", "B"]
    huge = "1" + "0" * 400  # 1E+400 as a plain number text: past a float, so conformance changes it
    blocks = [[["a", "1.50"]], [["b", huge]], [["c", "2"]], [["d", huge]]]
    client = SimpleNamespace(report_blocks=lambda _report: iter([(names, block) for block in blocks]))
    got = list(ReportStream._typed_blocks(stream, client, []))  # type: ignore[arg-type]
    assert [marked for _records, marked in got] == [True, False, True, False]
    assert [dict(record.items()) for record in got[0][0]] == [{"A": "a", "B": msgspec.Raw("1.50")}]
    assert got[1][0] == [{"A": "b", "B": reports.Decimal(huge)}]
