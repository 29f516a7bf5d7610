"""Reading OData responses: the rows of a page, the next-page link, and the error a body carries.

v2 pages look like ``{"d": {"results": [...], "__next": "..."}}`` (older services: ``{"d": [...]}``); v4 pages
like ``{"value": [...], "@odata.nextLink": "..."}``. Errors look like
``{"error": {"code": "...", "message": {"lang": "en-US", "value": "..."}}}`` (v4: ``message`` is a string).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import typing as t
from collections.abc import Callable, Generator, Iterator, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import ParseResult, urljoin, urlparse

import msgspec
import requests
from singer_sdk.pagination import BaseHATEOASPaginator

from xlr8_kit.http.classify import keep_parsed, kept_body
from xlr8_kit.http.errors import missing_list
from xlr8_kit.http.origin import same_origin as origin_matches

logger = logging.getLogger(__name__)


class ODataResponseError(ValueError):
    """A body that is not an OData payload (HTML login page, truncated JSON, an error with status 200)."""


class ODataPagingError(ODataResponseError):
    """The server's paging went wrong: a next link (skip token) seen before, or ``$skip`` ignored. Following it
    would loop for ever, so the read stops instead."""


class _Fractions(dict[str, Decimal]):
    """The JSON parse's ``float_hook``: a number with a fraction or exponent as ``Decimal(text)``, memoised (a text
    seen before is found in C). A number whose Decimal is not finite as a float (``1e400``: what the SDK's type
    conformance turns into null) marks the parse running on this thread unusual (``_PARSE``) and is never kept, so
    each one marks its parse."""

    __slots__ = ()

    def __missing__(self, text: str) -> Decimal:
        value = Decimal(text)
        if math.isfinite(value):
            if len(self) >= _FRACTIONS_KEPT:
                self.clear()
            self[text] = value
        else:
            _PARSE.unusual = True
        return value


_FRACTIONS_KEPT = 16_384
_FRACTIONS = _Fractions()
_PAGE_DECODER = msgspec.json.Decoder(float_hook=_FRACTIONS.__getitem__)
#: Whether the page parse running on this thread met an unusual value (``UnusualRows``); pages are parsed on
#: several threads at once (read-ahead, windows), so the mark is the thread's, then the response's.
_PARSE = threading.local()
_UNUSUAL = "_xlr8_odata_unusual"


class UnusualRows(list[dict[str, Any]]):
    """``page_rows`` of a page that held a value the SDK's type conformance would change without the entry's
    declared type saying so: a number not finite as a float, or a body msgspec refused (``NaN`` literals, which
    the standard library reads as floats). Marked while the page is parsed, so the mark travels with that page's
    rows alone (``types.EntryDecoder`` leaves such a page to the general way)."""

    __slots__ = ()


def _payload(response: requests.Response) -> dict[str, Any]:
    """The page's JSON object, parsed once per response (the classifier, the rows and the next link all read it;
    kept with the kit's ``keep_parsed``)."""
    body = kept_body(response)
    if body is None:
        # Numbers with a fraction are read as Decimal: v4 sends Edm.Decimal as JSON numbers unless the client asks
        # for IEEE754Compatible strings, and a float would lose digits.
        content = response.content
        _PARSE.unusual = False
        try:
            body = _PAGE_DECODER.decode(content)
        except msgspec.DecodeError:
            _PARSE.unusual = True
            try:
                body = json.loads(content, parse_float=Decimal)  # what json.loads read before (NaN as float)
            except ValueError:
                kind = response.headers.get("Content-Type", "unknown content type")
                raise ODataResponseError(f"response is not OData JSON ({kind}, {len(content)} bytes)") from None
        if _PARSE.unusual:
            response.__dict__[_UNUSUAL] = True
        keep_parsed(response, body)
    if not isinstance(body, dict):
        raise ODataResponseError("response is not an OData JSON object")
    return t.cast(dict[str, Any], body)


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
    """The entries of one page (``UnusualRows`` when its parse met an unusual value); an error document or a
    non-OData body raises instead of reading as no rows, and an answer without its rows' list (``d.results``,
    ``value``) is an ``AnswerShapeError`` naming the path and the key (``[]`` is 0 rows)."""
    rows = _page_rows(response)
    return UnusualRows(rows) if _UNUSUAL in response.__dict__ else rows


def _page_rows(response: requests.Response) -> list[dict[str, Any]]:
    body = _payload(response)
    error = odata_error(body)
    if error is not None:
        raise ODataResponseError(f"OData error {error[0]}: {error[1]}")
    where = _link_path(response.url)
    if "d" in body:
        data = body["d"]
        if isinstance(data, list):
            return data
        if isinstance(data, dict):
            results = data.get("results")
            if isinstance(results, list):
                return results
            if "__metadata" in data and "results" not in data:
                return [data]  # one entity (a read by key), its own metadata says so
        # ``{"d": {}}`` read as one row of nulls, or a non-list ``results`` as no rows: either lands wrong, exit 0
        raise missing_list("results", data, f"{where} (OData v2 d)")
    if isinstance(body.get("value"), list):
        return list(body["value"])
    raise missing_list("value", body, f"{where} (OData v4, or v2 without d)")


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
    server-side snapshot token), so nothing may be re-added. A link seen before is an error, not a loop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._seen: set[str] = set()

    def get_next_url(self, response: requests.Response) -> str | None:
        link = next_link(response)
        if link is not None:
            if link in self._seen:
                raise ODataPagingError(f"the server sent the same next link twice ({_link_path(link)}); stopping")
            self._seen.add(link)
        return link

    def has_more(self, response: requests.Response) -> bool:
        return next_link(response) is not None


