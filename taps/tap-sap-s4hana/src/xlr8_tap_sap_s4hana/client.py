"""S/4HANA HTTP client (shared by the streams and the connector) and the product's base stream.

Every call goes through the kit's ``ResilientSession`` with the tap's authenticator, carries ``sap-client`` (when
configured, next links included) and ``Accept-Language``, and asks v2 services for ``$format=json`` and v4 services
for ``IEEE754Compatible=true`` (decimals as strings, so amounts stay exact). Paging is the kit's ``iter_pages``:
``$top``/``$skip`` windows, server ``__next`` / ``@odata.nextLink`` links inside them, and an error instead of a
loop when a link repeats. Incremental reads filter ``ge`` on the change timestamp (rows at the bookmark are read
again, never skipped); item sets without a timestamp are read through their header (``HeaderLink``).
"""

from __future__ import annotations

import functools
import operator
import typing as t
from collections.abc import Generator, Iterable, Iterator, Mapping
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlparse

import requests

from xlr8_kit.declared import StreamDeclaration, declared_stream_class
from xlr8_kit.filtering import UniversalFilterMixin
from xlr8_kit.http.classify import DEFAULT_CLASSIFIER, Verdict
from xlr8_kit.http.errors import InsecureTransportError
from xlr8_kit.http.origin import same_origin
from xlr8_kit.http.readahead import read_ahead
from xlr8_kit.http.session import ResilientSession
from xlr8_kit.http.window import row_key
from xlr8_kit.odata import EntityType, ServiceMetadata, all_of, compare, decode_entry, iter_pages, parse_edmx
from xlr8_kit.odata.filters import Filter
from xlr8_kit.odata.http import ODATA_CLASSIFIER, raise_for_status
from xlr8_kit.odata.stream import conformed_decoder
from xlr8_kit.read_start import ReadStartCap
from xlr8_kit.redaction import Redactor
from xlr8_kit.rest import KitRESTStream, records_of_pages
from xlr8_kit.soap import SOAP11, parse_envelope, request_headers
from xlr8_kit.soap.rfc import Value, decode, raise_for_return, request_envelope, response_payload
from xlr8_tap_sap_s4hana.discovery import (
    DIMENSION_KEY_COLUMN,
    HEADER_CHANGE_COLUMN,
    Expansion,
    ServiceRef,
    StreamPlan,
    dimension_digest,
    dimensions,
    is_aggregate,
)

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from xlr8_tap_sap_s4hana.tap import S4Settings, TapSapS4Hana

PRODUCT = "s4hana"
#: Characters left readable in OData query strings; spaces are always ``%20``, never ``+``.
ODATA_SAFE = "$,'():/*"
#: Headers whose items are read per request when reading items of changed headers (keeps URLs short).
HEADER_BATCH = 40
RFC_PATH = "/sap/bc/soap/rfc"
#: A header the read of changed headers did not return (told apart from one returned with a null stamp).
_UNREAD: t.Any = object()
#: State key of the incremental read's version, kept beside the bookmark of the sets that read never-changed rows
#: (``ChangeKey.created``, ``created_day``) and of header-driven item sets (null-stamp headers). Version 2 is the
#: first to read them; 3 reads orders created since the bookmark whose ``LastChangeDateTime`` stayed initial (by
#: ``CreationDate``). A bookmark of an older version was left by a read that skipped such rows, so it is dropped
#: once for a whole read.
FILTER_VERSION_KEY = "filter_version"
FILTER_VERSION = 3


def encode_query(params: Mapping[str, t.Any]) -> str:
    pairs = [(k, v) for k, v in params.items() if v is not None]
    return urlencode(pairs, safe=ODATA_SAFE, quote_via=quote)


