"""Salesforce HTTP client (one implementation of each call, shared by the tap's streams and the connector) and the
product's base stream.

``SalesforceClient`` sends everything through the kit's ``ResilientSession`` (retries, quota guard, audit) with the
kit's authenticator (401 INVALID_SESSION_ID -> one refresh, one retry). ``SalesforceStream`` plans each read: REST
``query``/``queryAll`` pages or a Bulk API 2.0 job, ordered by (replication key, Id), windows split in half on
QUERY_TIMEOUT, records equal to the bookmark de-duplicated by Id, deletions emitted with ``_sdc_deleted_at``.
"""

from __future__ import annotations

import contextvars
import csv
import dataclasses
import functools
import io
import itertools
import logging
import operator
import re
import threading
import time
import typing as t
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from itertools import compress, repeat
from itertools import count as count_up
from urllib.parse import urlencode, urlsplit

import msgspec
import requests
from singer_sdk.exceptions import InvalidStreamSortException
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib.catalog import REPLICATION_INCREMENTAL

from xlr8_kit.auth import TokenAuthenticator
from xlr8_kit.http.abort import TERMINATION, nap, never_given_up
from xlr8_kit.http.classify import NOT_JSON, ResponseClassifier, Verdict, json_or_not
from xlr8_kit.http.errors import (
    AnswerShapeError,
    ClientRequestError,
    OutcomeUnknownError,
    QuotaExhaustedError,
    RequestAbortedError,
    ServerUnavailableError,
    json_kind,
)
from xlr8_kit.http.readahead import read_ahead
from xlr8_kit.http.session import HttpPolicy, ResilientSession
from xlr8_kit.redaction import Redactor
from xlr8_kit.rest import KitRESTStream, sorted_bookmark_page_step
from xlr8_kit.singer_io import (
    TINY_FRACTIONS,
    RawNumbers,
    WrittenRecord,
    decimal_keeps_text,
    listed_rows,
    loads_marked,
    loads_with,
    written_record_type,
)
from xlr8_kit.streaming import ChunkReader, body_chunks, send_streamed
from xlr8_tap_salesforce import discovery
from xlr8_tap_salesforce.auth import instance_url
from xlr8_tap_salesforce.early import BulkJobCreate, EarlyBulkJob, EarlyQuery
from xlr8_tap_salesforce.early import sobject_of as _sobject_of
from xlr8_tap_salesforce.ranges import Plan, RangedQuery

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from xlr8_kit.query import Translation
    from xlr8_tap_salesforce.tap import SalesforceSettings, TapSalesforce

logger = logging.getLogger("xlr8_tap_salesforce")

#: Composite batch takes at most 25 subrequests.
COMPOSITE_BATCH_LIMIT = 25
MAX_MESSAGE = 300
#: Lower bound for date windows when there is no bookmark and no start_date (Salesforce started in 1999).
EPOCH_FLOOR = datetime(1999, 1, 1, tzinfo=UTC)
#: More Ids than this at one timestamp and the boundary is kept as "at least once" instead of de-duplicated.
MAX_BOUNDARY_IDS = 20_000
BOUNDARY_KEY = "xlr8_boundary"
#: Re-issues of one stream's query after expired cursors before giving up.
MAX_QUERY_RESTARTS = 3
#: Seconds a stream's REST reads stay one cursor after a range of its ranged read timed out beyond splitting: the
#: rest of that read, and the stream's reads starting within them (a connector reading it again soon would pay the
#: range's QUERY_TIMEOUTs again, up to 2 minutes each on an org under load); later reads are ranged again.
ONE_CURSOR_SECONDS = 600.0
#: Fresh queries one stream's read issues after a later page (``nextRecordsUrl``) answered QUERY_TIMEOUT, each
#: after the query before it answered a page (a timeout before its first page is the window split's, or fatal).
MAX_TIMEOUT_RESUMES = 10
#: Bulk rows built into records at a time (a result page holds up to ``bulk_max_records``, read as it streams):
#: few, so a chunk's records die young (2,000 at once cost more in garbage collection than the generators saved).
BULK_CHUNK = 100
#: Seconds a COUNT() taken to choose the API (``auto``) stays fresh enough to size the ranged read of the same
#: window instead of counting it again (a stale count only makes ranges uneven, never wrong).
COUNT_REUSE_SECONDS = 60.0
#: A page as a read gives it: records, or (records, plain).
_P = t.TypeVar("_P", list[dict[str, t.Any]], tuple[list[dict[str, t.Any]], bool])


#: The first wait before a Bulk job's first poll, seconds, counted from the job's creation: a small job is often
#: done within a second, and waiting the whole ``bulk_poll_interval`` (5 s by default) before the first look costs
#: every such job those seconds. No poll goes out sooner: a job just created is never done (a real one runs seconds
#: to minutes), so a poll right after the create answer is a round trip spent on ``UploadComplete``.
FIRST_BULK_POLL_WAIT = 0.5


def bulk_poll_wait(previous: float, longest: float) -> float:
    """The wait before the next Bulk job poll: ``FIRST_BULK_POLL_WAIT`` first, then twice the previous wait, never
    more than ``longest`` (the ``bulk_poll_interval`` setting), so a long job is polled at the set interval."""
    return min(longest, previous * 2 if previous else FIRST_BULK_POLL_WAIT)


class SalesforceAPIError(ClientRequestError):
    """A Salesforce error body ``[{"message","errorCode","fields"}]``; ``error_code`` is the vendor's code."""

    def __init__(self, message: str, *, error_code: str, status: int | None = None, path: str | None = None) -> None:
        super().__init__(message, status=status, path=path)
        self.error_code = error_code


class QueryTimeoutError(SalesforceAPIError):
    """QUERY_TIMEOUT: the query scanned too much; the stream retries with a smaller date window."""


class RangeTimeoutError(QueryTimeoutError):
    """QUERY_TIMEOUT of a ranged read's range that splitting could not clear (its halves down to
    ``min_window_seconds`` timed out, or it timed out after its first rows): the stream reads on as one cursor."""


class SalesforceClassifier(ResponseClassifier):
    """403 REQUEST_LIMIT_EXCEEDED is the daily quota (not an auth failure, never retried), unless it names a
    concurrency limit ("ConcurrentPerOrgLongTxn Limit exceeded", "ConcurrentRequests ...": other long requests of
    the org, transient, retried with backoff; audit24a M5) and the org's usage header is not at its limit."""

    def classify(self, response: requests.Response) -> Verdict:
        if response.status_code == 403 and error_code_of(response) == "REQUEST_LIMIT_EXCEEDED":
            if _names_concurrency_limit(response) and not _api_usage_at_limit(response):
                return "retry"
            return "quota"
        return super().classify(response)


def _names_concurrency_limit(response: requests.Response) -> bool:
    body = json_or_not(response)
    first = body[0] if isinstance(body, list) and body else body
    message = str(first.get("message") or "") if isinstance(first, dict) else ""
    return message.startswith("Concurrent") and "TotalRequests" not in message


def _api_usage_at_limit(response: requests.Response) -> bool:
    """``Sforce-Limit-Info: api-usage=used/limit`` at or past its limit."""
    info = response.headers.get("Sforce-Limit-Info") or ""
    for part in info.split(","):
        name, _, value = part.strip().partition("=")
        if name == "api-usage":
            used, _, limit = value.partition("/")
            if used.isdigit() and limit.isdigit():
                return int(used) >= int(limit)
    return False


class QueryPageClassifier(SalesforceClassifier):
    """A REST query page parsed once, by its read's own parse (``parse``: (body, plain), ``loads_marked``): the
    classifier reads the parse instead of probing the body again, and the read takes it from the response."""

    def __init__(self, parse: Callable[[bytes], tuple[t.Any, bool]]) -> None:
        self.parse = parse

    def parse_body(self, response: requests.Response) -> tuple[t.Any, bool]:
        return self.parse(response.content)

    def body_of(self, parsed: tuple[t.Any, bool]) -> object:
        body = parsed[0]
        if isinstance(body, QueryPage):  # the object it was parsed from, for the classifier's ``status`` question
            return {} if body.status is msgspec.UNSET else {"status": body.status}
        return body


def error_code_of(response: requests.Response) -> str | None:
    body = json_or_not(response)
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("errorCode") or "") or None
    if isinstance(body, dict):
        return str(body.get("errorCode") or body.get("error") or "") or None
    return None


