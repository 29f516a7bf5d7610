"""``json_or_not``: a vendor's body as its JSON value, or ``NOT_JSON`` for a body that is not JSON (HTML, empty, cut
short, nested deeper than the parser recurses), never an exception; through ``response.json()`` and through a
given parse of the content."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from xlr8_kit.http.classify import NOT_JSON, json_or_not, loads_plain
from xlr8_kit.testing.responses import DEEP_JSON, canned_response, deep_json_response

Parse = Callable[[bytes], Any] | None
PARSES: list[Parse] = [None, json.loads, loads_plain]

NOT_JSON_BODIES = {
    "html": (b"<!DOCTYPE html><html><body>Service Unavailable</body></html>", "text/html"),
    "empty": (b"", "application/json"),
    "truncated": (b'{"error": {"code": "X", "message": "cut he', "application/json"),
    "deep": (DEEP_JSON, "application/json"),
    "deep object": (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "application/json"),
}


@pytest.mark.parametrize("parse", PARSES)
@pytest.mark.parametrize("name", list(NOT_JSON_BODIES))
def test_a_body_that_is_not_json_is_not_json(name: str, parse: Parse) -> None:
    body, content_type = NOT_JSON_BODIES[name]
    assert json_or_not(canned_response(body, 400, content_type=content_type), parse) is NOT_JSON


@pytest.mark.parametrize("parse", PARSES)
def test_a_json_object_is_its_value(parse: Parse) -> None:
    response = canned_response(b'{"error": {"code": "E1", "message": "bad"}, "n": 1.5}', 400)
    assert json_or_not(response, parse) == {"error": {"code": "E1", "message": "bad"}, "n": 1.5}


@pytest.mark.parametrize("parse", PARSES)
def test_a_json_list_and_a_json_null_are_their_values(parse: Parse) -> None:
    body = b'[{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "Total Requests Limit exceeded."}]'
    value = json_or_not(canned_response(body, 403), parse)
    assert value == [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "Total Requests Limit exceeded."}]
    assert json_or_not(canned_response(b"null", 400), parse) is None


def test_a_given_parse_is_the_one_used() -> None:
    response = canned_response(b'{"amount": 1.10}', 400)
    exact = json_or_not(response, lambda content: json.loads(content, parse_float=Decimal))
    assert exact == {"amount": Decimal("1.10")}


def test_the_deep_answer_is_deeper_than_the_parsers_recurse() -> None:
    """The control: ``deep_json_response``'s body makes the plain parsers raise, not answer."""
    response = deep_json_response(400)
    with pytest.raises(RecursionError):
        response.json()
    with pytest.raises(RecursionError):
        json.loads(response.content)