class S4Client:
    """One S/4HANA system: ``$metadata`` per service (fetched once), rows of any collection, BAPIs over SOAP-RFC."""

    def __init__(
        self,
        session: ResilientSession,
        authenticator: requests.auth.AuthBase | None,
        *,
        base_url: str,
        sap_client: str | None,
        language: str,
        redactor: Redactor,
    ) -> None:
        self.session = session
        self.authenticator = authenticator
        self.base_url = base_url.rstrip("/")
        self.sap_client = sap_client
        self.language = language
        self.redactor = redactor
        self._metadata: dict[str, ServiceMetadata] = {}

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _with_client(self, url: str) -> str:
        """``sap-client`` on a URL that lacks it (server next links usually keep it; some do not)."""
        if not self.sap_client:
            return url
        query = urlparse(url).query
        if any(k == "sap-client" for k, _ in parse_qsl(query, keep_blank_values=True)):
            return url
        return f"{url}{'&' if query else '?'}sap-client={quote(self.sap_client)}"

    def get(
        self, url: str, params: Mapping[str, t.Any] | None = None, *, accept: str = "application/json"
    ) -> requests.Response:
        full = f"{url}?{encode_query(params)}" if params else url
        headers = {"Accept": accept, "Accept-Language": self.language}
        prepared = self.session.prepare_request(requests.Request("GET", self._with_client(full), headers=headers))
        response = self.session.send(prepared, classify=ODATA_CLASSIFIER.classify, authenticate=self.authenticator)
        raise_for_status(response, self.redactor, PRODUCT)
        return response

    def metadata(self, service: ServiceRef) -> ServiceMetadata:
        """The service's EDMX or CSDL, fetched once and parsed by the kit's parser."""
        if service.path not in self._metadata:
            content = self.get(self.url(f"{service.path}/$metadata"), accept="application/xml").content
            self._metadata[service.path] = parse_edmx(content)
        return self._metadata[service.path]

    def iter_rows(self, url: str, params: Mapping[str, t.Any], **paging: t.Any) -> Iterator[dict[str, t.Any]]:
        """Raw entries of every page (``iter_pages``'s pages, one entry at a time)."""
        for rows in self.iter_pages(url, params, **paging):
            yield from rows

    def iter_pages(
        self,
        url: str,
        params: Mapping[str, t.Any],
        *,
        version: int,
        page_size: int | None,
        window: int = 1,
        keys: t.Sequence[str] = (),
        on_response: t.Callable[[requests.Response], None] | None = None,
    ) -> Iterator[list[dict[str, t.Any]]]:
        """Raw entries of every page, a page at a time (see ``xlr8_kit.odata.iter_pages``); v2 asks for JSON.

        The next page (a server link, or the next ``$skip`` window) follows from the pages read so far alone, so
        it is fetched on a worker thread while this page's rows are emitted (``xlr8_kit.http.readahead``). With
        ``$top``/``$skip`` windows and ``window`` > 1, that many windows are asked for at once instead
        (``xlr8_kit.http.window``, the ``max_concurrent_requests`` setting); ``keys`` (the entity's key properties)
        tell when rows moved between windows answered out of order. ``on_response`` sees every page's answer (a
        stream notes its read's start there: ``xlr8_kit.read_start``).

        Reads are ordered by ``keys`` (unless the caller orders them): OData promises no stable order without
        ``$orderby``, and ``$skip`` windows, or the server's own pages (``page_size`` 0: ``$skiptoken``, again an
        offset into the result: review28a L2), read in another order can repeat some rows and miss others."""
        query = dict(params)
        if keys and "$orderby" not in query:
            query["$orderby"] = ",".join(keys)
        if version < 4:
            query.setdefault("$format", "json")
        accept = "application/json;IEEE754Compatible=true" if version >= 4 else "application/json"

        def fetch(link: str, options: Mapping[str, t.Any] | None) -> requests.Response:
            response = self.get(link, options, accept=accept)
            if on_response is not None:
                on_response(response)
            return response

        if window > 1 and page_size:
            key_names = tuple(keys)
            return iter_pages(
                fetch, url, query, page_size=page_size, version=version, base_url=self.base_url, window=window,
                row_key=row_key(key_names) if key_names else None,
            )  # fmt: skip
        return read_ahead(
            iter_pages(fetch, url, query, page_size=page_size or None, version=version, base_url=self.base_url),
            name="xlr8-s4hana",
        )

    def rest_of_inline(self, link: str, expansion: Expansion, row: str, *, service_url: str) -> list[dict[str, t.Any]]:
        """The rows after an inline collection's first page: its ``__next`` followed to the end (SAP pages an
        expanded collection longer than its server page), each page asking for the nested expansions when the
        link does not carry them. A relative link is read against the service URL; a link to another host is
        refused naming ``row`` before any request, as the kit refuses a collection's (credentials would follow
        it: review27e H1)."""
        url = urljoin(service_url.rstrip("/") + "/", link)
        parts = urlparse(url)
        if not same_origin(parts, self.base_url):
            raise InsecureTransportError(
                f"{row}: the next link of its expanded {expansion.name} points to another host; refusing to send "
                "credentials there",
                path=parts.path,
            )
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if expansion.children and "$expand" not in query:
            query["$expand"] = ",".join(expand_paths(expansion.children))
        rows: list[dict[str, t.Any]] = []
        for entries in self.iter_pages(parts._replace(query="").geturl(), query, version=2, page_size=None):
            rows.extend(entries)
        return rows

    # -- BAPIs ---------------------------------------------------------------------------------------------------

    def execute_bapi(self, function: str, params: Mapping[str, t.Any]) -> dict[str, Value]:
        """Call an RFC-enabled function module over SOAP-RFC; RETURN type E/A raises ``BapiError``."""
        url = self._with_client(self.url(RFC_PATH))
        headers = request_headers(SOAP11, f"urn:sap-com:document:sap:rfc:functions:{function}")
        headers["Accept-Language"] = self.language
        prepared = self.session.prepare_request(
            requests.Request("POST", url, data=request_envelope(function, params), headers=headers)
        )
        response = self.session.send(prepared, classify=_soap_classify, authenticate=self.authenticator)
        content_type = response.headers.get("Content-Type") or ""
        if response.status_code >= 400 and "xml" not in content_type:
            raise_for_status(response, self.redactor, PRODUCT)
        message = parse_envelope(response.content)
        message.raise_for_fault(status=response.status_code, path=RFC_PATH)
        tables = frozenset(k for k, v in params.items() if isinstance(v, list | tuple))
        result = decode(response_payload(message.body, function), tables)
        raise_for_return(function, result)
        return result


