"""``record_builder`` (a RaaS CSV row typed straight from its cells) gives what the row dict and ``coerce`` give,
values and errors alike, for every column kind, a subset or reordering of the header, and a local time zone."""

from __future__ import annotations

import contextlib
import typing as t
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xlr8_kit.columns import MEMO_SIZE
from xlr8_kit.testing.blocks import assert_block_is_rows
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
    """Row by row, ``record_builder`` gives what the row dict and ``coerce`` give; a block typed column by
    column (``block_builder``) gives what ``record_builder`` gives row by row, or None when a row of it fails."""
    column_types = {name: data.draw(st.sampled_from(KINDS)) for name in columns}
    build = discovery.record_builder(column_types, HEADER, zone=zone)
    build_block = discovery.block_builder(column_types, HEADER, zone=zone)
    for _ in range(3):  # the memos warm up, row after row and block after block
        rows = data.draw(st.lists(st.lists(CELL, min_size=len(HEADER), max_size=len(HEADER)), max_size=6))
        got: list[object] = []
        for values in rows:
            try:
                got.append(build(values))
            except discovery.ReportDataError as exc:
                got.append(("error", str(exc)))
        assert repr(got) == repr([_general(column_types, values, zone) for values in rows])
        assert all(list(record) == columns for record in got if isinstance(record, dict))
        assert_block_is_rows(build_block(rows), got, columns)


def test_every_column_in_header_order_uses_the_row_as_it_is() -> None:
    column_types: dict[str, t.Any] = dict.fromkeys(HEADER, "string") | {"C": "number"}
    build = discovery.record_builder(column_types, HEADER)
    assert build(["a", "", "1.5", "d", "e"]) == {"A": "a", "B": None, "C": Decimal("1.5"), "D": "d", "E": "e"}


def test_block_builder_types_whole_columns() -> None:
    column_types: dict[str, t.Any] = {"A": "string", "B": "number", "C": "integer", "D": "date"}
    build_block = discovery.block_builder(column_types, HEADER)
    got = build_block([["a", "1.5", "", "2026-01-31", "x"], ["", "", "3", "", "y"]])
    assert got is not None
    assert got[0] == [
        {"A": "a", "B": Decimal("1.5"), "C": None, "D": "2026-01-31"},
        {"A": None, "B": None, "C": 3, "D": None},
    ]


def _outcome(rows: t.Iterator[t.Any]) -> list[object]:
    out: list[object] = []
    try:
        out.extend(rows)
    except Exception as exc:
        out.append(("error", type(exc).__name__, str(exc)))
    return out


CSV_PIECES = st.sampled_from(["a", "b,c", ",", "\n", "\r\n", '"', '"x\ny"', '""', " ", "é", "1.5", "\x81", "\xff"])


@settings(max_examples=400, deadline=None)
@given(
    st.lists(CSV_PIECES, max_size=40),
    st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=8),
    st.sampled_from(["cp1252", "utf-8", "latin-1"]),
    st.booleans(),
    st.integers(min_value=1, max_value=4),
)
def test_csv_blocks_are_the_rows_read_one_by_one(
    pieces: list[str], cuts: list[int], encoding: str, bom: bool, block_rows: int
) -> None:
    """``iter_report_stream(..., cells=True, blocks=True)`` gives the rows ``cells=True`` gives, in blocks, and the
    same error (wrong width, undecodable byte) after the same rows, whatever the chunking."""
    body = ("\ufeff" if bom else "").encode("utf-8") + "".join(pieces).encode("latin-1", "replace")
    chunks: list[bytes] = []
    position, index = 0, 0
    while position < len(body):
        step = cuts[index % len(cuts)]
        chunks.append(body[position : position + step])
        position, index = position + step, index + 1

    def read(blocks: bool) -> list[object]:
        try:
            header, _declared, rows = discovery.iter_report_stream(
                iter(chunks), encoding=encoding, cells=True, blocks=blocks
            )
        except discovery.ReportDataError as exc:
            return [("error", "ReportDataError", str(exc))]
        return [header, *_outcome(rows)]

    expected = read(False)
    with mock.patch.object(discovery, "BLOCK_ROWS", block_rows):  # blocks of a few rows: many per document
        got = read(True)
    flattened: list[object] = got[:1]
    for item in got[1:]:
        if isinstance(item, tuple):
            flattened.append(item)
            continue
        assert isinstance(item, list)
        assert item
        assert len(item) <= block_rows
        flattened.extend(item)
    assert flattened == expected


