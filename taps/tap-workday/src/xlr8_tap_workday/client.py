"""Workday HTTP client (shared by the streams and the connector) and the base streams of the three APIs.

Every call goes through the kit's ``ResilientSession``. Throttling: 429 on REST and RaaS is retried by the
session (Retry-After honoured); SOAP answers every fault with HTTP 500, so ``WorkdayStream.classify_response``
reads the fault: ``Client.*`` (validation, authentication) is never retried, ``Server.*`` (processing errors,
the tenant's rate limit) is.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cached_property
from urllib.parse import quote, urlencode, urlsplit

import requests
from lxml import etree
from singer_sdk.pagination import BaseAPIPaginator
from singer_sdk.streams.rest import HTTPRequest

from xlr8_kit.http.classify import DEFAULT_CLASSIFIER, NOT_JSON, Verdict, json_or_not
from xlr8_kit.http.errors import (
    AnswerShapeError,
    AuthenticationError,
    ClientRequestError,
    KitHTTPError,
    ServerUnavailableError,
)
from xlr8_kit.http.session import ResilientSession
from xlr8_kit.http.window import UNKNOWN
from xlr8_kit.redaction import Redactor
from xlr8_kit.rest import KitRESTStream, MarkedPage
from xlr8_kit.singer_io import listed_rows, response_json
from xlr8_kit.soap import (
    SOAP11,
    SoapFaultError,
    SoapMessage,
    build_envelope,
    child_text,
    children,
    element,
    parse_envelope,
    request_headers,
)
from xlr8_kit.soap.classify import fault_of, fault_verdict
from xlr8_kit.streaming import (
    JsonArrayItems,
    JsonStreamError,
    StreamedBodyError,
    body_chunks,
    body_complete,
    send_streamed,
)
from xlr8_tap_workday import auth as wd_auth
from xlr8_tap_workday.discovery import ReportSchema, ReportValueError, block_converter, converter, parse_report_xsd

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context
    from singer_sdk.streams.rest import PageContext

    from xlr8_kit.query.translate import Translation
    from xlr8_tap_workday.tap import ReportSpec, TapWorkday, WorkdaySettings

BSVC = "urn:com.workday/bsvc"
B = f"{{{BSVC}}}"
MAX_MESSAGE = 300
#: Prompt values keep ``!``, ``:`` and ``=`` readable (``Organization!WID=...``, ``2024-03-01-08:00``).
PROMPT_SAFE = "!:-"


def bsvc(name: str, *content: etree._Element | str | None) -> etree._Element:
    return element(B + name, *content)


def soap_verdict(response: requests.Response) -> Verdict:
    """SOAP faults arrive as HTTP 500: a Client fault is the request's fault (never retried)."""
    return fault_verdict(response) or DEFAULT_CLASSIFIER.classify(response)


def raise_for_response(response: requests.Response, redactor: Redactor) -> None:
    """A final non-2xx answer (or a 2xx fault) as the kit's error: SOAP fault code and reason, or the vendor's
    JSON ``error``, redacted and short."""
    status = response.status_code
    path = urlsplit(response.url).path
    fault = fault_of(response)
    if fault is not None:
        message = redactor.redact(f"workday: SOAP fault {fault.describe(MAX_MESSAGE)} for path {path}")
        if "authentication" in fault.code.lower():
            raise AuthenticationError(message + " (check username/password of the integration system user)",
                                      status=status, path=path)  # fmt: skip
        if fault.is_client_fault:
            raise ClientRequestError(message, status=status, path=path)
        raise ServerUnavailableError(message, status=status, path=path)
    if status < 400:
        return
    detail = ""
    body = json_or_not(response)
    if body is NOT_JSON:
        detail = f": {' '.join(response.text.split())[:MAX_MESSAGE]}" if response.content else ""
    elif isinstance(body, dict) and body.get("error"):
        detail = f": {str(body['error'])[:MAX_MESSAGE]}"
    message = redactor.redact(f"workday: HTTP {status} for path {path}{detail}")
    if status in (401, 403):
        raise AuthenticationError(message + " (check the configured credentials and their security groups)",
                                  status=status, path=path)  # fmt: skip
    if status == 429 or status >= 500:
        raise ServerUnavailableError(message, status=status, path=path)
    raise ClientRequestError(message, status=status, path=path)