class ExpansionMissing(RuntimeError):
    """The server answered a row without an expansion the stream asked for (a deferred link, or nothing)."""


def expand_paths(expansions: t.Iterable[Expansion], prefix: str = "") -> Iterator[str]:
    """``$expand`` paths of an expansion tree: ``to_Item``, ``to_Item/to_Line``."""
    for expansion in expansions:
        path = f"{prefix}{expansion.name}"
        yield path
        yield from expand_paths(expansion.children, f"{path}/")


#: The rest of a paged inline collection: (its ``__next`` link, the expansion, the row it is in, for messages) ->
#: the remaining raw entries.
InlineRest = t.Callable[[str, Expansion, str], list[dict[str, t.Any]]]


def decode_expanded(
    entity: EntityType,
    entry: dict[str, t.Any],
    expansions: t.Iterable[Expansion],
    where: str,
    rest: InlineRest | None = None,
) -> dict[str, t.Any]:
    """A record with its expanded rows decoded in place (a list for a collection: v2's ``{"results": [...]}``
    unwrapped). A paged inline collection (``__next``, MS-ODATA 2.2.6.3.9.1) is read to its end with ``rest``.
    A row without one of them (or paged, without ``rest``) raises ``ExpansionMissing``: emitted without its
    items, a purchase order would reach a consumer as an order with no lines, or some of them."""
    record = decode_entry(entity, entry)
    for expansion in expansions:
        value = entry.get(expansion.name, _UNREAD)
        if isinstance(value, dict) and "results" in value and isinstance(value["results"], list):
            if value.get("__next") and rest is not None:
                key = ", ".join(f"{k}={record.get(k)!r}" for k in entity.keys)
                more = rest(str(value["__next"]), expansion, f"{where}: row {key}")
                value = {"results": [*value["results"], *more]}
            if value.get("__next"):  # paged and no way to read the rest: the rest is not here
                key = ", ".join(f"{k}={record.get(k)!r}" for k in entity.keys)
                raise ExpansionMissing(
                    f"{where}: row {key} came with only the first {len(value['results'])} of its expanded "
                    f"{expansion.name} (the server paged them: __next); stopped rather than emit it with part of "
                    "them (setting 'expand')"
                )
            value = value["results"]
        if value is _UNREAD or (isinstance(value, dict) and "__deferred" in value):
            key = ", ".join(f"{k}={record.get(k)!r}" for k in entity.keys)
            raise ExpansionMissing(
                f"{where}: row {key} came without its expanded {expansion.name} (the server sent "
                f"{'a deferred link' if value is not _UNREAD else 'nothing'}); stopped rather than emit it without "
                "them (setting 'expand')"
            )
        if expansion.many:
            if not isinstance(value, list):
                raise ExpansionMissing(f"{where}: {expansion.name} is not a collection: {type(value).__name__}")
            record[expansion.name] = [
                decode_expanded(expansion.entity, child, expansion.children, f"{where}/{expansion.name}", rest)
                for child in value
            ]
        else:
            record[expansion.name] = (
                None
                if value is None
                else decode_expanded(expansion.entity, value, expansion.children, f"{where}/{expansion.name}", rest)
            )
    return record