@pytest.mark.parametrize("block_rows", [1, 2, 3, 4, 256])
def test_a_misfit_row_after_blank_rows_is_named_by_its_line(block_rows: int) -> None:
    body = b"A,B\n1,2\n\n\n3,4\n\n5\n6,7\n"
    with mock.patch.object(discovery, "BLOCK_ROWS", block_rows):
        _header, _declared, rows = discovery.iter_report_stream(iter([body]), cells=True, blocks=True)
        got = _outcome(rows)
    assert got[-1] == ("error", "ReportDataError", "report CSV line 7 has 1 fields, the header 2")
    assert [cells for block in got[:-1] for cells in t.cast("list[list[str]]", block)] == [["1", "2"], ["3", "4"]]


STAMP_ZONES = [
    UTC,
    timezone(timedelta(hours=5, minutes=30)),
    *map(
        ZoneInfo,
        [
            "America/Toronto",
            "Australia/Lord_Howe",  # a 30-minute clock change
            "Europe/Dublin",  # negative DST
            "Pacific/Apia",  # skipped 2011-12-30 altogether
            "Africa/Casablanca",  # several changes a year
            "Europe/Amsterdam",  # offsets in seconds before 1937
        ],
    ),
]


def _changes(zone: t.Any, year: int) -> list[datetime]:
    """The local hours of ``year`` at which ``zone``'s offset changes (tested more often than chance would)."""
    start = datetime(year, 1, 1)
    hours = [start + timedelta(hours=n) for n in range(0, 366 * 24, 1)]
    offsets = [hour.replace(tzinfo=zone).utcoffset() for hour in hours]
    return [hours[n] for n in range(1, len(hours)) if offsets[n] != offsets[n - 1]]


CHANGES = sorted({moment for zone in STAMP_ZONES for year in (1911, 2011) for moment in _changes(zone, year)})
STAMPS = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(lambda d: d.isoformat()),
    st.datetimes(min_value=datetime(1850, 1, 1), max_value=datetime(2040, 1, 1)).map(
        lambda d: d.replace(microsecond=0).isoformat()
    ),
    st.tuples(st.sampled_from(CHANGES), st.integers(-7200, 7200)).map(
        lambda pair: (pair[0] + timedelta(seconds=pair[1])).isoformat()
    ),
    st.sampled_from(["2024-02-30T01:00:00", "2024-01-31T24:00:00", "2024-01-31T08:60:00", "2024-01-31T08:00:60"]),
    st.sampled_from(["0000-01-01T00:00:00", "2024-01-31T08:00:00Z", "2024-01-31 08:00:00", "2024-01-31T08:00"]),
    st.sampled_from(
        ["2024-01-31T08:00:00+02:00", "2024-01-31T08:00:00.5", "\uff12\uff10\uff12\uff14-01-31T08:00:00", "x"]
    ),
)


def _coerced(value: str, zone: t.Any) -> object:
    try:
        return discovery.coerce(value, "date-time", "When", zone=zone)
    except discovery.ReportDataError as exc:
        return ("error", str(exc))


@settings(max_examples=3000, deadline=None)
@given(st.lists(STAMPS, min_size=1, max_size=4), st.sampled_from(STAMP_ZONES))
def test_date_time_reader_is_coerce(values: list[str], zone: t.Any) -> None:
    """The date-time reader (a day's offset remembered) and its ``bulk`` give what ``coerce`` gives, or ``bulk``
    raises (the block builder then uses the reader): any year, clock changes, offsets in seconds, misfits."""
    read = discovery.cell_coercer("date-time", "When", zone=zone)
    for value in [*values, *values]:  # cold and warm memos
        expected = _coerced(value, zone)
        got: object
        try:
            got = read(value)
        except discovery.ReportDataError as exc:
            got = ("error", str(exc))
        assert got == expected, value
        try:
            fast = read.bulk(value)  # type: ignore[attr-defined]
        except Exception:
            continue
        assert fast == expected, value
    assert read.bulk(None) is None  # type: ignore[attr-defined]


