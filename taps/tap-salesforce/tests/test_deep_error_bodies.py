"""A 400/403 body nested deeper than Python's parser recurses: Salesforce's error-code reader treats it as no code
(review 16c F4), so classification and the error naming the request go on as for any unreadable body."""

from __future__ import annotations

import pytest
import requests

from xlr8_tap_salesforce.client import error_code_of

DEEP = b"[" * 100_000 + b"]" * 100_000


def deep(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = DEEP
    response.headers["Content-Type"] = "application/json"
    response.url = "https://example.my.salesforce.com/services/data/v60.0/query"
    return response


@pytest.mark.parametrize("status", [400, 403])
def test_salesforce_error_code_of_a_deep_body_is_none(status: int) -> None:
    assert error_code_of(deep(status)) is None
