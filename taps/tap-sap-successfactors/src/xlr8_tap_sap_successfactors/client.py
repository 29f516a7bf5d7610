"""SuccessFactors HTTP client (shared by the tap's streams and the connector) and the product's base stream.

Every call goes through the kit's ``ResilientSession`` with the tap's authenticator. ``SuccessFactorsStream`` asks
for JSON, selects only the chosen properties, filters incrementally with ``ge`` on the change timestamp (records
at the bookmark are re-read, never skipped), reads effective-dated history only on request, follows ``__next``
to the end and switches to ``paging=snapshot`` for sets larger than one page so rows inserted while paging are
neither lost nor read twice (SAP KBA 2735876).
"""

from __future__ import annotations

import hashlib
import os
import time
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from urllib.parse import quote, urlencode, urlparse

import requests
from singer_sdk.streams.rest import HTTPRequest

from xlr8_kit.auth.static import Basic
from xlr8_kit.declared import StreamDeclaration, declared_stream_class
from xlr8_kit.filtering import UniversalFilterMixin
from xlr8_kit.http.errors import AuthenticationError, ClientRequestError, InsecureTransportError, KitHTTPError
from xlr8_kit.http.session import ResilientSession
from xlr8_kit.odata import (
    ODataNextLinkPaginator,
    ServiceMetadata,
    all_of,
    compare,
    decode_entry,
    next_link,
    page_rows,
    parse_edmx,
)
from xlr8_kit.odata.filters import Filter
from xlr8_kit.odata.http import ODataClassifier
from xlr8_kit.odata.http import raise_for_status as odata_raise_for_status
from xlr8_kit.odata.paging import same_origin
from xlr8_kit.odata.stream import conformed_decoder
from xlr8_kit.odata.types import EntryDecoder
from xlr8_kit.read_start import ReadStartCap, server_time
from xlr8_kit.redaction import Redactor
from xlr8_kit.rest import KitRESTStream, MarkedPage
from xlr8_tap_sap_successfactors.discovery import StreamPlan

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context
    from singer_sdk.pagination import BaseAPIPaginator
    from singer_sdk.streams.rest import PageContext

    from xlr8_tap_sap_successfactors.tap import SuccessFactorsSettings, TapSapSuccessFactors

MAX_MESSAGE = 300
#: Every User status: a User query without a status term returns active users only (SAP KBAs 2736579, 2166571),
#: so terminated people would never land and a termination after the first run would never be read.
USER_STATUS_FILTER = Filter("status in 't','f','T','F','e','d'")
END_OF_TIME_DATE = "9999-12-31"
#: How far before the server's UTC day an effective-dated sync starts. ``Date`` is GMT, but the tenant's "today" is
#: its data centre's local day (SAP KBA 2933028), up to a day behind west of UTC; a row ending that local day (the
#: one a change effective tomorrow delimits) would otherwise never be read. One more day for clock error. The
#: cost: a few rows that ended in those days, upserted under their own keys (review24a M3).
FROM_DATE_MARGIN = timedelta(days=2)
#: Characters left readable in OData query strings (``$filter=a eq 'b'`` -> ``%24`` would also work, but logs
#: and the audit trail are easier to read this way). Spaces are always ``%20``, never ``+``.
ODATA_SAFE = "$,'():/*"


def encode_query(params: dict[str, t.Any]) -> str:
    pairs = [(k, v) for k, v in params.items() if v is not None]
    return urlencode(pairs, safe=ODATA_SAFE, quote_via=quote)


class SuccessFactorsClassifier(ODataClassifier):
    """An OData error document inside a 2xx body is an error, never "zero rows" (RELIABILITY A8)."""


CLASSIFIER = SuccessFactorsClassifier()


