"""``xlr8_kit.columns.written_numbers``: a column of number cells kept as the texts the kit's writer would write for
their Decimals, only when that is exactly what it writes and conformance keeps those Decimals; and the block
builder's records of such a block (``WrittenRecord`` structs), written as the dicts they stand for."""

from __future__ import annotations

import logging
import re
import typing as t
from decimal import Decimal, InvalidOperation

import msgspec
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel

from xlr8_kit.columns import written_numbers
from xlr8_kit.singer_io import _ENCODER

#: What the writer writes unchanged for ``Decimal(text)`` (JSON number, no exponent), before the tiny-fraction rule.
_PLAIN_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")

#: Edge cases: tiny fractions (Decimal writes an exponent), forms JSON or Decimal read otherwise, too large for a float.
EDGES = [
    *("0.0000001", "-0.0000001", "0.000001", "0.0000010", "0.0000000", "-0", "0", "01", "1.", ".5", "1e5", "1E5"),
    *(" 1", "1 ", "\u0661", "1" * 301, "9" * 300, "9" * 309, "-" + "9" * 320, "NaN", "Infinity", "", "1,5", "-"),
    *("--1", "1.50", "-0.00", "1_000", "+1", "1\n"),
]
CELLS = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.integers().map(str),
    st.text(alphabet="0123456789.-,eE +_", max_size=8),
    st.sampled_from(EDGES),
)


def _kept_as_text(cell: str) -> bool:
    """The reference: the writer writes ``Decimal(cell)`` as ``cell`` and the SDK's conformance keeps it."""
    try:
        number = Decimal(cell)
    except InvalidOperation:
        return False
    record = {"x": number}
    schema = {"type": "object", "properties": {"x": {"type": ["number", "null"]}}}
    conformed = conform_record_data_types("s", record, schema, TypeConformanceLevel.RECURSIVE, logging.getLogger())
    return conformed["x"] is number and _ENCODER.encode(number) == cell.encode()


@settings(max_examples=600, deadline=None)
@given(st.lists(CELLS, max_size=6))
@example(["9840.02", "0.0000001"])
@example(["1,5"])
@example(["1.50", "-0", "12"])
def test_written_numbers_are_the_texts_written_for_their_decimals(cells: list[str]) -> None:
    got = written_numbers(cells)
    if got is not None:
        assert all(map(_kept_as_text, cells)), cells
        assert [_ENCODER.encode(raw) for raw in got] == [_ENCODER.encode(Decimal(cell)) for cell in cells]
        assert all(type(raw) is msgspec.Raw for raw in got)
    elif cells and all(_PLAIN_NUMBER.fullmatch(cell) and len(cell) <= 300 for cell in cells):
        # refused only for a fraction that may have an exponent when written (six zeros after the point)
        assert any(cell.lstrip("-").startswith("0.000000") for cell in cells), cells


def test_written_numbers_takes_the_usual_money_column() -> None:
    """Not a check that can only refuse: a column of amounts is taken, and written as it came."""
    cells = ["9840.02", "-3212.76", "0.00", "6627", "0.000001"]
    got = written_numbers(cells)
    assert got is not None
    assert _ENCODER.encode(got) == b"[9840.02,-3212.76,0.00,6627,0.000001]"


def test_written_numbers_refuses_what_is_not_only_number_texts() -> None:
    for cells in ([""], ["1", ""], ["1,5"], ["1", 2], [], ["0.0000001"], ["1e5"], ["01"], [" 1"], ["1" * 301]):
        assert written_numbers(t.cast("list[str]", cells)) is None, cells


def _read_number(text: str) -> Decimal:
    return Decimal(text)


_read_number.bulk = Decimal  # type: ignore[attr-defined]  # a whole column at once (``cells_block_builder``)


def _page_bytes(records: list[t.Any]) -> bytes:
    """What the kit's page emitter writes for ``records`` (the clock read as one fixed time)."""
    import io
    from types import SimpleNamespace

    from xlr8_kit.singer_io import IsoClock, KitSingerWriter

    out = io.BytesIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", SimpleNamespace(buffer=out, flush=lambda: None))
        patch.setattr("xlr8_kit.singer_io.IsoClock", lambda: IsoClock(lambda: 1_765_000_000_123_456_000))
        writer = KitSingerWriter()
        writer.record_page_emitter("s", None)(records, True)
        writer.flush()
    return out.getvalue()


