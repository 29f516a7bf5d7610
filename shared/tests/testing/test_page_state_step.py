"""The kit's page state step (``KitRESTStream._plain_state_page_step``, built by ``_IncrementPlan.page_step``) leaves
the state exactly as the record step (``_IncrementPlan.record_step``) leaves it after each of the page's records in
turn, and takes a page only where the record step would never call the SDK's own increment."""

from __future__ import annotations

import copy
import typing as t

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from singer_sdk.helpers._state import PROGRESS_MARKERS

from xlr8_kit.rest import _IncrementPlan

KEY = "updated"
STAMPS = [f"2026-01-0{day}T00:00:00Z" for day in range(1, 6)]


class _General(Exception):
    """The record step handed a record to the SDK's own increment."""


def _general(record: dict[str, t.Any]) -> None:
    raise _General(record)


key_values = st.one_of(st.sampled_from(STAMPS), st.none(), st.integers(0, 3))
records = st.one_of(
    st.fixed_dictionaries({"id": st.integers(0, 9), KEY: key_values}),
    st.fixed_dictionaries({"id": st.integers(0, 9)}),  # no replication key: the record step raises KeyError
    st.just({}),  # the record step skips an empty record
)
pages = st.one_of(
    st.lists(records, max_size=6),
    # in order and all strings, the page the step is for
    st.lists(st.sampled_from(STAMPS), max_size=6).map(lambda v: [{"id": i, KEY: s} for i, s in enumerate(sorted(v))]),
)
bookmarks = st.one_of(st.none(), st.sampled_from(STAMPS), st.integers(0, 3))


def _state(is_sorted: bool, markers: bool, bookmark: t.Any, other_key: bool) -> dict[str, t.Any]:
    progress: dict[str, t.Any] = {}
    if bookmark is not None:
        progress = {"replication_key": "other" if other_key else KEY, "replication_key_value": bookmark}
    if is_sorted:
        return progress
    return {PROGRESS_MARKERS: progress} if markers else {}


def _by_record(plan: _IncrementPlan, page: list[dict[str, t.Any]]) -> None:
    step = plan.record_step(_general)
    for record in page:
        step(record)


@settings(max_examples=1500, deadline=None)
@given(
    page=pages,
    is_sorted=st.booleans(),
    check_sorted=st.booleans(),
    markers=st.booleans(),
    bookmark=bookmarks,
    other_key=st.booleans(),
)
def test_a_page_the_step_takes_ends_in_the_state_the_record_step_leaves(
    page: list[dict[str, t.Any]], is_sorted: bool, check_sorted: bool, markers: bool, bookmark: t.Any, other_key: bool
) -> None:
    state = _state(is_sorted, markers, bookmark, other_key)
    paged = _IncrementPlan(state=copy.deepcopy(state), key=KEY, is_sorted=is_sorted, check_sorted=check_sorted)
    by_record = _IncrementPlan(state=copy.deepcopy(state), key=KEY, is_sorted=is_sorted, check_sorted=check_sorted)
    apply = paged.page_step(page)
    if apply is None:
        assert paged.state == state  # declined: untouched, the loop goes record by record
        return
    _by_record(by_record, page)  # never the SDK's increment (it would raise _General), never a KeyError
    apply()
    assert paged.state == by_record.state
    assert [list(d) for d in _dicts(paged.state)] == [list(d) for d in _dicts(by_record.state)]  # key order too


def _dicts(state: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    return [state, *(v for v in state.values() if isinstance(v, dict))]


@pytest.mark.parametrize(
    ("is_sorted", "check_sorted", "bookmark", "values", "expected"),
    [
        (True, True, None, STAMPS[:3], STAMPS[2]),
        (True, True, STAMPS[0], [STAMPS[0], STAMPS[0], STAMPS[4]], STAMPS[4]),
        (True, False, STAMPS[4], [STAMPS[2], STAMPS[1]], STAMPS[1]),
        (False, True, STAMPS[2], [STAMPS[4], STAMPS[0], STAMPS[1]], STAMPS[4]),
        (False, True, STAMPS[3], [STAMPS[0], STAMPS[1]], STAMPS[3]),  # every value below the marker: unchanged
        (False, False, STAMPS[3], [STAMPS[4], STAMPS[0]], STAMPS[0]),
    ],
)
def test_the_step_takes_the_pages_it_is_for(
    is_sorted: bool, check_sorted: bool, bookmark: str | None, values: list[str], expected: str
) -> None:
    """Not a step that declines everything: string values the record step takes as strings are taken at once."""
    state = _state(is_sorted, True, bookmark, False)
    plan = _IncrementPlan(state=state, key=KEY, is_sorted=is_sorted, check_sorted=check_sorted)
    apply = plan.page_step([{KEY: value} for value in values])
    assert apply is not None
    apply()
    progress = state if is_sorted else state[PROGRESS_MARKERS]
    assert progress["replication_key_value"] == expected


@pytest.mark.parametrize(
    ("is_sorted", "markers", "page"),
    [
        (True, True, [{KEY: STAMPS[1]}, {KEY: STAMPS[0]}]),  # out of order: the SDK raises at the second record
        (True, True, [{KEY: STAMPS[1]}, {KEY: None}]),  # a null: the SDK's increment
        (True, True, [{KEY: STAMPS[1]}, {}]),  # an empty record
        (True, True, [{"id": 1}]),  # no key: KeyError at that record
        (False, False, [{KEY: STAMPS[1]}]),  # the first unsorted record: the SDK makes the progress markers
    ],
)
def test_the_step_declines_what_only_the_record_step_can_do(
    is_sorted: bool, markers: bool, page: list[dict[str, t.Any]]
) -> None:
    plan = _IncrementPlan(
        state=_state(is_sorted, markers, None, False), key=KEY, is_sorted=is_sorted, check_sorted=True
    )
    assert plan.page_step(page) is None