def soql_datetime(moment: datetime) -> str:
    """SOQL dateTime literal (whole seconds, UTC): a floor, so ``>=`` never skips a record."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_sf_datetime(value: str) -> datetime:
    text = value.replace("Z", "+00:00")
    if len(text) >= 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class SalesforceClient:
    """Describe, query, Bulk API 2.0 and limits calls for one org (one credential)."""

    def __init__(
        self,
        session: requests.Session,
        authenticator: TokenAuthenticator,
        *,
        api_version: str,
        redactor: Redactor,
        batch_size: int = 2000,
        bulk_max_records: int = 50_000,
        bulk_poll_interval: float = 5.0,
        bulk_max_wait: float = 3600.0,
        sleep: Callable[[float], None] = nap,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.authenticator = authenticator
        self.api_version = api_version.lstrip("v")
        self.redactor = redactor
        self.batch_size = batch_size
        self.bulk_max_records = bulk_max_records
        self.bulk_poll_interval = bulk_poll_interval
        self.bulk_max_wait = bulk_max_wait
        #: Between a Bulk job's polls: ends when a signal ends the process (``nap``), so a poll read ahead on a worker
        #: thread does not hold the exit for its wait (up to ``bulk_poll_interval``); the job is then aborted.
        self.sleep = sleep
        self.clock = clock
        #: ``clock()`` when each Bulk job this client created was asked for (``read_bulk_job``'s first wait).
        self._bulk_created: dict[str, float] = {}
        #: Each completed Bulk job's ``createdDate`` (server time): its rows' bookmark goes no later (``_land_bulk``).
        self.bulk_job_started: dict[str, str | None] = {}
        self.classifier = SalesforceClassifier()
        self._describe_cache: dict[str, dict[str, t.Any]] = {}
        self._global_describe: dict[str, t.Any] | None = None
        #: The body size of the query page this thread read last (``last_page_bytes``).
        self._page_bytes = threading.local()
        #: A stream's first query sent beside the describe, until its stream takes it (``early.py``).
        self._early: EarlyQuery | None = None
        #: ``COUNT()`` of a stream's rows sent beside the describe (``send_early_count``), until ``count`` asks it.
        self._early_count: EarlyQuery | None = None
        #: A stream's Bulk query job created beside the describe (``send_early_bulk``), until its stream takes it.
        self._early_bulk: EarlyBulkJob | None = None
        #: Bulk creates under way on their own threads (``start_bulk_job``), until their jobs' ids are read.
        self._creates: list[BulkJobCreate] = []

    # -- plumbing ---------------------------------------------------------------------------------------------

    @property
    def instance_url(self) -> str:
        return instance_url(self.authenticator)

    def data_url(self, suffix: str) -> str:
        return f"{self.instance_url}/services/data/v{self.api_version}/{suffix.lstrip('/')}"

    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, t.Any] | None = None,
        json_body: t.Any = None,
        headers: dict[str, str] | None = None,
        classify: Callable[[requests.Response], Verdict] | None = None,
        policy: HttpPolicy | None = None,
        idempotent: bool = True,
    ) -> requests.Response:
        """One logical call: the session retries and guards; Salesforce error bodies become typed errors.
        ``classify`` replaces the client's classifier for this call's responses, ``policy`` the session's;
        ``idempotent=False`` for a create (never resent once it may have reached the org)."""
        prepared = self.session.prepare_request(
            requests.Request(
                method,
                url,
                params=params,
                json=json_body,
                headers={"Accept": "application/json", **(headers or {})},
            )
        )
        # The session signs each attempt itself (a retry after a wait carries a fresh token) and turns a 401
        # INVALID_SESSION_ID into one forced refresh and one retry.
        send = t.cast("t.Any", self.session.send)
        response: requests.Response = send(
            prepared,
            classify=classify or self.classifier.classify,
            authenticate=self.authenticator,
            policy=policy,
            idempotent=idempotent,
        )
        if response.status_code >= 400:
            self._raise_error(method, response)
        return response

    def _raise_error(self, method: str, response: requests.Response) -> t.NoReturn:
        path = urlsplit(response.url).path
        code = error_code_of(response) or "UNKNOWN"
        body = json_or_not(response)
        if body is NOT_JSON:
            detail = response.text
        else:
            first = body[0] if isinstance(body, list) and body else None
            detail = first.get("message", "") if isinstance(first, dict) else str(body)
        message = self.redactor.redact(
            f"salesforce {method} {path}: HTTP {response.status_code} {code}: {str(detail)[:MAX_MESSAGE]}"
        )
        error_type = QueryTimeoutError if code == "QUERY_TIMEOUT" else SalesforceAPIError
        raise error_type(message, error_code=code, status=response.status_code, path=path)

    def get_json(self, url: str, **kwargs: t.Any) -> t.Any:
        response = self.request("GET", url, **kwargs)
        return loads_with(response.content, canonical_decimal)  # one spelling per value (REST = Bulk)

    # -- metadata ---------------------------------------------------------------------------------------------

    def global_describe(self) -> dict[str, t.Any]:
        """The org's global describe, cached; one without its ``sobjects`` list is an ``AnswerShapeError`` naming
        it, never an org without objects (discovery would find no stream and exit 0)."""
        if self._global_describe is None:
            url = self.data_url("sobjects")
            answer = self.get_json(url)
            listed_rows(answer, "sobjects", f"salesforce global describe ({urlsplit(url).path})")
            self._global_describe = answer
        return self._global_describe

    def describe_many(self, names: list[str]) -> dict[str, dict[str, t.Any]]:
        """Describes for ``names``, 25 per composite batch call, cached for the life of the client."""
        missing = [n for n in names if n not in self._describe_cache]
        for start in range(0, len(missing), COMPOSITE_BATCH_LIMIT):
            chunk = missing[start : start + COMPOSITE_BATCH_LIMIT]
            body = {
                "batchRequests": [
                    {"method": "GET", "url": f"v{self.api_version}/sobjects/{name}/describe"} for name in chunk
                ]
            }
            url = self.data_url("composite/batch")
            response = self.request("POST", url, json_body=body)
            where = f"salesforce describe of {', '.join(chunk)} ({urlsplit(url).path})"
            results = listed_rows(response.json(), "results", where)
            if len(results) != len(chunk):  # each sub-request has its result, in order (composite/batch)
                raise AnswerShapeError(
                    f"{where}: {len(results)} result(s) for {len(chunk)} describe request(s); the objects cannot be "
                    "told apart, so discovery stops here",
                    path=where,
                )
            for name, result in zip(chunk, results, strict=True):
                if result.get("statusCode") != 200:
                    raise SalesforceAPIError(
                        f"salesforce describe of {name}: HTTP {result.get('statusCode')} "
                        f"{str(result.get('result'))[:MAX_MESSAGE]} (check setting 'objects')",
                        error_code="DESCRIBE_FAILED",
                        status=result.get("statusCode"),
                    )
                self._describe_cache[name] = result["result"]
        return {name: self._describe_cache[name] for name in names}

    def limits(self) -> dict[str, t.Any]:
        return t.cast("dict[str, t.Any]", self.get_json(self.data_url("limits")))

    # -- REST query -------------------------------------------------------------------------------------------

    def query_pages(self, soql: str, *, include_deleted: bool = False) -> Iterator[list[dict[str, t.Any]]]:
        """Pages of records (``attributes`` removed), following ``nextRecordsUrl`` until ``done``."""
        for records, _plain in self.query_pages_marked(soql, include_deleted=include_deleted):
            yield records

    def query_pages_marked(
        self,
        soql: str,
        *,
        include_deleted: bool = False,
        numbers: RawNumbers | None = None,
        records: QueryPageType | None = None,
        early: EarlyQuery | None = None,
    ) -> QueryPages:
        """``query_pages`` with, per page, whether its records are plain (``singer_io.loads_marked``); with
        ``numbers``, fractional numbers as it gives them (records only the kit's writer reads); with ``records``
        too (``query_page_type`` of the SOQL's fields), a page whose records hold exactly those fields, the first in
        that order, as ``QueryRecord`` structs (any other page as dicts). ``early``: this query sent already
        (``take_early``), its page 1 read from it."""
        return QueryPages(
            lambda cursor: self._marked_query_pages(cursor, soql, include_deleted, numbers, records, early)
        )

    def _marked_query_pages(
        self,
        cursor: QueryPages,
        soql: str,
        include_deleted: bool,
        numbers: RawNumbers | None,
        records_as: QueryPageType | None = None,
        early: EarlyQuery | None = None,
    ) -> Generator[tuple[list[dict[str, t.Any]], bool]]:
        url = self.data_url("queryAll" if include_deleted else "query")
        params: dict[str, t.Any] | None = {"q": soql}
        headers = {"Sforce-Query-Options": f"batchSize={self.batch_size}"}
        # One spelling per value (as get_json), as a Decimal or as the text the writer writes for it.
        parse: Callable[[bytes], tuple[t.Any, bool]] = (
            functools.partial(loads_marked, parse_float=canonical_decimal) if numbers is None else numbers.loads_marked
        )
        if numbers is not None and records_as is not None:
            parse = records_as.parser(numbers, _sobject_of(soql))
        classifier = QueryPageClassifier(parse)
        while True:
            # page 1 sent beside the describe: classified by the session as any answer, parsed here as this read's
            sent = early.page() if early is not None else None
            early = None
            if sent is None:
                response = self.request("GET", url, params=params, headers=headers, classify=classifier.classify)
            else:
                response = sent
            body, plain = classifier.parsed_body(response)
            where = f"salesforce query of {_sobject_of(soql)} ({urlsplit(url).path})"
            if isinstance(body, QueryPage):  # records as structs, ``attributes`` left out when they are written
                records, next_url, done = body.records, body.nextRecordsUrl, body.done
            else:  # an answer without the records list (a gateway's page, a changed shape) is not "no rows"
                records = listed_rows(body, "records", where)
                for record in records:
                    record.pop("attributes", None)
                next_url, done = body.get("nextRecordsUrl"), body.get("done", msgspec.UNSET)
            cursor.more = _more_pages(done, next_url, where)
            self._page_bytes.size = len(response.content)
            del response, body  # the body's bytes (2-3 MB) are parsed: not held while the page waits to be emitted
            yield records, plain
            if not cursor.more:
                return
            url, params = self.instance_url + next_url, None

    def last_page_bytes(self) -> int:
        """The response body size of the query page this thread read last: a range reader weighs the page it just
        read (through the range's query and its splitting, which hide the cursor) by its bytes."""
        return int(getattr(self._page_bytes, "size", 0))

    def count(self, sobject: str, where: str | None = None, *, include_deleted: bool = False) -> int:
        soql = count_soql(sobject, where)
        early, self._early_count = _matching(self._early_count, soql, include_deleted), None
        sent = None
        if early is not None:  # ``send_early_count``'s answer: this very count
            try:
                sent = early.page()
            finally:
                early.close()
        if sent is None:
            url = self.data_url("queryAll" if include_deleted else "query")
            sent = self.request("GET", url, params={"q": soql})
        return int(loads_with(sent.content, canonical_decimal)["totalSize"])

    def newest(self, sobject: str, key: str, where: str | None, *, include_deleted: bool) -> datetime | None:
        """The newest ``key`` value of the rows ``where`` selects (None: no row, or no value)."""
        soql = f"SELECT {key} FROM {sobject}"  # noqa: S608 - SOQL built from describe names
        if where:
            soql += f" WHERE {where}"
        soql += f" ORDER BY {key} DESC, Id DESC LIMIT 1"
        newest = next(iter(self.query_pages(soql, include_deleted=include_deleted)), [])
        value = newest[0].get(key) if newest else None
        return parse_sf_datetime(value) if isinstance(value, str) else None

    def plan(self, sobject: str, key: str, where: str | None, *, include_deleted: bool) -> Plan:
        """A ranged read's plan: COUNT() of the rows ``where`` selects and their newest ``key`` value, side by side
        (one round trip)."""
        with ThreadPoolExecutor(1, thread_name_prefix=f"xlr8-{sobject}-plan") as beside:
            newest = beside.submit(
                contextvars.copy_context().run, self.newest, sobject, key, where, include_deleted=include_deleted
            )
            rows = self.count(sobject, where, include_deleted=include_deleted)
            return Plan(rows, newest.result())

    def send_early(self, soql: str, *, include_deleted: bool, plan: Callable[[], Plan] | None) -> None:
        """Send ``soql``'s page 1 (and ``plan``) now, before the stream that reads it exists (``early.py``); the
        token is fetched first, on this thread, as the describe would."""
        self.give_up_early()
        self._early = self._early_query(
            soql, include_deleted, {"Sforce-Query-Options": f"batchSize={self.batch_size}"}, plan
        )

    def send_early_count(self, sobject: str, *, include_deleted: bool) -> None:
        """Send ``COUNT()`` of every row of ``sobject`` now (``early.py``): ``count`` reads its answer if it is
        asked that very count next (``api_type: auto`` choosing the API of an object's first read)."""
        self.give_up_early()
        self._early_count = self._early_query(count_soql(sobject, None), include_deleted, {}, None)

    def _early_query(
        self, soql: str, include_deleted: bool, headers: dict[str, str], plan: Callable[[], Plan] | None
    ) -> EarlyQuery:
        url = self.data_url("queryAll" if include_deleted else "query")

        def page() -> requests.Response:
            return self.request("GET", url, params={"q": soql}, headers=headers)

        return EarlyQuery(soql, include_deleted, page, plan)

    def take_early(self, soql: str, *, include_deleted: bool) -> EarlyQuery | None:
        """The query sent early if it is ``soql`` to the same endpoint (the caller closes it once read), else
        None, the one sent early given up (a describe that disagreed with the catalog made another query)."""
        early, self._early = _matching(self._early, soql, include_deleted), None
        return early

    def give_up_early(self) -> None:
        """Give up a query sent early that no stream took (its stream did not read by REST, or read another); a
        Bulk job created early and not taken is aborted, and so is one whose create a signal left unread."""
        for early in (self._early, self._early_count, self._early_bulk, *self._creates):
            if early is not None:
                early.close()
        self._early = self._early_count = self._early_bulk = None
        self._creates.clear()

    # -- Bulk API 2.0 -----------------------------------------------------------------------------------------

    def bulk_query(self, soql: str, *, include_deleted: bool = False) -> Iterator[Iterator[dict[str, str]]]:
        """Run a Bulk API 2.0 query job and yield its CSV result pages as rows of strings (follows Sforce-Locator)."""
        return self.read_bulk_job(self.start_bulk_job(soql, include_deleted=include_deleted))

    def start_bulk_job(self, soql: str, *, include_deleted: bool = False) -> str:
        """Create a Bulk API 2.0 query job; Salesforce runs it while we do other things. Returns its id. The create
        goes out on a thread of its own (``BulkJobCreate``): a signal ending the wait here leaves the job to the way
        out (``give_up_early``), which aborts it once the create answers."""
        send = functools.partial(self._create_bulk_job, soql, include_deleted)
        create = BulkJobCreate(soql, send, self.abort_bulk_job)
        self._creates.append(create)
        try:
            job_id = create.take()
        except Exception:
            self._creates.remove(create)  # the create's own error: it made no job
            raise
        self._creates.remove(create)
        return t.cast("str", job_id)  # None only for an optional create

    def _create_bulk_job(self, soql: str, include_deleted: bool) -> str:
        """The create's request. Not sent once a signal ends the process (no job to abort then)."""
        url = self.data_url("jobs/query")  # a token fetched first is not the job's age
        if TERMINATION.aborted.is_set():
            raise RequestAbortedError(f"salesforce POST {urlsplit(url).path}: not sent, the process is ending")
        asked = self.clock()
        body = {
            "operation": "queryAll" if include_deleted else "query",
            "query": soql,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        }
        try:
            with never_given_up():  # a create cut by a termination after the org made the job would leave it running
                # Never resent once it may have reached the org: a second job would run beside the first, whose
                # id was never read, so nothing could abort it (audit25d F1).
                job = self.request("POST", url, json_body=body, idempotent=False).json()
        except OutcomeUnknownError as exc:
            raise exc.explained(
                f"a Bulk query job for {_sobject_of(soql)} may be running on the org unread (Setup > Bulk "
                "Data Load Jobs); if the org answers creates slowly, raise http.read_timeout"
            ) from None
        job_id = str(job["id"])
        self._bulk_created[job_id] = asked
        return job_id

    def send_early_bulk(self, soql: str, *, include_deleted: bool) -> None:
        """Create ``soql``'s Bulk query job now, before the stream that reads it exists (``early.py``); the token is
        fetched first, on this thread, as the describe would."""
        self.give_up_early()
        self.data_url("jobs/query")
        self._early_bulk = EarlyBulkJob(
            soql,
            include_deleted,
            functools.partial(self._create_bulk_job, soql, include_deleted),
            self.abort_bulk_job,
        )

    def bulk_job_for(self, soql: str, *, include_deleted: bool) -> str:
        """The id of a Bulk query job of ``soql``: the one created early if it is this very job (same SOQL, same
        operation), else a new one. One created early for this object and another query is aborted first. Each
        stays the client's (``give_up_early``) until taken or closed, so a signal meanwhile leaves no job unseen."""
        early = self._early_bulk
        if early is not None and _sobject_of(early.soql) == _sobject_of(soql):
            if early.matches(soql, include_deleted):
                job_id = early.take()
                self._early_bulk = None
                if job_id is not None:
                    return job_id
            else:
                early.close()  # a describe that disagreed with the catalog made another query
                self._early_bulk = None
        return self.start_bulk_job(soql, include_deleted=include_deleted)

    def abort_bulk_job(self, job_id: str) -> None:
        """Abort a query job the tap will not read (Abort a Query Job: PATCH ``{"state": "Aborted"}``), so it
        stops using the org's Bulk limits. Best effort: a job that already finished cannot be aborted, and a
        failure here must not hide why the job was given up. Past the quota guard's share and an open circuit too
        (the run stopping at either is one way a job is given up): one request more, and the org's job stops."""
        session = t.cast("ResilientSession", self.session)
        once = dataclasses.replace(
            session.policy,
            max_attempts=1,
            max_elapsed=min(session.policy.max_elapsed, 15.0),
            max_quota_share=None,
            bypass_breaker=True,  # the poll that gave up on 5xx may just have opened the circuit (audit25d F16)
        )
        try:
            with never_given_up():  # sent when a termination gave up every other request (the tap's way out)
                self.request(
                    "PATCH", self.data_url(f"jobs/query/{job_id}"), json_body={"state": "Aborted"}, policy=once
                )
        except Exception as exc:  # noqa: BLE001 - logged; the caller goes on (or raises its own reason)
            logger.warning("salesforce bulk query job %s: could not abort it: %s", job_id, exc)

    def read_bulk_job(self, job_id: str, *, abort_if_given_up: bool = False) -> Iterator[BulkPage]:
        """Wait for a job (polling) and yield its CSV result pages as rows of strings (follows Sforce-Locator).

        Each poll goes out its wait (``bulk_poll_wait``) after the previous one was sent, the first after the create
        was sent: the schedule is the job's age, so a round trip spent on the wire counts towards the wait instead of
        adding to it (at 100 ms a request, the create's answer arrives while the first wait runs). At most one poll
        is in flight, never two closer than their wait. ``abort_if_given_up``: the job is the caller's own, so one
        still running at ``bulk_max_wait``, or when a wait or a poll fails, is aborted (a job handed in by a
        connector caller is left to it)."""
        job = {"id": job_id}
        job_url = self.data_url(f"jobs/query/{job_id}")
        created = self._bulk_created.pop(job_id, None)
        # a job created elsewhere (a connector caller, who may have seen it finish) is asked about at once
        at_once = created is None
        sent = self.clock() if created is None else created
        waited = wait = 0.0
        while True:
            try:
                if at_once:
                    at_once = False
                else:
                    wait = bulk_poll_wait(wait, self.bulk_poll_interval)
                    self.sleep(max(0.0, sent + wait - self.clock()))
                    waited += wait
                sent = self.clock()
                info = self.get_json(job_url)
            except BaseException:
                # the wait or the poll ended the read (the quota stop, the org unreachable): the job is not left
                # running against the org's daily query jobs
                if abort_if_given_up:
                    self.abort_bulk_job(job_id)
                raise
            state = info.get("state")
            if state == "JobComplete":
                self.bulk_job_started[job_id] = info.get("createdDate")
                break
            if state in ("Failed", "Aborted"):
                message = str(info.get("errorMessage") or state)
                error_type = QueryTimeoutError if bulk_timed_out(message) else SalesforceAPIError
                raise error_type(
                    f"salesforce bulk query job {job['id']} {state}: {message[:MAX_MESSAGE]}",
                    error_code="QUERY_TIMEOUT" if error_type is QueryTimeoutError else "BULK_JOB_FAILED",
                )
            if waited >= self.bulk_max_wait:
                if abort_if_given_up:  # not left running against the org's daily job limit
                    self.abort_bulk_job(job_id)
                raise ServerUnavailableError(
                    f"salesforce bulk query job {job['id']} still {state} after {waited:.0f} s (bulk_max_wait)"
                )
        locator: str | None = None
        while True:
            params: dict[str, t.Any] = {"maxRecords": self.bulk_max_records}
            if locator:
                params["locator"] = locator
            prepared = self.session.prepare_request(
                requests.Request("GET", job_url + "/results", params=params, headers={"Accept": "text/csv"})
            )
            response = send_streamed(
                t.cast("ResilientSession", self.session),
                prepared,
                classify=self.classifier.classify,
                authenticate=self.authenticator,
            )
            if response.status_code >= 400:  # error answers are read whole
                self._raise_error("GET", response)
            locator = response.headers.get("Sforce-Locator")
            # The page is decoded and split into rows as it arrives (xlr8_kit.streaming): one piece of it in
            # memory at a time, whatever maxRecords is; a page cut mid-transfer is asked for again and resumed.
            body = ChunkReader(body_chunks(response, what=f"bulk result page of job {job_id}"))
            yield BulkPage(io.TextIOWrapper(t.cast("t.BinaryIO", body), encoding="utf-8", newline=""))
            if not locator or locator == "null":
                return


if t.TYPE_CHECKING:
    _DictReader = csv.DictReader[str]
else:
    _DictReader = csv.DictReader


class BulkPage(_DictReader):
    """A Bulk result page's ``csv.DictReader``, keeping the text it reads for ``bulk_row_chunks``."""

    def __init__(self, text: t.TextIO) -> None:
        super().__init__(text)
        self.text = text


def bulk_row_chunks(page: csv.DictReader[str], size: int) -> Iterator[list[list[str]]]:
    """``list(islice(page.reader, size))`` while it gives rows (a blank line an empty row), after the header: a
    block of ``size`` lines without quote, carriage return, NUL, blank line or line longer than the csv module's
    field limit is split at its newlines and commas in C (what the csv module's state machine, a call per
    character, gives for such lines); any other block is read by a csv reader, which takes the lines after the
    block too while a quoted cell runs on."""
    if page.fieldnames is None:  # the header is read first; an empty page has no rows
        return
    lines = page.text if isinstance(page, BulkPage) else None
    if lines is None:
        while chunk := list(itertools.islice(page.reader, size)):
            yield chunk
        return
    limit = csv.field_size_limit()
    while block_lines := list(itertools.islice(lines, size)):
        block = "".join(block_lines)
        if any(map(block.__contains__, _NOT_PLAIN_LINES)) or block[0] == "\n" or max(map(len, block_lines)) > limit:
            reader = csv.reader(itertools.chain(block_lines, lines))
            rows = []
            while reader.line_num < len(block_lines):
                rows.append(next(reader))
            yield rows
            continue
        yield list(map(str.split, (block[:-1] if block[-1] == "\n" else block).split("\n"), repeat(",")))


#: What a block of CSV lines must not hold to be split at its commas: quoted cells, line ends other than LF, NUL,
#: blank lines (the csv module's empty rows).
_NOT_PLAIN_LINES = ('"', "\r", "\0", "\n\n")


def csv_value(raw: str, sf_type: str | None) -> t.Any:
    """A Bulk CSV cell in its Salesforce type (CSV has no null: an empty cell is null)."""
    if raw == "":
        return None
    convert = _CSV_CONVERTERS.get(sf_type or "")
    return convert(raw) if convert is not None else raw


def _csv_boolean(raw: str) -> bool:
    return raw.lower() == "true"


def _csv_integer(raw: str) -> int:
    """``int(Decimal(raw))``: ``int(raw)`` where it reads the text (``12``), else through ``Decimal`` (``12.0``)."""
    try:
        return int(raw)
    except ValueError:
        return int(Decimal(raw))


def canonical_decimal(text: str) -> Decimal:
    """One spelling per value whichever API read it: REST writes -33.86882, Bulk pads to the field's scale
    (-33.868820000000000); trailing fractional zeros go, the exponent never appears (100.0 -> 100)."""
    if text[-1] != "0" and "e" not in text and "E" not in text:
        return Decimal(text)  # nothing to strip, and a fraction not ending in 0 is not zero: the common case
    if "." in text and "e" not in text and "E" not in text:
        text = text.rstrip("0").rstrip(".") or "0"
    value = Decimal(text)
    return value if value else _ZERO


_ZERO = Decimal(0)


def _canonical_keeps_text(text: str) -> bool:
    """``str(canonical_decimal(text)) == text``: nothing to strip, and ``Decimal`` writes it as it is."""
    return text[-1] != "0" and decimal_keeps_text(text)


def _matching(early: EarlyQuery | None, soql: str, include_deleted: bool) -> EarlyQuery | None:
    """``early`` if it is ``soql`` to the same endpoint, else None, ``early`` given up (cut if still out)."""
    if early is None or early.matches(soql, include_deleted):
        return early
    logger.info("%s: the query sent beside the describe is not the one read; given up", _sobject_of(soql))
    early.close()
    return None


#: Days a deleted row stays in the recycle bin, where queryAll sees it (less where the org empties the bin).
RECYCLE_BIN_DAYS = 15

#: Longest REST query URL the tap sends. Salesforce refuses a request whose URI and headers together pass 16,384
#: bytes (414/431); the rest is room for the headers and a ranged read's upper bound (audit24a M4).
MAX_REST_QUERY_URL = 15_000


def rest_query_url_length(url: str, soql: str) -> int:
    """Bytes of ``GET url?q=soql`` as requests encodes it."""
    return len(url) + 1 + len(urlencode({"q": soql}))


def bulk_timed_out(message: str) -> bool:
    """A failed Bulk job that ran too long: QUERY_TIMEOUT, or Bulk 2.0's "Retried more than 15 times" (its chunks
    kept timing out). Both are cleared by a smaller date window, not by failing the stream (audit24a M3)."""
    return "QUERY_TIMEOUT" in message or "retried more than 15 times" in message.lower()


def count_soql(sobject: str, where: str | None) -> str:
    return f"SELECT COUNT() FROM {sobject}" + (f" WHERE {where}" if where else "")  # noqa: S608 - SOQL


def select_soql(sobject: str, fields: list[str], key: str | None, where: str | None, *, ordered: bool = True) -> str:
    """A read's SOQL: ``fields`` of the rows ``where`` selects, in (``key``, Id) order (Id alone without a key).
    ``ordered=False`` for Bulk 2.0: ORDER BY disables PK chunking there, and large jobs then time out (audit24a M3)."""
    soql = f"SELECT {', '.join(fields)} FROM {sobject}"  # noqa: S608 - SOQL built from describe names
    if where:
        soql += " WHERE " + where
    if ordered:
        soql += f" ORDER BY {key} ASC, Id ASC" if key else " ORDER BY Id ASC"
    return soql


def sf_stamp(moment: datetime) -> str:
    """A datetime as Salesforce writes SystemModstamp (UTC, milliseconds), so bookmarks compare as strings."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class QueryPages:
    """The pages of one REST query (records, plain) and whether the query has pages after the last one read
    (``more``, from its ``done``): Salesforce does not promise the batch size asked for (200 rows when a query
    selects two or more custom long text fields), so a page shorter than the batch may not be the last."""

    def __init__(self, pages_of: t.Callable[[QueryPages], Generator[tuple[list[dict[str, t.Any]], bool]]]) -> None:
        self.more = True
        self._pages = pages_of(self)

    def __iter__(self) -> QueryPages:
        return self

    def __next__(self) -> tuple[list[dict[str, t.Any]], bool]:
        return next(self._pages)

    def close(self) -> None:
        self._pages.close()


class QueryRecord(WrittenRecord, kw_only=True, forbid_unknown_fields=True, gc=False):
    """A REST query page's record decoded straight into a struct of the SOQL's fields (``query_page_type``), for
    records only the kit's writer reads: no dict grown key by key, none walked by the writer, none freed (about a
    sixth of a REST record's CPU). ``attributes``, Salesforce's first member, is decoded and then unset by the
    stream's finish, and the writer leaves an unset field out: the struct writes as the dict the read makes
    (``attributes`` popped), key for key, when the fields came in the SOQL's order. Read as that dict, but
    ``record["attributes"]`` after the finish and ``record["_sdc_deleted_at"]`` before it give ``msgspec.UNSET``, not
    a ``KeyError`` (``get``, ``in`` and the views leave them out)."""

    attributes: t.Any = msgspec.UNSET

    def get(self, key: str, default: t.Any = None) -> t.Any:
        value = getattr(self, key) if key in self.__struct_fields__ else msgspec.UNSET
        return default if value is msgspec.UNSET else value

    def __contains__(self, key: object) -> bool:
        return key in self.__struct_fields__ and getattr(self, t.cast("str", key)) is not msgspec.UNSET

    def __iter__(self) -> t.Iterator[str]:
        return iter(self.keys())

    def keys(self) -> t.KeysView[str]:
        return dict(self.items()).keys()

    def values(self) -> list[t.Any]:
        return [value for _key, value in self.items()]

    def items(self) -> list[tuple[str, t.Any]]:
        return [(key, value) for key in self.__struct_fields__ if (value := getattr(self, key)) is not msgspec.UNSET]


def _more_pages(done: object, next_url: object, where: str) -> bool:
    """Whether a query page has pages after it: Salesforce documents a boolean ``done`` on every query answer and
    ``nextRecordsUrl`` whenever it is false. A page without them (a gateway's page, a changed shape) is not "the last
    page": every later page would be lost with exit 0 (review28e L2), so it is an ``AnswerShapeError``."""
    if type(done) is not bool:
        got = "no 'done'" if done is msgspec.UNSET else f"a 'done' that is {json_kind(done)}, not a boolean"
    elif done or (isinstance(next_url, str) and next_url):
        return not done
    else:
        kind = "an empty string" if next_url == "" else json_kind(next_url)  # not "a string": it says which
        got = f"'done' false and {'no' if next_url is None else kind + ' as its'} 'nextRecordsUrl'"
    raise AnswerShapeError(
        f"{where}: the answer has {got}, so the pages after it cannot be told; the stream stops here rather than "
        "read them as none; its bookmark does not move past the rows that landed before this answer",
        path=where,
    )


class QueryPage(msgspec.Struct, forbid_unknown_fields=True, gc=False, kw_only=True):
    """The members of a REST query page (``records`` as ``QueryRecord`` structs in a page type of
    ``query_page_type``), each as ``dict.get`` gives it; ``records`` is required (a page without it is the dict
    parse's, which names it: ``listed_rows``); ``done`` is checked by ``_more_pages``. ``status`` is the classifier's
    (``QueryPageClassifier.body_of``). Any other member fails the decode (the page is then the dict parse's): msgspec
    does not check the UTF-8 of what it skips, and a body the dict parse refuses must stay a retry, never be written."""

    totalSize: t.Any = msgspec.UNSET
    records: list[t.Any]
    done: t.Any = msgspec.UNSET
    nextRecordsUrl: t.Any = None
    status: t.Any = msgspec.UNSET


class QueryPageType:
    """A REST query page of the SOQL's ``fields`` as structs (``page``, its records ``record``), and the parse
    that reads a page into them when it can."""

    def __init__(self, page: type[QueryPage], record: type[QueryRecord], fields: tuple[str, ...]) -> None:
        self.page = page
        self.record = record
        self._keys = ("attributes", *fields)
        self._first_keys = msgspec.json.Decoder(dict[str, msgspec.Raw])
        self._raw_records = msgspec.json.Decoder(_RawRecords)

    def parser(self, numbers: RawNumbers, name: str = "a query") -> Callable[[bytes], tuple[t.Any, bool]]:
        """``numbers.loads_marked``, but a page whose every record holds exactly the SOQL's fields (any missing or
        other one fails the decode: required fields, unknown fields refused), ``attributes`` first or absent, and
        whose first record has them in the SOQL's order (``first_in_order``), as a ``page``: plain, as that parse's
        pages are. Any other page is that parse's dicts, so it is written as before. Once a page fails the order
        check (another order, or not compact JSON: the query's other pages will too), the rest of the query (one
        parse a query) is read as dicts without the struct decode first, and that is logged once (``name``: the
        sObject)."""
        decoder = msgspec.json.Decoder(self.page, float_hook=numbers.__getitem__)
        as_dicts = numbers.loads_marked
        in_order = self.first_in_order
        dicts = False

        def parse(content: bytes) -> tuple[t.Any, bool]:
            nonlocal dicts
            if dicts:
                return as_dicts(content)
            try:
                page = decoder.decode(content)
            except msgspec.DecodeError:  # not the SOQL's fields (ValidationError), or what msgspec refuses
                return as_dicts(content)
            if page.records and not in_order(content):
                dicts = True
                logger.info(
                    "%s: REST query pages read as dicts from here on in this query: a page's first record is not "
                    "the SOQL's fields in its order, or the page is not compact JSON",
                    name,
                )
                return as_dicts(content)
            return page, True

        return parse

    def first_in_order(self, content: bytes) -> bool:
        """The page's first record holds exactly ``attributes`` and the SOQL's fields, in that order, as a dict keeps
        them (a key twice at its first place): the record's bytes, from ``"records":[`` to the next record's
        ``,{"attributes":`` (a token no JSON string holds), decoded as keys of unbuilt values. A cut that is not
        exactly one object (the next record without ``attributes``, a subquery's records inside) fails the decode:
        dicts. Salesforce writes a query's records alike, so the first stands for the page; a later record in
        another order would be written in the SOQL's order (the same members and values)."""
        start = content.find(b'"records":')  # the envelope's: its members before ``records`` hold no objects
        if start < 0 or not content.startswith(b'[{"attributes":', start + 10):
            return False
        end = content.find(b',{"attributes":', start + 11)
        try:
            if end < 0:  # one record, or no later one opens with ``attributes``: the records cut unbuilt
                records = self._raw_records.decode(content).records
                first: bytes | msgspec.Raw = records[0] if records else b""
            else:
                first = content[start + 11 : end]
            return tuple(self._first_keys.decode(first)) == self._keys
        except msgspec.DecodeError:
            return False


class _RawRecords(msgspec.Struct):
    """A query page's records, each its bytes unbuilt (``QueryPageType.first_in_order``)."""

    records: list[msgspec.Raw] = msgspec.field(default_factory=list)


@functools.cache
def query_page_type(fields: tuple[str, ...], deleted_at: str | None) -> QueryPageType | None:
    """The page of ``fields`` (the SOQL's, in order) as structs whose records end with ``deleted_at`` (unset
    until the stream's finish sets it), or None where a name cannot be a struct field (the kit's rules,
    ``written_record_type``): those pages stay dicts."""
    keys = (*fields, deleted_at) if deleted_at is not None else fields
    if "attributes" in keys or written_record_type(keys) is None:
        return None
    last = [(deleted_at, t.Any, msgspec.UNSET)] if deleted_at is not None else []
    try:
        record = msgspec.defstruct(
            "QueryRecord",
            [*((name, t.Any) for name in fields), *last],
            bases=(QueryRecord,),
            kw_only=True,
            forbid_unknown_fields=True,
            gc=False,
        )
        page = msgspec.defstruct(
            "QueryPage",
            [("records", list[record])],  # type: ignore[valid-type]
            bases=(QueryPage,),
            gc=False,
        )
    except (TypeError, ValueError, RuntimeError):  # a name msgspec cannot take as a field: the pages stay dicts
        return None
    return QueryPageType(t.cast("type[QueryPage]", page), t.cast("type[QueryRecord]", record), fields)


class CanonicalNumbers(RawNumbers):
    """``canonical_decimal`` as the text the kit's writer writes for it (``singer_io.RawNumbers``), and a Bulk
    column of such cells at once (``column``)."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(canonical_decimal, _canonical_keeps_text)

    def __missing__(self, text: str) -> msgspec.Raw:
        """A text that is not a JSON number (a Bulk cell such as ``abc`` or ``NaN``; REST's float hook only ever
        passes JSON numbers) is never written verbatim: it goes through ``canonical_decimal``, which refuses what
        ``Decimal`` cannot read, and a value JSON cannot hold (``NaN``, ``Infinity``) is refused here."""
        if _JSON_NUMBER.fullmatch(text) is None:
            value = canonical_decimal(text)
            if not value.is_finite():
                raise ValueError(f"not a number: {text!r}")
            text = str(value)
        return super().__missing__(text)

    def column(self, cells: t.Sequence[str]) -> list[t.Any]:
        """``[self[cell] if cell else None for cell in cells]``. A column of mostly distinct texts (amounts) would
        fill the map only to empty it again: when no cell has an exponent or a tiny fraction (checked over the
        column joined), a cell not ending in ``0`` is its own text (``_canonical_keeps_text``) and only the others
        are looked up. A column of mostly padded texts (Bulk's coordinates: few distinct) is looked up whole."""
        texts = cells if "" not in cells else list(filter(None, cells))
        joined = "\n" + "\n".join(texts) + "\n"  # every cell after a newline: a prefix check is a substring check
        zeros = joined.count("0\n")  # at least the cells ending in 0 (a cell may hold a newline)
        if (
            zeros * 2 > len(texts)
            or any(map(joined.__contains__, _NOT_OWN_TEXT))
            or _JSON_NUMBER_COLUMN.fullmatch(joined) is None
            or joined.count("\n") != len(texts) + 1  # a cell holding a newline is not one number
        ):
            values = list(map(self.__getitem__, texts))
        else:
            values = list(map(msgspec.Raw, texts))
            if zeros:
                # JSON numbers without exponent or tiny fraction: the canonical text strips a fraction's trailing
                # zeros and its point (``canonical_decimal``), no ``Decimal`` built; a zero with a sign (-0,
                # -0.00) is looked up (``0``)
                for row in compress(count_up(), map(_ZERO_DIGIT.get, map(_LAST_CHARACTER, texts))):
                    text = texts[row]
                    own = text.rstrip("0").rstrip(".") if "." in text else text
                    values[row] = msgspec.Raw(own) if own != "-0" else self[text]
        if texts is cells:
            return values
        column: list[t.Any] = [None] * len(cells)
        for row, value in zip(compress(count_up(), cells), values, strict=True):
            column[row] = value
        return column


#: In a column joined after newlines, what makes some cell not its own text (``_canonical_keeps_text``) besides a
#: trailing zero: an exponent or a tiny fraction.
_NOT_OWN_TEXT = ("e", "E", *("\n" + prefix for prefix in TINY_FRACTIONS))
#: A JSON number; and a column of them joined after newlines (``CanonicalNumbers.column``: one check in C).
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_JSON_NUMBER_COLUMN = re.compile(r"(?:\n-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?)*\n")
_ZERO_DIGIT = {"0": True}
_LAST_CHARACTER = operator.itemgetter(-1)


class JsonNumbers(CanonicalNumbers):
    """``CanonicalNumbers`` as a JSON ``float_hook`` (REST pages): msgspec hands the hook only JSON number literals,
    so a new text that is its own written text (no trailing zero, no exponent, not tiny: ``_canonical_keeps_text``)
    is kept in one Python frame, without the check that a Bulk cell is a number at all and the three calls of the
    general path (~0.3 µs instead of ~0.9 per new text; a REST Account record brings two: its amounts)."""

    __slots__ = ()

    def __missing__(self, text: str) -> msgspec.Raw:
        if text[-1] == "0" or "e" in text or "E" in text or text.startswith(TINY_FRACTIONS):
            return super().__missing__(text)
        if len(self) >= self._limit:
            self.clear()
        raw = self[text] = msgspec.Raw(text)
        return raw


def canonical_numbers() -> CanonicalNumbers:
    """``canonical_decimal`` as the text the kit's writer writes for it (``singer_io.RawNumbers``)."""
    return CanonicalNumbers()


#: ``csv_value`` for a non-empty cell of each typed Salesforce type (every other type stays a string).
_CSV_CONVERTERS: dict[str, t.Callable[[str], t.Any]] = {
    "boolean": _csv_boolean,
    "int": _csv_integer,
    "long": _csv_integer,
    "double": canonical_decimal,
    "currency": canonical_decimal,
    "percent": canonical_decimal,
}
_is_not_none = functools.partial(operator.is_not, None)


def _none_of(_record: object) -> None:
    """What ``dict.get`` gives for a key the record lacks."""
    return None


def _emits_deleted_at(stream: t.Any) -> bool:
    """Whether ``stream``'s records carry ``_sdc_deleted_at``: its object has IsDeleted and its schema declares the
    key. Decided here once for every path (REST dicts, REST structs, Bulk columns), so the same catalog gives the same
    record shape whatever is selected (review23j #2); a schema without properties checks nothing, as ``_finisher``'s
    undeclared-key drop."""
    declared = stream.schema.get("properties")
    return bool(stream.info.has_is_deleted and (not declared or discovery.DELETED_AT in declared))


#: Column steps of the Bulk chunk builder that run in C: ``cell or None`` (``get(cell, cell)``), the Boolean literals
#: Bulk writes (``cell.lower() == "true"`` for each, None for an empty cell), ``value is None`` counted, and the
#: types a datetime column holds.
_EMPTY_AS_NONE: dict[str, None] = {"": None}
_BOOLEAN_CELLS: dict[str, bool | None] = {"true": True, "false": False, "": None}
_count_none = operator.methodcaller("count", None)
_STR_OR_NONE = frozenset({str, type(None)})
_STR_ONLY = {str}
_BEFORE_OFFSET = operator.itemgetter(slice(None, -5))


def _compound_structs(
    keys: list[str],
) -> t.Callable[[list[t.Sequence[t.Any]]], list[msgspec.Struct | None]] | None:
    """A function giving, for the columns of a compound's parts (one per key), each row's compound as a struct that
    msgspec writes exactly as ``dict(zip(keys, parts))`` (a field per key, in order, named by ``rename``), made in
    one C call per row; None for a row whose parts are all null (its struct equals the all-null one, compared in
    C). None for keys that repeat (a dict keeps one). Only the writer reads them (``records_written_only``)."""
    if len(set(keys)) != len(keys) or not keys:
        return None
    names = [f"part{i}" for i in range(len(keys))]
    kind = msgspec.defstruct(
        "Compound", [(name, t.Any) for name in names], rename=dict(zip(names, keys, strict=True)), gc=False
    )
    null = kind(*repeat(None, len(keys)))

    def structs(columns: list[t.Sequence[t.Any]]) -> list[msgspec.Struct | None]:
        found: list[msgspec.Struct | None] = list(map(kind, *columns))
        for row in compress(count_up(), map(null.__eq__, found)):  # every part null: the compound is null
            found[row] = None
        return found

    return structs


def _drop_delivered(
    page: list[dict[str, t.Any]], rk: str, last_value: str | None, last_ids: set[str]
) -> tuple[list[dict[str, t.Any]], str | None, set[str]]:
    """``page`` without records already delivered (same timestamp as the last one seen, same Id), and the last
    timestamp and its Ids after it."""
    kept = []
    for record in page:
        value = record.get(rk)
        if value is not None and value == last_value and record["Id"] in last_ids:
            continue  # delivered already (same timestamp, same Id)
        if value != last_value:
            last_value, last_ids = value, set()
        last_ids.add(record["Id"])
        kept.append(record)
    return kept, last_value, last_ids


class SalesforceStream(KitRESTStream):
    """Base of every sObject stream. Subclasses (built in ``streams.py``) only declare annotations."""

    primary_keys: t.ClassVar[list[str]] = ["Id"]
    is_sorted = True
    #: Records are JSON-typed already (REST JSON parsed with Decimal; Bulk CSV cells converted by describe type),
    #: so the SDK's per-value conforming pass (over half of the tap's CPU time) would change nothing.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    path = "/query"

    def __init__(self, tap: TapSalesforce, *, info: discovery.ObjectInfo, schema: dict[str, t.Any]) -> None:
        super().__init__(tap, name=info.name, schema=schema)
        self.info = info
        self.replication_key = next(
            (
                name
                for name in discovery.REPLICATION_KEY_CANDIDATES
                if info.field_types.get(name) == "datetime" and name in schema["properties"]
            ),
            None,
        )
        self._api_choice: str | None = None
        #: (WHERE, queryAll, rows, monotonic time) of the COUNT() ``choose_api`` took, for the ranged read's plan.
        self._counted: tuple[str | None, bool, int, float] | None = None
        #: This run reads the object from its start (no bookmark, no start_date): its ranged read asks its plan with
        #: page 1.
        self._first_read = False
        #: Set when a range timed out beyond splitting: the rest of this read is one cursor (reset by the next read).
        self._one_cursor_read = False
        #: The last Id a full-table read emitted, while it re-issues its query after it (``_read_by_id``).
        self._after_id: str | None = None
        #: Until when (``time.monotonic``) the stream's later reads are one cursor too (``ONE_CURSOR_SECONDS``).
        self._one_cursor_until: float | None = None
        #: (SOQL, job id) of a Bulk job started ahead of this stream's turn (see ``start_bulk_ahead``).
        self._prefetched_job: tuple[str, str] | None = None
        #: Whether this run said once that its deleted rows go out unmarked (``_warn_deletes_unmarked``).
        self._deletes_unmarked_told = False
        #: This read started ``lookback_seconds`` before the bookmark: rows below the bookmark leave it alone.
        self._rereading = False
        #: A Bulk job's rows are being emitted: unsorted, they only note their newest value (``_land_bulk``).
        self._bulk_open = False
        self._bulk_newest: str | None = None
        #: The earliest ``createdDate`` of this read's Bulk jobs: no job of the read moves the bookmark past it.
        self._bulk_read_cap: datetime | None = None

    @property
    def _sf_tap(self) -> TapSalesforce:
        return t.cast("TapSalesforce", self._tap)

    @property
    def client(self) -> SalesforceClient:
        return self._sf_tap.client

    @property
    def settings(self) -> SalesforceSettings:
        return self._sf_tap.settings

    @property
    def url_base(self) -> str:
        return self.client.data_url("")

    # -- field lists ------------------------------------------------------------------------------------------

    def selected_fields(self) -> list[str]:
        """Selected fields (plus Id, the replication key and IsDeleted, which the sync itself needs)."""
        properties = self.schema["properties"]
        always = {"Id", self.replication_key, "IsDeleted"}
        names = []
        for name in properties:
            if name not in self.info.field_types:
                continue  # _sdc_deleted_at, or a field deleted in the org since the catalog was saved
            if name in always or self.mask.get(("properties", name), True):
                names.append(name)
        return names

    @cached_property
    def universal_filter(self) -> Translation | None:
        """This stream's share of the universal ``filters`` setting (pushed into SOQL, the rest checked here).

        Named as the kit's hook, so ``TapConnector`` can set a per-call filter the same way."""
        if not self.settings.filters or not self.settings.filters.strip():
            return None  # what filter_for_stream answers, without importing the query language
        from xlr8_kit.query import filter_for_stream

        return filter_for_stream(self.settings.filters, self._kit_tap.product_id, self.name)

    @property
    def tracks_deletes(self) -> bool:
        return self.settings.include_deleted and self.info.has_is_deleted

    # -- reading ----------------------------------------------------------------------------------------------

    def _warn_deletes_unmarked(self) -> None:
        """Deleted rows are read (``include_deleted``) but the catalog's schema lacks ``_sdc_deleted_at``, so they go
        out as rows with IsDeleted true and the target does not mark them deleted: said once, naming the fix."""
        if self._deletes_unmarked_told or not self.tracks_deletes or _emits_deleted_at(self):
            return
        self._deletes_unmarked_told = True
        self.logger.warning(
            "%s: include_deleted reads deleted rows, but the catalog's schema has no %s: they are emitted with "
            "IsDeleted true and not marked deleted downstream; discover again (or add %s to the catalog) to mark them",
            self.name,
            discovery.DELETED_AT,
            discovery.DELETED_AT,
        )

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        for page in self._record_pages(context):
            yield from page  # records pass up in pages: one generator per record, not four

    def plain_record_pages(self) -> Iterator[list[dict[str, t.Any]]]:
        return self._record_pages(None)

    def _record_pages(self, context: Context | None) -> Iterator[list[dict[str, t.Any]]]:
        """What ``get_records`` yields, a page at a time."""
        try:
            yield from self._records_read(context)
        finally:
            self.client.give_up_early()  # a query sent beside the describe that this stream's read did not take

    def _records_read(self, context: Context | None) -> Iterator[list[dict[str, t.Any]]]:
        if self._sf_tap.quota_stopped:
            self.logger.warning("%s: skipped, the API quota guard stopped this run earlier", self.name)
            return
        plan = self.universal_filter
        if plan is not None and plan.empty:
            return
        self._warn_deletes_unmarked()
        self._bulk_read_cap = None
        start_value = self._start_value(context)
        self._warn_past_recycle_bin(context)
        try:
            self._sf_tap.start_bulk_jobs_ahead()
            for page in self._read_resumable(start_value, self._boundary_ids(context, start_value)):
                if plan is None:
                    yield page
                else:
                    yield list(filter(plan.matches, page))  # the part of the universal filter SOQL cannot apply
        except QuotaExhaustedError as exc:
            self._sf_tap.quota_stopped = True
            self._sf_tap.note_partial_run(f"{self.name}: {exc}")  # exit 75 unless allow_partial_run
            self.logger.warning(
                "%s: stopping with state safe: %s. The bookmark covers every record emitted; re-run after the "
                "daily quota resets.",
                self.name,
                exc,
            )

    def _read_resumable(self, start_value: str | None, boundary: set[str]) -> Iterator[list[dict[str, t.Any]]]:
        """Pages read from ``start_value`` (``>=``), skipping Ids already delivered at the latest timestamp seen: the
        checkpoint's on entry, the run's own when an expired cursor (INVALID_QUERY_LOCATOR, RELIABILITY E8) or a later
        page answering QUERY_TIMEOUT forces the query to be re-issued from the last record emitted. Server cursors
        are never persisted. A page is emitted whole before the next one is asked for, so the run's own point is the
        end of the last page."""
        rk = self.replication_key
        if rk is None:  # full-table object: no bookmark, but ordered by Id
            yield from self._read_by_id()
            return
        values = operator.methodcaller("get", rk)
        ids = operator.itemgetter("Id")
        struct_values = operator.itemgetter(rk)  # a WrittenRecord holds the key: its ``get`` without a Python frame
        last_value, last_ids = start_value, set(boundary)
        self._one_cursor_read = False  # a range's timeout holds for the read it happened in (and ONE_CURSOR_SECONDS)
        restarts = resumes = 0
        while True:
            lower = parse_sf_datetime(last_value) if last_value else None
            answered = False  # a page of this query came: it got past its first request
            try:
                for page in self._read_window(lower, None):
                    answered = True
                    if not page:
                        continue
                    page_values = list(map(struct_values if isinstance(page[0], WrittenRecord) else values, page))
                    page_ids = list(map(ids, page))
                    # The page's leading run at the last timestamp seen may repeat Ids delivered already.
                    lead = 0
                    while lead < len(page) and page_values[lead] == last_value:
                        lead += 1
                    if len(set(page_ids[lead:])) != len(page) - lead:
                        # an Id twice after it: record by record
                        page, last_value, last_ids = _drop_delivered(page, rk, last_value, last_ids)
                    else:  # nothing to skip after the leading run: each Id once, and each run starts afresh
                        if lead:
                            head, last_value, last_ids = _drop_delivered(page[:lead], rk, last_value, last_ids)
                            page = page if len(head) == lead else head + page[lead:]
                        if lead < len(page_values):
                            last_value = page_values[-1]
                            run = len(page_values) - 1
                            while run > lead and page_values[run - 1] == last_value:
                                run -= 1
                            last_ids = set(page_ids[run:])
                    yield page
                return
            except RangeTimeoutError as exc:
                if self._one_cursor_read:
                    raise
                self._one_cursor_read = True  # the first query ran where a range's did not: read as it would have
                self._one_cursor_until = time.monotonic() + ONE_CURSOR_SECONDS
                self.logger.warning(
                    "%s: a range of the ranged read timed out (%s); reading on as one cursor from %s = %s",
                    self.name,
                    exc,
                    rk,
                    last_value,
                )
            except QueryTimeoutError as exc:
                # A later page timed out (nextRecordsUrl can answer QUERY_TIMEOUT too): the rows before it were
                # emitted; a fresh query from the last of them reads on, split in halves if it times out before
                # its first row. No page of this query came: the split could not clear it, so it stops the stream.
                # A page that came counts even when all its rows were delivered already: rows sharing the last
                # timestamp are read again before new ones, and a tie longer than a page holds no new row at first.
                if not answered or resumes >= MAX_TIMEOUT_RESUMES or self._api_choice == "bulk":
                    raise  # Bulk rows come unsorted: no "last record" to resume from, and the bookmark has not moved
                resumes += 1
                # The org is timing out: the fresh query reads as one cursor, no COUNT() plan or range queries
                # beside it (each resume would otherwise leave one more slow COUNT() out).
                self._one_cursor_read = True
                self._first_read = False
                self.logger.warning(
                    "%s: a page of the query timed out (%s); re-issuing the query from %s = %s",
                    self.name,
                    exc,
                    rk,
                    last_value,
                )
            except SalesforceAPIError as exc:
                if exc.error_code != "INVALID_QUERY_LOCATOR" or restarts >= MAX_QUERY_RESTARTS:
                    raise
                if answered and self._api_choice == "bulk":
                    raise  # as for a timeout: an unsorted read has no last record to resume from
                restarts += 1
                self._first_read = False  # the re-issued query is of the rest: it plans once page 1 says more follow
                self.logger.warning(
                    "%s: query cursor expired (INVALID_QUERY_LOCATOR); re-issuing the query from %s = %s",
                    self.name,
                    rk,
                    last_value,
                )

    def _read_by_id(self) -> Iterator[list[dict[str, t.Any]]]:
        """A full-table read's pages (``ORDER BY Id``). Nothing is bookmarked, but an expired cursor
        (INVALID_QUERY_LOCATOR) or a later page answering QUERY_TIMEOUT re-issues the query after the last Id
        emitted (``Id > last``): no row read again, none skipped. The rules and limits are the incremental read's."""
        last_id: str | None = None
        restarts = resumes = 0
        try:
            while True:
                self._after_id = last_id
                answered = False  # a page of this query came: it got past its first request
                try:
                    for page in self._read_window(None, None):
                        answered = True
                        if page:
                            last_id = page[-1]["Id"]
                        yield page
                    return
                except QueryTimeoutError as exc:
                    if not answered or resumes >= MAX_TIMEOUT_RESUMES or self._api_choice == "bulk":
                        raise  # Bulk rows come in no order: no last Id to read on after
                    resumes += 1
                    self.logger.warning(
                        "%s: a page of the query timed out (%s); re-issuing the query after Id %s",
                        self.name,
                        exc,
                        last_id,
                    )
                except SalesforceAPIError as exc:
                    if exc.error_code != "INVALID_QUERY_LOCATOR" or restarts >= MAX_QUERY_RESTARTS:
                        raise
                    if answered and self._api_choice == "bulk":
                        raise  # as for a timeout
                    restarts += 1
                    self.logger.warning(
                        "%s: query cursor expired (INVALID_QUERY_LOCATOR); re-issuing the query after Id %s",
                        self.name,
                        last_id,
                    )
        finally:
            self._after_id = None

    @property
    def _one_cursor(self) -> bool:
        """REST reads of this stream are one cursor for now (see ``ONE_CURSOR_SECONDS``)."""
        if self._one_cursor_read:
            return True
        return self._one_cursor_until is not None and time.monotonic() < self._one_cursor_until

    def _start_value(self, context: Context | None) -> str | None:
        if not self.replication_key:
            return None
        if self.settings.reread_formula_fields and self.info.formula_fields:
            self.logger.info("%s: re-reading all rows so formula fields are current (reread_formula_fields)", self.name)
            # The bookmark restarts as on a first run, from start_date (it read rows before start_date, which no
            # run had landed: bk24); if this run stops early the next one re-reads more, never less.
            self.restart_bookmark(context, {BOUNDARY_KEY: {"value": None, "ids": []}})  # no Ids at no bookmark
            self._first_read = not self.settings.start_date
            return self.settings.start_date
        value = self.get_starting_replication_key_value(context)
        self._first_read = value is None and not self.settings.start_date
        if value is None and self.settings.start_date:
            return self.settings.start_date
        return self._looked_back(t.cast("str | None", value))

    def _warn_past_recycle_bin(self, context: Context | None) -> None:
        """queryAll sees a deleted row only while it is in the recycle bin (15 days): a bookmark older than that
        means hard deletes since may be missed, and their rows stay in the target (audit24a L2)."""
        bookmark = self.get_starting_replication_key_value(context)
        if not self.tracks_deletes or not isinstance(bookmark, str) or self._first_read:
            return
        age = datetime.now(UTC) - parse_sf_datetime(bookmark)
        if age > timedelta(days=RECYCLE_BIN_DAYS):
            self.logger.warning(
                "%s: its bookmark %s is %d days old, past the recycle bin's %d days: rows deleted since then may "
                "be missed and stay in the target; re-read %s in full (empty its state) to drop them",
                self.name,
                bookmark,
                age.days,
                RECYCLE_BIN_DAYS,
                self.name,
            )

    def _looked_back(self, bookmark: str | None) -> str | None:
        """Where a read from ``bookmark`` starts: ``lookback_seconds`` before it, because SystemModstamp is stamped
        when a row is written and the row is seen only once its transaction commits (audit24a H4). The rows of the
        window are emitted again; the bookmark does not move back for them (``_rereading``)."""
        lookback = self.settings.lookback_seconds
        self._rereading = bookmark is not None and lookback > 0
        if bookmark is None or not lookback:
            return bookmark
        return sf_stamp(parse_sf_datetime(bookmark) - timedelta(seconds=lookback))

    def _boundary_ids(self, context: Context | None, start_value: str | None) -> set[str]:
        boundary = self.get_context_state(context).get(BOUNDARY_KEY) or {}
        if start_value is None or boundary.get("value") != start_value:
            return set()
        return set(boundary.get("ids") or [])

    def _increment_stream_state(self, latest_record: dict[str, t.Any], *, context: Context | None = None) -> None:
        """Besides the SDK's bookmark, remember the Ids delivered at the bookmark's exact timestamp, so a resume
        with ``>=`` skips them and loses nothing that shares the timestamp (RELIABILITY E6)."""
        rk = self.replication_key
        if self._bulk_open:
            self._note_bulk_value(latest_record.get(rk) if rk and latest_record else None)
            return
        if rk and latest_record and self._rereading:
            value, held = latest_record.get(rk), self.get_context_state(context).get("replication_key_value")
            if type(value) is str and type(held) is str and value < held:
                return  # a row of the lookback window, read again: the bookmark stays where it is
        if context is None and rk and latest_record and self._sorted_string_bookmarks:
            state = self.get_context_state(None)
            new_value = latest_record[rk]
            old_value = state.get("replication_key_value")
            if type(new_value) is str and (old_value is None or type(old_value) is str):
                self._advance_sorted_bookmark(state, rk, new_value, old_value)
                self._track_boundary(state, latest_record, rk)
                return
        super()._increment_stream_state(latest_record, context=context)
        if not rk or latest_record.get(rk) is None:
            return
        self._track_boundary(self.get_context_state(context), latest_record, rk)

    def _plain_state_step(self) -> t.Callable[[dict[str, t.Any]], None]:
        """``_increment_stream_state`` for the kit's plain loop (unpartitioned): for string bookmarks of a sorted
        stream, the same steps with the stream's state and key looked up once per sync instead of per record."""
        rk = self.replication_key
        if not rk or not self._sorted_string_bookmarks:
            return super()._plain_state_step()
        state = self.get_context_state(None)  # the SDK keeps this one dict for the stream while it syncs
        general = functools.partial(self._increment_stream_state, context=None)
        unsorted = self._advance_sorted_bookmark

        def step(record: dict[str, t.Any]) -> None:
            """``_advance_sorted_bookmark`` then ``_track_boundary``, inline."""
            if not record or self._bulk_open:
                general(record)
                return
            new_value = record[rk]
            old_value = state.get("replication_key_value")
            if type(new_value) is not str or (old_value is not None and type(old_value) is not str):
                general(record)
                return
            if old_value is not None and new_value < old_value:
                if self._rereading:
                    return  # a row of the lookback window, read again: the bookmark stays where it is
                unsorted(state, rk, new_value, old_value)  # raises the SDK's unsorted-data error
            state["replication_key"] = rk
            state["replication_key_value"] = new_value
            boundary = state.get(BOUNDARY_KEY)  # the bookmark is this record's value now
            if not boundary or boundary.get("value") != new_value:
                state[BOUNDARY_KEY] = {"value": new_value, "ids": [record["Id"]]}
            elif len(boundary["ids"]) < MAX_BOUNDARY_IDS:
                boundary["ids"].append(record["Id"])
            else:
                state[BOUNDARY_KEY] = {"value": None, "ids": []}  # too many: at-least-once, never lossy

        return step

    def _plain_state_page_step(self) -> t.Callable[[list[dict[str, t.Any]]], t.Callable[[], None] | None]:
        """``_plain_state_step`` a page at a time, for a page whose replication key values are strings, in order
        and not below the bookmark, whose boundary Ids stay under the cap: the bookmark becomes the last value and
        the boundary the Ids of the page's trailing run of that value (added to the boundary's own when the whole
        page carries the boundary's value). Any other page: None, and the loop steps record by record."""
        rk = self.replication_key
        if not rk or not self._sorted_string_bookmarks:
            return super()._plain_state_page_step()
        state = self.get_context_state(None)
        bookmark_step = sorted_bookmark_page_step(state, rk)  # the bookmark's part: the kit's own page step
        values_of = operator.itemgetter(rk)
        ids_of = operator.itemgetter("Id")

        def plan(page: list[dict[str, t.Any]]) -> t.Callable[[], None] | None:
            if not page or not all(page):
                return None
            if self._bulk_open:  # unsorted Bulk rows: only their newest value, for ``_land_bulk``
                newest = max((v for v in map(values_of, page) if type(v) is str), default=None)
                return functools.partial(self._note_bulk_value, newest)
            advance = bookmark_step(page)  # strings, in order, from the bookmark on: the bookmark becomes the last
            if advance is None:
                return None
            values = list(map(values_of, page))
            last = values[-1]
            run = values.index(last)  # sorted: the trailing run of the last value starts at its first place
            try:
                run_ids = list(map(ids_of, page))  # every record's Id is read, as record by record
            except (KeyError, TypeError):
                return None
            del run_ids[:run]
            boundary: t.Any = state.get(BOUNDARY_KEY)
            if boundary is not None and type(boundary) is not dict:
                return None
            held: list[str] | None = None  # the boundary's Ids, when the whole page adds to them
            if run == 0 and boundary and boundary.get("value") == last:
                held = boundary.get("ids")
                if type(held) is not list:
                    return None
            if len(held or ()) + len(run_ids) >= MAX_BOUNDARY_IDS:
                return None  # the cap's own rules: record by record

            def apply() -> None:
                advance()
                if held is not None:
                    held.extend(run_ids)
                else:
                    state[BOUNDARY_KEY] = {"value": last, "ids": run_ids}

            return apply

        return plan

    @cached_property
    def _sorted_string_bookmarks(self) -> bool:
        """True when the SDK would advance this stream's bookmark as a sorted, checked, unpartitioned incremental
        stream: then ``_advance_sorted_bookmark`` does what it does for string values, per record, with fewer
        lookups (about a tenth of the tap's CPU went to the SDK's general path)."""
        manager = self.state_manager  # the SDK's own switches, read so this path runs only where it matches
        return (
            self.replication_method == REPLICATION_INCREMENTAL
            and self.state_partitioning_keys is None
            and bool(manager._is_sorted)
            and bool(manager._check_sorted)
        )

    @staticmethod
    def _advance_sorted_bookmark(state: dict[str, t.Any], rk: str, new_value: str, old_value: str | None) -> None:
        """``singer_sdk.helpers._state.increment_state`` (singer-sdk 0.54.9, pinned) for a sorted, checked stream
        whose values are strings (``to_json_compatible`` leaves strings as they are)."""
        if old_value is None or new_value >= old_value:
            state["replication_key"] = rk
            state["replication_key_value"] = new_value
            return
        msg = (
            f"Unsorted data detected in stream. Latest value '{new_value}' is smaller than previous max '{old_value}'."
        )
        raise InvalidStreamSortException(msg)

    @staticmethod
    def _track_boundary(state: dict[str, t.Any], latest_record: dict[str, t.Any], rk: str) -> None:
        if state.get("replication_key_value") != latest_record[rk]:
            return
        boundary = state.get(BOUNDARY_KEY)
        if not boundary or boundary.get("value") != latest_record[rk]:
            state[BOUNDARY_KEY] = {"value": latest_record[rk], "ids": [latest_record["Id"]]}
        elif len(boundary["ids"]) < MAX_BOUNDARY_IDS:
            boundary["ids"].append(latest_record["Id"])
        else:
            state[BOUNDARY_KEY] = {"value": None, "ids": []}  # too many: at-least-once, never lossy

    def _where(self, lower: datetime | None, upper: datetime | None) -> str | None:
        """The WHERE of a read of ``lower`` .. ``upper`` (None: every row); a full-table read resumed reads after
        the last Id it emitted."""
        rk = self.replication_key
        clauses = []
        if not rk and self._after_id is not None:
            from xlr8_kit.query.dialects import SOQL  # only a resumed full-table read: not at start-up

            clauses.append(f"Id > {SOQL.quote(self._after_id)}")
        if rk and lower is not None:
            clauses.append(f"{rk} >= {soql_datetime(lower)}")
        if rk and upper is not None:
            clauses.append(f"{rk} < {soql_datetime(upper)}")
        if self.universal_filter is not None and self.universal_filter.where:
            clauses.append(f"({self.universal_filter.where})")
        return " AND ".join(clauses) or None

    def _soql(self, fields: list[str], lower: datetime | None, upper: datetime | None, *, ordered: bool = True) -> str:
        return select_soql(self.name, fields, self.replication_key, self._where(lower, upper), ordered=ordered)

    def choose_api(self, lower: datetime | None) -> str:
        """``rest`` or ``bulk``: the per-object override, the global setting, else by row count; Bulk, or a clear
        error when REST is asked for, where the REST query's URL would pass Salesforce's limit (a wide object)."""
        if self._api_choice is None:
            choice = self.settings.api_type_overrides.get(self.name) or self.settings.api_type
            if choice != "bulk":
                choice = self._bulk_if_too_wide(choice, lower)
            if choice == "auto":
                where = f"{self.replication_key} >= {soql_datetime(lower)}" if lower and self.replication_key else None
                try:
                    rows = self.client.count(self.name, where, include_deleted=self.tracks_deletes)
                except QueryTimeoutError:
                    rows = self.settings.bulk_threshold  # too big to count in time: big enough for Bulk
                else:
                    self._counted = (where, self.tracks_deletes, rows, time.monotonic())
                choice = "bulk" if rows >= self.settings.bulk_threshold else "rest"
                self.logger.info("%s: %d rows to read, using the %s API", self.name, rows, choice.upper())
            self._api_choice = choice
        return self._api_choice

    def _bulk_if_too_wide(self, choice: str, lower: datetime | None) -> str:
        """``choice``, or ``bulk`` when the object's REST query URL would be over ``MAX_REST_QUERY_URL`` (its fields
        go in a GET's query string; a Bulk job's SOQL goes in a POST body). Asked for REST: an error naming the
        object and the setting, before any request it would fail."""
        soql = self._soql(self.selected_fields(), lower, None)
        length = rest_query_url_length(self.client.data_url("queryAll" if self.tracks_deletes else "query"), soql)
        if length <= MAX_REST_QUERY_URL:
            return choice
        if choice == "rest":
            raise SalesforceAPIError(
                f"{self.name}: the REST query of its {len(self.selected_fields())} selected fields would be a "
                f"{length}-byte URL, over Salesforce's 16,384-byte limit for URI and headers; read it by Bulk "
                f'(api_type_overrides: {{"{self.name}": "bulk"}}) or deselect fields',
                error_code="URI_TOO_LONG",
            )
        self.logger.warning(
            "%s: the REST query would be a %d-byte URL (Salesforce's limit is 16,384 with the headers); reading it "
            "by Bulk API 2.0",
            self.name,
            length,
        )
        return "bulk"

    def _counted_rows(self, where: str | None, include_deleted: bool) -> int | None:
        """The rows ``choose_api`` counted, if it counted this WHERE (and queryAll or not) under
        ``COUNT_REUSE_SECONDS`` ago; taken once (a later read is of another window, or later)."""
        counted, self._counted = self._counted, None
        if counted is None:
            return None
        counted_where, counted_deleted, rows, at = counted
        if counted_where != where or counted_deleted != include_deleted:
            return None
        return rows if time.monotonic() - at <= COUNT_REUSE_SECONDS else None

    def _read_window(self, lower: datetime | None, upper: datetime | None) -> Iterator[list[dict[str, t.Any]]]:
        return self._split_on_timeout(self._fetch, lower, upper, "window")

    def _split_on_timeout(
        self,
        read: Callable[[datetime | None, datetime | None], Iterator[_P]],
        lower: datetime | None,
        upper: datetime | None,
        what: str,
    ) -> Iterator[_P]:
        """``read(lower, upper)``'s pages; a QUERY_TIMEOUT before any row was read splits the window in half at a
        whole second (each row in one half, the halves read in order: the same rows in the same order), down to
        ``min_window_seconds``. Used for the stream's window and for each range of a ranged read."""
        yielded = False
        try:
            for page in read(lower, upper):
                yielded = yielded or bool(page if isinstance(page, list) else page[0])
                yield page
        except QueryTimeoutError:
            if yielded or not self.replication_key:
                raise
            self._first_read = False  # the org is timing out: each half plans only once its page 1 says more follow
            low = lower or EPOCH_FLOOR
            high = upper or datetime.now(UTC) + timedelta(days=1)
            span = high - low
            if span.total_seconds() <= self.settings.min_window_seconds:
                raise
            middle = (low + span / 2).replace(microsecond=0)
            self.logger.info(
                "%s: QUERY_TIMEOUT for %s .. %s; splitting the %s at %s",
                self.name,
                soql_datetime(low),
                soql_datetime(high) if upper else "now",
                what,
                soql_datetime(middle),
            )
            yield from self._split_on_timeout(read, lower, middle, what)
            yield from self._split_on_timeout(read, middle, upper, what)

    def _bulk_fields(self, fields: list[str]) -> list[str]:
        """Bulk queries cannot select compound fields (select their parts, rebuilt into the compound later) nor
        base64 fields (a real org refuses the whole job): those stay null in Bulk reads."""
        compounds = self.info.compounds
        types = self.info.field_types
        bulk_fields = [f for f in fields if f not in compounds and types.get(f) not in discovery.BINARY_TYPES]
        for name, (_kind, parts) in compounds.items():
            if name in fields:
                bulk_fields += [c for c in parts if c not in bulk_fields]
        return bulk_fields

    def start_bulk_ahead(self) -> None:
        """Start this stream's Bulk job now, so Salesforce works on independent objects in parallel while the
        tap reads earlier streams. Used only if the stream later builds exactly the same query."""
        if self._prefetched_job is not None or not self.selected or self.replication_key is None:
            return
        start_value = self._start_value(None)
        lower = parse_sf_datetime(start_value) if start_value else None
        if self.choose_api(lower) != "bulk":
            return
        soql = self._soql(self._bulk_fields(self.selected_fields()), lower, None, ordered=False)
        try:
            self._prefetched_job = (soql, self.client.bulk_job_for(soql, include_deleted=self.tracks_deletes))
        except QueryTimeoutError:
            return  # the stream splits its window itself when its turn comes

    def _note_bulk_value(self, value: t.Any) -> None:
        if type(value) is str and (self._bulk_newest is None or value > self._bulk_newest):
            self._bulk_newest = value

    def _land_bulk(self, job_id: str) -> None:
        """The bookmark once a Bulk job's rows were all emitted. Without ORDER BY they come in no order, so it moves
        once, to the newest value read but no later than the job's ``createdDate``: a row edited while the job ran
        can be missing from its results yet older than one that is there, and the next run reads from there."""
        newest, self._bulk_newest = self._bulk_newest, None
        started = self.client.bulk_job_started.pop(job_id, None)
        rk = self.replication_key
        # The read's earliest job, not this one's: the halves of a window split on QUERY_TIMEOUT are jobs of one
        # read, and a row edited while the lower half's job ran (missing from it, stamped before the split point)
        # is in no later half: the upper half's job alone would move the bookmark past it (review24g #2). An empty
        # job caps the read too (review24h #1).
        if started:
            begun = parse_sf_datetime(started)
            if self._bulk_read_cap is None or begun < self._bulk_read_cap:
                self._bulk_read_cap = begun
        if newest is None or rk is None:
            return
        if not started:
            self.logger.warning(
                "%s: Bulk job %s named no createdDate; the bookmark stays where it was", self.name, job_id
            )
            return
        cap = t.cast("datetime", self._bulk_read_cap)
        value = newest if parse_sf_datetime(newest) <= cap else sf_stamp(cap)
        state = self.get_context_state(None)
        held = state.get("replication_key_value")
        if isinstance(held, str) and parse_sf_datetime(held) >= parse_sf_datetime(value):
            return  # a lookback window or a lower half of a split window: the bookmark never moves back
        state["replication_key"] = rk
        state["replication_key_value"] = value
        state[BOUNDARY_KEY] = {"value": None, "ids": []}  # rows at the value came in no order: read again, never lost

    def give_up_bulk_ahead(self) -> None:
        """Abort the job started ahead (``start_bulk_ahead``) if this stream never read it."""
        prefetched, self._prefetched_job = self._prefetched_job, None
        if prefetched is not None:
            self.client.abort_bulk_job(prefetched[1])

    def _fetch(self, lower: datetime | None, upper: datetime | None) -> Iterator[list[dict[str, t.Any]]]:
        """The window's records, finished, in pages (REST pages as they come; Bulk result pages ``BULK_CHUNK`` rows
        at a time, read as they stream)."""
        fields = self.selected_fields()
        if self.choose_api(lower) == "bulk":
            soql = self._soql(self._bulk_fields(fields), lower, upper, ordered=False)
            prefetched, self._prefetched_job = self._prefetched_job, None
            if prefetched is not None and prefetched[0] == soql:
                job_id = prefetched[1]
            else:
                if prefetched is not None:  # started for another query: it would run on, counting against the org
                    self.client.abort_bulk_job(prefetched[1])
                job_id = self.client.bulk_job_for(soql, include_deleted=self.tracks_deletes)
            numbers = self._written_numbers()
            self._bulk_open, self._bulk_newest = self.replication_key is not None, None
            try:
                # The next result page (Sforce-Locator) is fetched while this one's rows are emitted.
                job_pages = self.client.read_bulk_job(job_id, abort_if_given_up=True)
                for rows in read_ahead(job_pages, name=f"xlr8-{self.name}"):
                    header = rows.fieldnames  # the page's first line
                    if header is None:
                        continue  # an empty page
                    build_chunk = self._csv_chunk_builder(list(header), fields, numbers)
                    # CSV cells as strings, booleans, integers, Decimals or RawNumbers; compounds as dicts of them;
                    # when only the writer reads the records, records and compounds as structs it writes as dicts
                    self.records_plain = True
                    for chunk in bulk_row_chunks(rows, BULK_CHUNK):  # the DictReader's rows, as lists
                        yield build_chunk(chunk)  # DictReader skips blank lines too (so does the builder)
                self._land_bulk(job_id)  # every row of the job was emitted: only now does the bookmark move
            finally:
                self._bulk_open, self._bulk_newest = False, None
        else:
            soql = self._soql(fields, lower, upper)
            finish = self._finisher()
            numbers = self._written_numbers(JsonNumbers)
            # records only the writer reads: a page of the SOQL's fields decoded into structs, finished as such
            records = self._query_page_type(fields) if numbers is not None else None
            struct_type = records.record if records is not None else None
            finish_struct = self._struct_finisher(struct_type) if struct_type is not None else finish
            early = self.client.take_early(soql, include_deleted=self.tracks_deletes)  # sent beside the describe
            try:
                pages = self.client.query_pages_marked(
                    soql, include_deleted=self.tracks_deletes, numbers=numbers, records=records, early=early
                )
                width = 1 if self._one_cursor else self.settings.rest_concurrent_queries
                if self.replication_key and width > 1:
                    source = self._ranged(pages, fields, numbers, width, lower, upper, records, early).pages(upper)
                else:
                    source = read_ahead(pages, name=f"xlr8-{self.name}")  # nextRecordsUrl comes from the page
                for page, plain in source:
                    self.records_plain = plain
                    yield list(map(finish_struct if page and type(page[0]) is struct_type else finish, page))
            finally:
                if early is not None:
                    early.close()

    def _ranged(
        self,
        pages: QueryPages,
        fields: list[str],
        numbers: RawNumbers | None,
        width: int,
        lower: datetime | None,
        upper: datetime | None,
        records: QueryPageType | None = None,
        early: EarlyQuery | None = None,
    ) -> RangedQuery:
        """The REST read of ``pages`` (the window's query, ``lower`` .. ``upper``) split by replication key range
        (``ranges.py``): ranges ``>= bound`` and ``< next bound`` with the window's other terms; ``early``: the
        query was sent beside the describe, its plan with it if it is a first read's."""
        rk = t.cast("str", self.replication_key)
        client, include_deleted = self.client, self.tracks_deletes
        # The plan goes out with page 1 when the read is likely longer than a page: the object's whole history, or
        # choose_api counted more rows than a page (a guess: a read of one page then pays two small queries).
        # A count of this very window decides (it says whether the read is one page); a first read asks the plan
        # once: a window split on QUERY_TIMEOUT or re-issued after a timeout or an expired cursor plans after page 1.
        counted = self._counted
        if counted is not None and counted[:2] == (self._where(lower, upper), include_deleted):
            plan_early = counted[2] > client.batch_size
        else:
            plan_early = self._first_read

        def query(lower: datetime | None, upper: datetime | None) -> Iterator[tuple[list[dict[str, t.Any]], bool]]:
            return client.query_pages_marked(
                self._soql(fields, lower, upper), include_deleted=include_deleted, numbers=numbers, records=records
            )

        def open_range(lower: datetime, upper: datetime | None) -> Iterator[tuple[list[dict[str, t.Any]], bool]]:
            """A range's query; timing out before its first row, it is split as the window is, its halves read in
            order into the range's pages; a timeout splitting cannot clear is a ``RangeTimeoutError`` (the stream
            then re-reads from its last record emitted as one cursor, whose query ran where this one did not)."""
            try:
                yield from self._split_on_timeout(query, lower, upper, "range")
            except RangeTimeoutError:
                raise
            except QueryTimeoutError as exc:
                raise RangeTimeoutError(str(exc), error_code=exc.error_code, status=exc.status, path=exc.path) from exc

        def plan() -> Plan:
            """COUNT() of the window's rows and its newest value: two small queries, side by side (one round trip);
            the newest value only when ``choose_api`` has just counted the same window."""
            where = self._where(lower, upper)
            counted = self._counted_rows(where, include_deleted)
            if counted is not None:
                return Plan(counted, client.newest(self.name, rk, where, include_deleted=include_deleted))
            return client.plan(self.name, rk, where, include_deleted=include_deleted)

        def value_of(record: dict[str, t.Any]) -> datetime | None:
            value = record.get(rk)
            return parse_sf_datetime(value) if isinstance(value, str) else None

        def on_plan(plan: Plan | Exception, found: list[datetime]) -> None:
            if isinstance(plan, Exception):
                self.logger.info("%s: the ranged read could not be planned (%s); one cursor", self.name, plan)
                return
            self.logger.info(
                "%s: %d rows to read by REST; %s",
                self.name,
                plan.rows,
                f"{len(found) + 1} ranges of {rk}, up to {width} read at once" if found else "one cursor",
            )

        return RangedQuery(
            pages,
            open_range=open_range,
            plan=plan,
            value_of=value_of,
            width=width,
            name=f"xlr8-{self.name}",
            on_plan=on_plan,
            page_bytes=lambda _page: client.last_page_bytes(),
            plan_early=plan_early,
            asked=early.plan if early is not None and plan_early else None,
            sent=early.sent if early is not None else None,
            abort=early.plan_abort if early is not None and early.plan is not None and plan_early else None,
        )

    def _written_numbers(self, kind: type[CanonicalNumbers] = CanonicalNumbers) -> RawNumbers | None:
        """Fractional numbers as the text the writer writes for them, when only the writer reads the records and
        no filter of this stream compares values (the replication key is a datetime: never a number); ``kind``
        ``JsonNumbers`` for a JSON float hook."""
        if self.records_written_only and self.universal_filter is None:
            return kind()
        return None

    def _csv_builder(
        self, header: list[str], fields: list[str], numbers: RawNumbers | None = None
    ) -> t.Callable[[list[str]], dict[str, t.Any]]:
        """A function turning one Bulk CSV row (a list under ``header``) into the record REST would give, as the
        page's ``csv.DictReader`` row would become it: CSV has no null (an empty or missing cell is null), typed
        cells converted (``csv_value``), compounds rebuilt from their parts, the selected fields in order, cells
        past the header ignored, a repeated column name read from its last column. Planned once per page. With
        ``numbers``, fractional columns as it gives them."""
        converters, index, compounds = self._csv_columns(header, fields, numbers)
        width = len(header)
        missing = width  # each row's cells get one null after the last column
        positions = [index.get(name, missing) for name in fields]
        parts = [(compound, [(key, index.get(part, missing)) for key, part in keys]) for compound, keys in compounds]
        padding = [""] * width

        def build(row: list[str]) -> dict[str, t.Any]:
            if len(row) != width:
                row = (row + padding)[:width]
            cells: list[t.Any] = [
                (cell if convert is None else convert(cell)) if cell else None
                for cell, convert in zip(row, converters, strict=True)
            ]
            cells.append(None)
            record = dict(zip(fields, map(cells.__getitem__, positions), strict=True))
            for compound, keys in parts:
                value = {key: cells[position] for key, position in keys}
                record[compound] = value if any(map(_is_not_none, value.values())) else None
            return record

        return build

    def _csv_chunk_builder(
        self, header: list[str], fields: list[str], numbers: RawNumbers | None = None
    ) -> t.Callable[[list[list[str]]], list[dict[str, t.Any]]]:
        """``[finish(build(row)) for row in rows if row]`` (``_csv_builder``, then ``_finisher``) for a chunk of
        Bulk CSV rows, built column by column: each column converted in one comprehension, ``+0000`` made ``Z``
        only in datetime columns that hold such a cell, compounds and ``_sdc_deleted_at`` as columns, then one
        dict per row. Planned once per page."""
        converters, index, compounds = self._csv_columns(header, fields, numbers)
        # fractional columns of records only the writer reads, converted a column at a time
        by_column = numbers.column if isinstance(numbers, CanonicalNumbers) else None
        decimal_columns = [convert is canonical_decimal for convert in self._csv_columns(header, fields, None)[0]]
        whole_columns = [by_column if fraction else None for fraction in decimal_columns]
        width = len(header)
        padding = [""] * width
        datetime_fields = set(self._datetime_fields)
        #: Per selected field: its cell position (None: no such column), or the index of its compound, and whether
        #: ``finish`` rewrites its value (a datetime field).
        plan: list[tuple[int | None, int | None, bool]] = []
        compound_at = {compound: i for i, (compound, _keys) in enumerate(compounds)}
        for name in fields:
            if name in compound_at:
                plan.append((None, compound_at[name], name in datetime_fields))
            else:
                plan.append((index.get(name), None, name in datetime_fields))
        parts = [(compound, [(key, index.get(part)) for key, part in keys]) for compound, keys in compounds]
        # compounds of records only the writer reads, as structs msgspec writes as their dicts
        written_compounds = [
            _compound_structs([key for key, _part in keys]) if by_column is not None else None
            for _compound, keys in compounds
        ]
        has_is_deleted = _emits_deleted_at(self)
        stamp_key = self.replication_key or "SystemModstamp"
        stamp_at = fields.index(stamp_key) if stamp_key in fields else None
        deleted_at = fields.index("IsDeleted") if "IsDeleted" in fields else None
        keys = [*fields, discovery.DELETED_AT] if has_is_deleted else list(fields)
        ends_in_offset = operator.methodcaller("endswith", "+0000")
        build_row = self._csv_builder(header, fields, numbers)
        finish = self._finisher()
        one_length = frozenset({width})
        template: dict[str, t.Any] = dict.fromkeys(keys)
        # records only the writer reads (and the state steps, as dicts: their replication key and Id), as structs
        # made a row per C call
        record_type = None
        if by_column is not None and "Id" in keys and (self.replication_key or "Id") in keys:
            record_type = written_record_type(tuple(keys))

        def build_chunk(rows: list[list[str]]) -> list[dict[str, t.Any]]:
            try:
                return build_columns(rows)
            except Exception:  # noqa: BLE001 - a cell its converter refuses: the row builder raises its error
                return [finish(build_row(row)) for row in rows if row]

        def build_columns(rows: list[list[str]]) -> list[dict[str, t.Any]]:
            # Column steps in C where a column allows it (no empty cell, only the usual literals); each gives what
            # the comprehension beside it gives.
            if not one_length.issuperset(map(len, rows)) or width == 0:
                rows = [row if len(row) == width else (row + padding)[:width] for row in rows if row]
            count = len(rows)
            if not count:
                return []
            nones = [None] * count
            raw_columns = list(zip(*rows, strict=True)) if width else []
            columns: list[t.Sequence[t.Any]] = []
            for column, convert, convert_column in zip(raw_columns, converters, whole_columns, strict=True):
                if convert is None:
                    # cell or None (a column without an empty cell is its cells; one of empty cells only, the
                    # chunk's nulls: no cell hashed)
                    if "" not in column:
                        columns.append(column)
                    else:
                        columns.append(list(map(_EMPTY_AS_NONE.get, column, column)) if any(column) else nones)
                elif convert_column is not None:
                    columns.append(convert_column(column))
                elif convert is _csv_boolean:
                    if _BOOLEAN_CELLS.keys() >= set(column):
                        columns.append(list(map(_BOOLEAN_CELLS.__getitem__, column)))
                    else:  # its body inline: no call per cell
                        columns.append([cell.lower() == "true" if cell else None for cell in column])
                elif convert is _csv_integer:
                    try:  # int() reads the usual cell; a column with one it cannot read goes cell by cell
                        if "" in column:
                            columns.append([int(cell) if cell else None for cell in column])
                        else:
                            columns.append(list(map(int, column)))
                    except ValueError:
                        columns.append([convert(cell) if cell else None for cell in column])
                elif "" in column:
                    columns.append([convert(cell) if cell else None for cell in column])
                else:
                    columns.append(list(map(convert, column)))
            compound_columns: list[t.Sequence[t.Any]] = []
            for (_compound, part_keys), written in zip(parts, written_compounds, strict=True):
                part_columns = [nones if p is None else columns[p] for _key, p in part_keys]
                if written is not None:
                    compound_columns.append(written(part_columns))
                    continue
                names = [key for key, _position in part_keys]
                values = list(zip(*part_columns, strict=True))
                built: list[dict[str, t.Any] | None] = list(map(dict, map(zip, repeat(names), values)))
                # a compound whose parts are all null is null
                for row in compress(count_up(), map(len(names).__eq__, map(_count_none, values))):
                    built[row] = None
                compound_columns.append(built)
            out: list[t.Sequence[t.Any]] = []
            for position, compound, is_datetime in plan:
                field: t.Sequence[t.Any] = nones if position is None else columns[position]
                if compound is not None:
                    field = compound_columns[compound]
                if is_datetime:
                    kinds = set(map(type, field))
                    if kinds == _STR_ONLY and all(map(ends_in_offset, field)):  # every cell: value[:-5] + "Z"
                        field = list(map(operator.add, map(_BEFORE_OFFSET, field), repeat("Z")))
                    elif (
                        any(map(ends_in_offset, filter(None, field)))
                        if kinds <= _STR_OR_NONE
                        else any(ends_in_offset(value) for value in field if isinstance(value, str))
                    ):
                        field = [
                            value[:-5] + "Z" if isinstance(value, str) and value.endswith("+0000") else value
                            for value in field
                        ]
                out.append(field)
            if has_is_deleted:
                stamps = nones if stamp_at is None else out[stamp_at]
                deleted = nones if deleted_at is None else out[deleted_at]
                deleted_stamps = list(nones)  # stamp if is_deleted else None
                for row in compress(count_up(), deleted):
                    deleted_stamps[row] = stamps[row]
                out.append(deleted_stamps)
            if not out:
                return [{} for _ in rows]
            if len(out) != len(keys):
                raise ValueError(f"{len(out)} columns for {len(keys)} keys")  # never: one column per key
            if record_type is not None:  # read as the dicts they stand for (``WrittenRecord``)
                return t.cast("list[dict[str, t.Any]]", list(map(record_type, *out)))
            # dict(zip(keys, ...)): a copy of the keys' table, filled; each step over the rows in C
            records = list(map(dict.copy, repeat(template, count)))
            deque(map(dict.update, records, map(zip, repeat(keys), zip(*out, strict=True))), maxlen=0)
            return records

        return build_chunk

    def _csv_columns(
        self, header: list[str], fields: list[str], numbers: RawNumbers | None
    ) -> tuple[list[t.Callable[[str], t.Any] | None], dict[str, int], list[tuple[str, list[tuple[str, str]]]]]:
        """Per header column its converter (None: the cell stays a string; with ``numbers``, fractional columns as
        it gives them), each name's column (a repeated name: its last) and the selected compounds."""
        typed_columns, compounds = self._csv_plan(fields)
        if numbers is not None:
            fraction = numbers.__getitem__
            typed_columns = [
                (name, fraction if convert is canonical_decimal else convert) for name, convert in typed_columns
            ]
        index = {name: position for position, name in enumerate(header)}
        converters: list[t.Callable[[str], t.Any] | None] = [None] * len(header)
        for name, convert in typed_columns:
            if name in index:
                converters[index[name]] = convert
        return converters, index, compounds

    def _csv_plan(
        self, fields: list[str]
    ) -> tuple[list[tuple[str, t.Callable[[str], t.Any]]], list[tuple[str, list[tuple[str, str]]]]]:
        """(typed columns with their converter, selected compounds with (key, part) pairs): what ``csv_value`` and
        ``discovery.compound_key`` decide per cell, decided once per column."""
        typed = [
            (name, _CSV_CONVERTERS[sf_type])
            for name, sf_type in self.info.field_types.items()
            if sf_type in _CSV_CONVERTERS
        ]
        compounds = [
            (compound, [(discovery.compound_key(compound, kind, part), part) for part in parts])
            for compound, (kind, parts) in self.info.compounds.items()
            if compound in fields
        ]
        return typed, compounds

    @cached_property
    def _datetime_fields(self) -> list[str]:
        return [n for n, sf_type in self.info.field_types.items() if sf_type == "datetime"]

    def _query_page_type(self, fields: list[str]) -> QueryPageType | None:
        """The REST pages of ``fields`` as structs (``query_page_type``), ``_sdc_deleted_at`` last as ``finish``
        adds it."""
        return query_page_type(tuple(fields), discovery.DELETED_AT if _emits_deleted_at(self) else None)

    def _struct_finisher(self, kind: type[QueryRecord]) -> t.Callable[[dict[str, t.Any]], dict[str, t.Any]]:
        """``_finisher``'s finish for a ``QueryRecord`` of ``kind`` (the same values; a field the struct lacks is
        one the record lacks, read as None), and ``attributes`` unset (left out when written)."""
        fields = kind.__struct_fields__
        datetime_fields = tuple(name for name in self._datetime_fields if name in fields)
        has_is_deleted = _emits_deleted_at(self)
        stamp_key = self.replication_key or "SystemModstamp"
        stamp_of = operator.attrgetter(stamp_key) if stamp_key in fields else _none_of
        is_deleted = operator.attrgetter("IsDeleted") if "IsDeleted" in fields else _none_of
        deleted_at = discovery.DELETED_AT
        unset = msgspec.UNSET

        def finish(record: t.Any) -> t.Any:
            for name in datetime_fields:
                value = getattr(record, name)
                if isinstance(value, str) and value.endswith("+0000"):
                    setattr(record, name, value[:-5] + "Z")
            record.attributes = unset
            if has_is_deleted:
                setattr(record, deleted_at, stamp_of(record) if is_deleted(record) else None)
            return record

        return finish

    def _finisher(self) -> t.Callable[[dict[str, t.Any]], dict[str, t.Any]]:
        """What every record gets last, for the stream as configured now (fields and keys looked up once, not
        per record): Salesforce's ``+0000`` made ``Z`` (RFC 3339), ``_sdc_deleted_at`` from ``IsDeleted`` (where
        ``_emits_deleted_at``), and a key the stream's schema does not declare dropped (logged by name once): the
        schema declares ``additionalProperties: false`` and the target's BATCH fast path trusts it (review23e
        finding 2); nothing conforms this tap's records (``TYPE_CONFORMANCE_LEVEL`` NONE), so an answer holding a
        field the SOQL did not ask for (an org's change since discovery) would otherwise reach the files."""
        datetime_fields = tuple(self._datetime_fields)
        has_is_deleted = _emits_deleted_at(self)
        stamp_key = self.replication_key or "SystemModstamp"
        deleted_at = discovery.DELETED_AT
        declared = frozenset(self.schema.get("properties") or ())
        logged: set[str] = set()

        def finish(record: dict[str, t.Any]) -> dict[str, t.Any]:
            get = record.get
            for name in datetime_fields:
                value = get(name)
                if isinstance(value, str) and value.endswith("+0000"):
                    record[name] = value[:-5] + "Z"
            if has_is_deleted:
                record[deleted_at] = get(stamp_key) if get("IsDeleted") else None
            if declared and not declared.issuperset(record):
                undeclared = [key for key in record if key not in declared]
                for key in undeclared:
                    del record[key]
                if not logged.issuperset(undeclared):
                    logged.update(undeclared)
                    self.logger.warning(
                        "%s: Salesforce answered fields the stream's schema does not declare (%s): left out; "
                        "discover again to read them",
                        self.name,
                        ", ".join(sorted(undeclared)),
                    )
            return record

        return finish
