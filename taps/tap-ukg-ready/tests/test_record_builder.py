"""``record_builder`` (a CSV row typed straight from its cells) gives what the row dict and ``cell_reader`` give,
values and errors alike: repeated header names, columns missing from the header, every column kind."""

from __future__ import annotations

import typing as t

from hypothesis import given, settings
from hypothesis import strategies as st

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
    build = reports.record_builder(column_types, names)
    if not set(column_types) <= set(names):
        assert build is None
        return
    assert build is not None
    rows = data.draw(st.lists(st.lists(CELL_TEXT, min_size=len(names), max_size=len(names)), max_size=3))
    got = [_built(build, cells) for cells in rows]  # the readers' memos warm up row after row
    assert repr(got) == repr([_general(column_types, names, cells) for cells in rows])
    assert all(list(record) == list(column_types) for record in got if isinstance(record, dict))


def _built(build: t.Callable[[list[str]], dict[str, t.Any]], cells: list[str]) -> object:
    try:
        return build(cells)
    except reports.ReportDataError as exc:
        return ("error", str(exc))
