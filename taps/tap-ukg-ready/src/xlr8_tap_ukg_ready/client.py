"""The UKG Ready base stream (v2 company resources, HATEOAS paging) and the report stream base.

Company resources live under ``/ta/rest/v2/companies/{cid}`` where ``cid`` is the numeric company id or
``|<short name>``. Lists page with ``size`` and follow the response's ``_links.next`` (never a page number the tap
works out itself). A 200 whose body is an ``errors[]`` object is an error, never "no rows" (RELIABILITY A8); so is
a 200 without the list's wrapper key (``{"employees": [...]}``; an empty list is 0 rows).
"""

from __future__ import annotations

import typing as t
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from itertools import repeat
from urllib.parse import parse_qsl, quote

import requests
from singer_sdk.pagination import BaseHATEOASPaginator

from xlr8_kit.columns import ColumnType, remembered_verdicts, schema_of
from xlr8_kit.filtering import UniversalFilterMixin
from xlr8_kit.http.classify import Verdict, json_members
from xlr8_kit.rest import KitRESTStream, MarkedPage, records_of_pages
from xlr8_kit.singer_io import listed_records, loads_marked
from xlr8_tap_ukg_ready import reports
from xlr8_tap_ukg_ready.classify import CLASSIFIER

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from xlr8_tap_ukg_ready.tap import TapUkgReady, UkgReadySettings


class ReadyShapeError(ValueError):
    """A v2 answer in a shape UKG does not document: stopping beats landing its columns as nulls."""


_LINKS = frozenset({"_links"})


class NextLinkPaginator(BaseHATEOASPaginator):
    """Follows ``_links.next`` of each page."""

    def get_next_url(self, response: requests.Response) -> str | None:
        data = json_members(response, _LINKS)
        links = data.get("_links") if isinstance(data, dict) else None
        nxt = links.get("next") if isinstance(links, dict) else None
        if isinstance(nxt, dict):
            nxt = nxt.get("href")
        return nxt if isinstance(nxt, str) and nxt else None


class ReadyBaseStream(KitRESTStream):
    """What every UKG Ready stream shares: the tap's parsed settings, the tenant host, the vendor's error bodies."""

    response_classifier = CLASSIFIER

    def classify_response(self, response: requests.Response) -> Verdict:
        """The kit's verdict, but Ready's error code 100 (in a 200 too) is a rate limit, waited out."""
        return CLASSIFIER.rate_limit_verdict(response, super().classify_response(response))

    @property
    def settings(self) -> UkgReadySettings:
        return t.cast("TapUkgReady", self._tap).settings

    @property
    def url_base(self) -> str:
        return self.settings.base_url


