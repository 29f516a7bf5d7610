"""The classifier's body checks answer exactly as a full ``json.loads`` would, though they build no records."""

from __future__ import annotations

import json

import pytest
import requests
from hypothesis import example, given, settings
from hypothesis import strategies as st

from xlr8_kit.http import classify
from xlr8_kit.http.classify import DEFAULT_CLASSIFIER, is_utf8, parsed_json

#: A page of rows longer than ``is_utf8``'s piece, a right quote in its rows (one of them across the first cut).
_PAGE = b"[" + b" " * 8 + b",".join(b'{"title":"Director\xe2\x80\x99s Aide %05d"}' % n for n in range(200)) + b"]"
assert _PAGE[classify._UTF8_PIECE - 1 : classify._UTF8_PIECE + 2] == "\u2019".encode()

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
    _PAGE,
    _PAGE.replace(b"Aide 00150", b"Aide \xe2\x80 0150"),  # a cut character in a later piece: not UTF-8
    _PAGE.replace(b"Aide 00150", b"Aide \xed\xa0\x80150"),  # a surrogate encoded in UTF-8, as json.loads refuses
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


ODATA_BODIES = [
    *BODIES,
    b'{"error":{"code":"COE_GENERAL_SERVER_FAILURE","message":{"lang":"en-US","value":"boom"}}}',
    b'{"error":{"code":"X","message":"flat"}}',
    b'{"error":"not an object"}',
    b'{"error":null}',
    b'{"error":{"code":"A"},"error":null}',  # the last of repeated keys wins
    b'{"error":null,"error":{"code":"B"}}',
    b'{"d":{"results":[{"a":"1"}],"__next":"x"},"error":{"code":"C"}}',
    b'{"d":{"results":[{"a":"\x01"}]},"error":{"code":"D"}}',  # a control character: json.loads refuses it
    b'{"d":{"results":[{"a":"\xff"}]},"error":{"code":"E"}}',
    b'{"error":{"code":"F","x":NaN}}',
    '{"error":{"code":"G"}}'.encode("utf-16"),
    b'\xef\xbb\xbf{"error":{"code":"H"}}',  # a UTF-8 byte order mark
    b'{"d":{"results":[{"a":1.5,"b":[{"c":null}]}]}}',
]


def _expected_odata(body: bytes) -> str | None:
    """What ``ODataClassifier.error_in_body`` answered before its probe: a full ``json.loads`` of the page."""
    from xlr8_kit.odata.paging import odata_error

    found = _expected(body)[1]
    if found is not None:
        return found
    try:
        error = odata_error(json.loads(body))
    except ValueError:
        return None
    return None if error is None else f"OData error {error[0]}"


@pytest.mark.parametrize("body", ODATA_BODIES)
def test_odata_error_probe_matches_a_full_parse(body: bytes) -> None:
    from xlr8_kit.odata.http import ODATA_CLASSIFIER

    assert ODATA_CLASSIFIER.error_in_body(_response(body)) == _expected_odata(body)


@pytest.mark.parametrize("body", ODATA_BODIES)
def test_odata_checks_from_the_pages_own_parse_match_a_full_parse(body: bytes) -> None:
    """In the order a stream asks (cut? then an error?): the OData classifier parses the page as the stream reads
    it and answers from that parse, and the answers are still those of ``json.loads``."""
    from xlr8_kit.odata.http import ODATA_CLASSIFIER

    response = _response(body)
    assert ODATA_CLASSIFIER.body_truncated(response) is _expected(body)[0]
    assert ODATA_CLASSIFIER.error_in_body(response) == _expected_odata(body)
    assert ODATA_CLASSIFIER.classify(_response(body)) == (
        "retry" if _expected(body)[0] else "fatal" if _expected_odata(body) else "ok"
    )


class _WholeBody(DEFAULT_CLASSIFIER.__class__):
    """A product classifier reading its error members from the whole parsed body (no ``json_error_keys``)."""

    def json_error(self, body: dict[str, object]) -> str | None:
        if "message" in body or "error_code" in body:
            return repr((body.get("error_code"), body.get("message"), body.get("detail"), "detail" in body))
        return None


