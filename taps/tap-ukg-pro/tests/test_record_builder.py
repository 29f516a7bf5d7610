"""``record_builder`` (a RaaS CSV row typed straight from its cells) gives what the row dict and ``coerce`` give,
values and errors alike, for every column kind, a subset or reordering of the header, and a local time zone."""

from __future__ import annotations

import typing as t
from datetime import UTC
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from xlr8_tap_ukg_pro import discovery

KINDS: list[t.Any] = ["string", "integer", "number", "boolean", "date", "date-time"]
HEADER = ["A", "B", "C", "D", "E"]
CELL = st.one_of(
    st.text(max_size=4),
    st.sampled_from(
        [
            *["", " ", "12", " 7 ", "1.50", "NaN", "1e3", "x", "true", "No", "01/31/2026", "2026-01-31", "13/45/2026"],
            *["2026-01-31T08:00:00", "2026-01-31T08:00:00Z", "2026-01-31T08:00:00+02:00"],
        ]
    ),
)
ZONES = st.sampled_from([UTC, ZoneInfo("America/Toronto")])


def _general(column_types: dict[str, t.Any], values: list[str], zone: t.Any) -> object:
    row = {h: (v if v != "" else None) for h, v in zip(HEADER, values, strict=True)}
    try:
        return {name: discovery.coerce(row.get(name), kind, name, zone=zone) for name, kind in column_types.items()}
    except discovery.ReportDataError as exc:
        return ("error", str(exc))


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(HEADER), min_size=1, max_size=5, unique=True),
    st.data(),
    ZONES,
)
def test_record_builder_is_the_row_dict(columns: list[str], data: t.Any, zone: t.Any) -> None:
    column_types = {name: data.draw(st.sampled_from(KINDS)) for name in columns}
    build = discovery.record_builder(column_types, HEADER, zone=zone)
    for _ in range(3):  # the memos warm up
        values = data.draw(st.lists(CELL, min_size=len(HEADER), max_size=len(HEADER)))
        try:
            got: object = build(values)
        except discovery.ReportDataError as exc:
            got = ("error", str(exc))
        expected = _general(column_types, values, zone)
        assert repr(got) == repr(expected)
        if isinstance(got, dict):
            assert list(got) == columns


def test_every_column_in_header_order_uses_the_row_as_it_is() -> None:
    column_types: dict[str, t.Any] = dict.fromkeys(HEADER, "string") | {"C": "number"}
    build = discovery.record_builder(column_types, HEADER)
    assert build(["a", "", "1.5", "d", "e"]) == {"A": "a", "B": None, "C": Decimal("1.5"), "D": "d", "E": "e"}
