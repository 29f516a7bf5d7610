"""``TimecardsStream.row_blocks`` (an answer's records built column by column, a block at a time) gives what
``rows`` gives, values, key order and errors alike, and leaves to ``rows`` every answer of another shape."""

from __future__ import annotations

import typing as t
from decimal import Decimal
from types import SimpleNamespace
from unittest import mock
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from xlr8_tap_ukg_wfm import streams
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
    stream._row = lambda person, total, utc: TimecardsStream._row(stream, person, total, utc)  # type: ignore[arg-type]
    stream._blocks = lambda people, totals, judge=None: TimecardsStream._blocks(stream, people, totals, judge)  # type: ignore[arg-type]
    return stream


def _outcome(records: t.Iterable[t.Any]) -> list[object]:
    out: list[object] = []
    try:
        out.extend(records)
    except Exception as exc:  # the error is part of the contract
        out.append(("error", type(exc).__name__, str(exc)))
    return out


def _from_blocks(blocks: t.Iterator[t.Any]) -> t.Iterator[t.Any]:
    for records, columns in blocks:
        assert 0 < len(records) <= BLOCK
        if columns is not None:
            assert list(columns) == list(TimecardsStream._KEYS)
            assert all(values == [record[name] for record in records] for name, values in columns.items())
        else:
            assert len(records) == 1  # a block a conversion failed for comes row by row
        yield from records


BLOCK = 3


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.lists(CARD, max_size=4), st.just({"not": "a list"})), st.sampled_from(["UTC", "Asia/Kolkata"]))
def test_row_blocks_are_rows(answer: t.Any, zone: str) -> None:
    expected = _outcome(TimecardsStream.rows(_stream(zone), answer))
    stream = _stream(zone)
    with mock.patch.object(streams, "BLOCK_ROWS", BLOCK):  # several blocks per answer
        blocks = TimecardsStream.row_blocks(stream, answer)
        if blocks is None:
            return  # read by ``rows`` itself
        got = _outcome(_from_blocks(blocks))
    if expected and isinstance(expected[-1], tuple):  # ``rows`` sends nothing of an answer that raises
        assert expected[:-1] == []
        assert repr(got[-1]) == repr(expected[-1])
        _assert_whole_days(answer, got[:-1])
        return
    assert repr(got) == repr(expected)
    assert all(list(record) == list(TimecardsStream._KEYS) for record in got if isinstance(record, dict))


def _assert_whole_days(answer: list[dict[str, t.Any]], sent: list[t.Any]) -> None:
    """review24e finding 1: the records sent before an error are the first totals' and hold only whole person-days
    (none of their days has a total among those not sent), which the target replaces a landed day with."""
    people = [streams.ref(card.get("employee")) for card in answer for _ in card.get("dailyTotals") or []]
    days = streams._dates([total.get("applyDate") for card in answer for total in card.get("dailyTotals") or []])
    rest = {repr(pair) for pair in zip(people[len(sent) :], days[len(sent) :], strict=True)}
    assert [(record["personNumber"], record["applyDate"]) for record in sent] == list(
        zip(people[: len(sent)], days[: len(sent)], strict=True)
    )
    assert not rest & {repr((record["personNumber"], record["applyDate"])) for record in sent}  # ids may be lists


def test_a_usual_answer_is_built_in_blocks() -> None:
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
    totals = [{**total, "payCode": {"qualifier": f"C{n}"}} for n in range(300)]  # 300 keys
    answer = [{"employee": {"qualifier": "P1"}, "dailyTotals": totals}, {"employee": {"qualifier": "P2"}}]
    stream = _stream("UTC")
    blocks = TimecardsStream.row_blocks(stream, answer)
    assert blocks is not None
    built = list(blocks)
    assert [len(records) for records, _columns in built] == [256, 44]
    assert all(columns is not None for _records, columns in built)
    records = [record for block, _columns in built for record in block]
    assert records == list(TimecardsStream.rows(stream, answer))
    assert records[0]["job"] == "Cashier"
    assert records[0]["hours"] == Decimal("8.0")


#: Totals shaped as UKG answers them (each field of its usual type), so whole columns take the column steps' C
#: forms; the odd value ("" times and paths, whole-number and non-finite amounts) still turns up among them.
TEXT_TIME = st.sampled_from(["2026-01-05T08:02:00", "2026-01-05T16:30:00+01:00", "2026-01-06T00:00:00", ""])
USUAL_TOTAL = st.fixed_dictionaries(
    {
        "applyDate": st.sampled_from(["2026-01-05", "2026-01-06T00:00:00", "2026-1-5"]),  # "" fails (wfm27 W2)
        "payCode": st.fixed_dictionaries({"qualifier": st.sampled_from(["REG", "OT", ""])}),
        "amountType": st.just("HOUR"),
        "amount": st.one_of(
            st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10), st.sampled_from([8.0, 0.1, 1e-7])
        ),
        "startDateTime": TEXT_TIME,
        "endDateTime": TEXT_TIME,
        "location": st.fixed_dictionaries({"qualifier": st.sampled_from(["TOR", "ATL"])}),
        "orgJob": st.fixed_dictionaries({"qualifier": st.sampled_from(["./Acme/CA/TOR/J007", "Cashier", "", "a/"])}),
        "approved": st.booleans(),
        "updatedOnDtm": TEXT_TIME,
    }
)


