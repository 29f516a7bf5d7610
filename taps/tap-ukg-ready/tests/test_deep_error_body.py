"""A refused login's body nested deeper than Python's parser recurses: UKG Ready's error reader finds no errors in
it, so the login fails with its own error naming the settings to check, not a bare RecursionError."""

from __future__ import annotations

from xlr8_kit.testing.responses import canned_response, deep_json_response
from xlr8_tap_ukg_ready.auth import describe_errors, vendor_errors

LOGIN = "https://secure.example.com/ta/rest/v1/login"


def test_a_deep_error_body_has_no_vendor_errors() -> None:
    assert vendor_errors(deep_json_response(401, LOGIN)) == []
    assert describe_errors(vendor_errors(deep_json_response(403, LOGIN))) == "no error body"


def test_an_error_body_still_gives_its_errors() -> None:
    body = b'{"errors": [{"code": 5, "message": "Invalid API key"}, "not an error object"]}'
    assert vendor_errors(canned_response(body, 401, url=LOGIN)) == [{"code": 5, "message": "Invalid API key"}]
    assert vendor_errors(canned_response(b"", 401, url=LOGIN)) == []
    assert vendor_errors(canned_response(b"<html>Unauthorized</html>", 401, url=LOGIN, content_type="text/html")) == []
