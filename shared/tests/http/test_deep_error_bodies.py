"""A non-2xx body nested deeper than Python's parser recurses (``[`` x 100,000): the readers of vendors' error
bodies treat it as the text it is, so the user gets the product's own error naming the request, not a bare
RecursionError (review 16c F4)."""

from __future__ import annotations

import pytest

from xlr8_kit.http.errors import ClientRequestError
from xlr8_kit.odata.http import raise_for_status
from xlr8_kit.oracle.client import error_detail
from xlr8_kit.redaction import Redactor
from xlr8_kit.testing.responses import deep_json_response as deep


def test_fusion_error_detail_of_a_deep_body_is_its_text() -> None:
    assert error_detail(deep(400)).startswith("[[[")


def test_odata_raise_for_status_of_a_deep_body_names_the_request() -> None:
    with pytest.raises(ClientRequestError, match="/api/items"):
        raise_for_status(deep(400), Redactor(), "s4hana")
