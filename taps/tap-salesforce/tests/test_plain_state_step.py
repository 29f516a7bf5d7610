"""The plain loop's state step (``SalesforceStream._plain_state_step``) leaves the state the per-record
``_increment_stream_state`` leaves, record by record: bookmark, boundary Ids, their cap, the unsorted-data error."""

from __future__ import annotations

import typing as t
from types import SimpleNamespace

import pytest
from singer_sdk.exceptions import InvalidStreamSortException

from xlr8_tap_salesforce import client
from xlr8_tap_salesforce.client import SalesforceStream


def _fake(state: dict[str, t.Any]) -> t.Any:
    fake = SimpleNamespace(
        replication_key="SystemModstamp",
        _sorted_string_bookmarks=True,
        get_context_state=lambda context: state,
        _advance_sorted_bookmark=SalesforceStream._advance_sorted_bookmark,
        _track_boundary=SalesforceStream._track_boundary,
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