def encode_prompts(params: list[tuple[str, str]]) -> str:
    return urlencode(params, safe=PROMPT_SAFE, quote_via=quote)


def soap_envelope(
    settings: WorkdaySettings,
    operation: str,
    criteria: list[etree._Element],
    *,
    page: int,
    count: int,
    as_of: str | None,
) -> bytes:
    """A ``<operation>_Request`` with Request_Criteria and Response_Filter (Page, Count, As_Of_Entry_DateTime)."""
    request = etree.Element(B + f"{operation}_Request", {B + "version": settings.soap_version}, nsmap={"bsvc": BSVC})
    if criteria:
        request.append(bsvc("Request_Criteria", *criteria))
    request.append(
        bsvc(
            "Response_Filter",
            bsvc("As_Of_Entry_DateTime", as_of) if as_of else None,
            bsvc("Page", str(page)),
            bsvc("Count", str(count)),
        )
    )
    security = wd_auth.soap_security_header(settings)
    return build_envelope(request, version=SOAP11, headers=[security] if security is not None else [])


def soap_service_url(settings: WorkdaySettings, service: str) -> str:
    return f"{settings.base_url}/ccx/service/{settings.tenant}/{service}/{settings.soap_version}"


class SoapPage(t.NamedTuple):
    """What one SOAP page says about the paging."""

    rows: list[etree._Element]
    page: int
    total_pages: int
    total_results: int
    as_of: str | None


def read_soap_page(message: SoapMessage, response: requests.Response) -> SoapPage:
    """What a SOAP page says. Workday gives ``Response_Results`` (``Page``, ``Total_Pages``, ``Total_Results``) on
    every Get_ answer: one without them, without ``Response_Data`` while it counts results, with no rows while its
    ``Page`` is below ``Total_Pages``, or with fewer rows than its ``Page_Results``, is an ``AnswerShapeError``
    naming the service path and page, not a last page or a page of none (every page after it, or its rows, would be
    lost with exit 0 and the bookmark moved past them: review29h H1)."""
    body = message.body
    named = body is not None and isinstance(body.tag, str)
    results = next(iter(children(body, "Response_Results")), None)
    data = next(iter(children(body, "Response_Data")), None)
    response_filter = next(iter(children(body, "Response_Filter")), None)
    where = _soap_where(etree.QName(body).localname if named else "answer", response, response_filter)
    counts = {name: _soap_count(results, name, where) for name in ("Page", "Total_Pages", "Total_Results")}
    if data is None and counts["Total_Results"]:
        raise AnswerShapeError(
            f"{where}: the answer counts {counts['Total_Results']} result(s) but has no 'Response_Data'; stopping "
            "rather than reading its page as none",
            path=where,
        )
    rows = [c for c in data if isinstance(c.tag, str)] if data is not None else []
    if not rows and counts["Page"] < counts["Total_Pages"]:
        raise AnswerShapeError(
            f"{where}: the answer has no rows although it is page {counts['Page']} of {counts['Total_Pages']} "
            f"({counts['Total_Results']} result(s)); stopping rather than reading it as the last page",
            path=where,
        )
    listed = child_text(results, "Page_Results")
    if listed is not None and listed.strip().isdigit() and len(rows) < int(listed):
        raise AnswerShapeError(
            f"{where}: the answer has {len(rows)} row(s) but its 'Page_Results' counts {int(listed)}; stopping "
            "rather than losing the rest of the page",
            path=where,
        )
    return SoapPage(
        rows=rows,
        page=counts["Page"],
        total_pages=counts["Total_Pages"],
        total_results=counts["Total_Results"],
        as_of=child_text(response_filter, "As_Of_Entry_DateTime"),
    )


def _soap_where(operation: str, response: requests.Response, response_filter: etree._Element | None) -> str:
    """``workday SOAP <operation> (<service path>, page <n>)`` for a shape error: the page asked for (the request's
    own ``Response_Filter/Page``, else the answer's echo of it), so an operator can tell which page of which
    tenant URL answered oddly (review29h L4)."""
    page = child_text(response_filter, "Page")
    request = getattr(response, "request", None)
    sent = getattr(request, "body", None)
    if isinstance(sent, bytes | str):
        found = re.search(rb"<(?:\w+:)?Page>\s*(\d+)\s*</", sent.encode() if isinstance(sent, str) else sent)
        page = found.group(1).decode() if found else page
    return f"workday SOAP {operation} ({urlsplit(response.url).path}, page {page or '?'})"


