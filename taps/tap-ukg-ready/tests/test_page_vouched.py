"""A v2 page is vouched conformed (``MarkedPage.conformed``) only when the SDK's conformance keeps every record
``post_process`` makes of its rows, and its rows are handed on as they came."""

from __future__ import annotations

import logging
import typing as t
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from singer_sdk.helpers._typing import conform_record_data_types

from xlr8_kit.rest import MarkedPage
from xlr8_kit.singer_io import _ENCODER, loads_exact
from xlr8_tap_ukg_ready.client import ReadyShapeError
from xlr8_tap_ukg_ready.streams import EmployeesStream
from xlr8_tap_ukg_ready.tap import TapUkgReady

from .conftest import ready_config

_TAP = TapUkgReady(config=ready_config("http://127.0.0.1:9"), parse_env_config=False)
_STREAM = t.cast("EmployeesStream", _TAP.streams["employees"])

VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    st.text(max_size=12),
    st.sampled_from(["2024-02-03T00:00:00", "2024-02-03", "", "E1", "1e400"]),
    st.sampled_from([Decimal("1.5"), Decimal("1E+400"), Decimal("-1E+400"), Decimal("1E-400"), Decimal("-0.0")]),
    st.just({"a": 1}),
    st.just([1, "x"]),
)
#: The list item's keys as UKG documents them (the date columns come from ``dates``), and one it does not.
NAMES = [*(c for c in EmployeesStream.columns if c not in EmployeesStream.nested), "dates", "_links", "other"]
DATES = st.one_of(VALUE, st.dictionaries(st.sampled_from(["hired", "terminated", "other"]), VALUE))
ROW = st.dictionaries(st.sampled_from(NAMES), VALUE).flatmap(
    lambda row: st.builds(lambda dates: {**row, "dates": dates} if "dates" in row else row, DATES)
)


def _body(rows: list[t.Any]) -> bytes:
    return _ENCODER.encode({"employees": rows})  # Decimals as JSON numbers (1E+400 too)


USUAL_ROW = st.fixed_dictionaries(
    {
        **dict.fromkeys((c for c in EmployeesStream.columns if c not in EmployeesStream.nested), st.text(max_size=4)),
        "dates": st.fixed_dictionaries(
            dict.fromkeys(("hired", "re_hired", "started", "terminated"), st.text(max_size=4))
        ),
    }
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(ROW, USUAL_ROW), max_size=5))
def test_a_page_is_vouched_only_when_conformance_keeps_its_records(rows: list[dict[str, t.Any]]) -> None:
    page = _STREAM.parse_response(SimpleNamespace(content=_body(rows)))  # type: ignore[arg-type]
    parsed = loads_exact(_body(rows))["employees"]
    assert repr(list(page)) == repr(parsed)
    if not rows:
        return
    if any(_STREAM._shape_error(row) for row in rows if isinstance(row, dict)):
        assert type(page) is list  # ``post_process`` raises at that row
        return
    assert type(page) is MarkedPage
    made = [_STREAM.post_process(dict(row)) for row in parsed]
    level, logger = _STREAM.TYPE_CONFORMANCE_LEVEL, logging.getLogger()
    kept = all(
        repr(conform_record_data_types("employees", record, _STREAM.schema, level, logger)) == repr(record)
        for record in made
        if record is not None
    )
    if page.conformed:
        assert kept
    assert page.plain


def test_a_usual_page_is_vouched() -> None:
    """Not a check that can only say no: employee rows as the API gives them are vouched."""
    row = {name: "x" for name in NAMES[:-3]} | {"id": 7, "dates": {"hired": "2020-01-02T00:00:00"}}
    page = _STREAM.parse_response(SimpleNamespace(content=_body([row, {**row, "_links": {"self": "u"}}])))  # type: ignore[arg-type]
    assert type(page) is MarkedPage
    assert page.conformed


def test_a_row_that_is_not_an_object_is_left_to_post_process() -> None:
    page = _STREAM.parse_response(SimpleNamespace(content=_body([{"id": 1}, 5])))  # type: ignore[arg-type]
    assert type(page) is list
    assert page == [{"id": 1}, 5]


@settings(max_examples=300, deadline=None)
@given(st.one_of(ROW, USUAL_ROW))
def test_post_process_is_the_declared_columns_of_the_row(row: dict[str, t.Any]) -> None:
    """``post_process`` gives what the projection it replaced gave (main ea609d0): the declared columns in order,
    a date column's text cut to its date (empty: None)."""
    declared = tuple(_STREAM.schema["properties"])
    if _STREAM._shape_error(row):
        with pytest.raises(ReadyShapeError):
            _STREAM.post_process(dict(row))
        return
    expected = dict(zip(declared, map(row.get, declared), strict=True))
    for name, (outer, inner) in EmployeesStream.nested.items():
        expected[name] = (row.get(outer) or {}).get(inner)
    for name in _STREAM._dates:
        value = expected[name]
        if isinstance(value, str):
            expected[name] = value[:10] or None
    assert repr(_STREAM.post_process(dict(row))) == repr(expected)
