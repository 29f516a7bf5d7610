"""A REST page shaped whole as it is parsed (column by column) gives what ``shape`` gives each row: values, key
order, and, for a page it cannot shape, the rows are shaped one by one where the loop takes them, so an error is
raised at its own row. A page is marked conformed only when the SDK's conformance keeps each of its records."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import typing as t
from decimal import Decimal
from unittest import mock

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from singer_sdk.helpers._typing import conform_record_data_types

from xlr8_kit.rest import MarkedPage
from xlr8_kit.singer_io import loads_exact
from xlr8_kit.testing.page_loop import without_clock
from xlr8_tap_ukg_pro import client as ukg_client
from xlr8_tap_ukg_pro.streams import EmploymentDetailsStream
from xlr8_tap_ukg_pro.tap import TapUkgPro

from .conftest import ukg_config

NAMES = ["employeeID", "companyID", "originalHireDate", "lastHireDate", "dateOfTermination", "dateTimeChanged"]
VALUES = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(["", "2024-01-31T00:00:00", "2024-01-31", "2024-01-31T08:00:00.123", "2024-01-31T08:00:00"]),
    st.sampled_from(["2024-01-31T08:00:00Z", "2024-01-31T08:00:00.5+02:00", "\u0662024-01-31T08:00:00", "x" * 12]),
    st.integers(-2, 2),
    st.booleans(),
    st.just(Decimal("1.5")),
    st.just(Decimal("NaN")),
    st.just(1.5),
    st.lists(st.text(max_size=2), max_size=1),
    st.dictionaries(st.text(max_size=2), st.text(max_size=2), max_size=1),
)
ROW = st.dictionaries(st.sampled_from([*NAMES, "extra"]), VALUES)
USUAL_ROW = st.fixed_dictionaries(
    {name: st.one_of(st.none(), st.text(max_size=4), st.sampled_from(["2024-01-31T00:00:00", ""])) for name in NAMES}
)
PAGES = st.one_of(
    st.lists(USUAL_ROW, max_size=5),
    st.lists(st.one_of(ROW, USUAL_ROW), max_size=5),
    st.lists(st.one_of(ROW, st.integers(), st.none(), st.text(max_size=2)), max_size=4),
)


@pytest.fixture(scope="module")
def stream() -> t.Any:
    """The stream as configured (nothing is requested: the page steps are called directly)."""
    return TapUkgPro(config=ukg_config("http://127.0.0.1:9"), parse_env_config=False).streams["employment_details"]


def _outcome(shape: t.Callable[[t.Any], t.Any], row: t.Any) -> object:
    try:
        return ("ok", repr(shape(row)))
    except Exception as exc:  # the error is part of the contract
        return ("error", type(exc).__name__, str(exc))


def _response(rows: list[t.Any]) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = json.dumps(rows).encode()
    return response


@settings(max_examples=1500, deadline=None)
@given(PAGES, st.sampled_from([1, 2, 3, 512]))
def test_a_page_shaped_whole_is_each_row_shaped(stream: t.Any, rows: list[t.Any], shape_rows: int) -> None:
    with mock.patch.object(ukg_client, "SHAPE_ROWS", shape_rows):
        _check_page(stream, rows)


def _check_page(stream: t.Any, rows: list[t.Any]) -> None:
    assert stream._shapes_pages
    expected: list[object] = []
    for row in rows:
        expected.append(_outcome(stream.shape, dict(row) if type(row) is dict else row))
        if expected[-1][0] == "error":
            break
    page = stream._shaped_page([dict(row) if type(row) is dict else row for row in rows])
    if page is not None:
        assert [("ok", repr(record)) for record in page] == expected
        assert all(type(record) is dict for record in page)
        logger = logging.getLogger("x")
        for record in page if page.conformed else []:
            sdk = conform_record_data_types(
                stream.name, dict(record), stream.schema, stream.TYPE_CONFORMANCE_LEVEL, logger
            )
            assert repr(sdk) == repr(record)
        assert page.plain == page.conformed
    # what the loop gets from the parsed page, through post_process, is each row shaped, up to the first error
    body = json.dumps(rows, default=float).encode()
    try:
        decoded = loads_exact(body)
    except ValueError:  # NaN: not a body UKG sends
        return
    expected = []
    for row in decoded:
        expected.append(_outcome(stream.shape, row))
        if expected[-1][0] == "error":
            break
    response = requests.Response()
    response.status_code = 200
    response._content = body
    parsed = stream.parse_response(response)
    got: list[object] = []
    for row in parsed:
        got.append(_outcome(lambda r: stream.post_process(r, None), row))
        if got[-1][0] == "error":
            break
    assert got == expected


def test_usual_pages_are_shaped_and_vouched_and_odd_ones_are_not(stream: t.Any) -> None:
    usual = [{"employeeID": "E1", "originalHireDate": "2024-01-31T00:00:00", "dateTimeChanged": "2024-01-31T08:00:00"}]
    page = stream.parse_response(_response(usual))
    assert type(page) is MarkedPage
    assert page.conformed
    assert page.plain
    assert page[0]["originalHireDate"] == "2024-01-31"
    assert page[0]["dateTimeChanged"] == "2024-01-31T08:00:00+00:00"
    odd = stream.parse_response(_response([*usual, 7]))
    assert type(odd) is list
    assert type(odd[0]) is ukg_client._Unshaped
    assert stream.post_process(odd[0], None) == page[0]
    with pytest.raises(AttributeError):
        stream.post_process(odd[1], None)
    nan = stream._shaped_page([{**usual[0], "companyID": Decimal("NaN")}])
    assert nan is not None
    assert not nan.conformed  # the SDK makes it null


@pytest.mark.parametrize(
    "extra",
    [
        {"employee_status_codes": ["A"]},
        {"terminated_since": "2019-01-01"},
        {"filters": "employee where employment_status = 'leave'"},
    ],
)
def test_a_stream_that_filters_rows_shapes_them_one_by_one(extra: dict[str, t.Any]) -> None:
    """A filter drops rows: a page must keep its length for the empty-page rule, so rows are shaped one by one."""
    stream = TapUkgPro(config=ukg_config("http://127.0.0.1:9", **extra), parse_env_config=False).streams[
        "employment_details"
    ]
    assert not stream._shapes_pages
    rows = [{"employeeID": "E1", "employeeStatusCode": "T", "dateOfTermination": "2001-01-01T00:00:00"}]
    page = stream.parse_response(_response(rows))
    assert type(page) is list
    assert type(page[0]) is dict
    assert stream.post_process(page[0], None) is None


def test_a_filter_set_after_pages_were_shaped_is_honoured() -> None:
    """The connector API sets ``universal_filter`` for one read and clears it after: a stream that shaped pages
    whole before must shape (and filter) row by row while the filter is set, and shape whole again after."""
    stream = TapUkgPro(config=ukg_config("http://127.0.0.1:9"), parse_env_config=False).streams["employment_details"]
    assert stream._shapes_pages
    filtered = TapUkgPro(
        config=ukg_config("http://127.0.0.1:9", filters="employee where employment_status = 'leave'"),
        parse_env_config=False,
    ).streams["employment_details"]
    stream.__dict__["universal_filter"] = filtered.universal_filter  # as ``TapConnector.read`` sets it
    rows = [{"employeeID": "E1", "employeeStatusCode": "T", "dateOfTermination": "2001-01-01T00:00:00"}]
    page = stream.parse_response(_response(rows))
    assert type(page[0]) is dict
    assert stream.post_process(page[0], None) is None  # the filter drops the terminated row
    stream.__dict__["universal_filter"] = None  # as ``TapConnector.read`` leaves it
    assert stream._shapes_pages


def _sync(url: str, monkeypatch: pytest.MonkeyPatch, *, sdk_loop: bool, **extra: t.Any) -> tuple[t.Any, list[int]]:
    """employment_details in-process, 10 rows a page; the sizes of the pages the writer took whole."""
    from xlr8_kit.testing.page_loop import count_whole_pages

    from .conftest import run_tap

    whole = count_whole_pages(monkeypatch, sdk_loop=sdk_loop)
    config = ukg_config(url, per_page=10, **extra)
    return run_tap(config, streams={"employment_details"}), whole


def test_the_plain_loop_writes_shaped_pages_whole(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages shaped whole reach the writer whole (not record by record), with the SDK loop's messages."""
    by_page, whole = _sync(url, monkeypatch, sdk_loop=False)
    by_sdk, none = _sync(url, monkeypatch, sdk_loop=True)
    records = by_page.records("employment_details")
    assert len(records) > 20
    assert none == []
    assert sum(whole) == len(records)
    assert max(whole) == 10
    assert without_clock(by_page) == without_clock(by_sdk)
    assert records[0]["originalHireDate"] is None or len(records[0]["originalHireDate"]) == 10