def _soap_count(results: etree._Element | None, name: str, where: str) -> int:
    """``Response_Results/<name>`` as an integer, or ``AnswerShapeError`` naming it."""
    text = child_text(results, name)
    try:
        return int(text or "")
    except ValueError:
        got = "no 'Response_Results'" if results is None else f"{'no' if text is None else 'a non-integer'} {name!r}"
        raise AnswerShapeError(
            f"{where}: the answer has {got}, so its page and the pages after it cannot be told; stopping rather than "
            "reading them as none",
            path=where,
        ) from None


def parsed_message(response: requests.Response) -> SoapMessage:
    cached = response.__dict__.get("_wd_message")
    if cached is None:
        cached = parse_envelope(response.content, huge=True)
        response.__dict__["_wd_message"] = cached
    return t.cast("SoapMessage", cached)


class WorkdayClient:
    """REST, RaaS and SOAP calls for one tenant (one credential set), outside a Singer sync (connector, discovery)."""

    def __init__(
        self,
        session: ResilientSession,
        settings: WorkdaySettings,
        *,
        oauth: requests.auth.AuthBase | None,
        isu: requests.auth.AuthBase | None,
        redactor: Redactor,
    ) -> None:
        self.session = session
        self.settings = settings
        self.oauth = oauth
        self.isu = isu
        self.redactor = redactor
        self._schemas: dict[str, ReportSchema] = {}

    @property
    def raas_auth(self) -> requests.auth.AuthBase | None:
        return self.isu or self.oauth

    @property
    def soap_auth(self) -> requests.auth.AuthBase | None:
        """WS-Security travels in the envelope; the bearer token only when there is no ISU."""
        return None if self.settings.isu is not None else self.oauth

    @property
    def rest_base(self) -> str:
        return f"{self.settings.base_url}/ccx/api/v1/{self.settings.tenant}"

    def send(
        self,
        method: str,
        url: str,
        *,
        auth: requests.auth.AuthBase | None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        classify: Callable[[requests.Response], Verdict] | None = None,
    ) -> requests.Response:
        prepared = self.session.prepare_request(requests.Request(method, url, data=data, headers=headers or {}))
        response = self.session.send(prepared, classify=classify or soap_verdict, authenticate=auth)
        raise_for_response(response, self.redactor)
        return response

    # --- RaaS ---------------------------------------------------------------------------------------------------

    def report_url(self, spec: ReportSpec, params: list[tuple[str, str]]) -> str:
        return f"{spec.url}?{encode_prompts([('format', 'json'), *params])}"

    def report_schema(self, spec: ReportSpec) -> ReportSchema:
        """The report's XSD as a JSON schema (one request per report per client)."""
        if spec.url not in self._schemas:
            response = self.send("GET", f"{spec.url}?xsds", auth=self.raas_auth, headers={"Accept": "application/xml"})
            self._schemas[spec.url] = parse_report_xsd(response.content, spec.report)
        return self._schemas[spec.url]

    def report_entries(self, spec: ReportSpec, params: list[tuple[str, str]]) -> list[dict[str, t.Any]]:
        """Typed entries of one report run (fixed prompts of the spec first, then ``params``)."""
        convert = converter(self.report_schema(spec).schema)
        url = self.report_url(spec, [*spec.params, *params])
        request = requests.Request("GET", url, headers={"Accept": "application/json"})
        response = send_streamed(
            self.session,
            self.session.prepare_request(request),
            classify=soap_verdict,
            authenticate=self.raas_auth,
            kind="report",  # the tenant runs the report while this waits (F13)
        )
        if body_complete(response):  # a large 2xx body is streamed unread; errors are always read whole
            raise_for_response(response, self.redactor)
        try:
            return [convert(entry) for entry in iter_report_entries(response)]
        except ReportValueError as exc:
            raise exc.at(f"report {spec.report!r}") from None

    # --- REST ---------------------------------------------------------------------------------------------------

    def rest_rows(self, resource: str, *, page_size: int | None = None) -> Iterator[dict[str, t.Any]]:
        if self.oauth is None:
            raise ValueError("Workday REST needs the OAuth settings (client_id, client_secret, refresh_token)")
        limit = page_size or self.settings.rest_page_size
        offset = 0
        while True:
            url = f"{self.rest_base}/{resource}?{urlencode({'limit': limit, 'offset': offset})}"
            body = self.send("GET", url, auth=self.oauth, headers={"Accept": "application/json"}).json()
            path = f"/ccx/api/v1/{self.settings.tenant}/{resource}"
            rows = listed_rows(body, "data", f"workday REST {resource} ({path})")
            total = paged_total(body, offset, len(rows), path)  # before the rows: the connector check reads one
            yield from rows
            offset += len(rows)
            if not rows or offset >= total:
                return

    # --- SOAP ---------------------------------------------------------------------------------------------------

    def soap_rows(
        self, service: str, operation: str, criteria: list[etree._Element] | None = None
    ) -> Iterator[etree._Element]:
        """Every row of a SOAP operation, pages read at the first page's As_Of_Entry_DateTime."""
        page, as_of = 1, None
        url = soap_service_url(self.settings, service)
        while True:
            payload = soap_envelope(
                self.settings, operation, list(criteria or []), page=page, count=self.settings.soap_page_size,
                as_of=as_of,
            )  # fmt: skip
            response = self.send("POST", url, auth=self.soap_auth, data=payload, headers=request_headers(SOAP11, ""))
            result = read_soap_page(parsed_message(response), response)
            yield from result.rows
            as_of = as_of or result.as_of
            if result.page >= result.total_pages:
                return
            page = result.page + 1


