"""The plain loop's state step (``SalesforceStream._plain_state_step``) leaves the state the per-record
``_increment_stream_state`` leaves, record by record: bookmark, boundary Ids, their cap, the unsorted-data error.
Its page step (``_plain_state_page_step``) leaves the state of the record step after each of the page's records, or
declines (None) without touching the state; the record step then decides (and raises where it raises)."""

from __future__ import annotations

import copy
import typing as t
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from singer_sdk.exceptions import InvalidStreamSortException

from xlr8_tap_salesforce import client
from xlr8_tap_salesforce.client import BOUNDARY_KEY, SalesforceStream


def _fake(state: dict[str, t.Any]) -> t.Any:
    fake = SimpleNamespace(
        replication_key="SystemModstamp",
        _sorted_string_bookmarks=True,
        get_context_state=lambda context: state,
        _advance_sorted_bookmark=SalesforceStream._advance_sorted_bookmark,
        _track_boundary=SalesforceStream._track_boundary,
        _rereading=False,
        _bulk_open=False,
    )
    fake._increment_stream_state = lambda record, context=None: SalesforceStream._increment_stream_state(
        fake, record, context=context
    )
    return fake


def _records() -> list[dict[str, str]]:
    stamps = ["2024-01-01T00:00:00.000Z"] * 2 + ["2024-01-02T00:00:00.000Z"] * 6 + ["2024-01-03T00:00:00.000Z"]
    records = [{"Id": f"001{n:03d}", "SystemModstamp": stamp} for n, stamp in enumerate(stamps)]
    return [*records, {"Id": "001999", "SystemModstamp": "2023-12-31T00:00:00.000Z"}]  # out of order: the error


@pytest.mark.parametrize("start", [{}, {"replication_key_value": "2024-01-01T00:00:00.000Z"}])
def test_the_step_and_the_per_record_increment_leave_the_same_state(start: dict, monkeypatch: t.Any) -> None:
    monkeypatch.setattr(client, "MAX_BOUNDARY_IDS", 4)  # the cap is reached at the third timestamp
    by_step: dict[str, t.Any] = dict(start)
    by_increment: dict[str, t.Any] = dict(start)
    step = SalesforceStream._plain_state_step(_fake(by_step))
    reference = _fake(by_increment)
    for record in _records()[:-1]:
        step(record)
        reference._increment_stream_state(record, context=None)
        assert by_step == by_increment
    assert by_step[client.BOUNDARY_KEY] == {"value": "2024-01-03T00:00:00.000Z", "ids": ["001008"]}
    with pytest.raises(InvalidStreamSortException):
        step(_records()[-1])
    with pytest.raises(InvalidStreamSortException):
        reference._increment_stream_state(_records()[-1], context=None)
    assert by_step == by_increment


STAMPS = ["2024-01-01T00:00:00.000Z", "2024-01-02T00:00:00.000Z", "2024-01-03T00:00:00.000Z"]
CAP = 4


records = st.builds(
    lambda stamp, n: {"Id": f"001{n:03d}", "SystemModstamp": stamp},
    st.one_of(st.sampled_from(STAMPS[:2]), st.sampled_from(STAMPS[:2]), st.sampled_from(STAMPS), st.none(), st.just(1)),
    st.integers(0, 6),
)
starts = st.fixed_dictionaries(
    {},
    optional={
        "replication_key_value": st.sampled_from([*STAMPS, 5]),
        BOUNDARY_KEY: st.one_of(
            st.builds(
                lambda value, ids: {"value": value, "ids": ids},
                st.sampled_from([*STAMPS, None]),
                st.lists(st.sampled_from(["001000", "001001", "001009"]), max_size=CAP),
            ),
            st.just({}),
        ),
    },
)


def _by_record(state: dict[str, t.Any], page: list[dict[str, t.Any]]) -> BaseException | None:
    step = SalesforceStream._plain_state_step(_fake(state))
    try:
        for record in page:
            step(record)
    except Exception as exc:
        return exc
    return None


@settings(max_examples=600, deadline=None)
@given(page=st.lists(records, max_size=10), start=starts, sort=st.booleans())
def test_the_page_step_leaves_the_state_of_each_record_step(
    page: list[dict[str, t.Any]], start: dict[str, t.Any], sort: bool
) -> None:
    client.MAX_BOUNDARY_IDS, saved = CAP, client.MAX_BOUNDARY_IDS  # small, so pages reach the cap
    try:
        if sort:
            page = sorted(page, key=lambda r: str(r["SystemModstamp"]))
        by_page = copy.deepcopy(start)
        by_record = copy.deepcopy(start)
        error = _by_record(by_record, copy.deepcopy(page))
        apply = SalesforceStream._plain_state_page_step(_fake(by_page))(page)
        if apply is None:
            assert by_page == start  # declined: untouched
            return
        assert error is None  # the page step never takes a page the record step refuses
        apply()
        assert by_page == by_record
    finally:
        client.MAX_BOUNDARY_IDS = saved


def test_the_page_step_takes_sorted_pages_and_extends_the_boundary() -> None:
    state: dict[str, t.Any] = {"replication_key_value": STAMPS[0], BOUNDARY_KEY: {"value": STAMPS[0], "ids": ["a"]}}
    plan = SalesforceStream._plain_state_page_step(_fake(state))
    apply = plan([{"Id": "b", "SystemModstamp": STAMPS[0]}, {"Id": "c", "SystemModstamp": STAMPS[0]}])
    assert apply is not None
    apply()
    assert state[BOUNDARY_KEY] == {"value": STAMPS[0], "ids": ["a", "b", "c"]}
    apply = plan([{"Id": "d", "SystemModstamp": STAMPS[0]}, {"Id": "e", "SystemModstamp": STAMPS[1]}])
    assert apply is not None
    apply()
    assert state == {
        "replication_key_value": STAMPS[1],
        "replication_key": "SystemModstamp",
        BOUNDARY_KEY: {"value": STAMPS[1], "ids": ["e"]},
    }
    assert plan([{"Id": "f", "SystemModstamp": STAMPS[0]}]) is None  # below the bookmark: the record step raises