#: What a 401 under Basic adds: SAP deleted Basic authentication for APIs on 20 Nov 2026, so a rejected Basic login
#: more likely means the method is gone for this tenant than a wrong password (audit24a M2).
BASIC_RETIRED_HINT = (
    "; Basic authentication may be retired for this tenant (SAP retired it for SuccessFactors APIs on "
    "20 Nov 2026): use auth.type saml_bearer"
)


def raise_for_status(response: requests.Response, redactor: Redactor, *, basic: bool = False) -> None:
    """Turn a final non-2xx answer into the kit's error with the vendor's code and message (redacted, short)."""
    try:
        odata_raise_for_status(response, redactor, "successfactors")
    except AuthenticationError as exc:
        if basic and exc.status == 401:
            raise AuthenticationError(f"{exc}{BASIC_RETIRED_HINT}", status=401, path=exc.path) from None
        raise


@dataclass(frozen=True)
class MetadataCache:
    """$metadata kept on disk between runs (Meltano discovers, then syncs: two processes, one download).

    One file per tenant (hash of API URL and company id); older than ``ttl_s`` means fetched again. The document
    holds no secrets, only the tenant's schema."""

    directory: Path
    company_id: str
    ttl_s: float = 3600.0

    def path(self, api_url: str) -> Path:
        digest = hashlib.sha256(f"{api_url}|{self.company_id}".encode()).hexdigest()[:32]
        return self.directory / f"successfactors-{digest}.edmx"

    def load(self, api_url: str) -> bytes | None:
        path = self.path(api_url)
        try:
            if time.time() - path.stat().st_mtime > self.ttl_s:
                return None
            return path.read_bytes()
        except OSError:
            return None

    def store(self, api_url: str, content: bytes) -> None:
        path = self.path(api_url)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(content)
        partial.replace(path)  # atomic: a concurrent reader sees the old file or the new one, never half


class SuccessFactorsClient:
    """$metadata, $count and row paging for one tenant (one credential)."""

    def __init__(
        self,
        session: ResilientSession,
        authenticator: requests.auth.AuthBase | None,
        *,
        api_url: str,
        redactor: Redactor,
        metadata_cache: MetadataCache | None = None,
    ) -> None:
        self.metadata_cache = metadata_cache
        self.session = session
        self.authenticator = authenticator
        self.api_url = api_url.rstrip("/")
        self.redactor = redactor
        #: The tenant's clock less ours, from the last ``Date`` header seen (None until one is).
        self.clock_offset: timedelta | None = None

    def note_server_time(self, response: requests.Response) -> None:
        moment = server_time(response)
        if moment is not None:
            self.clock_offset = moment - datetime.now(UTC)

    def server_today(self, probe_set: str) -> date:
        """Today's UTC date on the tenant's clock. Before any response was read (``$metadata`` from the disk
        cache) one ``$count`` of ``probe_set`` is asked for its ``Date``: our clock is not the tenant's."""
        if self.clock_offset is None:
            self.get(f"{self.service_url}/{probe_set}/$count", accept="text/plain")
            if self.clock_offset is None:  # no Date from this tenant: our clock, the margin covers a day of it
                self.clock_offset = timedelta(0)
        return (datetime.now(UTC) + (self.clock_offset or timedelta(0))).date()

    def sync_from_date(self, probe_set: str) -> str:
        """``fromDate`` of an effective-dated sync: the server's UTC day less ``FROM_DATE_MARGIN``."""
        return (self.server_today(probe_set) - FROM_DATE_MARGIN).isoformat()

    @property
    def service_url(self) -> str:
        return f"{self.api_url}/odata/v2"

    def get(
        self, url: str, params: dict[str, t.Any] | None = None, *, accept: str = "application/json"
    ) -> requests.Response:
        full = f"{url}?{encode_query(params)}" if params else url
        prepared = self.session.prepare_request(requests.Request("GET", full, headers={"Accept": accept}))
        response = self.session.send(prepared, classify=CLASSIFIER.classify, authenticate=self.authenticator)
        self.note_server_time(response)
        raise_for_status(response, self.redactor, basic=isinstance(self.authenticator, Basic))
        return response

    @cached_property
    def metadata(self) -> ServiceMetadata:
        """The tenant's EDMX, fetched once (or read from the on-disk cache) and parsed by the kit's parser."""
        cached = self.metadata_cache.load(self.api_url) if self.metadata_cache else None
        if cached is not None:
            return parse_edmx(cached)
        content = self.get(f"{self.service_url}/$metadata", accept="application/xml").content
        metadata = parse_edmx(content)  # parsed before caching: a broken document is never kept
        if self.metadata_cache:
            self.metadata_cache.store(self.api_url, content)
        return metadata

    def count(self, entity_set: str, params: dict[str, t.Any]) -> int:
        response = self.get(f"{self.service_url}/{entity_set}/$count", params, accept="text/plain")
        try:
            return int(response.text.strip())
        except ValueError:
            raise ClientRequestError(
                f"successfactors: $count of {entity_set} is not a number", path=f"/odata/v2/{entity_set}/$count"
            ) from None

    def iter_rows(self, url: str, params: dict[str, t.Any] | None = None) -> Iterator[dict[str, t.Any]]:
        """Raw entries of every page, following ``__next`` (on this host only) to the end."""
        response = self.get(url, params)
        while True:
            yield from page_rows(response)
            link = next_link(response)
            if link is None:
                return
            if not same_origin(urlparse(link), self.api_url):
                raise InsecureTransportError(
                    "successfactors: __next points to another host; refusing to send credentials there",
                    path=urlparse(link).path,
                )
            response = self.get(link)