def iter_report_entries(response: requests.Response) -> Iterator[dict[str, t.Any]]:
    """The report's ``Report_Entry`` items, decoded one by one as the body arrives (numbers with a fraction as
    ``Decimal``): a report of any size is never held whole. A body cut off mid-transfer is asked for again and
    resumed (``xlr8_kit.streaming.body_chunks``) or fails the run; it never ends the report early."""
    for block in iter_report_blocks(response):
        yield from block


def iter_report_blocks(response: requests.Response) -> Iterator[list[dict[str, t.Any]]]:
    """``iter_report_entries`` in blocks (``JsonArrayItems.blocks``: the entries one C call decoded, never
    empty), with the same errors after the same entries."""
    path = urlsplit(response.url).path
    items = JsonArrayItems(body_chunks(response, what="RaaS report"), "Report_Entry")
    try:
        yield from items.blocks()
    except JsonStreamError as exc:
        if exc.truncated:
            raise StreamedBodyError(
                f"workday: the report body ended early ({exc}); rows read so far were emitted, nothing is "
                "bookmarked past them: run again",
                path=path,
            ) from None
        if not items.found and not items.keys:
            raise ClientRequestError(
                "workday: the report did not answer a JSON object; check the URL is a RaaS report", path=path
            ) from None
        raise ClientRequestError(f"workday: the report is not valid JSON ({exc})", path=path) from None
    except ValueError as exc:  # an entry that is not valid JSON
        raise ClientRequestError(f"workday: the report is not valid JSON ({exc})"[:MAX_MESSAGE], path=path) from None
    if not items.found and items.keys:
        raise ClientRequestError(f"workday: unexpected report document (keys {sorted(items.keys)[:5]})", path=path)


def report_entries(response: requests.Response) -> list[dict[str, t.Any]]:
    return list(iter_report_entries(response))


_DICT = frozenset({dict})

# --- streams ----------------------------------------------------------------------------------------------------


class WorkdayStream(KitRESTStream):
    """Base of every Workday stream: vendor error shapes, the product id of the stream's side (HCM or Financials)."""

    #: ``workday_hcm`` or ``workday_fins`` (the annotation's product).
    xlr8_product: t.ClassVar[str] = "workday_hcm"

    @property
    def tap(self) -> TapWorkday:
        return t.cast("TapWorkday", self._tap)

    @property
    def settings(self) -> WorkdaySettings:
        return self.tap.settings

    @property
    def client(self) -> WorkdayClient:
        return self.tap.client

    @property
    def url_base(self) -> str:
        return self.settings.base_url

    @cached_property
    def post_filter(self) -> Translation | None:
        """The ``filters`` setting for this stream, checked on every fetched record (Workday's APIs take no
        general filter: RaaS prompts are report-specific, REST and SOAP have none for these resources)."""
        if not self.settings.filters or not self.settings.filters.strip():
            return None  # what filter_for_stream answers, without importing the query language
        from xlr8_kit.query.translate import filter_for_stream

        found = filter_for_stream(self.settings.filters, self.xlr8_product, self.name)
        return None if found is None else dataclasses.replace(found, residual=found.filter, limit_pushed=False)

    def post_process(self, row: dict[str, t.Any], context: Context | None = None) -> dict[str, t.Any] | None:
        wanted = self.post_filter
        return row if wanted is None or wanted.matches(row) else None

    def classify_response(self, response: requests.Response) -> Verdict:
        if response.status_code >= 500 and fault_of(response) is not None:
            return soap_verdict(response)
        return super().classify_response(response)

    def validate_response(self, response: requests.Response) -> None:
        if response.status_code < 400 and fault_of(response) is None:
            return
        try:
            raise_for_response(response, self._kit_tap.kit.redactor)
        except KitHTTPError:
            raise
        super().validate_response(response)


