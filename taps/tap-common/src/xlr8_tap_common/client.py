"""The Common base stream: Bearer auth, ``{"data": [...], "has_more", "next_cursor"}`` pages walked by cursor,
decimal strings as exact numbers, Common's error format (``error_code``, ``detail``, ``request_id``) recognised
even inside a 200, and the universal ``filters`` pushed down as Common's list parameters.
"""

from __future__ import annotations

import json
import typing as t
from decimal import Decimal
from functools import cached_property

import requests
from singer_sdk.pagination import JSONPathPaginator

from xlr8_kit.columns import schema_of
from xlr8_kit.filtering import UniversalFilterMixin
from xlr8_kit.http.classify import ResponseClassifier
from xlr8_kit.http.errors import ClientRequestError
from xlr8_kit.rest import KitRESTStream
from xlr8_kit.singer_io import loads_exact

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from xlr8_tap_common.settings import CommonSettings


class CommonClassifier(ResponseClassifier):
    """A 200 carrying Common's error object is an error, never an empty page (RELIABILITY A8)."""

    json_error_keys = frozenset({"error_code", "request_id", "detail"})

    def json_error(self, body: dict[str, t.Any]) -> str | None:
        if "error_code" in body:
            return f"{body.get('error_code')} (request_id {body.get('request_id')}): {str(body.get('detail'))[:200]}"
        return None


CLASSIFIER = CommonClassifier()


def error_summary(response: requests.Response) -> str:
    """``error_code: detail (request_id …)`` from Common's error body, or the HTTP status."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if not isinstance(body, dict) or "error_code" not in body:
        return f"HTTP {response.status_code}"
    return (
        f"HTTP {response.status_code} {body['error_code']}: {body.get('detail')} (request_id {body.get('request_id')})"
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
        return JSONPathPaginator("$.next_cursor")

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
        if self.filter_matches_nothing:
            return
        yield from super().get_records(context)

    def get_http_request(self, *, page: t.Any) -> t.Any:
        request = super().get_http_request(page=page)
        request.headers = {**request.headers, "Accept": "application/json"}
        return request

    def parse_response(self, response: requests.Response) -> t.Iterable[dict[str, t.Any]]:
        body = loads_exact(response.content)  # json.loads(parse_float=Decimal), through msgspec
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

    def post_process(self, row: dict[str, t.Any], context: Context | None = None) -> dict[str, t.Any] | None:
        """Decimal strings as exact numbers, unknown fields dropped (the schema is the contract)."""
        names = self._property_names
        out = dict(zip(names, map(row.get, names), strict=True))  # the schema's columns, in its order, built in C
        for name in self._numeric_columns:
            value = out[name]
            if isinstance(value, str):
                out[name] = Decimal(value)
        universal = self.universal_filter
        if universal is not None and not universal.matches(out):
            return None
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
