"""The UKG Pro base streams: REST (page/per_Page over bare JSON arrays) and RaaS reports (SOAP, see ``raas.py``).

REST pages are requested with ``per_Page`` until an empty page (a short page may have rows after it; a page
repeated whole is an error, never read forever). UKG
serves up to 10,000 rows a page only on the resources its January 2022 note lists (person, employment and
compensation details, job history, education, contacts, company details, ...) and at most 100 on the others
(employee changes, demographics, PTO plans, configuration; https://developer.ukg.com/hcm/docs/news-doc, "Expanded
default/max pagination parameters"), so a short first page that is not empty is taken as the server's page size
and the later pages are asked with it. A 200 whose body is not a JSON array (UKG's ``{"message": ...}`` shape) is
an error, never "no more rows" (RELIABILITY A8).
Dates arrive as ``YYYY-MM-DDT00:00:00`` and are emitted as ISO dates; change stamps as RFC 3339 date-times.
"""

from __future__ import annotations

import re
import typing as t
from collections import deque
from functools import cached_property
from itertools import repeat
from operator import attrgetter, itemgetter

import msgspec
import requests
from singer_sdk.pagination import BaseAPIPaginator

from xlr8_kit.columns import remembered_verdicts, schema_of
from xlr8_kit.filtering import UniversalFilterMixin
from xlr8_kit.http.classify import ResponseClassifier, is_utf8, utf8_proven
from xlr8_kit.http.errors import ClientRequestError
from xlr8_kit.rest import KitRESTStream, MarkedPage, records_of_pages
from xlr8_kit.singer_io import json_array_length, loads_exact
from xlr8_tap_ukg_pro import discovery

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from xlr8_tap_ukg_pro.raas import RaasClient
    from xlr8_tap_ukg_pro.tap import TapUkgPro, UkgProSettings

MAX_PER_PAGE = 10_000
#: Where ``UkgRestStream.parse_response`` keeps the count of a response's rows (the items of its JSON array).
_ROWS = "_xlr8_ukg_rows"
#: Rows of a REST page shaped at once (``UkgRestStream._shaped_page``): a working set that stays in the CPU cache.
SHAPE_ROWS = 512
_NAIVE_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?$")


class UkgClassifier(ResponseClassifier):
    """A 200 whose JSON is an object with a ``message`` (UKG's error shape) is an error, not an empty page."""

    json_error_keys = frozenset({"message", "errors"})

    def json_error(self, body: dict[str, t.Any]) -> str | None:
        if "message" in body or "errors" in body:
            return f"error object instead of rows: {str(body.get('message') or body.get('errors'))[:200]}"
        return None


CLASSIFIER = UkgClassifier()


class PageAt(t.NamedTuple):
    """A page token after the first: the page number and the ``per_Page`` to ask it with."""

    page: int
    per_page: int


class RepeatedPageError(RuntimeError):
    """A page came back byte for byte as the page before it: a server that answers a page past the end with its
    last page (or ignores ``page``) would otherwise be read forever, since only an empty page ends a read."""


