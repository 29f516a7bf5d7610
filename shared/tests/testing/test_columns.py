"""``xlr8_kit.columns.written_numbers``: a column of number cells kept as the texts the kit's writer would write for
their Decimals, only when that is exactly what it writes and conformance keeps those Decimals."""

from __future__ import annotations

import logging
import re
import typing as t
from decimal import Decimal, InvalidOperation

import msgspec
from hypothesis import example, given, settings
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
