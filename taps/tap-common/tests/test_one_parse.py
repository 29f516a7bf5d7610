"""A page's body is parsed once (``client.parsed_body``): the classifier's parse is what the rows and the next cursor
are read from. Before, each page was probed by the classifier, parsed for its rows, and parsed again by the SDK's
``JSONPathPaginator`` (``response.json()``, simplejson: ~2.6 µs a record of a ~25 µs budget)."""

from __future__ import annotations

import json
import typing as t
from decimal import Decimal

import pytest
import requests

import xlr8_kit.http.classify as classify
import xlr8_tap_common.client as client
from xlr8_sandbox.products.common import CommonEmulator
from xlr8_tap_common.client import CommonClassifier, CursorPaginator

from .conftest import SCALE, common_config, run_tap


def test_each_page_is_parsed_once_and_every_order_lands(
    url: str, emulator: CommonEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[bytes] = []
    loads_exact, response_json = client.loads_exact, requests.Response.json
    json_parsed: list[str] = []

    def counting(content: bytes) -> t.Any:
        parsed.append(content)
        return loads_exact(content)

    def counting_json(response: requests.Response, **kwargs: t.Any) -> t.Any:
        json_parsed.append(response.url)
        return response_json(response, **kwargs)

    monkeypatch.setattr(client, "loads_exact", counting)
    monkeypatch.setattr(requests.Response, "json", counting_json)
    out = run_tap(common_config(url, page_size=7), streams={"purchase_orders"})
    orders = out.records("purchase_orders")
    assert sorted(r["po_number"] for r in orders) == sorted(po.po_id for po in emulator.ctx.company.purchase_orders())
    assert len(orders) == SCALE // 2
    assert {type(r["quantity"]) for r in orders} == {Decimal}
    pages = [body for body in parsed if b'"next_cursor"' in body]
    assert len(pages) >= len(orders) // 7 + 1  # the orders' pages and the supplier look-up's
    assert len({id(body) for body in parsed}) == len(parsed)  # no body parsed twice
    assert [u for u in json_parsed if "/auth/" not in u] == []  # only the login's answer goes through requests
    assert out.state["bookmarks"]["purchase_orders"]["replication_key_value"] == max(r["updated_at"] for r in orders)


def page(body: object, content_type: str = "application/json") -> requests.Response:
    response = requests.Response()
    response._content = json.dumps(body).encode()
    response.status_code = 200
    response.headers["Content-Type"] = content_type
    return response


@pytest.mark.parametrize(
    ("body", "cursor"),
    [
        ({"data": [{"id": "1"}], "has_more": True, "next_cursor": "abc"}, "abc"),
        ({"data": [{"id": "1"}], "has_more": False, "next_cursor": None}, None),
        ({"data": [{"id": "1"}], "has_more": False}, None),
        ({"data": [], "next_cursor": 1.50}, 1.5),  # not a text: the SDK's JSONPath on its own parse (a float)
        ({"data": [], "next_cursor": {"after": "x"}}, {"after": "x"}),
    ],
)
def test_the_cursor_is_what_the_sdk_paginator_reads(body: dict[str, t.Any], cursor: t.Any) -> None:
    classified = page(body)
    assert not CLASSIFIER.body_truncated(classified)
    assert classify.kept_body(classified) is not None  # kept by the classifier's first question
    for response in (classified, page(body)):  # kept, and parsed by the paginator itself
        got = CursorPaginator("$.next_cursor").get_next(response)
        assert got == cursor
        assert type(got) is type(cursor)


CLASSIFIER = CommonClassifier()


def test_what_the_classifier_keeps_still_answers_its_questions() -> None:
    """A cut body is still retried, Common's error object inside a 200 still fatal, a body ``status`` of "error"
    still an error; and the rows read are the kept parse (Decimal fractions)."""
    cut = page({"data": [{"id": "1"}]})
    cut._content = cut.content[:-3]
    assert CLASSIFIER.classify(cut) == "retry"
    assert classify.kept_body(cut) is None
    error = page({"error_code": "INTERNAL_ERROR", "detail": "boom", "request_id": "r1"})
    assert CLASSIFIER.classify(error) == "fatal"
    assert "INTERNAL_ERROR" in str(CLASSIFIER.error_in_body(error))
    assert CLASSIFIER.classify(page({"status": "error", "data": []})) == "fatal"
    ok = page({"data": [{"id": "1", "quantity": 2.50}], "next_cursor": None})
    assert CLASSIFIER.classify(ok) == "ok"
    assert client.parsed_body(ok)["data"][0]["quantity"] == Decimal("2.5")
    assert type(client.parsed_body(ok)["data"][0]["quantity"]) is Decimal
    assert CLASSIFIER.classify(page({"status": "ok", "data": []})) == "ok"
    assert CLASSIFIER.classify(page({"detail": "x", "data": []})) == "ok"
    html = page({"data": []}, content_type="text/html")
    assert CLASSIFIER.classify(html) == "fatal"  # HTML instead of API data, as before
    assert classify.kept_body(html) is None  # only JSON bodies are kept


def test_a_page_of_rows_is_not_probed_again_for_error_members(monkeypatch: pytest.MonkeyPatch) -> None:
    """An ordinary page's verdict comes from the kept body; a body with a member the error check reads still goes
    through the base class's probe (and Common's error object inside a 200 stays fatal)."""
    probed: list[object] = []
    members = classify.json_members

    def counting(response: requests.Response, keys: t.Any) -> t.Any:
        probed.append(keys)
        return members(response, keys)

    monkeypatch.setattr(classify, "json_members", counting)
    assert CLASSIFIER.classify(page({"data": [{"id": "1"}], "has_more": False, "next_cursor": None})) == "ok"
    assert probed == []
    assert CLASSIFIER.classify(page({"error_code": "X", "detail": "d", "request_id": "r"})) == "fatal"
    assert CLASSIFIER.classify(page({"data": [], "status": "ok"})) == "ok"
    assert len(probed) == 2
