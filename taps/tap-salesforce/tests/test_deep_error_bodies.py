"""A 400/403 body nested deeper than Python's parser recurses: Salesforce's error-code reader treats it as no code
(review 16c F4), so classification and the error naming the request go on as for any unreadable body."""

from __future__ import annotations

import functools
import typing as t

import pytest
import requests

from xlr8_kit.redaction import Redactor
from xlr8_kit.testing.responses import canned_response, deep_json_response
from xlr8_tap_salesforce.client import SalesforceAPIError, SalesforceClient, error_code_of

deep = functools.partial(deep_json_response, url="https://example.my.salesforce.com/services/data/v60.0/query")


@pytest.mark.parametrize("status", [400, 403])
def test_salesforce_error_code_of_a_deep_body_is_none(status: int) -> None:
    assert error_code_of(deep(status)) is None


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"[1]", "[1]"),
        (b'["INVALID_FIELD"]', "['INVALID_FIELD']"),
        (b"[null]", "[None]"),
        (b'[{"message": "No such column", "errorCode": "INVALID_FIELD"}]', "No such column"),
    ],
)
def test_salesforce_error_list_whose_first_item_is_not_an_object_names_the_request(body: bytes, detail: str) -> None:
    """An error list of bare values (a proxy's or a broken org's answer) is an API error naming the request and what
    the body said, not an ``AttributeError`` from reading ``.get`` off a number."""
    sf_client = SalesforceClient(requests.Session(), t.cast("t.Any", None), api_version="60.0", redactor=Redactor())
    response = canned_response(body, 400, url="https://example.my.salesforce.com/services/data/v60.0/query")
    with pytest.raises(SalesforceAPIError) as raised:
        sf_client._raise_error("GET", response)
    assert "salesforce GET /services/data/v60.0/query: HTTP 400" in str(raised.value)
    assert detail in str(raised.value)
