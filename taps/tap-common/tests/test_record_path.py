"""Common's page parse and ``post_process`` against the code they replaced: ``json.loads(parse_float=Decimal)``
of the body, and a dict comprehension over the schema's properties (then decimal strings as ``Decimal``). Pages
and rows vary (hypothesis): missing and unknown fields, decimal strings (``NaN`` too), JSON fractions, nulls."""

from __future__ import annotations

import json
import typing as t
from decimal import Decimal

import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from xlr8_tap_common.streams import AmendmentsStream
from xlr8_tap_common.tap import TapCommon

from .conftest import common_config

TAP = TapCommon(config=common_config("http://127.0.0.1:9"), validate_config=False)
STREAM = TAP.streams["amendments"]
assert isinstance(STREAM, AmendmentsStream)
NAMES = list(STREAM.schema["properties"])

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["12.50", "NaN", "-0.000001", "1E+3", "x", "", "Infinity"]),
    st.text(max_size=4),
)
rows = st.dictionaries(st.sampled_from([*NAMES, "extra", "other"]), values, max_size=len(NAMES) + 2)


def old_post_process(row: dict[str, t.Any]) -> dict[str, t.Any]:
    """``CommonStream.post_process`` before (no universal filter configured)."""
    out = {name: row.get(name) for name in STREAM.schema["properties"]}
    for name in STREAM._numeric_columns:
        value = out[name]
        if isinstance(value, str):
            out[name] = Decimal(value)
    return out


def page(content: bytes) -> requests.Response:
    response = requests.Response()
    response._content = content
    response.status_code = 200
    return response


@settings(max_examples=300, deadline=None)
@given(st.lists(rows, max_size=5))
def test_parse_and_post_process_equal_the_old_path(data: list[dict[str, t.Any]]) -> None:
    content = json.dumps({"data": data, "has_more": False, "next_cursor": None}).encode()
    parsed = list(STREAM.parse_response(page(content)))
    expected = json.loads(content, parse_float=Decimal)["data"]
    assert parsed == expected
    assert [list(map(type, r.values())) for r in parsed] == [list(map(type, r.values())) for r in expected]
    for row, old in zip(parsed, expected, strict=True):
        new_out, old_out = outcome(STREAM.post_process, row), outcome(old_post_process, old)
        if isinstance(old_out, type):  # a text that is not a number: the same error
            assert new_out is old_out
        else:
            assert isinstance(new_out, dict)
            assert list(new_out.items()) == list(old_out.items()) or _same_with_nan(new_out, old_out)


def outcome(post_process: t.Callable[[dict[str, t.Any]], t.Any], row: dict[str, t.Any]) -> t.Any:
    try:
        return post_process(dict(row))
    except ArithmeticError as exc:
        return type(exc)


def _same_with_nan(new: dict[str, t.Any], old: dict[str, t.Any]) -> bool:
    """``Decimal('NaN') != Decimal('NaN')``: compare such values by their text."""
    return list(new) == list(old) and all(
        (str(a) == str(b) and type(a) is type(b)) if isinstance(a, Decimal) else a == b
        for a, b in zip(new.values(), old.values(), strict=True)
    )
