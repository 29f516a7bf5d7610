"""The Common base stream: Bearer auth, ``{"data": [...], "has_more", "next_cursor"}`` pages walked by cursor,
decimal strings as exact numbers, Common's error format (``error_code``, ``detail``, ``request_id``) recognised
even inside a 200, and the universal ``filters`` pushed down as Common's list parameters.

Rows are shaped (the schema's columns in its order, decimal strings as ``Decimal``) a page at a time, in
``get_records``, so the plain loop writes a page whose shape conformance keeps at once (``plain_record_pages``);
``post_process`` only applies the universal filter (``UniversalFilterMixin``).
"""

from __future__ import annotations

import json
import typing as t
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from itertools import repeat

import requests
from singer_sdk.pagination import JSONPathPaginator

from xlr8_kit.columns import schema_of
from xlr8_kit.filtering import UniversalFilterMixin
from xlr8_kit.http.classify import ResponseClassifier, json_or_not, kept_body
from xlr8_kit.http.errors import ClientRequestError
from xlr8_kit.rest import KitRESTStream
from xlr8_kit.singer_io import loads_exact

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from xlr8_tap_common.settings import CommonSettings


class CommonClassifier(ResponseClassifier):
    """A 200 carrying Common's error object is an error, never an empty page (RELIABILITY A8).

    A 2xx JSON body is parsed once, as the stream reads it (``parse_body``), and kept: the page's rows and the next
    cursor are read from it (``parsed_body``), so a page is parsed once, not three times (classifier probe, rows,
    and the SDK paginator's ``response.json()``)."""

    json_error_keys = frozenset({"error_code", "request_id", "detail"})

    def parse_body(self, response: requests.Response) -> t.Any:
        return loads_exact(response.content)

    def error_in_body(self, response: requests.Response) -> str | None:
        """None straight from the kept body when it holds no ``status`` text and none of Common's error members
        (a page of rows): what the base class finds after probing the whole body once more for those members."""
        body = kept_body(response)
        if type(body) is dict and not isinstance(body.get("status"), str) and self.json_error_keys.isdisjoint(body):
            return None
        return super().error_in_body(response)

    def json_error(self, body: dict[str, t.Any]) -> str | None:
        if "error_code" in body:
            return f"{body.get('error_code')} (request_id {body.get('request_id')}): {str(body.get('detail'))[:200]}"
        return None


CLASSIFIER = CommonClassifier()
#: The body ``CommonClassifier`` kept, else parsed now (``loads_exact``) and kept.
parsed_body = CLASSIFIER.parsed_body
_DICT = {dict}


def error_summary(response: requests.Response) -> str:
    """``error_code: detail (request_id …)`` from Common's error body, or the HTTP status."""
    body = json_or_not(response)
    if not isinstance(body, dict) or "error_code" not in body:
        return f"HTTP {response.status_code}"
    return (
        f"HTTP {response.status_code} {body['error_code']}: {body.get('detail')} (request_id {body.get('request_id')})"
    )


#: Pages in a row holding no rows and saying ``has_more: true`` after which the read fails (``CursorPaginator``).
MAX_EMPTY_PAGES = 100


