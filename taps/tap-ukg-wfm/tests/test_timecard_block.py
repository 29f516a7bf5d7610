"""``TimecardsStream.row_block`` (an answer's records built column by column) gives what ``rows`` gives, values and
key order alike, and leaves to ``rows`` every answer it cannot build the same way (so errors stay where they were)."""

from __future__ import annotations

import typing as t
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from xlr8_tap_ukg_wfm.client import UkgWfmStream
from xlr8_tap_ukg_wfm.streams import TimecardsStream

ANY = st.one_of(
    st.none(),
    st.just(""),
    st.booleans(),
    st.integers(-2, 2),
    st.sampled_from([1.5, 8.0, float("nan"), "7.25", "x", Decimal("2.5")]),
    st.text(max_size=3),
    st.sampled_from(["2026-01-05T08:02:00", "2026-01-05T08:02:00+01:00", "2026-01-05", "REG", "Org/Site/Job"]),
    st.fixed_dictionaries({"qualifier": st.sampled_from(["REG", "OT", "Org/Site/Job"])}),
    st.just([]),
)
FIELDS = ["applyDate", "payCode", "amountType", "amount", "startDateTime", "endDateTime", "location", "orgJob"]
TOTAL = st.one_of(
    st.fixed_dictionaries(
        {"approved": st.one_of(st.booleans(), st.none())}, optional={**dict.fromkeys(FIELDS, ANY), "updatedOnDtm": ANY}
    ),
    st.just("not a total"),
)
CARD = st.one_of(
    st.fixed_dictionaries(
        {"employee": st.one_of(ANY, st.just({"qualifier": "P1"}))},
        optional={"dailyTotals": st.one_of(st.lists(TOTAL, max_size=4), st.none(), st.just({"x": 1}))},
    ),
    st.just(7),
)


def _stream(zone: str) -> t.Any:
    stream = SimpleNamespace(settings=SimpleNamespace(zone=ZoneInfo(zone)))
    stream.utc_of = UkgWfmStream.utc_reader(stream)  # type: ignore[arg-type]
    stream._KEYS = TimecardsStream._KEYS
    return stream


def _rows(stream: t.Any, answer: t.Any) -> object:
    out: list[object] = []
    try:
        out.extend(TimecardsStream.rows(stream, answer))
    except Exception as exc:  # the error is part of the contract
        out.append(("error", type(exc).__name__, str(exc)))
    return out


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.lists(CARD, max_size=4), st.just({"not": "a list"})), st.sampled_from(["UTC", "Asia/Kolkata"]))
def test_row_block_is_rows(answer: t.Any, zone: str) -> None:
    stream = _stream(zone)
    expected = _rows(stream, answer)
    block = TimecardsStream.row_block(stream, answer)
    if block is None:
        return  # read by ``rows`` itself
    records, columns = block
    assert repr(records) == repr(expected)
    assert all(list(record) == list(TimecardsStream._KEYS) for record in records)
    assert list(columns) == list(TimecardsStream._KEYS)
    assert all(values == [record[name] for record in records] for name, values in columns.items())


def test_a_usual_answer_is_built_as_a_block() -> None:
    total = {
        "applyDate": "2026-01-05",
        "payCode": {"qualifier": "REG"},
        "amountType": "HOUR",
        "amount": 8.0,
        "startDateTime": "2026-01-05T08:00:00",
        "endDateTime": "2026-01-05T16:00:00",
        "location": {"qualifier": "Site"},
        "orgJob": {"qualifier": "Org/Site/Cashier"},
        "approved": True,
        "updatedOnDtm": "2026-01-06T09:00:00",
    }
    answer = [{"employee": {"qualifier": "P1"}, "dailyTotals": [total, total]}, {"employee": {"qualifier": "P2"}}]
    stream = _stream("UTC")
    block = TimecardsStream.row_block(stream, answer)
    assert block is not None
    assert block[0] == list(TimecardsStream.rows(stream, answer))
    assert block[0][0]["job"] == "Cashier"
    assert block[0][0]["hours"] == Decimal("8.0")