def test_a_page_with_an_odd_row_is_shaped_row_by_row_in_the_plain_loop(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page the stream cannot shape whole (its sixth row is no object) goes row by row in the plain loop as in the
    SDK's: the first page, then the second page's first five rows shaped, then the row's error."""
    from xlr8_kit.testing.singer_cli import select_streams

    parse = ukg_client.UkgRestStream.parse_response

    def odd_second_page(self: t.Any, response: requests.Response) -> t.Any:
        if "page=2&" in response.url + "&":
            rows = loads_exact(response.content)
            rows.insert(5, 7)
            response._content = json.dumps(rows).encode()
        return parse(self, response)

    monkeypatch.setattr(ukg_client.UkgRestStream, "parse_response", odd_second_page)
    config = ukg_config(url, per_page=10)
    catalog = select_streams(TapUkgPro(config=config, parse_env_config=False).catalog_dict, {"employment_details"})
    outcomes = []
    for sdk_loop in (False, True):
        monkeypatch.setenv("XLR8_TAP_SDK_RECORD_LOOP", "1" if sdk_loop else "0")
        tap = TapUkgPro(config=config, catalog=catalog, parse_env_config=False)
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer), pytest.raises(AttributeError):
            tap.sync_all()
        outcomes.append([json.loads(line) for line in buffer.getvalue().splitlines()])
    records = [[m["record"] for m in messages if m["type"] == "RECORD"] for messages in outcomes]
    assert records[0] == records[1]
    assert len(records[0]) == 15
    assert all(list(r) == list(EmploymentDetailsStream.columns) for r in records[0])  # shaped: columns picked
    assert all(len(r["originalHireDate"] or "0123456789") == 10 for r in records[0])  # shaped: dates cut