class PerPagePaginator(BaseAPIPaginator[int | PageAt]):
    """UKG's ``page`` (1-based), read until an empty page (review24b #3), or a page repeated whole
    (``RepeatedPageError``, review24g #5). A short page is never taken as the end:
    rows trimmed after the server's slice or a page size changed mid-read would end it early and lose the rest.

    A first page shorter than asked but not empty may be the server's own cap (100 on most resources, whatever
    ``per_Page`` asked), so its length becomes the page size, and every later page (read-ahead included) is asked
    with it (``PageAt``): a server that counts pages by the size asked then still serves the next rows
    (review24b #2: asked at 1,000 and capped at 100, page 2 would start at row 1,000)."""

    def __init__(self, per_page: int) -> None:
        super().__init__(1)
        self.per_page = per_page
        #: Rows in a full page, learnt from the first page (None before it).
        self.page_size: int | None = None
        #: The body of the last page with rows, to stop at a page repeated whole (``RepeatedPageError``).
        self._last_body: bytes | None = None
        #: The last page repeated the one before it: one more page decides (empty: the end; the same: an error).
        self._repeated = False

    def has_more(self, response: requests.Response) -> bool:
        counted = response.__dict__.get(_ROWS)  # parse_response counted them (the body need not be read again)
        rows = json_array_length(response.content) if counted is None else counted
        if self.page_size is None:
            self.page_size = rows if 0 < rows < self.per_page else self.per_page
        if rows > 0:
            body = response.content
            if body == self._last_body:
                # Two identical pages can be two identical rows at a small ``per_page`` (review24i #2): one more
                # page decides; a third identical page is a server answering past the end with its last page.
                if self._repeated:
                    page = self.current_value.page if isinstance(self.current_value, PageAt) else self.current_value
                    raise RepeatedPageError(
                        f"ukg_pro: page {page} repeats the two pages before it ({rows} rows): the server answers "
                        "past the end with its last page, or ignores 'page'; stopped instead of paging forever"
                    )
                self._repeated = True
            else:
                self._repeated = False
            self._last_body = body
        return rows > 0

    def get_next(self, response: requests.Response) -> PageAt | None:
        return self.predict_next(self.current_value)

    def predict_next(self, token: int | PageAt | None) -> PageAt:
        """The page after this one (``xlr8_kit.http.window``): asked for before this one's answer arrives, at the
        learned page size (the first page is answered before any other is asked for)."""
        if isinstance(token, PageAt):
            return PageAt(token.page + 1, token.per_page)
        return PageAt((token or 1) + 1, self.page_size or self.per_page)