def paged_total(body: dict[str, t.Any], offset: int, rows: int, path: str) -> int:
    """The integer ``total`` of a REST page at ``offset`` that brought ``rows`` rows. An answer without one, whose
    rows run past it, or with no rows while it counts some past ``offset``, is an ``AnswerShapeError`` naming the
    page and ``total``, not "no more pages": every page after it would be lost, silently (the stream's paginator and
    the client's own paging, the connector check's, alike)."""
    total = body.get("total")
    if type(total) is not int:
        raise AnswerShapeError(
            f"workday REST page at offset {offset} ({path}): the answer has "
            f"{'no' if total is None else 'a non-integer'} 'total' beside its 'data' list, so the pages after it "
            "cannot be told; stopping rather than reading them as none",
            path=path,
        )
    if not rows and offset < total:
        # The page's own count says rows follow ``offset``: an empty list here is not the end (review29h M2). A
        # tenant whose rows were deleted between pages answers with its own, smaller ``total``, so this never fires.
        raise AnswerShapeError(
            f"workday REST page at offset {offset} ({path}): the answer's 'total' ({total}) counts rows past offset "
            f"{offset} but its 'data' list is empty; stopping rather than reading it as the last page",
            path=path,
        )
    read = offset + rows
    if rows and read > total:
        # Rows past the count the same answer gives (Workday's career-site API is seen to answer ``total: 0`` from
        # page 2 on while rows keep coming: review28e M1): "read < total" would end the paging here and lose every
        # later page with exit 0. Nothing documents ``total`` on ``/ccx/api/v1`` as unreliable after page 1, and
        # paging on by rows alone has no end a tenant that ignores ``offset`` would reach.
        raise AnswerShapeError(
            f"workday REST page at offset {offset} ({path}): the answer's 'total' ({total}) is below the {read} rows "
            "read up to and with this page, so the pages after it cannot be told; stopping rather than reading them "
            "as none",
            path=path,
        )
    return total


class OffsetPaginator(BaseAPIPaginator[int]):
    """``limit``/``offset`` to ``total``: the next offset is what has been read so far."""

    def __init__(self, limit: int) -> None:
        super().__init__(0)
        self.limit = limit
        #: ``total`` of the last answer (None before the first): no page is asked for ahead past it.
        self.total: int | None = None

    def get_next(self, response: requests.Response) -> int | None:
        """The rows read so far while below ``total``. An answer without the ``data`` list ends the paging (the
        page's parse names it: ``listed_rows``); one without an integer ``total``, or whose rows run past it, is an
        error, not "no more pages": every page after it would be lost, silently."""
        body = response_json(response)
        rows = body.get("data") if type(body) is dict else None
        if type(rows) is not list:
            return None
        offset = self.current_value or 0
        read = offset + len(rows)
        total = paged_total(body, offset, len(rows), urlsplit(response.url).path)
        self.total = total
        return read if read < total and rows else None

    def continue_if_empty(self, response: requests.Response) -> bool:
        """A page of no rows ends the paging only where its own ``total`` agrees: ``get_next`` (``paged_total``)
        raises for ``data: []`` below it (review29h M2), which the page loop never reaches on an empty page."""
        self.get_next(response)
        return False

    def page_count(self, response: requests.Response) -> int | None:
        """``total`` of this answer (on every page): a window checks each page against it
        (``xlr8_kit.http.window.CountsPages``)."""
        total = response_json(response).get("total")
        return total if isinstance(total, int) and not isinstance(total, bool) else None

    def predict_next(self, token: int | None) -> t.Any:
        """The offset after a full page, while below the reported total (``xlr8_kit.http.window``)."""
        offset = (token or 0) + self.limit
        return UNKNOWN if self.total is not None and offset >= self.total else offset


