"""Common's page parse and row shaping against the code they replaced: ``json.loads(parse_float=Decimal)`` of the
body, and a dict comprehension over the schema's properties (then decimal strings as ``Decimal``) per row, in
``post_process``. Rows are now shaped a page at a time (``CommonStream._shaped_blocks``); pages and rows vary
(hypothesis): missing and unknown fields, decimal strings (``NaN`` too), JSON fractions, nulls, rows that fail.
"""

from __future__ import annotations

import json
import typing as t
from decimal import Decimal

import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from xlr8_tap_common.streams import AmendmentsStream, PurchaseOrdersStream
from xlr8_tap_common.tap import TapCommon

from .conftest import common_config

TAP = TapCommon(config=common_config("http://127.0.0.1:9"), validate_config=False)
STREAM = TAP.streams["amendments"]
assert isinstance(STREAM, AmendmentsStream)
ORDERS = TAP.streams["purchase_orders"]
assert isinstance(ORDERS, PurchaseOrdersStream)
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
def test_parse_and_shaping_equal_the_old_path(data: list[dict[str, t.Any]]) -> None:
    content = json.dumps({"data": data, "has_more": False, "next_cursor": None}).encode()
    parsed = list(STREAM.parse_response(page(content)))
    expected = json.loads(content, parse_float=Decimal)["data"]
    assert parsed == expected
    assert [list(map(type, r.values())) for r in parsed] == [list(map(type, r.values())) for r in expected]
    new, old = shaped(STREAM, parsed), old_outcomes(expected)
    assert len(new) == len(old)
    for new_out, old_out in zip(new, old, strict=True):
        if isinstance(old_out, type):  # a text that is not a number: the same error, at the same row
            assert new_out is old_out
        else:
            assert isinstance(new_out, dict)
            assert list(new_out.items()) == list(old_out.items()) or _same_with_nan(new_out, old_out)


def shaped(stream: t.Any, rows: list[t.Any]) -> list[t.Any]:
    """What ``get_records`` yields for a read of one page holding ``rows``: each record, then, at a row that fails,
    the error's type (nothing after it is read)."""
    stream.request_record_pages = lambda context: iter([rows])
    out: list[t.Any] = []
    try:
        for record in stream.get_records(None):
            out.append(record)
    except (ArithmeticError, AttributeError) as exc:
        out.append(type(exc))
    finally:
        del stream.request_record_pages
    return out


def old_outcomes(rows: list[t.Any]) -> list[t.Any]:
    """``old_post_process`` row by row, up to and including the first row that fails (its error's type)."""
    out: list[t.Any] = []
    for row in rows:
        try:
            out.append(old_post_process(dict(row)))
        except (ArithmeticError, AttributeError, TypeError) as exc:
            out.append(AttributeError if isinstance(exc, TypeError) else type(exc))
            break
    return out


def test_a_plain_page_is_shaped_whole_and_vouched() -> None:
    """The fast path is taken for a page of ordinary rows: one list, marked conformed (the plain loop then writes
    it at once); a page with a decimal text that does not parse, or a row that is not an object, goes row by row."""
    good = [{"id": "A1", "proposed_quantity": "12.50", "proposed_unit_price": 3, "status": "open", "x": 1}] * 3
    blocks = list(blocks_of(STREAM, good))
    assert [(type(b).__name__, conformed) for b, conformed in blocks] == [("list", True)]
    assert blocks[0][0] == [old_post_process(r) for r in good]
    for bad in ([*good, {"id": "A2", "proposed_quantity": "x"}], [*good, 5]):
        blocks = list(blocks_of(STREAM, bad))
        assert [(type(b).__name__, conformed) for b, conformed in blocks] == [("map", False)]
    assert shaped(STREAM, [*good, 5]) == [*(old_post_process(r) for r in good), AttributeError]


def blocks_of(stream: t.Any, rows: list[t.Any]) -> list[tuple[t.Any, bool]]:
    stream.request_record_pages = lambda context: iter([rows])
    try:
        return list(stream._shaped_blocks(None))
    finally:
        del stream.request_record_pages


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["C1", "C2", "C3", None, 7]), min_size=1, max_size=6))
def test_a_page_of_orders_gets_each_sellers_supplier_number_as_one_row_would(sellers: list[t.Any]) -> None:
    ORDERS.__dict__["supplier_numbers"] = {"C1": "S-1", "C2": "S-2", "C3": None, "7": "S-7"}  # C3: no ERP id
    rows = [{"id": f"P{i}", "seller_company_id": seller, "quantity": "2"} for i, seller in enumerate(sellers)]
    [(block, conformed)] = blocks_of(ORDERS, rows)
    assert type(block) is list
    assert conformed  # conformance keeps strings, integers and None under a string column as they are
    assert [list(r.items()) for r in block] == [list(ORDERS.shape(dict(r)).items()) for r in rows]
    assert [r["supplier_number"] for r in block] == [{"C1": "S-1", "C2": "S-2", 7: "S-7"}.get(s) for s in sellers]


def _same_with_nan(new: dict[str, t.Any], old: dict[str, t.Any]) -> bool:
    """``Decimal('NaN') != Decimal('NaN')``: compare such values by their text."""
    return list(new) == list(old) and all(
        (str(a) == str(b) and type(a) is type(b)) if isinstance(a, Decimal) else a == b
        for a, b in zip(new.values(), old.values(), strict=True)
    )