def order_keys(entity: EntityType) -> tuple[str, ...]:
    """What ``$skip`` windows are ordered by: the entity's keys; none when the service says one cannot be sorted
    (``sap:sortable="false"``: Gateway would refuse the ``$orderby``). An analytical set's generated key cannot be
    sorted, but each of its rows (read with every column) is one combination of its dimensions: ordered by all of
    them, windows neither repeat nor miss rows (unordered, an analytical read promises no order between requests)."""
    props = entity.properties
    if all(k in props and props[k].sortable for k in entity.keys):
        return entity.keys
    dims = dimensions(entity) if is_aggregate(entity) else ()
    return dims if dims and all(props[d].sortable for d in dims) else ()


def unordered_reason(entity: EntityType) -> str | None:
    """Why reads of ``entity`` cannot be ordered (``order_keys`` gives nothing), naming the properties; None when
    they can be."""
    if order_keys(entity):
        return None
    props = entity.properties
    dims = dimensions(entity) if is_aggregate(entity) else ()
    if dims:
        names = [d for d in dims if not props[d].sortable]
        return f"its dimension{'s' if len(names) > 1 else ''} {', '.join(names)} cannot be sorted"
    names = [k for k in entity.keys if k not in props or not props[k].sortable]
    return f"its key {', '.join(names)} cannot be sorted"


class UnorderedReadError(RuntimeError):
    """A set whose reads cannot be ordered, about to be (or being) read in more than one request: OData promises
    no order between two requests, so rows could be read twice or missed (review28a M2, M3)."""


def keyed(
    records: t.Iterable[dict[str, t.Any]], entries: list[dict[str, t.Any]], digest: t.Callable[[dict[str, t.Any]], str]
) -> list[dict[str, t.Any]]:
    """An analytical page's records, each with its row identity (``DIMENSION_KEY_COLUMN``) from its raw entry."""
    out = []
    for record, entry in zip(records, entries, strict=True):
        record[DIMENSION_KEY_COLUMN] = digest(entry)
        out.append(record)
    return out


def _columns_reader(columns: list[str]) -> t.Callable[[dict[str, t.Any]], tuple[t.Any, ...]]:
    """``tuple(record.get(c) for c in columns)``, read in C when every column is there."""
    getter = operator.itemgetter(*columns)
    single = len(columns) == 1

    def read(record: dict[str, t.Any]) -> tuple[t.Any, ...]:
        try:
            found = getter(record)
        except KeyError:
            return tuple(record.get(c) for c in columns)
        return (found,) if single else found

    return read


def _soap_classify(response: requests.Response) -> Verdict:
    """A SOAP fault comes back as HTTP 500 with an XML body: an answer to read, not an outage to retry."""
    if response.status_code == 500 and "xml" in (response.headers.get("Content-Type") or ""):
        return "fatal"
    return DEFAULT_CLASSIFIER.classify(response)