def same_origin(link: ParseResult, base_url: str) -> bool:
    """Whether a next link stays on the service host (credentials must never follow a link elsewhere); ``:443``,
    letter case and a trailing dot do not make another host (``xlr8_kit.http.origin``)."""
    return origin_matches(link, base_url)


def _link_path(link: str) -> str:
    """A next link for messages: its path only (query strings carry filters and tokens)."""
    return urlparse(link).path


def total_count(response: requests.Response) -> int | None:
    """``d.__count`` (v2 ``$inlinecount=allpages``) or ``@odata.count`` (v4 ``$count=true``), if sent."""
    body = _payload(response)
    data = body.get("d")
    value = data.get("__count") if isinstance(data, dict) else None
    value = value if value is not None else body.get("@odata.count", body.get("odata.count"))
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


#: Fetches one page: (absolute URL, query options or None for a server link used as is) -> response.
PageFetcher = Callable[[str, Mapping[str, Any] | None], requests.Response]


def iter_pages(
    fetch: PageFetcher,
    url: str,
    params: Mapping[str, Any],
    *,
    page_size: int | None,
    version: int = 2,
    base_url: str | None = None,
    window: int = 1,
    row_key: Callable[[dict[str, Any]], Any] | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """The rows of every page of a collection, whichever side drives the paging.

    Client-driven (``page_size`` given): windows of ``$top=page_size`` at ``$skip=0, page_size, ...``, the first
    asking for the total (``$inlinecount=allpages`` in v2, ``$count=true`` in v4; logged, never an end mark: rows
    created while paging move the end); a short window, or a window longer than ``$top`` (the server ignored it
    and paged the whole set by links) ends the read.
    Server-driven: whenever a page carries ``__next`` / ``@odata.nextLink`` it is followed (the server may cap
    ``$top`` and page inside a window). A next link seen before, or a window that repeats the
    previous one (``$skip`` ignored), raises ``ODataPagingError``; a link to another host is refused.

    ``window`` > 1 (client-driven only): up to that many ``$skip`` windows are asked for at once
    (``xlr8_kit.http.window``); what is read, yielded and raised is the same as with one. ``row_key`` (the entity's
    key of a raw entry; default the whole entry) tells when rows moved between windows answered out of order.
    """
    if window > 1 and page_size:
        yield from _iter_windows_concurrently(
            fetch, url, params, page_size=page_size, version=version, base_url=base_url, window=window,
            row_key=row_key or _whole_row,
        )  # fmt: skip
        return
    seen: set[str] = set()
    skip = 0
    previous_first: str | None = None
    while True:
        query = _window_query(params, page_size, skip, version) if page_size else dict(params)
        response = fetch(url, query)
        if page_size and not skip:
            total = total_count(response)
            if total is not None:
                logger.info("%s: %d rows when the read started", _link_path(url), total)
        in_window, first, _ = yield from _window_pages(fetch, response, None, seen, base_url)
        if not page_size or in_window != page_size:
            # Short: the end. Longer than asked: the server ignored $top and paged the whole set by links.
            return
        if first is not None and first == previous_first:
            raise ODataPagingError(f"$skip={skip} returned the same rows as the window before ($skip ignored)")
        previous_first = first
        skip += page_size
        # The total of the first window is not an end mark: rows created while paging move the end further.


def _window_pages(
    fetch: PageFetcher,
    response: requests.Response,
    rows: list[dict[str, Any]] | None,
    seen: set[str],
    base_url: str | None,
    link_counts: list[int | None] | None = None,
) -> Generator[list[dict[str, Any]], None, tuple[int, str | None, list[dict[str, Any]]]]:
    """The pages of one window: ``response`` (its ``rows`` when already read), then every next link it leads to.
    Returns the rows read in the window, its first row (to tell a ``$skip`` the server ignored) and its last page.
    ``link_counts`` receives the count each page reached by a link reports (None: none)."""
    in_window = 0
    first: str | None = None
    while True:
        if rows is None:
            rows = page_rows(response)
        if first is None and rows:
            first = json.dumps(rows[0], sort_keys=True, default=str)
        in_window += len(rows)
        yield rows
        link = next_link(response)
        if link is None:
            return in_window, first, rows
        if base_url is not None and not same_origin(urlparse(link), base_url):
            from xlr8_kit.http.errors import InsecureTransportError

            raise InsecureTransportError(
                "next link points to another host; refusing to send credentials there", path=_link_path(link)
            )
        if link in seen:
            raise ODataPagingError(f"the server sent the same next link twice ({_link_path(link)}); stopping")
        seen.add(link)
        response = fetch(link, None)
        rows = None
        if link_counts is not None:
            link_counts.append(total_count(response))


def _window_query(
    params: Mapping[str, Any], page_size: int, skip: int, version: int, *, count: bool = False
) -> dict[str, Any]:
    """``$top``/``$skip`` of one window; the first (or, with ``count``, every) window asks for the total."""
    query = dict(params)
    query["$top"] = str(page_size)
    if skip:
        query["$skip"] = str(skip)
    if count or not skip:
        query["$count" if version >= 4 else "$inlinecount"] = "true" if version >= 4 else "allpages"
    return query


def _iter_windows_concurrently(
    fetch: PageFetcher,
    url: str,
    params: Mapping[str, Any],
    *,
    page_size: int,
    version: int,
    base_url: str | None,
    window: int,
    row_key: Callable[[dict[str, Any]], Any],
) -> Iterator[list[dict[str, Any]]]:
    """``iter_pages``'s client-driven loop with the first request of up to ``window`` ``$skip`` windows in flight.

    The first window goes out alone; once its first page is full (or carries a next link), the windows after it
    are asked for ahead, never past the total the last answer reported (rows created while paging are still
    read: a full last window asks for the one after it, as without a window). Windows are then read strictly in
    order exactly as ``iter_pages`` reads them (links inside a window followed, the end and the ``$skip`` check
    the same); windows asked for past the end are discarded, and a failed request raises when its window is
    reached.

    Every window asks for the total (``$inlinecount=allpages`` / ``$count=true``), and every page must report the
    total of the anchor (the first window, later the last page whose total moved): equal totals mean no row was
    created or deleted in between, so the windows read one state of the collection (``xlr8_kit.http.window.
    CountsPages``). A window whose total moved, or that starts with a row of the page before (``ShiftWatch``), is
    read (it was answered after the anchor and the windows before it); the windows asked for before its answer are
    dropped unseen and asked for again, checked against its total. A page reached by a server link inside a
    window is read after the windows asked ahead were answered: a moved total there drops them too, once that
    window is read. A page without a total, or more than ``MAX_RECOUNTS`` moved totals, makes the rest be read one
    window at a time."""
    from xlr8_kit.http.window import CountAnchor, OrderedFetches, ShiftWatch, Verdict

    shifts = ShiftWatch(row_key)
    anchor = CountAnchor()
    one_at_a_time = False

    def first_page(skip: int) -> tuple[requests.Response, list[dict[str, Any]]]:
        response = fetch(url, _window_query(params, page_size, skip, version, count=True))
        return response, page_rows(response)

    def check(
        windows: OrderedFetches[int, Any], count: int | None, *, first: bool = False, moved: bool = False
    ) -> None:
        nonlocal one_at_a_time
        planned = anchor.planned
        verdict = anchor.check(count, first=first, moved=moved, in_flight=bool(windows))
        if verdict is Verdict.KEEP or one_at_a_time:
            return
        if windows:
            logger.info(
                "%s: the collection changed while paging (total %s, then %s); asking again for the windows after "
                "this one",
                _link_path(url), planned, count,
            )  # fmt: skip
            windows.discard()
        if verdict is Verdict.SERIAL:
            why = "a page came without a total" if count is None else "the total keeps moving"
            logger.info("%s: %s; reading the rest one window at a time", _link_path(url), why)
            one_at_a_time = True

    seen: set[str] = set()
    skip = 0
    previous_first: str | None = None
    with OrderedFetches(first_page, window, name="xlr8-odata") as windows:
        while True:
            if not windows:
                windows.submit(skip)
            asked, (response, rows) = windows.take()
            if asked != skip:  # cannot happen: windows are asked for and taken in order
                raise RuntimeError(f"window at $skip={asked} taken while reading $skip={skip}")
            count = total_count(response)
            moved = shifts.moved(rows)
            if not skip and count is not None:
                logger.info("%s: %d rows when the read started", _link_path(url), count)
            check(windows, count, first=not skip, moved=moved)
            if not one_at_a_time and (len(rows) == page_size or next_link(response) is not None):
                ahead = windows.last_key() if windows else skip
                planned = anchor.planned
                while not windows.full and (planned is None or ahead + page_size < planned):
                    ahead += page_size
                    if not windows.submit(ahead):
                        break
            link_counts: list[int | None] = []
            in_window, first, last = yield from _window_pages(fetch, response, rows, seen, base_url, link_counts)
            if last is not rows:  # the window went on by next links: the next window follows its last page
                shifts.remember(last)
            for link_count in link_counts:  # pages reached by server links, each checked against the anchor
                check(windows, link_count)
            if in_window != page_size:
                return
            if first is not None and first == previous_first:
                raise ODataPagingError(f"$skip={skip} returned the same rows as the window before ($skip ignored)")
            previous_first = first
            skip += page_size


def _whole_row(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)