class ReadyStream(UniversalFilterMixin, ReadyBaseStream):
    """One v2 company resource. Subclasses declare ``name``, ``resource``, ``columns``, keys and annotations."""

    columns: t.ClassVar[dict[str, str]] = {}
    #: Path below ``/ta/rest/v2/companies/{cid}``.
    resource: t.ClassVar[str] = ""
    #: Whether the resource pages (``size`` + ``_links.next``).
    paged: t.ClassVar[bool] = False
    #: The next page is this page's ``_links.next``, so it is fetched while this page is emitted.
    read_ahead_pages = True
    #: Columns UKG documents inside an object of the row: column -> (object key, key inside it). A missing or null
    #: object gives nulls; anything but an object, or the column's name found flat in the row (a shape UKG does not
    #: document), is a ``ReadyShapeError``.
    nested: t.ClassVar[dict[str, tuple[str, str]]] = {}

    def __init__(self, tap: TapUkgReady, **kwargs: t.Any) -> None:
        kwargs.setdefault("schema", schema_of(self.columns))
        super().__init__(tap=tap, **kwargs)

    @property
    def path(self) -> str:  # type: ignore[override]
        return f"/ta/rest/v2/companies/{quote(self.settings.company_ref, safe='')}{self.resource}"

    def get_new_paginator(self) -> t.Any:
        if self.paged:
            return NextLinkPaginator()
        return super().get_new_paginator()

    def get_url_params(self, context: Context | None, next_page_token: t.Any | None) -> dict[str, t.Any]:
        if next_page_token is not None:  # the server's next link carries every parameter
            return dict(parse_qsl(next_page_token.query))
        params: dict[str, t.Any] = dict(self.universal_params())
        if self.paged:
            params["size"] = self.settings.page_size
        return params

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        if self.filter_matches_nothing:
            return  # no request needed
        yield from super().get_records(context)

    def parse_response(self, response: requests.Response) -> t.Iterable[dict[str, t.Any]]:
        """The page's rows; for a stream reading pages ahead whose ``post_process`` is this class's, a
        ``MarkedPage`` saying whether conformance keeps every record ``post_process`` makes of them (its columns
        computed here column by column, ``Conformer.keeps_columns``): the loop then spares the per-record check."""
        data, plain = loads_marked(response.content, Decimal)
        rows = self.enrich(list(listed_records(self.records_jsonpath, data, self._where)))
        if not (rows and self.read_ahead_pages and type(self).post_process is ReadyStream.post_process):
            return rows
        if not set(map(type, rows)) <= _DICTS:
            return rows  # ``post_process`` raises at the row that is not an object, as before
        if self.nested and any(self._shape_error(row) for row in rows):
            return rows  # ``post_process`` raises at the row, after the rows before it
        declared, dates = self._declared, self._dates
        columns = {name: list(map(dict.get, rows, repeat(name))) for name in declared}
        for name, (outer, inner) in self.nested.items():
            columns[name] = [(row.get(outer) or {}).get(inner) for row in rows]
        for name in dates:
            columns[name] = [value[:10] or None if isinstance(value, str) else value for value in columns[name]]
        return MarkedPage(rows, plain=plain, conformed=self._conformer.keeps_columns(columns))

    @cached_property
    def _where(self) -> str:
        """The stream and its endpoint, for an answer without its list (``listed_records``)."""
        return f"ukg_ready stream {self.name!r} ({self.path})"

    def enrich(self, rows: list[t.Any]) -> list[t.Any]:
        """A page's rows with what further calls add (a stream that reads more per row overrides it)."""
        return rows

    @cached_property
    def _dates(self) -> tuple[str, ...]:
        return tuple(n for n, spec in self.schema["properties"].items() if spec.get("format") == "date")

    @cached_property
    def _declared(self) -> tuple[str, ...]:
        return tuple(self.schema["properties"])

    def post_process(self, row: dict[str, t.Any], context: Context | None = None) -> dict[str, t.Any] | None:
        """Declared columns only (the schema is the contract; ``_links`` dropped), dates as dates."""
        get = row.get
        out = {name: get(name) for name in self._declared}  # faster than dict(zip(names, map(get, names)))
        if self.nested:
            problem = self._shape_error(row)
            if problem:
                raise ReadyShapeError(problem)
            for name, (outer, inner) in self.nested.items():
                out[name] = (get(outer) or {}).get(inner)
        for name in self._dates:
            value = out[name]
            if isinstance(value, str):
                out[name] = value[:10] or None
        return out if self.keep_record(out) else None

    def _shape_error(self, row: dict[str, t.Any]) -> str | None:
        """Why ``row`` is not in the documented shape of ``nested`` (None when it is)."""
        for name, (outer, inner) in self.nested.items():
            if name in row:
                return (
                    f"ukg_ready stream {self.name!r}: the answer has {name!r} at the top of the row, where UKG "
                    f"documents {outer}.{inner}; this shape is not documented, so its values are not guessed"
                )
            value = row.get(outer)
            if value is not None and not isinstance(value, dict):
                return (
                    f"ukg_ready stream {self.name!r}: {outer!r} is {type(value).__name__} (its value not shown: it "
                    f"may be personal data), where UKG documents an object (with {inner!r})"
                )
        return None


_DICTS = frozenset({dict})