NAIVE = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda d: d.replace(microsecond=0).isoformat()
    ),
    st.tuples(st.sampled_from(CHANGES), st.integers(-7200, 7200)).map(
        lambda pair: (pair[0] + timedelta(seconds=pair[1])).isoformat()
    ),
    st.sampled_from(
        [
            *["2024-02-29T00:00:00", "2024-02-29T23:59:59", "2000-02-29T12:00:00", "2024-03-10T00:00:00"],
            *["2024-11-03T01:30:00", "2011-12-30T12:00:00", "0001-01-01T00:00:00", "9999-12-31T23:59:59"],
        ]
    ),
)
#: Texts a column of naive stamps must not take whole: a leap day that is none, a newline inside a cell (two
#: stamps in one), a fraction, an offset, an empty cell.
NOT_NAIVE = st.sampled_from(
    [
        *["2023-02-29T00:00:00", "1900-02-29T12:00:00", "2024-01-31T08:00:00\n2024-01-31T08:00:00"],
        *["2024-01-31T08:00:00.000001", "2024-01-31T08:00:00+05:30", "2024-01-31T08:00:00\n", "", " "],
    ]
)


@settings(max_examples=2000, deadline=None)
@given(
    st.lists(st.one_of(NAIVE, NAIVE, NAIVE, STAMPS, NOT_NAIVE, st.none()), min_size=1, max_size=12),
    st.sampled_from(STAMP_ZONES),
    st.booleans(),
)
def test_a_stamp_column_is_its_cells_read_one_by_one(values: list[str | None], zone: t.Any, warm: bool) -> None:
    """The date-time reader's ``column`` (a whole column of naive stamps at once: one regex, the days' offsets) gives
    what ``coerce`` gives cell by cell, or raises; it does not raise for a column of naive stamps that all convert
    (clock-change days, leap days, midnights, any year, offsets in seconds). A block of the column (the kit's
    ``cells_block_builder``) is its rows typed one by one."""
    read = discovery.cell_coercer("date-time", "When", zone=zone)
    if warm:  # the day memo already holds some of the days
        for value in values[::2]:
            with contextlib.suppress(discovery.ReportDataError):
                read(value) if value else None
    expected = [None if value is None else _coerced(value, zone) for value in values]
    try:
        got = read.column(values)  # type: ignore[attr-defined]
    except Exception:
        naive = all(value is not None and discovery._NAIVE_STAMP.fullmatch(value) for value in values)
        assert not (naive and not any(isinstance(one, tuple) for one in expected)), "a naive column was refused"
    else:
        assert got == expected
        assert all(type(one) is str for one in got)
    build_block = discovery.block_builder({"When": "date-time"}, ["When"], zone=zone)
    cells = [[value or ""] for value in values]
    rows = [{"When": one} if not isinstance(one, tuple) else one for one in expected]
    assert_block_is_rows(build_block(cells), rows, ["When"])


def test_a_date_column_reads_empty_cells_from_its_memo() -> None:
    """A date or flag column's ``bulk`` is its memo, which holds None for an empty cell: a block with empty cells is
    mapped in C and gives the texts' values, new texts too; a refused text still raises."""
    for kind, text, value in (("boolean", " True", True), ("date", "02/29/2024", "2024-02-29")):
        read = discovery.cell_coercer(kind, "When")
        assert list(map(read.bulk, [None, text, None])) == [None, value, None]  # type: ignore[attr-defined]
        with pytest.raises(discovery.ReportDataError):
            read.bulk("13/45/2026")  # type: ignore[attr-defined]
    memo = read.bulk.__self__  # type: ignore[attr-defined]  # the date reader's TextMemo: None is looked up in C
    days = [(date(2000, 1, 1) + timedelta(days=n)).isoformat() for n in range(MEMO_SIZE + 1)]
    assert None in memo
    assert list(map(memo.__getitem__, days)) == days
    assert len(memo) < len(days)  # started afresh
    assert None in memo  # None kept


@pytest.mark.parametrize("zone", [UTC, ZoneInfo("America/Toronto"), timezone(timedelta(hours=-3, minutes=-30))])
def test_a_stamp_column_is_converted_without_coerce(zone: t.Any) -> None:
    """A column of naive stamps on days without a clock change is converted by ``column`` alone (``coerce`` is not
    called for any cell), giving what ``coerce`` gives."""
    values = ["2024-02-29T00:00:00", "2024-07-01T23:59:59", "1999-12-31T12:00:00", "2024-07-01T08:30:00"]
    expected = [_coerced(value, zone) for value in values]
    read = discovery.cell_coercer("date-time", "When", zone=zone)
    with mock.patch.object(discovery, "coerce", side_effect=AssertionError("coerce called")):
        assert read.column(values) == expected  # type: ignore[attr-defined]