class UkgRestStream(UniversalFilterMixin, KitRESTStream):
    """One REST resource. Subclasses declare ``name``, ``path``, ``columns``, keys and xlr8 annotations.

    The ``filters`` setting: query parameters pushed, the rest checked per row."""

    #: The next page number follows from this page alone (full page: another one), so it is fetched ahead.
    read_ahead_pages = True

    response_classifier = CLASSIFIER
    skip_filter_on_unknown_field = True
    #: Column name -> type code (see ``xlr8_kit.columns.TYPE_CODES``).
    columns: t.ClassVar[dict[str, str]] = {}
    #: Query parameters this resource always gets.
    extra_params: t.ClassVar[dict[str, str]] = {}

    def __init__(self, tap: TapUkgPro, **kwargs: t.Any) -> None:
        kwargs.setdefault("schema", schema_of(self.columns))
        super().__init__(tap=tap, **kwargs)

    @property
    def settings(self) -> UkgProSettings:
        return t.cast("TapUkgPro", self._tap).settings

    @property
    def url_base(self) -> str:
        return self.settings.base_url

    def get_new_paginator(self) -> PerPagePaginator:
        return PerPagePaginator(self.settings.per_page)

    def get_url_params(self, context: Context | None, next_page_token: t.Any | None) -> dict[str, t.Any]:
        pushed = self.universal_filter.params if self.universal_filter is not None else {}
        if isinstance(next_page_token, PageAt):
            page, per_page = next_page_token
        else:  # the first page
            page, per_page = next_page_token or 1, self.settings.per_page
        return {**self.extra_params, **pushed, "page": page, "per_Page": per_page}

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        if self.filter_matches_nothing:
            return  # no request needed
        if self.post_process_is_identity:
            yield from records_of_pages(self._shaped_pages(context))
            return
        yield from super().get_records(context)

    @property
    def post_process_is_identity(self) -> bool:
        """True when pages are shaped whole as they are parsed (``_shapes_pages``) and read ahead: ``get_records``
        then yields only shaped rows (``_shaped_pages``), which ``post_process`` returns as they are."""
        return self._shapes_pages and self._reads_pages_ahead

    def plain_record_pages(self) -> t.Iterator[t.Iterable[dict[str, t.Any]]] | None:
        """``get_records(None)`` a page at a time (``_shaped_pages``), so the plain loop writes a page it may keep
        as it is (a ``MarkedPage`` marked conformed) at once; None (record by record) where rows are not shaped
        with their pages."""
        if type(self).get_records is not UkgRestStream.get_records or not self.post_process_is_identity:
            return None
        if self.filter_matches_nothing:
            return iter(())
        return self._shaped_pages(None)

    def _shaped_pages(self, context: Context | None) -> t.Generator[t.Iterable[dict[str, t.Any]], None, None]:
        """The pages read ahead, each as shaped rows: a page shaped whole as it is (``MarkedPage``), a page that
        could not be (``_Unshaped`` rows) shaped row by row as it is taken (``post_process``), so a row that fails
        raises in its place, after the rows before it. The pages' marks are reset when these stop."""
        pages = self.request_record_pages(context)
        try:
            for page in pages:
                # ``post_process`` of an ``_Unshaped`` row is ``shape``, which keeps every row here (``_shapes_pages``)
                yield (
                    page
                    if type(page) is MarkedPage
                    else t.cast("t.Iterator[dict[str, t.Any]]", map(self.post_process, page))
                )
        finally:
            pages.close()

    def get_http_request(self, *, page: t.Any) -> t.Any:
        request = super().get_http_request(page=page)
        request.headers = {**request.headers, "Accept": "application/json"}
        return request

    def parse_response(self, response: requests.Response) -> t.Iterable[dict[str, t.Any]]:
        """The page's rows, shaped whole where it can be (``_shapes_pages``); their count is kept on the response
        for ``PerPagePaginator.has_more`` (the SDK and the kit parse a page before the paginator reads it)."""
        if self._shapes_pages:
            texts = self._text_page(response.content, utf8_proven(response))
            if texts is not None:
                response.__dict__[_ROWS] = len(texts)
                return texts
        rows = loads_exact(response.content)
        if not isinstance(rows, list):
            raise ClientRequestError(
                f"ukg_pro {self.name}: expected a JSON array from {self.path}, got {type(rows).__name__}",
                status=response.status_code,
                path=self.path,
            )
        response.__dict__[_ROWS] = len(rows)
        if not self._shapes_pages:
            return rows
        shaped = self._shaped_page(rows)
        if shaped is not None:
            return shaped
        # shaped one by one by ``post_process``, as the loop takes them (a row that fails, fails in its place)
        return [_Unshaped(row) if type(row) is dict else row for row in rows]

    @property
    def _shapes_pages(self) -> bool:
        """True when each page is shaped whole as it is parsed (``_shaped_page``: what ``shape`` gives each row):
        ``post_process``, ``shape`` and ``get_records`` are this class's and no filter drops rows (a page must
        stay as long as it came, for the empty-page rule of pagination). The universal filter is read each time:
        the connector API sets and clears it per read."""
        return self.universal_filter is None and self._shapes_unfiltered_pages

    @cached_property
    def _shapes_unfiltered_pages(self) -> bool:
        """``_shapes_pages`` but for the universal filter: the class's own steps, and no row filter of its own."""
        cls = type(self)
        return (
            cls.post_process is UkgRestStream.post_process
            and cls.shape is UkgRestStream.shape
            and cls.get_records is UkgRestStream.get_records
            and self.keeps_every_row
        )

    def _shaped_page(self, rows: list[t.Any]) -> MarkedPage | None:
        """``[self.shape(row) for row in rows]`` column by column, ``SHAPE_ROWS`` rows at a time (no filter
        applies: ``_shapes_pages``), marked conformed and plain when conformance would keep every record as it is
        (``Conformer.keeps_columns``); None when a row is not an object (``shape`` then raises in its place) or a
        step refuses."""
        if not rows:
            return MarkedPage()
        if set(map(type, rows)) != _DICT:
            return None
        names, dates, stamps = self._column_plan
        keeps_columns = self._conformer.keeps_columns
        records: list[dict[str, t.Any]] = []
        vouched = True
        try:
            for start in range(0, len(rows), SHAPE_ROWS):
                columns = self._picked_columns(rows[start : start + SHAPE_ROWS])
                for name in dates:
                    columns[name] = _dates_column(columns[name])
                for name in stamps:
                    columns[name] = _stamps_column(columns[name])
                records += map(dict, map(zip, repeat(names), zip(*columns.values(), strict=True)))
                vouched = vouched and keeps_columns(columns)
        except Exception:  # noqa: BLE001 - shaped row by row, where ``shape`` raises its own error
            return None
        return MarkedPage(records, plain=vouched, conformed=vouched)

    @cached_property
    def _text_rows(self) -> msgspec.json.Decoder[list[t.Any]] | None:
        """A decoder of a page as rows of the declared columns only, each text or null (a missing one null, as
        ``shape`` picks it; fields not declared are skipped unbuilt), for a stream whose every column is text;
        None for any other stream (a number would refuse every page) or when a name cannot be a field."""
        props = self.schema["properties"]
        if not props or any(spec.get("type") not in _TEXT_TYPES for spec in props.values()):
            return None
        try:
            # texts and nulls only: no cycle can pass through a row, so the collector need not track 10,000 a page
            row: t.Any = msgspec.defstruct("_TextRow", [(name, str | None, None) for name in props], gc=False)
        except (TypeError, ValueError):  # a name that is not an identifier
            return None
        return msgspec.json.Decoder(list[row])

    def _text_page(self, content: bytes, utf8: bool = False) -> MarkedPage | None:
        """``_shaped_page(loads_exact(content))`` for a page whose rows are objects holding only texts and nulls
        under the declared columns, decoded straight into them (no dict of every field built and then picked);
        None when the stream's columns are not all text or the page is not such rows: ``loads_exact`` and
        ``_shaped_page`` then decide. Its marks: conformance keeps text and null values under these columns
        (``Conformer.keeps_columns``, asked of a text and a null per column: it judges the kinds a column holds).
        msgspec checks UTF-8 only in the strings it builds, so a body not proven UTF-8 (``utf8``: the classifier's
        probe decoded it) is checked here: ``loads_exact`` refuses a bad byte in any field."""
        decoder = self._text_rows
        if decoder is None:
            return None
        if not (utf8 or is_utf8(content)):
            return None
        try:
            rows = decoder.decode(content)
        except msgspec.MsgspecError:  # a value that is not text or null, not an array of objects, not msgspec's JSON
            return None
        if not rows:
            return MarkedPage()
        records = list(map(msgspec.structs.asdict, rows))  # fields in the declared order: ``shape``'s key order
        names, dates, stamps = self._column_plan
        for name in dates:
            _set_column(records, name, _dates_column(list(map(attrgetter(name), rows))))
        for name in stamps:
            values = list(map(attrgetter(name), rows))
            shaped = _stamps_column(values)
            if shaped is not values:
                _set_column(records, name, shaped)
        vouched = self._conformer.keeps_columns(dict.fromkeys(names, _TEXT_AND_NULL))
        return MarkedPage(records, plain=vouched, conformed=vouched)

    def _picked_columns(self, rows: list[dict[str, t.Any]]) -> dict[str, list[t.Any]]:
        """Each declared column's values across ``rows`` (None where a row lacks it), as ``shape`` picks them."""
        names = self._column_plan[0]
        if len(names) > 1:
            try:
                return dict(zip(names, map(list, zip(*map(itemgetter(*names), rows), strict=True)), strict=True))
            except KeyError:  # a row without a column: picked with ``get`` below
                pass
        return {name: list(map(dict.get, rows, repeat(name))) for name in names}

    @cached_property
    def _column_plan(self) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """(every column, date columns, date-time columns), worked out once per stream."""
        props = self.schema["properties"]
        dates = tuple(n for n, spec in props.items() if spec.get("format") == "date")
        stamps = tuple(n for n, spec in props.items() if spec.get("format") == "date-time")
        return tuple(props), dates, stamps

    def post_process(self, row: dict[str, t.Any], context: Context | None = None) -> dict[str, t.Any] | None:
        """``shape``; a row shaped with its page as it was parsed (a plain dict, ``_shapes_pages``) as it is."""
        if type(row) is dict and self._shapes_pages:
            return row
        return self.shape(row)

    @property
    def keeps_every_row(self) -> bool:
        """True when ``row_kept`` keeps every row (no row filter of the stream's own is set)."""
        return True

    def row_kept(self, row: dict[str, t.Any]) -> bool:
        """Whether the stream's own row filter (settings, checked before ``shape`` picks columns) keeps the row."""
        return True

    def shape(self, row: dict[str, t.Any]) -> dict[str, t.Any] | None:
        """Dates as dates, naive stamps as UTC, unknown fields dropped (the schema is the contract); rows the
        stream's filters drop, None."""
        if not self.row_kept(row):
            return None
        names, dates, stamps = self._column_plan
        out = dict(zip(names, map(row.get, names), strict=True))  # picked in C
        for name in dates:
            value = out[name]
            if isinstance(value, str):
                out[name] = value[:10] or None
        for name in stamps:
            value = out[name]
            if isinstance(value, str) and _NAIVE_DATETIME.match(value):
                out[name] = value + "+00:00"
        universal = self.universal_filter
        if universal is not None and not universal.matches(out):
            return None
        return out


