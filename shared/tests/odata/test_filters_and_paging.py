"""$filter literals and page reading: the pieces every OData tap relies on to not lose or invent rows."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests

from xlr8_kit.http.errors import AnswerShapeError
from xlr8_kit.odata import (
    FilterError,
    ODataNextLinkPaginator,
    ODataResponseError,
    all_of,
    compare,
    literal,
    next_link,
    page_rows,
    parse_edm_time,
    parse_odata_datetime,
)


def _response(body: object, url: str = "https://api.example/odata/v2/EmpJob?$top=2") -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response.url = url
    response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response.headers["Content-Type"] = "application/json"
    return response


def test_literals() -> None:
    assert literal("O'Brien") == "'O''Brien'"
    assert literal("a''b") == "'a''''b'"
    moment = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)
    assert literal(moment) == "datetimeoffset'2026-01-05T09:00:00Z'"
    assert literal(moment.astimezone(timezone(timedelta(hours=2)))) == "datetimeoffset'2026-01-05T09:00:00Z'"
    assert literal(moment.replace(microsecond=250000)) == "datetimeoffset'2026-01-05T09:00:00.250Z'"
    assert literal(moment, "Edm.DateTime") == "datetime'2026-01-05T09:00:00'"
    assert literal(date(2026, 1, 5)) == "datetime'2026-01-05T00:00:00'"
    assert literal("2026-01-05T09:00:00Z", "Edm.DateTimeOffset") == "datetimeoffset'2026-01-05T09:00:00Z'"
    assert literal(7, "Edm.Int64") == "7L"
    assert literal(7) == "7"
    assert literal(Decimal("1.50")) == "1.50M"
    assert literal(True) == "true"
    assert literal(None) == "null"


def test_filter_composition_and_rejections() -> None:
    since = compare("lastModifiedDateTime", "ge", datetime(2026, 1, 1, tzinfo=UTC))
    either = compare("company", "eq", "C100") | compare("company", "eq", "C'200")
    assert str(all_of(since, None, either)) == (
        "lastModifiedDateTime ge datetimeoffset'2026-01-01T00:00:00Z' and (company eq 'C100' or company eq 'C''200')"
    )
    assert all_of(None) is None
    with pytest.raises(FilterError, match="invalid field name"):
        compare("x eq 1 or y", "eq", 1)
    with pytest.raises(FilterError, match="operator"):
        compare("x", "like", 1)
    with pytest.raises(FilterError, match="ISO 8601"):
        literal("yesterday", "Edm.DateTimeOffset")


def test_dates_and_times() -> None:
    assert parse_odata_datetime("/Date(1700000000000)/") == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert parse_odata_datetime("/Date(1700000000000+0000)/") == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert parse_odata_datetime("/Date(-86400000)/") == datetime(1969, 12, 31, tzinfo=UTC)
    assert parse_edm_time("PT09H30M05S") == "09:30:05"
    assert parse_edm_time("PT0H0M0.5S") == "00:00:00.5"
    with pytest.raises(ValueError, match=r"Edm\.Time"):
        parse_edm_time("09:30")


def test_page_rows_and_next_links() -> None:
    v2 = _response({"d": {"results": [{"a": 1}], "__next": "EmpJob?$skiptoken=abc"}})
    assert page_rows(v2) == [{"a": 1}]
    assert next_link(v2) == "https://api.example/odata/v2/EmpJob?$skiptoken=abc"
    last = _response({"d": {"results": []}})
    assert page_rows(last) == []
    assert next_link(last) is None
    v4 = _response({"value": [{"b": 2}], "@odata.nextLink": "https://api.example/x?$skip=2"})
    assert page_rows(v4) == [{"b": 2}]
    assert next_link(v4) == "https://api.example/x?$skip=2"
    assert page_rows(_response({"d": [{"c": 3}]})) == [{"c": 3}]


def test_a8_error_bodies_never_read_as_zero_rows() -> None:
    error = {"error": {"code": "COE_GENERAL_SERVER_FAILURE", "message": {"lang": "en-US", "value": "boom"}}}
    with pytest.raises(ODataResponseError, match="COE_GENERAL_SERVER_FAILURE: boom"):
        page_rows(_response(error))
    with pytest.raises(ODataResponseError, match="not OData JSON"):
        page_rows(_response(b"<html>login</html>"))
    with pytest.raises(AnswerShapeError, match=r"'results' is a string"):
        page_rows(_response({"d": {"results": "nope"}}))
    # s4aud29: a v2 answer with no ``results`` was one row of nulls; v4 without ``value`` says the key
    with pytest.raises(AnswerShapeError, match=r"the answer has no 'results'"):
        page_rows(_response({"d": {}}))
    with pytest.raises(AnswerShapeError, match=r"the answer has no 'value'"):
        page_rows(_response({"@odata.context": "$metadata#X"}))
    assert page_rows(_response({"d": {"__metadata": {"uri": "x"}, "a": 1}})) == [{"__metadata": {"uri": "x"}, "a": 1}]


def test_paginator_follows_next_to_the_end() -> None:
    paginator = ODataNextLinkPaginator()
    paginator.advance(_response({"d": {"results": [{}], "__next": "https://api.example/odata/v2/EmpJob?p=2"}}))
    assert paginator.current_value.geturl() == "https://api.example/odata/v2/EmpJob?p=2"
    assert not paginator.finished
    paginator.advance(_response({"d": {"results": [{}]}}))
    assert paginator.finished
