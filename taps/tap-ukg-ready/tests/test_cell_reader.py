"""``cell_reader`` (one column's ``coerce`` with its usual case decided once) gives what ``coerce`` gives, values
and errors alike, including after its memo of distinct texts fills up."""

from __future__ import annotations

import typing as t

from hypothesis import given, settings
from hypothesis import strategies as st

from xlr8_tap_ukg_ready import reports

KINDS = ["string", "integer", "number", "boolean", "date", "datetime"]
CELLS = st.one_of(
    st.none(),
    st.just(""),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=True),
    st.text(max_size=6),
    st.sampled_from(
        [
            "12",
            "-3",
            " 7 ",
            "1.50",
            "1e3",
            "NaN",
            "x",
            "true",
            " Yes ",
            "no",
            "0",
            "1",
            "01/31/2026",
            "2026-01-31",
            "2026-01-31T08:00:00Z",
            "01/31/2026 08:05",
            "01/31/2026 08:05:09",
            "13/45/2026",
            "2026-02-30",
            "٣",
        ]
    ),
)


def _outcome(read: t.Callable[[t.Any], t.Any], value: t.Any) -> tuple[str, str]:
    try:
        return "ok", repr(read(value))
    except Exception as exc:  # the same error, whatever it is (an infinite float under an integer column)
        return type(exc).__name__, str(exc)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(KINDS), st.lists(CELLS, max_size=12))
def test_cell_reader_is_coerce(kind: t.Any, values: list[t.Any]) -> None:
    read = reports.cell_reader(kind, "col")
    for value in values + values:  # the second pass reads from the memo
        assert _outcome(read, value) == _outcome(lambda v: reports.coerce(v, kind, "col"), value)


def test_the_memo_is_bounded(monkeypatch: t.Any) -> None:
    monkeypatch.setattr("xlr8_kit.columns.MEMO_SIZE", 3)
    read = reports.cell_reader("date", "d")
    days = [f"2026-01-{day:02d}" for day in range(1, 10)] * 2
    assert [read(day) for day in days] == days
