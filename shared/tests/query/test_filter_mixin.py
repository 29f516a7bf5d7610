"""``UniversalFilterMixin``: the one place a tap stream turns its ``filters`` setting into a request part and a
per-record check (the SAP, UKG WFM, UKG Pro, UKG Ready, Common and Oracle streams all read it from here)."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from xlr8_kit.query.stream import UniversalFilterMixin
from xlr8_kit.vocabulary import UnknownFieldError


class Stream(UniversalFilterMixin):
    def __init__(self, filters: str | None, name: str = "persons") -> None:
        self.name = name
        self.config = {"filters": filters} if filters is not None else {}
        self.logger = logging.getLogger("test.filter_mixin")
        self._tap = SimpleNamespace(product_id="ukg_wfm")


class WarningStream(Stream):
    skip_filter_on_unknown_field = True


ACTIVE: dict[str, Any] = {"personNumber": "1", "employmentStatus": "Active", "firstName": "Ann"}
LEFT: dict[str, Any] = {"personNumber": "2", "employmentStatus": "Terminated", "firstName": "Al"}


def test_post_process_keeps_only_matching_records() -> None:
    stream = Stream("employment_status = active and first_name contains 'A'")
    assert stream.post_process(dict(ACTIVE)) == ACTIVE
    assert stream.post_process(dict(LEFT)) is None
    assert not stream.filter_matches_nothing


def test_no_filter_keeps_everything() -> None:
    for stream in (Stream(None), Stream("   "), Stream("hire_date >= 2020-01-01", name="not_in_vocabulary")):
        assert stream.universal_filter is None
        assert stream.post_process(dict(LEFT)) == LEFT
        assert stream.universal_params() == {}
        assert not stream.filter_matches_nothing


def test_post_process_is_the_identity_exactly_when_no_filter_applies() -> None:
    """The kit's plain loop skips ``post_process`` when this says so: it must hold only where ``post_process``
    returns every record as it is."""
    for stream in (Stream(None), Stream("   "), Stream("hire_date >= 2020-01-01", name="not_in_vocabulary")):
        assert stream.post_process_is_identity
    assert not Stream("employment_status = active").post_process_is_identity
    assert not Stream("employment_status in ()").post_process_is_identity

    class Overriding(Stream):
        def post_process(self, row: dict[str, Any], context: Any = None) -> dict[str, Any] | None:
            return None

    assert not Overriding(None).post_process_is_identity


def test_empty_in_list_matches_nothing() -> None:
    stream = Stream("employment_status in ()")
    assert stream.filter_matches_nothing
    assert stream.post_process(dict(ACTIVE)) is None


def test_unknown_field_stops_the_stream_by_default() -> None:
    with pytest.raises(UnknownFieldError, match="'bogus'"):
        _ = Stream("employee where bogus = 1").universal_filter


def test_unknown_field_warns_and_leaves_the_stream_unfiltered_when_asked(caplog: pytest.LogCaptureFixture) -> None:
    stream = WarningStream("employee where bogus = 1")
    with caplog.at_level(logging.WARNING, logger="test.filter_mixin"):
        assert stream.universal_filter is None
    assert stream.post_process(dict(LEFT)) == LEFT
    assert "setting 'filters' not applied to persons" in caplog.text
    assert "'bogus'" in caplog.text


def test_dialect_hook_reaches_the_translation() -> None:
    class Dialected(Stream):
        def universal_dialect(self) -> str | None:
            return "oracle_rest_v1"

    stream = Dialected("employment_status = active")
    assert stream.universal_filter is not None
    assert stream.universal_filter.dialect == "oracle_rest_v1"