class S4Stream(ReadStartCap, UniversalFilterMixin, KitRESTStream):
    """One entity set. Subclasses are made per entity set by ``stream_class`` and only declare. Pages come ordered
    by key, not by change stamp, so the bookmark is held at the read's start (``ReadStartCap``; every page's
    answer is noted: ``S4Client.iter_pages``'s ``on_response``)."""

    response_classifier = ODATA_CLASSIFIER
    plan: t.ClassVar[StreamPlan]
    is_sorted = False

    def __init__(self, tap: TapSapS4Hana) -> None:
        super().__init__(tap=tap, name=self.plan.name, schema=self.plan.schema, path=self.plan.service.path)
        self.primary_keys = list(self.plan.primary_keys)
        self.replication_key = self.plan.replication_key
        # Said in the catalog: which sets are incremental and which are read in full every run.
        self.forced_replication_method = "INCREMENTAL" if self.replication_key else "FULL_TABLE"

    @property
    def settings(self) -> S4Settings:
        return t.cast("TapSapS4Hana", self._tap).settings

    @property
    def client(self) -> S4Client:
        return t.cast("TapSapS4Hana", self._tap).client

    @property
    def url_base(self) -> str:
        return self.settings.base_url

    @property
    def collection_url(self) -> str:
        return self.client.url(f"{self.plan.service.path}/{self.plan.entity_set.name}")

    increment_only_drops_nulls = True
    #: Records of this sync whose replication value was null (counted, logged once at the end).
    null_stamps = 0

    def _increment_stream_state(self, latest_record: dict[str, t.Any], *, context: Context | None = None) -> None:
        """A null stamp (a never-changed row, an item of an unstamped header) moves no bookmark: counted for one
        line per stream instead of the SDK's WARNING per record, which would bury real warnings."""
        rk = self.replication_key
        if latest_record and rk and rk in latest_record and latest_record[rk] is None:
            self.null_stamps += 1
            return
        super()._increment_stream_state(latest_record, context=context)

    def _finalize_state(self, state: dict[str, t.Any] | None = None) -> None:
        """The null stamps' one line, when the records are done (both loops finalize here)."""
        super()._finalize_state(state)
        if self.null_stamps:
            self.logger.info(
                "%s: %d records landed with a null %s (never changed, or items of a header without a change "
                "stamp); they move no bookmark",
                self.name,
                self.null_stamps,
                self.replication_key,
            )
            self.null_stamps = 0

    @property
    def versioned_filter(self) -> bool:
        """Whether this set's bookmark carries ``FILTER_VERSION``: sets whose earlier reads missed rows."""
        change = self.plan.change
        return self.plan.header is not None or (
            change is not None and (change.created is not None or change.created_day is not None)
        )

    def _write_starting_replication_value(self, context: Context | None) -> None:
        """A bookmark left by a read before ``FILTER_VERSION`` is dropped for one whole read: the partners never
        changed and the items of null-stamp headers that read missed lie below it, and would stay missed. The
        version is kept in the state from the start: a read cut short leaves no older bookmark to resume from."""
        super()._write_starting_replication_value(context)
        self.null_stamps = 0
        if not self.replication_key or not self.versioned_filter:
            return
        state = self.get_context_state(context)
        if state.get(FILTER_VERSION_KEY) == FILTER_VERSION:
            return
        if state.get("replication_key_value") is not None:
            self.logger.warning(
                "%s: bookmark %s was written before filter version %d (which reads rows never changed and items "
                "of headers without a change stamp, missed before): reading the whole set once",
                self.name,
                state["replication_key_value"],
                FILTER_VERSION,
            )
        self.restart_bookmark(context)[FILTER_VERSION_KEY] = FILTER_VERSION  # merge-safe (review23i #2)

    def selected_properties(self) -> list[str] | None:
        """$select of the chosen properties (keys and the replication key always), None when all are chosen; the
        expanded navigation properties are always selected (OData v2 leaves out an expansion $select omits)."""
        names = [n for n in self.schema.get("properties", {}) if n != HEADER_CHANGE_COLUMN]
        chosen = [n for n in names if self.mask.get(("properties", n), True)]
        if len(chosen) == len(names) or is_aggregate(self.plan.entity_set.entity_type):
            # every column of an analytical set: a dimension left out would be summed over (other rows, other
            # amounts, other IDs); the deselected columns are dropped from the records as usual
            return None
        change = self.plan.change
        expanded = [e.name for e in self.plan.expand]
        must = [*self.primary_keys, *(n for n in ((change.name, change.created) if change else ()) if n), *expanded]
        return [n for n in names if n in chosen or n in must]

    def pushed_filter(self) -> Filter | None:
        """The universal filter's OData part (v2 dialect: pushed to v2 services only, checked after fetching)."""
        universal = self.universal_filter
        if universal is None or not universal.where or self.plan.version >= 4:
            return None
        return Filter(f"({universal.where})")

    def query(self, where: Filter | None) -> dict[str, t.Any]:
        params: dict[str, t.Any] = {}
        if where is not None:
            params["$filter"] = str(where)
        select = self.selected_properties()
        if select is not None:
            params["$select"] = ",".join(select)
        if self.plan.expand:
            params["$expand"] = ",".join(expand_paths(self.plan.expand))
        return params

    def pages(self, where: Filter | None) -> Iterator[tuple[t.Iterable[dict[str, t.Any]], bool, bool]]:
        """The records of each page, whether they are conformed and whether they are plain: conformed by the kit's
        ``EntryDecoder`` where it vouches for them, else decoded one by one as they are taken (for the loop to
        conform), neither."""
        entity = self.plan.entity_set.entity_type
        raw = self.client.iter_pages(
            self.collection_url,
            self.query(where),
            version=self.plan.version,
            page_size=self.settings.page_size,
            window=self.page_window_width,
            keys=order_keys(entity),
            on_response=self.note_response,
        )
        # The item columns that find each item's header are read here: kept as values.
        joins = self.plan.header.join if self.plan.header is not None else {}
        digest = dimension_digest(entity) if DIMENSION_KEY_COLUMN in self.plan.primary_keys else None
        if self.plan.expand:  # nested rows: decoded here, conformed by the loop
            rest = functools.partial(self.client.rest_of_inline, service_url=self.client.url(self.plan.service.path))
            for entries in raw:
                nested = [decode_expanded(entity, e, self.plan.expand, self.name, rest) for e in entries]
                yield (keyed(nested, entries, digest) if digest else nested), False, False
            return
        for entries in raw:
            decoder = conformed_decoder(self, entity, self.plan.schema, read=joins)
            records = decoder.page(entries) if decoder is not None else None
            if decoder is not None and records is not None:
                yield (keyed(records, entries, digest) if digest else records), True, decoder.plain
            else:
                decoded = (decode_entry(entity, entry) for entry in entries)
                yield (keyed(decoded, entries, digest) if digest else decoded), False, False

    def row_pages(self, where: Filter | None) -> Generator[t.Iterable[dict[str, t.Any]], None, None]:
        """Every page, with ``records_plain`` / ``Conformer.vouched`` set for it before it is handed over (and
        reset when the pages stop: ``KitRESTStream.handed_pages``)."""
        return self.handed_pages(self.pages(where))

    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        return records_of_pages(self.record_pages(context))

    def plain_record_pages(self) -> Iterator[t.Iterable[dict[str, t.Any]]]:
        return self.record_pages(None)

    def record_pages(self, context: Context | None) -> Generator[t.Iterable[dict[str, t.Any]], None, None]:
        """What ``get_records`` yields, page by page (``KitRESTStream.plain_record_pages``)."""
        self.refuse_unordered_paging()
        if self.plan.header is not None:
            yield from self.header_driven_pages(context)
            return
        incremental = None
        start = self.get_starting_timestamp(context) if self.plan.change else None
        if self.plan.change is not None and start is not None:
            incremental = self.plan.change.since(start, version=self.plan.version)
        yield from self.row_pages(all_of(incremental, self.pushed_filter()))

    #: Sets of this stream read in one request only (``page_size`` 0) as their reads cannot be ordered: their
    #: set name -> why (a server next link for one of them stops the read: ``note_response``).
    unordered_sets: dict[str, str] = {}  # replaced per read, never mutated

    def refuse_unordered_paging(self) -> None:
        """A set read here (the stream's own, or the header a header-driven set reads first) whose reads cannot be
        ordered (``sap:sortable="false"``) is refused before any request when the tap pages it (``page_size``): a
        row could be read twice or missed, and state would say the read was whole. With ``page_size`` 0 it is read
        in one request, and stopped if the server pages it anyway (SAP's RAP/SADL services page every read without
        ``$top`` by 100 rows: ``$skiptoken``, an offset into the same unordered result)."""
        sets = [self.plan.entity_set]
        if self.plan.header is not None and self.plan.header_entity is not None:
            sets.append(self.plan.header_entity)
        found = {}
        for entity_set in sets:
            reason = unordered_reason(entity_set.entity_type)
            if reason is None:
                continue
            if self.settings.page_size:
                raise UnorderedReadError(
                    f'{self.name}: {entity_set.name} cannot be read in pages: {reason} (sap:sortable="false"), and '
                    "OData promises no order between two requests, so a row could be read twice or missed. Not "
                    "read: set 'page_size' to 0 to read it in one request (stopped if the server pages it anyway), "
                    "or leave it out of 'entity_sets'"
                )
            found[entity_set.name] = reason
        self.unordered_sets = found

    def note_response(self, response: requests.Response) -> None:
        """Every answer of this stream's reads (``on_response``): the read's start noted, and a server page of a
        set that cannot be ordered refused (``refuse_unordered_paging``)."""
        self.note_read_start(response)
        if not self.unordered_sets:
            return
        name = urlparse(response.url).path.rsplit("/", 1)[-1]
        reason = self.unordered_sets.get(name)
        if reason is None:
            return
        body = response.json()
        following = body.get("d", {}).get("__next") if isinstance(body.get("d"), dict) else None
        if following or body.get("@odata.nextLink"):
            raise UnorderedReadError(
                f'{self.name}: the server paged {name} (a next link), but {reason} (sap:sortable="false"), and OData '
                "promises no order between two requests, so a row could be read twice or missed: stopped. Leave it "
                "out of 'entity_sets', or have the service's key or dimensions made sortable"
            )

    def header_driven_pages(self, context: Context | None) -> Generator[t.Iterable[dict[str, t.Any]], None, None]:
        """Items of every header changed since the bookmark (all items on a first run, and every run where the link
        says ``every_run``), each stamped with its header's change timestamp (``HeaderLastChangeDateTime``, the
        replication key where there is one), page by page."""
        header, link = self.plan.header_entity, self.plan.header
        change = self.plan.header_change
        if header is None or link is None or change is None:
            raise RuntimeError(f"{self.name}: header-driven stream planned without its header")
        start = None if link.every_run else self.get_starting_timestamp(context)
        since = change.since(start, version=self.plan.version) if start is not None else None
        header_columns = list(dict.fromkeys([*link.join.values(), change.name, change.created or change.name]))
        header_url = self.client.url(f"{self.plan.service.path}/{header.name}")
        changed: dict[tuple[t.Any, ...], t.Any] = {}
        for entry in self.client.iter_rows(
            header_url,
            {**({"$filter": str(since)} if since is not None else {}), "$select": ",".join(header_columns)},
            version=self.plan.version,
            page_size=self.settings.page_size,
            window=self.page_window_width,
            keys=order_keys(header.entity_type),
            on_response=self.note_response,
        ):
            row = decode_entry(header.entity_type, entry)
            changed[tuple(row.get(c) for c in link.join.values())] = change.stamp(row)
        pushed = self.pushed_filter()
        item_columns = list(link.join)
        if since is None:
            batches: list[Filter | None] = [None]
        else:
            keys = list(changed)
            batches = [
                self._keys_filter(item_columns, keys[i : i + HEADER_BATCH]) for i in range(0, len(keys), HEADER_BATCH)
            ]
        header_of = _columns_reader(item_columns)

        def stamped(records: t.Iterable[dict[str, t.Any]]) -> Iterator[dict[str, t.Any]]:
            for record in records:
                stamp = changed.get(header_of(record), _UNREAD)
                if stamp is _UNREAD:
                    continue  # a header created (or changed) after it was read: the next run reads it
                # A header read without a stamp (initial LastChangeDateTime: converted or never-changed orders)
                # still has its items landed, with a null stamp that moves no bookmark.
                record[HEADER_CHANGE_COLUMN] = stamp
                yield record

        def stamped_pages() -> Iterator[Marked]:
            for batch in batches:
                for records, conformed, plain in self.pages(all_of(batch, pushed)):
                    page: t.Iterable[dict[str, t.Any]] = stamped(records)
                    if isinstance(records, list):
                        try:
                            page = list(page)
                        except Exception:  # noqa: BLE001 - raised again at the same record, after the ones before it
                            page = stamped(records)  # (stamping a record twice stamps it alike)
                    yield page, conformed, plain

        pages = stamped_pages()
        sets = self.xlr8_replace_by
        yield from self.handed_pages(whole_sets(pages, header_of) if sets else pages)
        if sets:
            # every header read had its items read whole: one left with none sends no row, and only this names it
            # (the target marks its old items deleted); said once the read ended, never for a read that failed
            if len(sets) == 1:
                self.xlr8_read_whole({sets[0]: [key[0] for key in changed]})
            else:
                for key in changed:
                    self.xlr8_read_whole({c: [v] for c, v in zip(sets, key, strict=True)})

    @property
    def xlr8_replace_by(self) -> tuple[str, ...]:  # type: ignore[override]
        """A header-driven set reads every sub-row of each header it reads (S/4 stamps the order when a line,
        condition or schedule line is removed), so the target replaces a header's rows with the run's: a removed
        line is marked deleted, and so are the last ones of a header left with none (``header_driven_pages``
        announces the headers it read, ``xlr8_read_whole``). Only where pages come ordered by key (``page_size`` > 0
        sends ``$orderby``), so a header's rows come together (``whole_sets``; not where a key is
        ``sap:sortable="false"``: no ``$orderby``), and where the join columns lead the key."""
        link = self.plan.header
        if link is None or not self.settings.page_size or not order_keys(self.plan.entity_set.entity_type):
            return ()
        join = tuple(link.join)
        return join if list(join) == list(self.plan.primary_keys)[: len(join)] else ()

    def _keys_filter(self, columns: list[str], keys: list[tuple[t.Any, ...]]) -> Filter:
        entity = self.plan.entity_set.entity_type
        parts: list[Filter] = []
        for key in keys:
            terms = [
                compare(c, "eq", v, entity.properties[c].edm_type, version=self.plan.version)
                for c, v in zip(columns, key, strict=True)
            ]
            combined = all_of(*terms)
            if combined is not None:
                parts.append(combined)
        result = parts[0]
        for part in parts[1:]:
            result = result | part
        return result


