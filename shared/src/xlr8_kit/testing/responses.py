"""Vendor answers built in memory (``requests.Response`` with a status, a body and a content type), for tests of the
code that reads them without a server: error readers, classifiers."""

from __future__ import annotations

import requests

#: JSON nested deeper than Python's parsers recurse: ``json``, simplejson and msgspec raise ``RecursionError`` (or
#: their own depth error) instead of ``ValueError``.
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000


def canned_response(
    body: bytes,
    status: int = 200,
    *,
    url: str = "https://tenant.example.com/api/items",
    content_type: str = "application/json",
) -> requests.Response:
    """A received answer: ``body`` as its content, read as a response read from the wire would be."""
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers["Content-Type"] = content_type
    response.url = url
    return response


def deep_json_response(status: int, url: str = "https://tenant.example.com/api/items") -> requests.Response:
    """An answer whose JSON body is nested too deep to parse (``DEEP_JSON``): an error reader must treat it as the
    text it is, not raise ``RecursionError``."""
    return canned_response(DEEP_JSON, status, url=url)
