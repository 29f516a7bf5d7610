"""A 400/403 body nested deeper than Python's parser recurses: Salesforce's error-code reader treats it as no code
(review 16c F4), so classification and the error naming the request go on as for any unreadable body."""

from __future__ import annotations

import functools

import pytest

from xlr8_kit.testing.responses import deep_json_response
from xlr8_tap_salesforce.client import error_code_of

deep = functools.partial(deep_json_response, url="https://example.my.salesforce.com/services/data/v60.0/query")


@pytest.mark.parametrize("status", [400, 403])
def test_salesforce_error_code_of_a_deep_body_is_none(status: int) -> None:
    assert error_code_of(deep(status)) is None
