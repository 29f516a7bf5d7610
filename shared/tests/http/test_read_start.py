"""``xlr8_kit.read_start``: an unsorted read's bookmark is held at the read's start (review audit24a H3)."""

from __future__ import annotations

from datetime import UTC, datetime

import requests

from xlr8_kit.read_start import cap_bookmark, server_time

START = datetime(2026, 1, 5, 8, 59, tzinfo=UTC)


def _response(date: str | None) -> requests.Response:
    response = requests.Response()
    if date is not None:
        response.headers["Date"] = date
    return response


def test_server_time_reads_the_date_header() -> None:
    assert server_time(_response("Mon, 05 Jan 2026 09:00:00 GMT")) == datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert server_time(_response(None)) is None
    assert server_time(_response("yesterday")) is None


def test_a_bookmark_past_the_start_is_lowered_to_it() -> None:
    state = {"progress_markers": {"replication_key": "k", "replication_key_value": "2026-01-05T09:15:01.250Z"}}
    assert cap_bookmark(state, START) == "2026-01-05T08:59:00Z"
    assert state["progress_markers"]["replication_key_value"] == "2026-01-05T08:59:00Z"


def test_a_bookmark_before_the_start_or_not_a_moment_is_kept() -> None:
    for value in ("2026-01-05T08:58:59Z", "2026-01-05T08:59:00+00:00", 42, None):
        state = {"progress_markers": {"replication_key": "k", "replication_key_value": value}}
        assert cap_bookmark(state, START) is None
        assert state["progress_markers"]["replication_key_value"] == value
    assert cap_bookmark({"replication_key_value": "2027-01-01T00:00:00Z"}, START) is None  # finalized: no marker