class CursorPaginator(JSONPathPaginator):
    """``$.next_cursor`` read from the body the stream parsed (``parsed_body``) instead of a second parse of the
    whole page (``response.json()``); a cursor that is not a text or null is left to the SDK's JSONPath.

    A page that says ``has_more: true`` goes on to the next page, also when it holds no rows (the SDK stops at an
    empty page), and one that gives no cursor then (null, ``""``, any empty value) is an error: the read cannot go on,
    and ending it there (what an empty cursor or an empty page means to the SDK) dropped every later page with exit
    0. ``MAX_EMPTY_PAGES`` such empty pages in a row are an error too: a cursor that changes without moving on
    (re-encoded by a proxy or a broken API) would otherwise be followed for ever; the SDK catches only a repeated
    one."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        #: Pages in a row that held no rows and said ``has_more: true``.
        self.empty_pages = 0

    def continue_if_empty(self, response: requests.Response) -> bool:
        body = parsed_body(response)
        return type(body) is dict and body.get("has_more") is True

    def get_next(self, response: requests.Response) -> str | None:
        body = parsed_body(response)
        if type(body) is dict:
            cursor = body.get("next_cursor")
            more = body.get("has_more") is True
            if more and not cursor:
                raise self._cannot_go_on(response, "has_more true without a next_cursor")
            self.empty_pages = self.empty_pages + 1 if more and not body.get("data") else 0
            if self.empty_pages >= MAX_EMPTY_PAGES:
                raise self._cannot_go_on(response, f"{self.empty_pages} pages in a row with no rows and has_more true")
            if cursor is None or type(cursor) is str:
                return cursor
        return super().get_next(response)

    @staticmethod
    def _cannot_go_on(response: requests.Response, what: str) -> ClientRequestError:
        path = response.request.path_url.split("?")[0] if response.request is not None else "?"
        return ClientRequestError(
            f"common: {path} answered {what}: the pages after it cannot be read ({error_summary(response)})",
            status=response.status_code,
            path=path,
        )


class CommonStream(UniversalFilterMixin, KitRESTStream):
    """One Common list resource. Subclasses declare ``name``, ``path``, ``columns``, keys and annotations."""

    response_classifier = CLASSIFIER
    skip_filter_on_unknown_field = True
    records_jsonpath = "$.data[*]"
    #: The next page is this page's ``next_cursor``, so it is fetched while this page is emitted.
    read_ahead_pages = True
    columns: t.ClassVar[dict[str, str]] = {}
    #: Query parameter that takes the bookmark (incremental streams).
    since_param: t.ClassVar[str | None] = "updated_since"

    def __init__(self, tap: t.Any, **kwargs: t.Any) -> None:
        kwargs.setdefault("schema", schema_of(self.columns))
        super().__init__(tap=tap, **kwargs)

    @property
    def settings(self) -> CommonSettings:
        return t.cast("CommonSettings", self._tap.settings)

    @property
    def url_base(self) -> str:
        return self.settings.api_url

    def get_new_paginator(self) -> JSONPathPaginator:
        return CursorPaginator("$.next_cursor")

    def _write_starting_replication_value(self, context: Context | None) -> None:
        """A bookmark is read from ``lookback_seconds`` before it: Common stamps ``updated_at`` when a write begins
        and shows the row when it commits, so a row committed after the last run read past its stamp sits below
        the bookmark (audit23a finding 7). The stored value moves back too, so the rows read again are in order
        (the SDK's sort check); they are upserted by id. Never below ``start_date`` (written in the bookmark's
        offset)."""
        super()._write_starting_replication_value(context)
        seconds = self.settings.lookback_seconds
        state = self.get_context_state(context)
        bookmark = state.get("replication_key_value")
        if not (self.replication_key and seconds and isinstance(bookmark, str)):
            return
        self.get_starting_replication_key_value(context)  # a malformed bookmark fails here, naming the stream
        moment = datetime.fromisoformat(bookmark.replace("Z", "+00:00"))
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        earlier = moment - timedelta(seconds=seconds)
        if self.settings.start_date is not None:
            earlier = max(earlier, self.settings.start_date)
        if earlier >= moment:
            return
        # In the bookmark's own offset: the sort check compares texts, and a start_date's offset would sort wrong.
        text = earlier.astimezone(moment.tzinfo).isoformat()
        text = text.replace("+00:00", "Z") if bookmark.endswith("Z") else text
        state["starting_replication_value"] = state["replication_key_value"] = text

    def get_url_params(self, context: Context | None, next_page_token: t.Any | None) -> dict[str, t.Any]:
        pushed = dict(self.universal_filter.params) if self.universal_filter is not None else {}
        params: dict[str, t.Any] = {**pushed, "limit": self.settings.page_size}
        if next_page_token:
            params["cursor"] = next_page_token
        if self.replication_key and self.since_param:
            start = self.get_starting_timestamp(context)
            if start is None and self.settings.start_date is not None:
                start = self.settings.start_date
            if start is not None:
                since = start.isoformat().replace("+00:00", "Z")
                # a pushed filter bound and the bookmark: the later one wins (both must hold)
                params[self.since_param] = max(since, str(params.get(self.since_param) or ""))
        return params

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """The rows read, shaped (``_shaped_blocks``); none, and no request, when the filter matches nothing."""
        yield from self.records_of_blocks(self._shaped_blocks(context))

    def plain_record_pages(self) -> Iterator[Iterable[dict[str, t.Any]]] | None:
        """``get_records(None)`` a page at a time, for the plain loop (which writes a vouched page at once)."""
        if type(self).get_records is not CommonStream.get_records:
            return None
        return self.pages_of_blocks(self._shaped_blocks(None))

    def _shaped_blocks(self, context: Context | None) -> Iterator[tuple[Iterable[dict[str, t.Any]], bool]]:
        """Each page read as a block ``(records, conformed)``: shaped whole (``_page_columns``), conformed when
        conformance keeps every record as it is (``Conformer.keeps_columns``); a page with a row that refuses (not
        an object, a decimal text that does not parse) shaped row by row as the loop takes it (``shape``), so the
        error surfaces at that row, after the rows before it."""
        if self.filter_matches_nothing:
            return
        if not self._reads_pages_ahead:
            yield map(self.shape, self.request_records(context)), False
            return
        keeps_columns = self._conformer.keeps_columns
        for page in self.request_record_pages(context):
            columns = self._page_columns(page)
            if columns is None:
                yield map(self.shape, page), False
                continue
            names = tuple(columns)
            yield list(map(dict, map(zip, repeat(names), zip(*columns.values(), strict=True)))), keeps_columns(columns)

    def _page_columns(self, rows: list[t.Any]) -> dict[str, list[t.Any]] | None:
        """The schema's columns across ``rows``, each value as ``shape`` makes it (None where a row lacks it), with
        ``shape_columns``' additions; None when a row is not an object or a decimal text does not parse."""
        if set(map(type, rows)) != _DICT:
            return None
        columns = {name: list(map(dict.get, rows, repeat(name))) for name in self._property_names}
        try:
            for name in self._numeric_columns:
                column = columns[name]
                if str in set(map(type, column)):
                    columns[name] = [Decimal(v) if isinstance(v, str) else v for v in column]
        except ArithmeticError:  # ``Decimal("x")``: shaped row by row, where ``shape`` raises at that row
            return None
        self.shape_columns(columns)
        return columns

    def shape_columns(self, columns: dict[str, list[t.Any]]) -> None:
        """What ``shape`` adds to a row, for a page's columns at once (a stream that extends ``shape`` extends
        this the same way)."""

    def get_http_request(self, *, page: t.Any) -> t.Any:
        request = super().get_http_request(page=page)
        request.headers = {**request.headers, "Accept": "application/json"}
        return request

    def parse_response(self, response: requests.Response) -> t.Iterable[dict[str, t.Any]]:
        body = parsed_body(response)  # json.loads(parse_float=Decimal), through msgspec, once per response
        rows = body.get("data") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise ClientRequestError(
                f"common {self.name}: expected {{'data': [...]}} from {self.path}, got {type(body).__name__}",
                status=response.status_code,
                path=self.path,
            )
        yield from rows

    @cached_property
    def _numeric_columns(self) -> tuple[str, ...]:
        props = self.schema["properties"]
        return tuple(n for n, spec in props.items() if "number" in (spec.get("type") or ()))

    @cached_property
    def _property_names(self) -> tuple[str, ...]:
        return tuple(self.schema["properties"])

    def shape(self, row: dict[str, t.Any]) -> dict[str, t.Any]:
        """Decimal strings as exact numbers, unknown fields dropped (the schema is the contract)."""
        names = self._property_names
        out = dict(zip(names, map(row.get, names), strict=True))  # the schema's columns, in its order, built in C
        for name in self._numeric_columns:
            value = out[name]
            if isinstance(value, str):
                out[name] = Decimal(value)
        return out

    def post_json(self, path: str, body: dict[str, t.Any]) -> requests.Response:
        """A POST through the same session, authenticator, retries and error handling as the reads."""
        prepared = self.build_prepared_request(
            method="POST",
            url=self.url_base + path,
            data=json.dumps(body),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        return self._request(prepared, None)