class _KeyCheck:
    """A report's inferred key must stay unique within a run (``RaasReportStream.keys_inferred``): a repeat would
    be upserted into one row by the target, the rest lost while "loaded" counts them. One 64-bit hash per row
    is kept (a million rows, a few dozen MB); a repeated hash stops the stream before its block goes out."""

    def __init__(self, report: str, columns: t.Sequence[str]) -> None:
        self.report = report
        self.columns = list(columns)
        self.seen: set[int] = set()

    def __call__(self, keys: list[t.Any]) -> None:
        before = len(self.seen)
        self.seen.update(map(hash, keys))
        if len(self.seen) != before + len(keys):
            raise discovery.ReportDataError(
                f"ukg_pro report {self.report!r}: key column(s) {', '.join(self.columns)} repeat a value within "
                "this run; the key was inferred from the one run discovery saw, so rows would overwrite each "
                "other in the target. Set raas_reports[].primary_keys for this report (a column or columns "
                "unique per row)"
            )


class _Unshaped(dict[str, t.Any]):
    """A row of a page ``parse_response`` could not shape whole: ``post_process`` shapes it (into a plain dict)."""

    __slots__ = ()


_DICT = frozenset({dict})
_TEXT_OR_NONE = frozenset({str, type(None)})
_FIRST_TEN = itemgetter(slice(0, 10))
_LAST_CHARACTER = itemgetter(slice(-1, None))
#: A text ``_NAIVE_DATETIME`` may match ends in one of these (``$`` matches before a final newline too).
_NAIVE_ENDINGS = frozenset("0123456789\n")
#: Schema types of a text column (``xlr8_kit.columns.TYPE_CODES``: s, d, dt).
_TEXT_TYPES = (["string", "null"], ["null", "string"], "string")
#: The kinds of value a text column decoded by ``UkgRestStream._text_rows`` holds.
_TEXT_AND_NULL = ("", None)