class CreatedStampStream(S4Stream):
    """A set whose change stamp stays null until a row's first change (``ChangeKey.created``): a never-changed
    row's creation stamp moves the bookmark in its place, as the ``$filter`` reads such rows by it.

    Done in the plain loop's state step (the kit's per-record fast path stays; pages go record by record). Where
    the SDK's own loop runs instead, such rows move no bookmark: the ``$filter`` still reads them, only more."""

    def _plain_state_step(self) -> t.Callable[[dict[str, t.Any]], None]:
        step = super()._plain_state_step()
        change = self.plan.change
        if change is None or change.created is None:
            return step
        name, created = change.name, change.created

        def stamped(record: dict[str, t.Any]) -> None:
            if record and record.get(name) is None and record.get(created) is not None:
                record = {**record, name: record[created]}
            step(record)

        return stamped


#: A page's records with the marks ``KitRESTStream.handed_pages`` sets before them (conformed, plain).
Marked = tuple[t.Iterable[dict[str, t.Any]], bool, bool]


def whole_sets(pages: t.Iterable[Marked], set_of: t.Callable[[dict[str, t.Any]], t.Any]) -> Iterator[Marked]:
    """Pages regrouped so no set is cut: the rows of a page's last set wait for the next page (with it when both
    carry the same marks, else just before it, the next page in hand). A read that fails part way then sends no
    part of a set, which the target (``replace_by``) would take for the whole set and mark the rest deleted (the
    lesson of UKG WFM's person-days, review24e)."""
    held: list[dict[str, t.Any]] = []
    held_marks: tuple[bool, bool] = (False, False)
    for records, conformed, plain in pages:
        rows = list(records)
        if held and (conformed, plain) != held_marks:
            yield held, *held_marks
            held = []
        rows = [*held, *rows]
        if not rows:
            continue
        last = set_of(rows[-1])
        cut = len(rows)
        while cut and set_of(rows[cut - 1]) == last:
            cut -= 1
        held, held_marks = rows[cut:], (conformed, plain)
        if cut:
            yield rows[:cut], conformed, plain
    if held:
        yield held, *held_marks


def stream_class(plan: StreamPlan, declared: StreamDeclaration | None) -> type[S4Stream]:
    doc = f"S/4HANA entity set {plan.entity_set.name} of {plan.service.path}."
    base = CreatedStampStream if plan.change is not None and plan.change.created else S4Stream
    return declared_stream_class(base, plan, plan.name, declared, doc)