class _Members(_WholeBody):
    """The same, handed only the members it names (built by the probe)."""

    json_error_keys = frozenset({"message", "error_code", "detail"})


MEMBER_BODIES = [
    *BODIES,
    b'{"message":"no such employee"}',
    b'{"message":null}',
    b'{"error_code":"RATE","request_id":"r1","detail":{"a":[1.5,2]}}',
    b'{"error_code":"A","error_code":"B"}',  # the last of repeated keys wins
    b'{"data":[{"message":"a row field, not an error"}],"next_cursor":null}',
    b'{"message":"\xff"}',
    b'{"message":"x","other":"\x01"}',  # json.loads refuses the control character
    b'{"message":NaN}',
    b'[{"message":"in a row"}]',
]


@pytest.mark.parametrize("body", MEMBER_BODIES)
def test_json_error_members_match_the_whole_body(body: bytes) -> None:
    assert _Members().error_in_body(_response(body)) == _WholeBody().error_in_body(_response(body))
    assert _Members().body_truncated(_response(body)) is _expected(body)[0]


def _decodes(body: bytes) -> bool:
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    return True


#: Pieces of UTF-8 and of what is not: whole characters of each length, a BOM, and sequences ``bytes.decode``
#: refuses (cut, overlong, a surrogate, past U+10FFFF, stray continuation bytes, bytes never in UTF-8).
_FRAGMENTS = [
    b"a",
    b'"',
    "é".encode(),
    "\u2019".encode(),
    "😀".encode(),
    "\U0010ffff".encode(),
    b"\xef\xbb\xbf",
    b"\xe2\x80",
    b"\xf0\x9f\x98",
    b"\xc3",
    b"\xc0\x80",
    b"\xe0\x80\x80",
    b"\xf0\x80\x80\x80",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xf5\x80\x80\x80",
    b"\x80",
    b"\xbf\xbf\xbf\xbf",
    b"\xff",
]
_BODIES = st.one_of(st.binary(max_size=64), st.lists(st.sampled_from(_FRAGMENTS), max_size=24).map(b"".join))


@settings(max_examples=1500, deadline=None)
@given(body=_BODIES, piece=st.integers(min_value=1, max_value=9))
@example(body="a😀".encode(), piece=2)  # the cut lands on the second of three continuation bytes
@example(body=b"a\xbf\xbf\xbf\xbf\xbf", piece=1)  # more continuation bytes in a row than a character holds
def test_is_utf8_is_what_decoding_says(body: bytes, piece: int) -> None:
    """Whatever the bytes and wherever the pieces are cut, ``is_utf8`` answers as ``bytes.decode`` does."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(classify, "_UTF8_PIECE", piece)
        assert is_utf8(body) is _decodes(body)
    assert is_utf8(body) is _decodes(body)
    assert is_utf8(_PAGE + body) is _decodes(_PAGE + body)  # the default piece, cut inside the page


#: JSON nested past any parser's depth (msgspec's and ``json.loads``' both raise ``RecursionError``, not a
#: ``ValueError``): a 200 such body is as unusable as a cut one.
DEEP_BODIES = [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000]


@pytest.mark.parametrize("body", DEEP_BODIES)
@pytest.mark.parametrize(
    "name",
    [
        "xlr8_kit.http.classify:DEFAULT_CLASSIFIER",
        "xlr8_kit.odata.http:ODATA_CLASSIFIER",
        "xlr8_kit.oracle.client:CLASSIFIER",
    ],
)
def test_a_body_nested_too_deep_is_unparsable_not_a_crash(name: str, body: bytes) -> None:
    """What the classifier answers for a body it cannot parse (retried, as a cut body), never an uncaught
    ``RecursionError`` out of the probe or the slow path's parse."""
    import importlib

    module, attribute = name.split(":")
    classifier = getattr(importlib.import_module(module), attribute)
    assert parsed_json(_response(body)) is classify._UNPARSABLE
    assert classifier.body_truncated(_response(body)) is True
    assert classifier.error_in_body(_response(body)) is None
    assert classifier.classify(_response(body)) == "retry"