def _set_column(records: list[dict[str, t.Any]], name: str, values: list[t.Any]) -> None:
    """``record[name] = value`` for each record and value in turn (the loop in C)."""
    deque(map(dict.__setitem__, records, repeat(name), values), maxlen=0)


def _dates_column(values: list[t.Any]) -> list[t.Any]:
    """``shape``'s date step for a column: a text's first ten characters, or None when it is empty."""
    if set(map(type, values)) <= _TEXT_OR_NONE:
        texts: list[t.Any] = list(map({None: ""}.get, values, values))  # None back as None below: "" -> None
        cut: list[str] = list(map(_FIRST_TEN, texts))
        return list(map({"": None}.get, cut, cut))
    return [(value[:10] or None) if isinstance(value, str) else value for value in values]


def _stamps_column(values: list[t.Any]) -> list[t.Any]:
    """``shape``'s stamp step for a column: a naive date-time text with ``+00:00`` after it."""
    if not set(map(type, values)) <= _TEXT_OR_NONE:
        return [
            value + "+00:00" if isinstance(value, str) and _NAIVE_DATETIME.match(value) else value for value in values
        ]
    texts: list[t.Any] = list(map({None: ""}.get, values, values))
    if _NAIVE_ENDINGS.isdisjoint(map(_LAST_CHARACTER, texts)):
        return values  # no text ends as a naive one must (offset or ``Z`` given): the pattern need not run
    naive = list(map(_NAIVE_DATETIME.match, texts))
    if not any(naive):
        return values
    return [value + "+00:00" if found else value for value, found in zip(values, naive, strict=True)]