# -- pages of text rows decoded straight into the declared columns (``UkgRestStream._text_page``) ----------------

TEXTS = st.one_of(
    st.none(),
    st.text(max_size=6),
    st.sampled_from(["", "2024-01-31T00:00:00", "2024-01-31", "2024-01-31T08:00:00.123", "2024-01-31T08:00:00"]),
    st.sampled_from(["2024-01-31T08:00:00Z", "2024-01-31T08:00:00.5+02:00", "2024-01-31T08:00:00\n", "caf\u00e9"]),
)
ANY_VALUE = st.one_of(st.integers(-2, 2), st.booleans(), st.lists(st.integers(), max_size=2), TEXTS)
#: Rows as UKG sends them: the declared columns (any may be missing) holding texts and nulls, among fields the
#: stream does not declare (any JSON), in any order.
TEXT_ROW = st.dictionaries(
    st.sampled_from([*EmploymentDetailsStream.columns, "extra", "another"]), TEXTS, max_size=8
).flatmap(lambda row: st.fixed_dictionaries({**{k: st.just(v) for k, v in row.items()}, "extra": ANY_VALUE}))


@settings(max_examples=800, deadline=None)
@given(st.lists(st.one_of(TEXT_ROW, USUAL_ROW), max_size=6))
def test_a_text_page_decoded_into_its_columns_is_the_page_shaped_whole(stream: t.Any, rows: list[t.Any]) -> None:
    """Decoded into the declared columns, a page of text rows gives what ``_shaped_page`` gives the parsed rows
    (and so what ``shape`` gives each row): values, key order, and the marks; ``parse_response`` takes that path."""
    body = json.dumps(rows).encode()
    fast = stream._text_page(body)
    assert fast is not None  # the path is taken for every page of such rows
    whole = stream._shaped_page(loads_exact(body))
    assert [list(record.items()) for record in fast] == [list(record.items()) for record in whole]
    assert [repr(record) for record in fast] == [repr(stream.shape(row)) for row in loads_exact(body)]
    assert (fast.plain, fast.conformed) == (whole.plain, whole.conformed)
    assert all(type(record) is dict for record in fast)
    parsed = stream.parse_response(_response(rows))
    assert type(parsed) is MarkedPage
    assert [list(record.items()) for record in parsed] == [list(record.items()) for record in fast]