class SuccessFactorsStream(ReadStartCap, UniversalFilterMixin, KitRESTStream):
    """One entity set. Subclasses are made per entity set by ``stream_class`` and only declare. Pages come in
    server order, not by change stamp, so the bookmark is held at the read's start (``ReadStartCap``)."""

    response_classifier = CLASSIFIER
    plan: t.ClassVar[StreamPlan]
    is_sorted = False
    #: The next page is the server's ``__next`` link of this page, so it is fetched while this page is emitted.
    read_ahead_pages = True

    def __init__(self, tap: TapSapSuccessFactors) -> None:
        super().__init__(tap=tap, name=self.plan.name, schema=self.plan.schema, path=f"/odata/v2/{self.plan.name}")
        self.primary_keys = list(self.plan.primary_keys)
        self.replication_key = self.plan.replication_key
        self._snapshot: bool | None = None

    @property
    def settings(self) -> SuccessFactorsSettings:
        return t.cast("TapSapSuccessFactors", self._tap).settings

    @property
    def client(self) -> SuccessFactorsClient:
        return t.cast("TapSapSuccessFactors", self._tap).client

    @property
    def url_base(self) -> str:
        return self.settings.api_url

    # -- request shaping -----------------------------------------------------------------------------------------

    def selected_properties(self) -> list[str] | None:
        """$select of the chosen properties (keys and the replication key always), None when all are chosen."""
        names = list(self.schema.get("properties", {}))
        chosen = [n for n in names if self.mask.get(("properties", n), True)]
        if len(chosen) == len(names):
            return None
        must = [*self.primary_keys, *([self.replication_key] if self.replication_key else [])]
        return [n for n in names if n in chosen or n in must]

    def row_filter(self, context: Context | None) -> Filter | None:
        incremental = None
        if self.replication_key:
            start = self.get_starting_timestamp(context)
            if start is not None:
                incremental = compare(self.replication_key, "ge", start, self.plan.replication_key_type)
        universal = self.universal_filter
        pushed = Filter(f"({universal.where})") if universal is not None and universal.where else None
        return all_of(incremental, pushed, USER_STATUS_FILTER if self.plan.name == "User" else None)

    def base_params(self, context: Context | None) -> dict[str, t.Any]:
        """What both $count and the first page are asked with."""
        params: dict[str, t.Any] = {"$format": "json"}
        where = self.row_filter(context)
        if where is not None:
            params["$filter"] = str(where)
        if self.plan.effective_dated:
            if self.settings.history:
                params["fromDate"] = self.settings.history_from_date
                params["toDate"] = self.settings.history_to_date
            elif not getattr(self._tap, "for_connector", False):
                # A sync: today's rows and every row that takes effect later: a row keyed today for next month is
                # read now (its change stamp is today's), under its own key (the key carries startDate). Today's
                # rows alone would miss it for good once the bookmark passes its stamp (audit24a H2).
                params["fromDate"] = self.client.sync_from_date(self.name)
                params["toDate"] = END_OF_TIME_DATE
            # The connector answers questions about today: no dates, so the tenant gives the rows in force on its
            # own today, never next month's leave or termination beside them (review24a M1).
        return params

    def use_snapshot(self, params: dict[str, t.Any]) -> bool:
        threshold = self.settings.snapshot_paging_threshold
        if threshold <= 0:
            return True
        count_params = {k: v for k, v in params.items() if k != "$format"}
        return self.client.count(self.name, count_params) > threshold

    def get_url_params(self, context: Context | None, next_page_token: t.Any | None) -> dict[str, t.Any]:
        if next_page_token is not None:
            return {}  # the server's __next link carries every option, the snapshot token included
        params = self.base_params(context)
        params["customPageSize"] = str(self.settings.page_size)
        select = self.selected_properties()
        if select is not None:
            params["$select"] = ",".join(select)
        if self.use_snapshot(params):
            params["paging"] = "snapshot"
        return params

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        request = super().get_http_request(page=page)
        token = page.next_page_token
        if token is not None:
            if not same_origin(token, self.url_base):
                raise InsecureTransportError(
                    "successfactors: __next points to another host; refusing to send credentials there",
                    path=token.path,
                )
            request.url = token.geturl()
        elif request.params:
            request.url = f"{request.url}?{encode_query(dict(request.params))}"
        request.params = {}
        request.headers = {**request.headers, "Accept": "application/json"}
        return request

    def get_new_paginator(self) -> BaseAPIPaginator:
        return ODataNextLinkPaginator()

    # -- response ------------------------------------------------------------------------------------------------

    def validate_response(self, response: requests.Response) -> None:
        self.note_read_start(response)
        self.client.note_server_time(response)
        try:
            super().validate_response(response)
        except KitHTTPError as exc:
            raise_for_status(response, self._kit_tap.kit.redactor, basic=self.settings.auth.type == "basic")
            raise exc

    def parse_response(self, response: requests.Response) -> t.Iterable[dict[str, t.Any]]:
        """The page's records: conformed by the kit's ``EntryDecoder`` where it vouches for them (marked so on the
        page), else decoded one by one for the loop to conform."""
        entries = page_rows(response)
        decoder = self._decoder()
        if decoder is not None:
            records = decoder.page(entries)
            if records is not None:
                return MarkedPage(records, plain=decoder.plain, conformed=True)
        return self._decoded(entries)

    def _decoded(self, entries: list[dict[str, t.Any]]) -> t.Iterator[dict[str, t.Any]]:
        entity = self.plan.entity_set.entity_type
        for entry in entries:
            yield decode_entry(entity, entry)

    def _decoder(self) -> EntryDecoder | None:
        """The conforming decoder, when the schema in force is the one discovery made for the entity (another
        schema, from a user's catalog, is conformed by the loop)."""
        return conformed_decoder(self, self.plan.entity_set.entity_type, self.plan.schema)


def stream_class(plan: StreamPlan, declared: StreamDeclaration | None) -> type[SuccessFactorsStream]:
    return declared_stream_class(
        SuccessFactorsStream, plan, plan.name, declared, f"SuccessFactors entity set {plan.name}."
    )
