"""The classifier's body checks answer exactly as a full ``json.loads`` would, though they build no records."""

from __future__ import annotations

import json

import pytest
import requests

from xlr8_kit.http.classify import DEFAULT_CLASSIFIER, parsed_json

BODIES = [
    b'{"status":"error","x":[1,2]}',
    b'{"status":"Failed"}',
    b'{"status":{"a":1}}',
    b'{"status":"ok","records":[{"a":1.5}]}',
    b'[{"a":1}]',
    b'"str"',
    b"12",
    b"null",
    b"true",
    b'{"x":NaN}',  # json.loads accepts it
    b'{"a":',  # cut off
    b"[1,2",
    b'{"a":1}garbage',
    b'{"a":[1,,2]}',
    b'{"a":01}',
    b'[{"a":"\xff"}]',  # not UTF-8 inside a string the probe would skip
    '{"status":"error"}'.encode("utf-16"),  # json.loads detects UTF-16
    b"  ",
]


def _response(body: bytes) -> requests.Response:
    response = requests.Response()
    response._content = body
    response.status_code = 200
    response.headers["Content-Type"] = "application/json"
    return response


def _expected(body: bytes) -> tuple[bool, str | None]:
    try:
        data = json.loads(body)
    except ValueError:
        return True, None
    status = data.get("status") if isinstance(data, dict) else None
    failed = isinstance(status, str) and status.strip().lower() in {"error", "failure", "failed", "fault"}
    return False, f"body status {status!r}" if failed else None


@pytest.mark.parametrize("body", BODIES)
def test_body_checks_match_a_full_parse(body: bytes) -> None:
    truncated, error = _expected(body)
    assert DEFAULT_CLASSIFIER.body_truncated(_response(body)) is truncated
    assert DEFAULT_CLASSIFIER.error_in_body(_response(body)) == error


@pytest.mark.parametrize("body", [b for b in BODIES if not _expected(b)[0]])
def test_parsed_json_is_json_loads(body: bytes) -> None:
    assert repr(parsed_json(_response(body))) == repr(json.loads(body))
