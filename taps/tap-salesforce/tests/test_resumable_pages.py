"""``SalesforceStream._read_resumable`` passes records up in pages: it skips and resumes exactly as the earlier
record-by-record reader did (the reference below), duplicates, nulls, unsorted pages and expired cursors included."""

from __future__ import annotations

import logging
import typing as t
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from xlr8_tap_salesforce.client import SalesforceAPIError, SalesforceStream, parse_sf_datetime

STAMPS = [None, *(f"2024-01-01T00:00:0{n}.000Z" for n in range(4))]
records = st.builds(
    lambda value, n: {"Id": f"001{n}", "SystemModstamp": value}, st.sampled_from(STAMPS), st.integers(0, 4)
)
pages = st.lists(st.lists(records, max_size=5), max_size=5)


def _reference(
    windows: list[list[list[dict[str, t.Any]]]], start: str | None, boundary: set[str]
) -> tuple[list[str | None], list[tuple[str | None, str]]]:
    """The record-by-record reader: the lower bounds asked for, and the records given (value, Id)."""
    last_value, last_ids = start, set(boundary)
    lowers, given_out = [], []
    for window in windows:
        lowers.append(last_value)
        for page in window:
            for record in page:
                value = record.get("SystemModstamp")
                if value is not None and value == last_value and record["Id"] in last_ids:
                    continue
                if value != last_value:
                    last_value, last_ids = value, set()
                last_ids.add(record["Id"])
                given_out.append((value, record["Id"]))
    return lowers, given_out


@settings(max_examples=400, deadline=None)
@given(st.lists(pages, min_size=1, max_size=3), st.sampled_from(STAMPS), st.sets(st.sampled_from(["0010", "0011"])))
def test_pages_skip_and_resume_as_the_record_reader_did(
    windows: list[list[list[dict[str, t.Any]]]], start: str | None, boundary: set[str]
) -> None:
    """Each window but the last ends in an expired cursor: the query is re-issued from the last record given."""
    lowers: list[str | None] = []
    calls = iter(range(len(windows)))

    def read_window(lower: t.Any, upper: t.Any) -> t.Iterator[list[dict[str, t.Any]]]:
        number = next(calls)
        lowers.append(lower)
        for page in windows[number]:
            yield [dict(record) for record in page]
        if number < len(windows) - 1:
            raise SalesforceAPIError("expired", error_code="INVALID_QUERY_LOCATOR")

    stream = SimpleNamespace(
        replication_key="SystemModstamp",
        _read_window=read_window,
        logger=logging.getLogger("t"),
        name="Account",
        _api_choice="rest",
    )
    found = [
        (record.get("SystemModstamp"), record["Id"])
        for page in SalesforceStream._read_resumable(t.cast("t.Any", stream), start, boundary)
        for record in page
    ]
    expected_lowers, expected = _reference(windows, start, boundary)
    assert found == expected
    assert lowers == [parse_sf_datetime(v) if v else None for v in expected_lowers]
