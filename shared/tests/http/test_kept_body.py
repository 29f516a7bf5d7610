"""A product's parse of a 2xx JSON body (``ResponseClassifier.parse_body``): made once, by the classifier's first
question, kept on the response (``kept_body``) and read by the classifier's other questions and the product's
page reader (``parsed_body``); the verdicts are the base classifier's, and a classifier that parses nothing keeps
nothing."""

from __future__ import annotations

import json
import typing as t
from decimal import Decimal

import pytest
import requests

from xlr8_kit.http.classify import DEFAULT_CLASSIFIER, ResponseClassifier, kept_body, utf8_proven
from xlr8_kit.testing.probes import spy_probes

from .test_classify_parity import BODIES


class _Parsing(ResponseClassifier):
    """Parses as a product would (fractions as Decimal) and counts its parses."""

    def __init__(self) -> None:
        self.parsed: list[bytes] = []

    def parse_body(self, response: requests.Response) -> t.Any:
        self.parsed.append(response.content)
        return json.loads(response.content, parse_float=Decimal)


class _Marked(_Parsing):
    """A parse that returns more than the body (Salesforce's (body, plain) pair)."""

    def parse_body(self, response: requests.Response) -> t.Any:
        return super().parse_body(response), "mark"

    def body_of(self, parsed: t.Any) -> object:
        return parsed[0]


def _response(body: bytes, *, status: int = 200, content_type: str = "application/json") -> requests.Response:
    response = requests.Response()
    response._content = body
    response.status_code = status
    response.headers["Content-Type"] = content_type
    return response


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    return spy_probes(monkeypatch)


def test_a_page_is_parsed_once_kept_and_read_from_the_parse(probes: list[bytes]) -> None:
    classifier = _Parsing()
    response = _response(b'{"status": "ok", "rows": [{"amount": 2.50}]}')
    assert classifier.classify(response) == "ok"
    kept = kept_body(response)
    assert kept == {"status": "ok", "rows": [{"amount": Decimal("2.50")}]}
    assert type(kept["rows"][0]["amount"]) is Decimal  # the subclass's parse, not the kit's json.loads values
    assert classifier.parsed_body(response) is kept
    assert classifier.parsed == [response.content]  # once, for the classifier and the reader together
    assert probes == []  # the classifier read the parse, not the body again


def test_the_status_is_read_from_the_json_value_of_a_parse_that_returns_more(probes: list[bytes]) -> None:
    classifier = _Marked()
    failed = _response(b'{"status": "Failed", "rows": []}')
    assert classifier.classify(failed) == "fatal"
    assert classifier.error_in_body(failed) == "body status 'Failed'"
    assert kept_body(failed) == ({"status": "Failed", "rows": []}, "mark")
    fine = _response(b'{"status": "ok", "rows": []}')
    assert classifier.classify(fine) == "ok"
    assert classifier.parsed_body(fine)[1] == "mark"
    assert probes == []


@pytest.mark.parametrize(
    ("status", "content_type"),
    [(500, "application/json"), (404, "application/json"), (200, "text/html"), (200, "text/csv")],
)
def test_non_2xx_and_non_json_bodies_are_not_parsed(status: int, content_type: str) -> None:
    classifier = _Parsing()
    response = _response(b'{"status": "ok"}', status=status, content_type=content_type)
    assert classifier.classify(response) == DEFAULT_CLASSIFIER.classify(
        _response(b'{"status": "ok"}', status=status, content_type=content_type)
    )
    assert not classifier.body_truncated(response)  # asked directly too (``KitRESTStream.classify_response``)
    assert classifier.parsed == []
    assert kept_body(response) is None


def test_a_classifier_that_parses_nothing_keeps_nothing() -> None:
    response = _response(b'{"status": "ok", "rows": [1]}')
    assert DEFAULT_CLASSIFIER.classify(response) == "ok"
    assert kept_body(response, "none") == "none"
    with pytest.raises(NotImplementedError):
        DEFAULT_CLASSIFIER.parsed_body(response)


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("parsing", [_Parsing, _Marked])
def test_verdicts_are_the_base_classifiers(body: bytes, parsing: type[_Parsing]) -> None:
    """Whole, cut, odd and non-UTF-8 bodies: the parsing classifier answers as the base classifier on a fresh
    response; a body its parse refuses is not kept and the reader gets the parse's own error."""
    response = _response(body)
    classifier = parsing()
    assert classifier.classify(response) == DEFAULT_CLASSIFIER.classify(_response(body))
    assert classifier.error_in_body(response) == DEFAULT_CLASSIFIER.error_in_body(_response(body))
    try:
        expected = json.loads(body, parse_float=Decimal)
    except ValueError as error:
        refused: ValueError | None = error
    else:
        refused = None
    if refused is not None:
        assert kept_body(response) is None
        with pytest.raises(type(refused)) as raised:
            classifier.parsed_body(response)
        assert str(raised.value) == str(refused)
    else:
        kept = kept_body(response)
        assert classifier.body_of(kept) == expected
        assert classifier.parsed_body(response) is kept


class _ErrorMembers(_Parsing):
    """A product that reads its error object's members (``json_error_keys``), as tap-common does."""

    json_error_keys = frozenset({"error_code", "detail"})

    def json_error(self, body: dict[str, t.Any]) -> str | None:
        return f"{body['error_code']}: {body['detail']}" if "error_code" in body else None


def test_an_error_body_the_parse_accepts_but_the_strict_probe_refuses_is_still_the_vendors_error() -> None:
    """``json.loads`` takes ``NaN``; the members probe does not: the vendor's error is reported, not a DecodeError."""
    response = _response(b'{"error_code": "E1", "detail": "quota", "x": NaN}')
    classifier = _ErrorMembers()
    assert classifier.classify(response) == "fatal"
    assert classifier.error_in_body(response) == "E1: quota"


def test_a_kept_parse_is_no_proof_of_utf8() -> None:
    """``json.loads`` reads UTF-16 bodies too: only the kit's own check proves a body UTF-8 (``utf8_proven``)."""
    body = '{"value": [{"a": "é"}]}'
    utf16 = _response(body.encode("utf-16"))
    assert _Parsing().classify(utf16) == "ok"
    assert kept_body(utf16) == {"value": [{"a": "é"}]}
    assert not utf8_proven(utf16)
    utf8 = _response(body.encode())
    assert DEFAULT_CLASSIFIER.classify(utf8) == "ok"
    assert utf8_proven(utf8)
