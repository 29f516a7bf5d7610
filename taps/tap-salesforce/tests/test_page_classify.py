"""A REST query page is parsed once: ``QueryPageClassifier`` parses it, reads the parse (it does not probe the body
again) and keeps it for the caller, with the verdicts the Salesforce classifier gives alone."""

from __future__ import annotations

import functools
import typing as t

import msgspec
import pytest
import requests

from xlr8_kit.http import classify as kit_classify
from xlr8_kit.singer_io import loads_marked
from xlr8_kit.testing.probes import spy_probes
from xlr8_tap_salesforce.client import (
    QueryPageClassifier,
    SalesforceClassifier,
    canonical_decimal,
    canonical_numbers,
)

_WRITE = msgspec.json.Encoder(decimal_format="number").encode

PAGES = [
    (b'{"totalSize": 1, "done": true, "records": [{"Id": "001", "Lat": 51.50735090}]}', "application/json"),
    (b'{"records": [{"Id": "001", "Lat": 51.5', "application/json"),  # cut: worth a retry
    (b'{"status": "error", "records": []}', "application/json"),  # an error in a 2xx body
    (b'{"records": [{"x": NaN}]}', "application/json"),  # msgspec refuses, json.loads reads it
    (b'{"records": [{"x": "\xff"}]}', "application/json"),  # not UTF-8
    (b"<!DOCTYPE html><html><title>Login | Salesforce</title></html>", "text/html;charset=UTF-8"),
    (b"[1, 2]", "application/json"),
]


def _text(value: t.Any, *, plain: bool) -> str:
    return _WRITE(value).decode() if plain else repr(value)


def _response(body: bytes, content_type: str) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = body
    response.headers["Content-Type"] = content_type
    response.url = "https://example.my.salesforce.com/services/data/v60.0/query"
    return response


@pytest.mark.parametrize(("body", "content_type"), PAGES)
@pytest.mark.parametrize("written", [False, True])
def test_a_page_classified_with_its_parse_gets_the_classifiers_verdict(
    body: bytes, content_type: str, written: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = SalesforceClassifier().classify(_response(body, content_type))
    parse = (
        canonical_numbers().loads_marked if written else functools.partial(loads_marked, parse_float=canonical_decimal)
    )
    response = _response(body, content_type)
    probes = spy_probes(monkeypatch)
    verdict = QueryPageClassifier(parse).classify(response)
    assert verdict == expected
    kept = kit_classify.kept_body(response)
    if kept is not None:
        again = parse(body)
        assert kept[1] is again[1]
        assert _text(kept[0], plain=kept[1]) == _text(again[0], plain=again[1])
        assert probes == []  # the classifier read the parse, not the body again
    else:  # kept whenever it parses
        try:
            parse(body)
        except ValueError:
            return
        pytest.fail("a page that parses was not kept")