class WorkdayRestStream(WorkdayStream):
    """``/ccx/api/v1/{tenant}/<resource>`` with offset paging to the reported total."""

    resource: t.ClassVar[str]
    records_jsonpath = "$.data[*]"
    #: The next offset follows from this page alone (rows read so far against ``total``): fetched ahead.
    read_ahead_pages = True

    @property
    def path(self) -> str:  # type: ignore[override]
        return f"/ccx/api/v1/{self.settings.tenant}/{self.resource}"

    def get_new_paginator(self) -> BaseAPIPaginator:
        return OffsetPaginator(self.settings.rest_page_size)

    def get_url_params(self, context: Context | None, next_page_token: t.Any | None) -> dict[str, t.Any]:
        return {"limit": self.settings.rest_page_size, "offset": next_page_token or 0}

    @property
    def post_process_is_identity(self) -> bool:
        """True when no ``filters`` setting applies to the stream: ``post_process`` then keeps every record as it
        is, so the plain loop takes the pages read ahead whole (``parse_response``'s marks)."""
        return type(self).post_process is WorkdayStream.post_process and self.post_filter is None

    def parse_response(self, response: requests.Response) -> MarkedPage:
        """The page's workers, marked conformed and plain when the conformance in force would leave every one as
        it is (``Conformer.vouches_records``: references are flat objects); pages are parsed on the window's
        threads, so the marks travel with the page."""
        rows = listed_rows(response_json(response), "data", f"workday stream {self.name!r} ({self.path})")
        if not _DICT.issuperset(map(type, rows)):
            return MarkedPage(rows)  # taken record by record, failing where they always did
        conformed, plain = self._conformer.vouches_records(rows)
        return MarkedPage(rows, conformed=conformed, plain=plain)


class WindowPaginator(BaseAPIPaginator[tuple[date, date] | None]):
    """One request per date window; an empty window never ends the run."""

    def __init__(self, windows: list[tuple[date, date]]) -> None:
        super().__init__(windows[0] if windows else None)
        self.windows = windows
        self.index = 0

    def get_next(self, response: requests.Response) -> tuple[date, date] | None:
        self.index += 1
        return self.windows[self.index] if self.index < len(self.windows) else None

    def continue_if_empty(self, response: requests.Response) -> bool:
        return self.index + 1 < len(self.windows)