class ReportStream(ReadyBaseStream):
    """One saved or global report: columns from its metadata, rows read as they arrive (CSV) or from JSON."""

    report: t.ClassVar[reports.ReportRef]
    #: The report's name in the tenant (its metadata's), for errors.
    report_title: t.ClassVar[str] = ""
    column_types: t.ClassVar[dict[str, ColumnType]] = {}
    #: None: every row is emitted; else only rows dated on or after the bookmark less this many days (or undated).
    lookback_days: t.ClassVar[int | None] = None

    @property
    def path(self) -> str:  # type: ignore[override]
        return self.report.path

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        return records_of_pages(self._report_pages(context))

    def plain_record_pages(self) -> t.Iterator[t.Iterable[dict[str, t.Any]]]:
        return self._report_pages(None)

    def _report_pages(self, context: Context | None) -> t.Generator[t.Iterable[dict[str, t.Any]], None, None]:
        """``_read_report``'s pages; a cell that does not fit its column names the report as well (the column alone
        does not say which of several reports to fix)."""
        try:
            yield from self._read_report(context)
        except reports.ReportDataError as exc:
            raise reports.naming_report(exc, self.report_title, self.report, f"stream {self.name!r}") from None

    def _read_report(self, context: Context | None) -> t.Generator[t.Iterable[dict[str, t.Any]], None, None]:
        """The report's blocks (``pages_of_blocks``: marks set per block, cleared when they stop). Every row is
        emitted unless ``lookback_days`` is set: the report is read whole anyway, and a row dated before the
        bookmark may have been corrected since (the target upserts it by key). With ``lookback_days``, rows dated
        before ``bookmark - lookback_days`` are held back and counted in the log; a row with no date is always
        emitted (it cannot be bookmarked, so it would never be emitted otherwise)."""
        client = t.cast("TapUkgReady", self._tap).client
        fmt = self.settings.report_date_format
        zone = self.settings.report_time_zone
        readers = [(name, reports.cell_reader(kind, name, fmt, zone)) for name, kind in self.column_types.items()]
        key = self.replication_key
        bookmark = self.get_starting_replication_key_value(context) if key and self.lookback_days is not None else None
        if key and not self._bookmark_format_holds(context, fmt):
            bookmark = None
        with closing(self.pages_of_blocks(self._typed_blocks(client, readers))) as pages:
            if bookmark is None or not key:
                yield from pages
                return
            # A bookmark later than today (a swapped date) would hold back every real row: count back from today, by
            # the session's wall clock (the one the kit reads the vendor's dates against; a test fixes it).
            today = datetime.fromtimestamp(client.session.wall(), UTC).date()
            start = min(date.fromisoformat(str(bookmark)[:10]), today)
            since = (start - timedelta(days=self.lookback_days or 0)).isoformat()
            held = 0
            for page in pages:
                rows = page if isinstance(page, list) else list(page)
                kept: t.Iterable[dict[str, t.Any]]
                try:
                    kept = [record for record in rows if record[key] is None or record[key] >= since]
                    held += len(rows) - len(kept)
                except Exception:  # noqa: BLE001 - raised again at the same record, after the records before it
                    kept = (record for record in rows if record[key] is None or record[key] >= since)
                yield kept
            if held:
                self.logger.info(
                    "report stream %r: held back %d row(s) dated before %s (bookmark %s less lookback_days %d); "
                    "changes to them are not emitted",
                    self.name,
                    held,
                    since,
                    bookmark,
                    self.lookback_days,
                )

    def _bookmark_format_holds(self, context: Context | None, fmt: str) -> bool:
        """Whether the stored bookmark was written under ``fmt`` (a state without the stamp predates it: the
        default). A bookmark written under the other order may be a swapped date months ahead, so it is dropped
        (this run reads as if there were none); the state is stamped with ``fmt`` either way. Dropped with the kit's
        ``restart_bookmark`` (explicit nulls): Meltano deep-merges a failed run's partial STATE (and
        ``--state-strategy merge`` a new one) over the stored state, where a missing key keeps the old swapped date
        under the new stamp."""
        state = self.get_context_state(context)
        written = state.get("report_date_format", reports.DEFAULT_DATE_FORMAT)
        state["report_date_format"] = fmt
        old = state.get("replication_key_value")
        if written == fmt or old is None:
            return True
        self.restart_bookmark(context)
        self.logger.warning(
            "report stream %r: bookmark %s was written under report_date_format %s, not %s: ignored (every row "
            "is emitted and the bookmark is set again from this run)",
            self.name,
            old,
            written,
            fmt,
        )
        return False

    def _typed_blocks(
        self, client: reports.ReportClient, readers: list[tuple[str, t.Callable[[t.Any], t.Any]]]
    ) -> t.Iterator[tuple[list[dict[str, t.Any]], bool]]:
        """The report's records in blocks, each with whether conformance would leave its records as they are
        (``Conformer.keeps_columns``; the loop then spares the per-record check). CSV blocks whose rows all have
        one cell per header name are typed column by column (``reports.block_builder``); a block it refuses (a
        cell a reader rejects) is typed one by one (``reports.record_builder``, else the row dict), so errors surface
        at the same row, after the same rows; a row of another width is an ``AnswerShapeError`` naming its number.
        One reader per column serves every way (its memo of dates and flags too)."""
        by_name = dict(readers)

        def typed(row: dict[str, t.Any]) -> dict[str, t.Any]:
            return {name: read(row.get(name)) for name, read in readers}

        if self.settings.report_format == "json":
            for row in client.report_rows(self.report, "json", expected=list(self.column_types)):
                yield [typed(row)], False
            return
        conformer = self._conformer
        # Number columns the writer alone reads may stay the texts it would write (never the replication key).
        written = (
            [name for name, kind in self.column_types.items() if kind == "number" and name != self.replication_key]
            if self.records_written_only
            else []
        )
        vouch, verdict = remembered_verdicts(conformer.keeps_columns)  # a block is judged once
        header: list[str] | None = None
        build: t.Callable[[list[str]], dict[str, t.Any]] | None = None
        build_block: t.Any = None
        width = number = 0
        dates = [name for name, kind in self.column_types.items() if kind in reports.DATE_KINDS]
        blocks = reports.proven_blocks(client.report_blocks(self.report), dates, self.settings.report_date_format)
        for names, block in blocks:  # none before the report proves its day/month order as set (or ends)
            if names is not header:
                reports.check_header(names, self.column_types)
                header, width = names, len(names)
                build = reports.record_builder(self.column_types, names, readers=by_name)
                build_block = reports.block_builder(
                    self.column_types, names, written=written, vouch=vouch, readers=by_name
                )
            built = None
            if build_block is not None and all(map(width.__eq__, map(len, block))):
                built = build_block(block)
            if built is not None:
                records, values = built
                number += len(block)
                yield records, verdict(values)
                continue
            for cells in block:
                number += 1
                if len(cells) != width:  # review29h M1: never a row landed with cells missing or dropped
                    where = f"ukg ready report {self.report.name!r} ({self.report.path})"
                    raise reports.row_width_error(where, number, len(cells), width)
                if build is not None:
                    yield [build(cells)], False
                else:
                    yield [typed(dict(zip(names, cells, strict=True)))], False
