"""A REST query page waiting to be emitted holds its records, not its response: the body's bytes (2-3 MB for 2,000
Accounts) are parsed, and a ranged read keeps pages of several ranges waiting at once (goal 4, mem16)."""

from __future__ import annotations

import gc
import typing as t
import weakref

import pytest
import requests

from xlr8_kit.redaction import Redactor
from xlr8_tap_salesforce.client import SalesforceClient

INSTANCE = "https://example.my.salesforce.com"
NEXT = "/services/data/v60.0/query/01gxx0000000001-2000"
BODIES = [
    b'{"totalSize": 3, "done": false, "nextRecordsUrl": "' + NEXT.encode() + b'", "records": ['
    b'{"attributes": {"type": "Account"}, "Id": "001A", "Name": "Acme"},'
    b'{"attributes": {"type": "Account"}, "Id": "001B", "Name": "Globex"}]}',
    b'{"totalSize": 3, "done": true, "records": ['
    b'{"attributes": {"type": "Account"}, "Id": "001C", "Name": "Initech"}]}',
]


def _response(body: bytes, url: str) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = body
    response.headers["Content-Type"] = "application/json;charset=UTF-8"
    response.url = url
    return response


def test_a_page_waiting_to_be_emitted_does_not_hold_its_response(monkeypatch: pytest.MonkeyPatch) -> None:
    client = SalesforceClient(
        requests.Session(),
        t.cast("t.Any", None),  # no token needed: the instance URL is fixed below
        api_version="60.0",
        redactor=Redactor(),
    )
    monkeypatch.setattr(SalesforceClient, "instance_url", property(lambda _self: INSTANCE))
    sent: list[tuple[str, weakref.ref[requests.Response]]] = []

    def request(method: str, url: str, **_options: t.Any) -> requests.Response:
        response = _response(BODIES[len(sent)], url)
        sent.append((url, weakref.ref(response)))
        return response

    monkeypatch.setattr(client, "request", request)
    pages = client.query_pages_marked("SELECT Id, Name FROM Account")

    records, _plain = next(pages)
    gc.collect()
    assert [r["Id"] for r in records] == ["001A", "001B"]
    assert "attributes" not in records[0]
    assert pages.more
    assert client.last_page_bytes() == len(BODIES[0])
    assert sent[0][1]() is None  # page 1 waits; its response (the body's bytes) is gone

    records, _plain = next(pages)
    gc.collect()
    assert [r["Id"] for r in records] == ["001C"]
    assert sent[1][0] == INSTANCE + NEXT
    assert not pages.more
    assert client.last_page_bytes() == len(BODIES[1])
    assert sent[1][1]() is None
    assert next(pages, None) is None
