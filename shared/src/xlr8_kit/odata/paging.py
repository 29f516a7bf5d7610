"""Reading OData responses: the rows of a page, the next-page link, and the error a body carries.

v2 pages look like ``{"d": {"results": [...], "__next": "..."}}`` (older services: ``{"d": [...]}``); v4 pages
like ``{"value": [...], "@odata.nextLink": "..."}``. Errors look like
``{"error": {"code": "...", "message": {"lang": "en-US", "value": "..."}}}`` (v4: ``message`` is a string).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import ParseResult, urljoin, urlparse

import requests
from singer_sdk.pagination import BaseHATEOASPaginator


class ODataResponseError(ValueError):
    """A body that is not an OData payload (HTML login page, truncated JSON, an error with status 200)."""


def _payload(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        kind = response.headers.get("Content-Type", "unknown content type")
        raise ODataResponseError(f"response is not OData JSON ({kind}, {len(response.content)} bytes)") from None
    if not isinstance(body, dict):
        raise ODataResponseError("response is not an OData JSON object")
    return body


def odata_error(body: Any) -> tuple[str, str] | None:
    """(code, message) when ``body`` is an OData error document, else None."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None
    error = body["error"]
    message = error.get("message")
    if isinstance(message, dict):
        message = message.get("value")
    return str(error.get("code", "")), str(message or "")


def page_rows(response: requests.Response) -> list[dict[str, Any]]:
    """The entries of one page; an error document or a non-OData body raises instead of reading as no rows."""
    body = _payload(response)
    error = odata_error(body)
    if error is not None:
        raise ODataResponseError(f"OData error {error[0]}: {error[1]}")
    if "d" in body:
        data = body["d"]
        if isinstance(data, list):
            return data
        if isinstance(data, dict):
            results = data.get("results")
            if isinstance(results, list):
                return results
            if "__metadata" in data or results is None:
                return [data]
        raise ODataResponseError("OData v2 response has no d.results array")
    if isinstance(body.get("value"), list):
        return list(body["value"])
    raise ODataResponseError("response holds neither d.results (v2) nor value (v4)")


def next_link(response: requests.Response) -> str | None:
    """The absolute URL of the next page (``__next`` or ``@odata.nextLink``), None on the last page."""
    body = _payload(response)
    data = body.get("d")
    link = data.get("__next") if isinstance(data, dict) else None
    link = link or body.get("@odata.nextLink") or body.get("odata.nextLink")
    if not link:
        return None
    return urljoin(response.url, str(link))


class ODataNextLinkPaginator(BaseHATEOASPaginator):
    """Follows ``__next`` / ``@odata.nextLink`` to the end. The stream sends the next request to
    ``current_value.geturl()`` as is: the server's link already carries every query option (and the
    server-side snapshot token), so nothing may be re-added."""

    def get_next_url(self, response: requests.Response) -> str | None:
        return next_link(response)

    def has_more(self, response: requests.Response) -> bool:
        return next_link(response) is not None


def same_origin(link: ParseResult, base_url: str) -> bool:
    """Whether a next link stays on the service host (credentials must never follow a link elsewhere)."""
    base = urlparse(base_url)
    return (link.scheme, link.netloc) == (base.scheme, base.netloc)