def restart_day(bookmark: str, date_suffix: str) -> date:
    """The first day a report is read again from: the bookmark's day in the prompts' own offset (``date_suffix``),
    so a bookmark written in another zone leaves no hours unread (audit24b M4). Without a suffix the prompts are in
    the tenant's zone, unknown here: a timestamp's day before, as well. A plain date bookmark is that day."""
    text = bookmark.strip()
    if len(text) == 10:
        return date.fromisoformat(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    offset = _suffix_offset(date_suffix)
    if moment.tzinfo is not None and offset is not None:
        return moment.astimezone(offset).date()
    return moment.date() - timedelta(days=1)


def _suffix_offset(date_suffix: str) -> timezone | None:
    """``-08:00`` / ``+05:30`` / ``Z`` as a fixed offset; None for no suffix or one this cannot read."""
    text = date_suffix.strip()
    if text in ("Z", "z"):
        return UTC
    if len(text) == 6 and text[0] in "+-" and text[3] == ":" and text[1:3].isdigit() and text[4:].isdigit():
        minutes = int(text[1:3]) * 60 + int(text[4:])
        return timezone(timedelta(minutes=-minutes if text[0] == "-" else minutes))
    return None


def date_windows(start: date, end: date, days: int) -> list[tuple[date, date]]:
    """Consecutive inclusive windows covering ``start``..``end``."""
    windows: list[tuple[date, date]] = []
    current = start
    while current <= end:
        last = min(end, current + timedelta(days=days - 1))
        windows.append((current, last))
        current = last + timedelta(days=1)
    return windows


class WorkdayRaasStream(WorkdayStream):
    """One custom report. Incremental reports are read in date windows from the bookmark's day to today."""

    spec: t.ClassVar[ReportSpec]
    report_schema: t.ClassVar[dict[str, t.Any]]
    is_sorted = False
    #: The report is streamed (``xlr8_kit.streaming``): same session, retries, redaction and audit.
    stream_bodies = True
    #: Each request runs the report on the tenant: ``http.report_read_timeout``, re-run at most once (F13).
    request_kind = "report"

    def __init__(self, tap: TapWorkday) -> None:
        super().__init__(tap=tap, name=self.spec.name, schema=self.report_schema, path=urlsplit(self.spec.url).path)
        self.primary_keys = list(self.spec.primary_keys)
        inc = self.spec.incremental
        self.replication_key = inc.replication_key if inc else None
        self._convert = converter(self.report_schema)
        self._convert_block = block_converter(self.report_schema)

    @property
    def authenticator(self) -> t.Any:
        return self.client.raas_auth

    def today(self) -> date:
        """Today in the prompts' offset (``date_suffix``; UTC without one), where the windows end. UTC's date in
        ``-08:00`` is the local tomorrow for eight hours a day: a read crossing local midnight then sees rows changed
        after it in that window, its bookmark passes the local day, and an edit made before midnight to a row an
        earlier window served is never read again (the next run starts at the bookmark's day)."""
        inc = self.spec.incremental
        offset = _suffix_offset(inc.date_suffix) if inc is not None else None
        return datetime.now(offset or UTC).date()

    def windows(self, context: Context | None) -> list[tuple[date, date]]:
        inc = self.spec.incremental
        assert inc is not None
        start = inc.start_date
        if inc.replication_key:
            bookmark = self.get_starting_replication_key_value(context)
            if bookmark:
                start = max(start, restart_day(str(bookmark), inc.date_suffix))  # the bookmark's day is re-read
        end = inc.end_date or self.today()
        return date_windows(start, end, inc.window_days)

    def get_new_paginator(self) -> BaseAPIPaginator:
        if self.spec.incremental is None:
            return WindowPaginator([])
        return WindowPaginator(self.windows(None))

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        request = super().get_http_request(page=page)
        params: list[tuple[str, str]] = list(self.spec.params)
        window = page.next_page_token
        inc = self.spec.incremental
        if inc is not None:
            if window is None:  # no window left to read (start after end)
                window = (date.max, date.max)
            params += [(inc.from_prompt, window[0].isoformat() + inc.date_suffix),
                       (inc.to_prompt, window[1].isoformat() + inc.date_suffix)]  # fmt: skip
        request.url = self.client.report_url(self.spec, params)
        request.params = {}
        request.headers = {**request.headers, "Accept": "application/json"}
        return request

    def request_records(self, context: Context | None) -> t.Iterable[dict]:
        if self.spec.incremental is not None and not self.windows(context):
            return  # bookmark already at the end date: nothing to ask
        yield from super().request_records(context)

    def validate_response(self, response: requests.Response) -> None:
        if response.status_code < 400 and not body_complete(response):
            return  # a large 2xx report, read as it streams; error answers are always small and read whole
        super().validate_response(response)

    def parse_response(self, response: requests.Response) -> t.Iterable[dict[str, t.Any]]:
        # Read lazily by the record loop itself (no ``read_ahead_pages``): the per-block mark is set on the thread
        # that reads it. A stream that parses pages on another thread would have to return ``MarkedPage``s.
        yield from self.records_of_blocks(self._converted_blocks(response))

    def _converted_blocks(self, response: requests.Response) -> Iterator[tuple[list[dict[str, t.Any]], bool]]:
        """The report's records a decoded block at a time, converted column by column (``block_converter``),
        each block with whether conformance would leave its records as they are (``Conformer.keeps_records``:
        the loop then spares its per-record check). A block the column step refuses is converted entry by entry,
        so an error is raised at its own entry, after the records before it."""
        convert, convert_block = self._convert, self._convert_block
        keeps = self._conformer.keeps_records
        rk = self.replication_key
        for entries in iter_report_blocks(response):
            records = convert_block(entries)
            if records is None:
                for entry in entries:
                    try:
                        record = convert(entry)
                    except ReportValueError as exc:
                        raise exc.at(f"report stream {self.name!r}") from None
                    if rk and rk not in record:
                        record[rk] = None
                    yield [record], False
            else:
                if rk:
                    # RaaS leaves an empty field out of the entry: an entry without the bookmark column keeps the
                    # bookmark where it is (a null replication value), never a bare KeyError (audit24b M2).
                    for record in records:
                        if rk not in record:
                            record[rk] = None
                yield records, keeps(records)


class SoapPaginator(BaseAPIPaginator[tuple[int, str | None] | None]):
    """Page numbers to Total_Pages; the first answer's As_Of_Entry_DateTime is sent with every later page."""

    def __init__(self) -> None:
        super().__init__(None)
        #: ``Total_Pages`` of the last answer (None before the first): no page is asked for ahead past it.
        self.total_pages: int | None = None

    def get_next(self, response: requests.Response) -> tuple[int, str | None] | None:
        page = read_soap_page(parsed_message(response), response)
        current = self.current_value
        as_of = current[1] if current is not None else page.as_of
        self.total_pages = page.total_pages
        return (page.page + 1, as_of) if page.page < page.total_pages else None

    def predict_next(self, token: tuple[int, str | None] | None) -> t.Any:
        """Page n+1 with the same As_Of moment, up to Total_Pages; unknown before the first answer (which names
        the moment every later page is read at)."""
        if token is None or self.total_pages is None or token[0] >= self.total_pages:
            return UNKNOWN
        return (token[0] + 1, token[1])


class WorkdaySoapStream(WorkdayStream):
    """One SOAP ``Get_*`` operation; subclasses give the service, operation, criteria and the row extractor."""

    service: t.ClassVar[str]
    operation: t.ClassVar[str]
    #: The next page (number, and the first page's As_Of_Entry_DateTime) follows from this page alone: fetched ahead.
    read_ahead_pages = True
    rest_method = "POST"
    http_method = "POST"
    payload_as_json = False

    @property
    def path(self) -> str:  # type: ignore[override]
        return f"/ccx/service/{self.settings.tenant}/{self.service}/{self.settings.soap_version}"

    @property
    def authenticator(self) -> t.Any:
        return self.client.soap_auth

    def criteria(self, context: Context | None, as_of: str | None) -> list[etree._Element]:
        """Request_Criteria; ``as_of`` is the moment held fixed for this sync (None on the first page unless
        ``first_page_moment`` names one)."""
        return []

    def first_page_moment(self, context: Context | None) -> str | None:
        """The As_Of_Entry_DateTime page 1 is read at; None lets the tenant answer with its own "now"."""
        return None

    def tenant_moment(self, context: Context | None) -> str:
        """The tenant's "now", asked with one one-row page of the operation (no criteria): a moment from the
        tenant's clock, never this machine's, so clock skew cannot move a window past entries not yet read."""
        payload = soap_envelope(self.settings, self.operation, [], page=1, count=1, as_of=None)
        prepared = self.build_prepared_request(
            method="POST",
            url=self.get_url(context),
            headers={**self.http_headers, **request_headers(SOAP11, "")},
            data=payload,
        )
        response = self._request(prepared, context)
        message = parsed_message(response)
        if message.fault is not None:
            raise SoapFaultError(message.fault, status=response.status_code, path=self.path)
        moment = read_soap_page(message, response).as_of
        if not moment:
            raise KitHTTPError(
                f"{self.operation} answered without Response_Filter/As_Of_Entry_DateTime; the stream "
                f"{self.name!r} cannot hold one moment for its pages",
                status=response.status_code,
                path=self.path,
            )
        return moment

    def extract(self, node: etree._Element) -> dict[str, t.Any]:
        raise NotImplementedError

    def get_new_paginator(self) -> BaseAPIPaginator:
        return SoapPaginator()

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        token = page.next_page_token
        number, as_of = token if token is not None else (1, self.first_page_moment(page.stream_context))
        payload = soap_envelope(
            self.settings, self.operation, self.criteria(page.stream_context, as_of), page=number,
            count=self.settings.soap_page_size, as_of=as_of,
        )  # fmt: skip
        return HTTPRequest(
            url=self.get_url(page.stream_context),
            method="POST",
            headers={**self.http_headers, **request_headers(SOAP11, "")},
            params={},
            data=payload,
        )

    def parse_response(self, response: requests.Response) -> t.Iterable[dict[str, t.Any]]:
        message = parsed_message(response)
        if message.fault is not None:
            raise SoapFaultError(message.fault, status=response.status_code, path=self.path)
        page = read_soap_page(message, response)
        for node in page.rows:
            yield self.extract_with_moment(node, page)

    def extract_with_moment(self, node: etree._Element, page: SoapPage) -> dict[str, t.Any]:
        return self.extract(node)