def test_text_pages_are_decoded_into_columns_and_others_parsed_whole(stream: t.Any) -> None:
    """A usual page goes through the column decoder (``loads_exact`` is not called); a page holding a number under
    a declared column, a row that is no object, or an error object falls back to the parsed page, unchanged."""
    usual = [
        {"employeeID": "E1", "originalHireDate": "2024-01-31T00:00:00", "dateTimeChanged": "2024-01-31T08:00:00"},
        {"employeeID": "E2", "dateTimeChanged": "2024-01-31T08:00:00\n", "hidden": {"nested": [1, 2.5]}},
    ]
    with mock.patch.object(ukg_client, "loads_exact", side_effect=AssertionError("parsed whole")):
        page = stream.parse_response(_response(usual))
    assert type(page) is MarkedPage
    assert page.conformed
    assert page.plain
    assert list(page[1]) == list(EmploymentDetailsStream.columns)
    assert page[0]["originalHireDate"] == "2024-01-31"
    assert page[0]["dateTimeChanged"] == "2024-01-31T08:00:00+00:00"
    assert page[1]["dateTimeChanged"] == "2024-01-31T08:00:00\n+00:00"  # what ``shape``'s pattern makes of it
    assert "hidden" not in page[1]
    numbered = stream.parse_response(_response([{**usual[0], "companyID": 100}]))
    assert type(numbered) is MarkedPage
    assert numbered[0]["companyID"] == 100
    assert numbered == stream._shaped_page(loads_exact(_response([{**usual[0], "companyID": 100}]).content))
    assert stream._text_page(_response([7]).content) is None
    with pytest.raises(ukg_client.ClientRequestError, match="expected a JSON array"):
        stream.parse_response(_response({"message": "no"}))  # type: ignore[arg-type]


def test_a_bad_byte_in_a_field_the_decoder_skips_is_refused_as_the_whole_parse_refuses_it(stream: t.Any) -> None:
    """msgspec checks UTF-8 only in the strings it builds: a page not proven UTF-8 by the classifier is checked
    before the column decoder skips a field, so a bad byte anywhere fails the page as ``loads_exact`` does."""
    for body in (b'[{"employeeID":"E1","hidden":"\xff\xfe"}]', b'[{"employeeID":"E1","\xc0\x80":1}]'):
        response = requests.Response()
        response._content = body
        response.status_code = 200
        assert stream._text_page(body) is None
        with pytest.raises(UnicodeDecodeError):
            stream.parse_response(response)
    fine = '[{"employeeID":"E1 \u2019","hidden":"\u2019"}]'.encode()
    assert stream._text_page(fine)[0]["employeeID"] == "E1 \u2019"  # valid non-ASCII text still takes the decoder


def test_only_streams_of_text_columns_decode_pages_into_columns() -> None:
    """A stream with a number column would refuse every page: it parses them whole as before."""
    streams = TapUkgPro(config=ukg_config("http://127.0.0.1:9"), parse_env_config=False).streams
    assert streams["employment_details"]._text_rows is not None
    assert streams["person_details"]._text_rows is not None
    assert streams["compensation_details"]._text_rows is None
    assert streams["employee_job_history"]._text_rows is None


@pytest.mark.parametrize("size", [0, 2, 3, 4])
@pytest.mark.parametrize("row", [{"employeeID": "E1"}, {"employeeID": "E1", "companyID": 7}, 7])
def test_the_paginator_reads_the_count_parse_response_kept(stream: t.Any, size: int, row: t.Any) -> None:
    """A page parsed (text rows, other rows, odd rows) tells the paginator its count without a second scan of the
    body: as counting the body's array says. A first page that is not empty always asks for another (a short one
    may be the server's own cap, audit24b H2)."""
    paginator = ukg_client.PerPagePaginator(3)
    response = _response([row] * size)
    expected = paginator.has_more(response)  # not parsed yet: the body is scanned
    assert expected == (size > 0)
    stream.parse_response(response)
    with mock.patch.object(ukg_client, "json_array_length", side_effect=AssertionError("scanned again")):
        # a fresh paginator: this one would take the same body again as a repeated page (RepeatedPageError)
        assert ukg_client.PerPagePaginator(3).has_more(response) is expected