#: Cards of distinct people, each total of a card its own (day, pay code): no two share a key (those are summed
#: by ``rows``, ``test_totals_sharing_a_key_are_read_by_rows``).
USUAL_CARDS = st.lists(
    st.fixed_dictionaries(
        {
            "employee": st.fixed_dictionaries({"qualifier": st.sampled_from(["P1", "P2", "P3"])}),
            "dailyTotals": st.lists(USUAL_TOTAL, unique_by=lambda x: (x["applyDate"][:10], x["payCode"]["qualifier"])),
        }
    ),
    max_size=3,
    unique_by=lambda card: card["employee"]["qualifier"],
)


@settings(max_examples=300, deadline=None)
@given(
    USUAL_CARDS,
    st.sampled_from(["UTC", "America/New_York"]),
)
def test_usual_answers_in_blocks_are_rows(answer: t.Any, zone: str) -> None:
    expected = _outcome(TimecardsStream.rows(_stream(zone), answer))
    stream = _stream(zone)
    with mock.patch.object(streams, "BLOCK_ROWS", BLOCK):
        blocks = TimecardsStream.row_blocks(stream, answer)
        assert blocks is not None
        got = _outcome(_from_blocks(blocks))
    assert repr(got) == repr(expected)


@settings(max_examples=300, deadline=None)
@given(
    USUAL_CARDS,
    st.booleans(),
)
def test_written_hours_are_the_bytes_of_their_decimals(answer: t.Any, vouching: bool) -> None:
    """With a judge (records only written), an amount column is kept as the texts the writer writes for its
    Decimals only in a block the judge vouches for (its other columns): the same bytes in the same key order as
    ``rows`` gives, and the values then leave that column out; a block not vouched for is built as without."""
    import logging

    import msgspec
    from singer_sdk.helpers.conform import TypeConformanceLevel

    from xlr8_kit.conform import Conformer
    from xlr8_kit.singer_io import _ENCODER

    conformer = Conformer("timecards", TimecardsStream.schema, TypeConformanceLevel.RECURSIVE, logging.getLogger())
    judged: list[bool] = []

    def judge(columns: t.Mapping[str, t.Sequence[t.Any]]) -> bool:
        assert "hours" not in columns
        judged.append(conformer.keeps_columns(columns) and vouching)
        return judged[-1]

    expected = list(TimecardsStream.rows(_stream("UTC"), answer))
    with mock.patch.object(streams, "BLOCK_ROWS", BLOCK):
        plain = TimecardsStream.row_blocks(_stream("UTC"), answer)
        blocks = TimecardsStream.row_blocks(_stream("UTC"), answer, judge=judge)
        assert plain is not None
        assert blocks is not None
        built, reference = list(blocks), list(plain)
    assert len(built) == len(reference)
    got = [record for records, _columns in built for record in records]
    assert [list(record) for record in got] == [list(record) for record in expected]
    for (records, columns), (plain_records, plain_columns) in zip(built, reference, strict=True):
        written = any(type(record["hours"]) is msgspec.Raw for record in records)
        if not written:
            assert repr((records, columns)) == repr((plain_records, plain_columns))
            continue
        assert vouching  # only in a block the judge vouched for
        assert all(type(record["hours"]) is msgspec.Raw for record in records)
        assert _ENCODER.encode(records) == _ENCODER.encode(plain_records)
        assert plain_columns is not None
        assert columns == {name: values for name, values in plain_columns.items() if name != "hours"}
        assert conformer.keeps_columns(plain_columns)


def test_usual_hours_are_written_as_their_texts() -> None:
    """Not a check that can only say no: whole and fractional hours are kept as their texts when vouched for."""
    import msgspec

    total = {"applyDate": "2026-01-05", "amount": 8.0, "approved": True}
    answer = [
        {"employee": {"qualifier": "P1"}, "dailyTotals": [total, {**total, "amount": 7.75}, {**total, "amount": 2}]}
    ]
    blocks = TimecardsStream.row_blocks(_stream("UTC"), answer, judge=lambda _columns: True)
    assert blocks is not None
    records = [record for block, _columns in blocks for record in block]
    assert [record["hours"] for record in records] == [msgspec.Raw("8.0"), msgspec.Raw("7.75"), msgspec.Raw("2")]