#: Report headers (user-defined texts) that are identifiers but that msgspec or Python cannot take as struct fields:
#: name mangling, msgspec's own refusals, hooks msgspec calls, dunders ``bool`` or freeing calls.
DUNDER_HEADERS = ("__ID", "__Employee_Number", "__dict__", "__weakref__", "__annotations__", "__post_init__")
DUNDER_HEADERS += ("__len__", "__bool__", "__del__", "__index__", "__eq__", "__hash__")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.text(max_size=6), st.one_of(st.just(""), CELLS), st.text(max_size=3)), max_size=6),
    st.sampled_from(
        [
            ("Id", "Amount", "Name"),
            ("Name", "Amount", "Id"),
            ("Id", "Amount", "First Name"),
            *(("Id", "Amount", name) for name in DUNDER_HEADERS),
            ("__len__", "Amount", "Id"),
        ]
    ),
    st.booleans(),
)
@example([("a", "9840.02", "x"), ("b", "", "y\u2019"), ("c", "-0.50", "")], ("Id", "Amount", "Name"), True)
@example([("a", "9840.02", "x"), ("b", "2", "y")], ("Id", "Amount", "__post_init__"), True)
@example([("a", "9840.02", "x"), ("b", "2", "y")], ("Id", "Amount", "__ID"), True)
@example([("a", "9840.02", "x"), ("b", "2", "y")], ("__len__", "Amount", "Id"), True)
@example([("a", "9840.02", "x"), ("b", "2", "y")], ("Id", "Amount", "__del__"), True)
@example([("a", "9840.02", "x"), ("b", "2", "y")], ("Id", "Amount", "__dict__"), True)
def test_a_vouched_written_block_is_structs_written_as_its_dicts(
    rows: list[tuple[str, str, str]], header: tuple[str, ...], vouching: bool
) -> None:
    """A block whose number column is kept as the writer's texts (the rest vouched for) is made of
    ``WrittenRecord`` structs, one C call a row (the fast path), which the kit's writer writes byte for byte as the
    dicts the builder gives without ``written``, keys in the same order; a block not vouched for, or whose keys
    cannot name fields ("First Name", any "__" name), is dicts, as before."""
    from xlr8_kit.columns import cells_block_builder
    from xlr8_kit.singer_io import WrittenRecord

    cells = [list(row) for row in rows]
    readers = {"Amount": _read_number}
    decimals = cells_block_builder(header, header, readers, empty_is_none=True)(cells)
    built = cells_block_builder(
        header, header, readers, empty_is_none=True, written={"Amount"}, vouch=lambda _values: vouching
    )(cells)
    if decimals is None or built is None:
        assert decimals is None  # a cell Decimal refuses: row by row, either way
        assert built is None
        return
    # a NaN or an infinity is never vouched for (``keeps_columns``), and the writer refuses it as a number
    assume(all(value is None or value.is_finite() for value in (record["Amount"] for record in decimals[0])))
    records = built[0]
    as_texts = any(type(record["Amount"]) is msgspec.Raw for record in records)
    assert vouching or not as_texts
    if as_texts and "First Name" not in header and not any(name.startswith("__") for name in header):
        assert all(isinstance(record, WrittenRecord) for record in records)
    else:
        assert all(type(record) is dict for record in records)
    assert all(bool(record) for record in records)  # what the increment steps ask (``if not record``)
    assert [list(record) for record in records] == [list(header)] * len(rows)
    assert [record["Id"] for record in records] == [row[header.index("Id")] or None for row in rows]
    assert _page_bytes(records) == _page_bytes(decimals[0])


def test_a_written_block_with_a_short_column_raises_as_the_dicts_do() -> None:
    """A column one value short (a reader's ``column`` that lost a cell) is an error for the struct records as for
    the dicts (``zip(strict=True)``), never a block silently one record short (``map`` stops at the shortest)."""

    from xlr8_kit.columns import cells_block_builder

    def read_flag(text: str) -> bool:
        return text == "Y"

    read_flag.column = lambda cells: [cell == "Y" for cell in cells][1:]  # type: ignore[attr-defined]
    header = ("Id", "Amount", "Flag")
    build = cells_block_builder(
        header,
        header,
        {"Amount": _read_number, "Flag": read_flag},
        empty_is_none=True,
        written={"Amount"},
        vouch=lambda _values: True,
    )
    with pytest.raises(ValueError, match="zip"):
        build([["a", "1.50", "Y"], ["b", "2", "N"]])


#: A line's ``time_extracted`` (the kit's page clock or the SDK's ``utc_now``): the rest must be byte-identical.
_EXTRACTED = re.compile(rb'"time_extracted":"[^"]*"')


@pytest.mark.parametrize("label", ["lone \ud800 surrogate", "\udc00\u00e9", "x\ud800"])
def test_a_lone_surrogate_in_a_vouched_written_block_is_written_as_the_sdk_loop_writes_it(label: str) -> None:
    """A text cell with a lone surrogate (a RaaS CSV in UTF-7) in a block of ``WrittenRecord`` structs with number
    texts: msgspec refuses that record, so it goes to the SDK's serializer, which must get the dict the SDK loop
    writes (Decimals), not the struct (its repr as a JSON string) nor ``msgspec.Raw`` values (their repr): on
    stdout and in BATCH lines, with the records' other lines unchanged."""
    from singer_sdk.io_base import SingerWriter
    from singer_sdk.singerlib import RecordMessage
    from singer_sdk.singerlib.json import serialize_json

    from xlr8_kit.batching import encode_lines
    from xlr8_kit.columns import cells_block_builder
    from xlr8_kit.singer_io import WrittenRecord, _is_plain, utc_now

    header = ("Code", "Label", "Amount")
    cells = [["A1", "plain", "1.50"], ["A2", label, "2.25"], ["A3", "after", "3.00"]]
    readers = {"Amount": _read_number}
    decimals = cells_block_builder(header, header, readers, empty_is_none=True)(cells)[0]
    built = cells_block_builder(header, header, readers, empty_is_none=True, written={"Amount"}, vouch=bool)(cells)
    assert all(isinstance(record, WrittenRecord) for record in built[0])  # the fast path's records
    assert all(type(record["Amount"]) is msgspec.Raw for record in built[0])
    assert not any(map(_is_plain, built[0]))  # a struct's iteration gives its keys: never judged by them

    sdk = SingerWriter()
    sdk_lines = [sdk.serialize_message(RecordMessage("s", record, None, utc_now())) for record in decimals]
    expected = [_EXTRACTED.sub(b"T", line.encode()) for line in sdk_lines]
    assert b'"Amount":2.25' in expected[1]
    assert b"\\u" in expected[1]
    assert [_EXTRACTED.sub(b"T", line) for line in _page_bytes(built[0]).splitlines()] == expected

    batch = b"".join((serialize_json(record) + "\n").encode() for record in decimals)
    assert encode_lines(built[0], True) == batch  # a block known plain
    assert encode_lines(built[0]) == batch  # record by record