class EmployeeFilterMixin:
    """The ``employee_status_codes`` and ``terminated_since`` settings, verified on every row even when pushed."""

    status_column: t.ClassVar[str] = "employeeStatusCode"
    termination_column: t.ClassVar[str] = "dateOfTermination"

    settings: UkgProSettings

    @property
    def keeps_every_row(self) -> bool:
        """True when neither setting is set: ``keep`` keeps every row."""
        return not self.settings.employee_status_codes and not self.settings.terminated_since

    def keep(self, row: dict[str, t.Any]) -> bool:
        statuses = self.settings.employee_status_codes
        if statuses and row.get(self.status_column) not in statuses:
            return False
        since = self.settings.terminated_since
        ended = row.get(self.termination_column)
        return not (since and ended and str(ended)[:10] < since.isoformat())


class RaasReportStream(KitRESTStream):
    """One RaaS report: run it (execute, poll, download), decode it, emit typed rows. Made per report."""

    report_path: t.ClassVar[str] = ""
    report_parameters: t.ClassVar[dict[str, t.Any]] = {}
    column_types: t.ClassVar[dict[str, discovery.ColumnType]] = {}
    #: The key was inferred (unique in the one run discovery saw), not set by the user: every run checks it.
    keys_inferred: t.ClassVar[bool] = False
    path = "/services/BIDataService"

    @property
    def settings(self) -> UkgProSettings:
        return t.cast("TapUkgPro", self._tap).settings

    @property
    def url_base(self) -> str:
        return self.settings.base_url

    @cached_property
    def raas(self) -> RaasClient:
        return t.cast("TapUkgPro", self._tap).raas

    def _key_check(self) -> _KeyCheck:
        return _KeyCheck(self.name, self.primary_keys)

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        return records_of_pages(self.plain_record_pages())

    def plain_record_pages(self) -> t.Generator[t.Iterable[dict[str, t.Any]], None, None]:
        """The report's blocks (``pages_of_blocks``), logged off RaaS when they stop."""
        try:
            yield from self.pages_of_blocks(self._report_blocks())
        finally:
            t.cast("TapUkgPro", self._tap).log_off_raas()

    def _report_blocks(self) -> t.Iterator[tuple[list[dict[str, t.Any]], bool]]:
        """The report's records in blocks as it streams in, each with whether conformance would leave its
        records as they are (``Conformer.keeps_columns``: the loop then spares its per-record check). CSV blocks
        are typed column by column (``discovery.block_builder``); a block it refuses (a cell a column rejects)
        is typed row by row, so the error is raised at the same row, after the same rows."""
        chunks = self.raas.stream_run(self.report_path, dict(self.report_parameters))
        header, declared, rows = discovery.iter_report_stream(
            chunks, encoding=self.settings.raas_csv_encoding, cells=True, blocks=True
        )
        missing = [c for c in self.column_types if c not in header]
        if missing:
            raise discovery.ReportDataError(
                f"ukg_pro report {self.name!r} no longer has column(s) {', '.join(missing)}; run discovery again"
            )
        zone = self.settings.raas_timezone
        check = self._key_check() if self.keys_inferred and self.primary_keys else None
        if declared is not None:  # XML: a dict per row
            kinds = list(self.column_types.items())
            keyed = itemgetter(*self.primary_keys) if check is not None else None
            for row in rows:
                if check is not None and keyed is not None:
                    check([keyed({name: row.get(name) for name in self.primary_keys})])
                yield [{name: discovery.coerce(row.get(name), kind, name, zone=zone) for name, kind in kinds}], False
            return
        # Number columns the writer alone reads may stay the texts it would write (never the replication key).
        written = (
            [name for name, kind in self.column_types.items() if kind == "number" and name != self.replication_key]
            if self.records_written_only
            else []
        )
        vouch, verdict = remembered_verdicts(self._conformer.keeps_columns)  # a block is judged once
        build = discovery.record_builder(self.column_types, header, zone=zone)
        build_block = discovery.block_builder(self.column_types, header, zone=zone, written=written, vouch=vouch)
        cells_of_key = itemgetter(*(header.index(name) for name in self.primary_keys)) if check else None
        for block in rows:
            if check is not None and cells_of_key is not None:
                check(list(map(cells_of_key, block)))
            built = build_block(block)
            if built is None:
                for values in block:
                    yield [build(values)], False
                continue
            records, columns = built
            yield records, verdict(columns)