def test_totals_sharing_a_key_are_read_by_rows() -> None:
    """A job transfer's two REG totals of one day are one record with the day's hours (the first job, on a tie
    of hours); the block builder leaves such an answer to ``rows``."""
    total = {"applyDate": "2026-01-05", "payCode": {"qualifier": "REG"}, "amount": 4.0, "approved": True}
    totals = [
        {**total, "orgJob": {"qualifier": "./A/J1"}, "startDateTime": "2026-01-05T08:00:00"},
        {**total, "orgJob": {"qualifier": "./A/J2"}, "endDateTime": "2026-01-05T16:00:00", "approved": False},
        {**total, "payCode": {"qualifier": "OT"}, "amount": 1.0, "orgJob": {"qualifier": "./A/J2"}},
    ]
    answer = [{"employee": {"qualifier": "P1"}, "dailyTotals": totals}]
    assert TimecardsStream.row_blocks(_stream("UTC"), answer) is None
    regular, overtime = TimecardsStream.rows(_stream("UTC"), answer)
    assert (regular["payCode"], regular["hours"], regular["job"]) == ("REG", Decimal("8.0"), "J1")
    assert (regular["startDateTime"], regular["endDateTime"]) == (
        "2026-01-05T08:00:00+00:00",
        "2026-01-05T16:00:00+00:00",
    )
    assert regular["approved"] is False
    assert (overtime["payCode"], overtime["hours"], overtime["job"]) == ("OT", Decimal("1.0"), "J2")


@settings(max_examples=300, deadline=None)
@given(st.lists(CARD, max_size=4), st.sampled_from(["UTC", "Asia/Kolkata"]))
def test_an_answer_that_raises_sends_no_record(answer: t.Any, zone: str) -> None:
    """review23h finding 2, review24e finding 1: ``rows`` sends nothing of an answer that raises: a record before the
    error could be a partial sum, or a day's pay codes without the one that raised (the target replaces the day)."""
    got = _outcome(TimecardsStream.rows(_stream(zone), answer))
    if got and isinstance(got[-1], tuple):
        assert len(got) == 1


def test_blocks_hold_a_day_spanning_blocks_until_its_last_total_is_read() -> None:
    """review24e finding 1: a person's day whose totals straddle a block boundary, the later one unreadable: no
    block holding the day's earlier total goes out; the blocks of days read whole before it do."""
    total = {"applyDate": "2026-01-05", "payCode": {"qualifier": "REG"}, "amount": 8.0, "amountType": "HOUR"}
    before = [{**total, "applyDate": f"2026-01-0{n}"} for n in (1, 2, 3)]  # a block of whole days
    totals = [*before, {**total, "applyDate": "2026-01-04"}, {**total, "applyDate": "2026-01-05"}]
    totals += [{**total, "applyDate": "2026-01-05", "payCode": {"qualifier": "OT"}, "amount": "2,5"}]
    answer = [{"employee": {"qualifier": "P1"}, "dailyTotals": totals}]
    with mock.patch.object(streams, "BLOCK_ROWS", BLOCK):
        blocks = TimecardsStream.row_blocks(_stream("UTC"), answer)
        assert blocks is not None
        got = _outcome(_from_blocks(blocks))
    assert [record["applyDate"] for record in got[:-1]] == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert got[-1][:2] == ("error", "ValueError")
    assert "person P1 on 2026-01-05, pay code OT, has an amount that is not a number ('2,5')" in got[-1][2]


def test_a_row_raising_after_half_a_transfer_day_sends_nothing_of_the_answer() -> None:
    total = {"applyDate": "2026-01-05", "payCode": {"qualifier": "REG"}, "amount": 4.0, "amountType": "HOUR"}
    totals = [
        {**total, "orgJob": {"qualifier": "./A/J1"}},
        {**total, "payCode": {"qualifier": "OT"}, "amount": "8,5"},
        {**total, "orgJob": {"qualifier": "./A/J2"}},
    ]
    answer = [{"employee": {"qualifier": "P1"}, "dailyTotals": totals}]
    assert [type(x).__name__ for x in _outcome(TimecardsStream.rows(_stream("UTC"), answer))] == ["tuple"]
    totals[1]["amount"] = 1.0
    regular, _ = TimecardsStream.rows(_stream("UTC"), answer)
    assert regular["hours"] == Decimal("8.0")


def test_totals_of_one_key_sum_only_within_one_amount_type() -> None:
    """review23h finding 3: hours and money of one key fail naming ``amountType``; a total without a type is
    summed with those of the one type there is."""
    total = {"applyDate": "2026-01-05", "payCode": {"qualifier": "BONUS"}, "amount": 8.0, "amountType": "HOUR"}
    answer = [{"employee": {"qualifier": "P1"}, "dailyTotals": [total, {**total, "amountType": "MONEY"}]}]
    [(_, kind, message)] = _outcome(TimecardsStream.rows(_stream("UTC"), answer))
    assert kind == "ValueError"
    assert "pay code BONUS have amountType HOUR, MONEY" in message
    answer[0]["dailyTotals"] = [{**total, "amountType": None}, total]
    [record] = TimecardsStream.rows(_stream("UTC"), answer)
    assert (record["amountType"], record["hours"]) == ("HOUR", Decimal("16.0"))
