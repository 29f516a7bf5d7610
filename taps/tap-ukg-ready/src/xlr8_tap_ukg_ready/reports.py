"""Saved and global reports: their columns from the report's metadata (tenant-defined, so never a fixed list),
the HTTP client that runs them, and cell coercion.

``GET /ta/rest/v1/report/{saved|global}/{id}/metadata`` lists the columns with a type; ``GET .../{id}`` runs the
report as CSV (``Accept: text/csv``, read row by row off the socket, never held whole) or JSON
(``{"columns": [...], "rows": [[...], ...]}``). CSV dates come in the API user's date format (``MM/DD/YYYY`` in US
tenants, ``DD/MM/YYYY`` where the user's regional settings say so: setting ``report_date_format``); JSON dates as ISO.
"""

from __future__ import annotations

import codecs
import csv
import operator
import re
import tempfile
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from itertools import chain, islice, repeat

import msgspec
import requests

from xlr8_kit.columns import (
    BLOCK_ROWS,
    ColumnType,
    cells_block_builder,
    cells_record_builder,
    plain_number_column,
    plain_number_text,
    text_memo,
)
from xlr8_kit.http.classify import Verdict
from xlr8_kit.http.errors import AnswerShapeError, ClientRequestError, ServerUnavailableError, json_kind
from xlr8_kit.http.session import ReportRuns
from xlr8_kit.singer_io import listed_rows, loads_exact
from xlr8_kit.streaming import StreamedBodyError, body_chunks, send_streamed
from xlr8_tap_ukg_ready.classify import ReadyClassifier

if t.TYPE_CHECKING:
    from xlr8_kit.http.session import ResilientSession

REPORT_KINDS = ("saved", "global")

#: Metadata type names -> column types (anything else is a string).
_VENDOR_TYPES: dict[str, ColumnType] = {
    "STRING": "string", "TEXT": "string", "INTEGER": "integer", "INT": "integer", "LONG": "integer",
    "DECIMAL": "number", "NUMBER": "number", "DOUBLE": "number", "MONEY": "number", "CURRENCY": "number",
    "BOOLEAN": "boolean", "DATE": "date", "DATETIME": "date-time", "TIMESTAMP": "date-time",
}  # fmt: skip
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_US_DATETIME = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([AaPp])\.?[Mm]\.?)?$")
#: ``report_date_format`` values: whether the first number of a CSV date is the day.
DATE_FORMATS: dict[str, bool] = {"MM/DD/YYYY": False, "DD/MM/YYYY": True}
DEFAULT_DATE_FORMAT = "MM/DD/YYYY"
#: Column types whose CSV cells are written in ``report_date_format``.
DATE_KINDS = ("date", "date-time")
_BOOLEANS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


class ReportDataError(ValueError):
    """A report cannot be read as its metadata says."""


class ReportDateFormatError(ReportDataError):
    """A CSV date that only fits the other day/month order: the tenant writes dates in another format than the
    setting says, so dates read before it (day 12 or less) may have had day and month swapped."""


def naming_report(exc: ReportDataError, title: str, ref: ReportRef, where: str = "") -> ReportDataError:
    """``exc`` naming the report as well (its title, kind/id and ``where``: the stream, the row), of the same type so
    ``ReportDateFormatError`` stays itself: the column alone does not say which of several reports to fix. The
    value is never named (``coerce`` leaves it out), since a report column may hold personal data."""
    return type(exc)(f"ukg_ready report {title!r} ({ref.kind}/{ref.id}{', ' + where if where else ''}): {exc}")


@dataclass(frozen=True)
class ReportRef:
    kind: str  # saved | global
    id: int

    @property
    def path(self) -> str:
        return f"/ta/rest/v1/report/{self.kind}/{self.id}"

    @property
    def name(self) -> str:
        """How errors name the report: ``saved/1001``."""
        return f"{self.kind}/{self.id}"


@dataclass(frozen=True)
class ReportMetadata:
    name: str
    columns: dict[str, ColumnType]


def column_type(vendor_type: t.Any) -> ColumnType:
    return _VENDOR_TYPES.get(str(vendor_type or "").upper(), "string")


def stream_name_for(report_name: str) -> str:
    """``XLR8 Pay Statements`` -> ``report_xlr8_pay_statements``."""
    slug = re.sub(r"[^0-9a-zA-Z]+", "_", report_name).strip("_").lower()
    return f"report_{slug or 'unnamed'}"


def coerce(
    value: t.Any,
    kind: ColumnType,
    column: str,
    date_format: str = DEFAULT_DATE_FORMAT,
    zone: tzinfo | None = None,
) -> t.Any:
    """A report cell as its column's JSON value; a misfit names the column instead of landing as something else.
    CSV dates are read in ``date_format``; one that only fits the other order raises ``ReportDateFormatError``.
    A date-time without an offset is the tenant's wall time: it gets ``zone`` (``report_time_zone``), so it is not
    taken for UTC downstream."""
    if value is None or (value == "" and kind != "string"):
        return None
    try:
        if kind == "string":
            return str(value)
        if kind in ("integer", "number"):
            return _number(value, kind, column)
        if kind == "boolean":
            return value if isinstance(value, bool) else _BOOLEANS[str(value).strip().lower()]
        text = str(value).strip()
        if kind == "date":
            found = _US_DATE.match(text)
            if found:
                month, day = _month_day(found.group(1), found.group(2), date_format, column)
                return date(int(found.group(3)), month, day).isoformat()
            return date.fromisoformat(text[:10]).isoformat()
        found = _US_DATETIME.match(text)
        if found:
            a, b, y, hh, mm, ss, half = found.groups()
            month, day = _month_day(a, b, date_format, column)
            hour = int(hh)
            if half is not None:  # 12-hour clock: 12 AM is 0h, 12 PM is 12h
                if not 1 <= hour <= 12:
                    raise ValueError(hour)
                hour = hour % 12 + (12 if half in "Pp" else 0)
            moment = datetime(int(y), month, day, hour, int(mm), int(ss or 0))
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return _zoned(moment, zone, column).isoformat()
    except ReportDataError:
        raise
    except (ValueError, KeyError, InvalidOperation, TypeError):
        if kind == "date-time":
            raise ReportDataError(
                f"report column {column!r} has a value that is not a date-time in the form MM/DD/YYYY HH:MM[:SS] "
                "[AM|PM] (the order of report_date_format) or ISO 8601"
            ) from None
        raise ReportDataError(
            f"report column {column!r} has a value that is not a {kind} (as the report's metadata says; a number "
            "with a leading zero, sign, space, exponent, NaN or Infinity is not one)"
        ) from None


def _zoned(moment: datetime, zone: tzinfo | None, column: str) -> datetime:
    """``moment`` in ``zone`` when it has no offset. A wall time the clock skipped (spring forward) names the
    column; one it shows twice (fall back) is taken as the first (``fold=0``, still daylight time)."""
    if moment.tzinfo is not None:
        return moment
    if zone is None:
        raise ReportDataError(
            f"report column {column!r} is a date-time without a time zone; setting 'report_time_zone' is required"
        )
    zoned = moment.replace(tzinfo=zone)
    if zoned.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
        raise ReportDataError(
            f"report column {column!r} has {moment.isoformat()}, a wall time that does not exist in "
            f"report_time_zone {zone} (the clock skipped it)"
        )
    return zoned


def _number(value: t.Any, kind: ColumnType, column: str) -> t.Any:
    """An integer or number cell, refusing what ``int``/``Decimal`` would change (``04411`` is 4411, ``NaN`` is a
    number to them): only ``plain_number_text`` texts; a JSON number only when finite (and whole, for integers)."""
    if isinstance(value, str):
        if not plain_number_text(kind).fullmatch(value):
            raise ValueError(column)
        return int(value) if kind == "integer" else Decimal(value)
    if isinstance(value, bool):
        raise TypeError(column)
    if kind == "integer" and isinstance(value, int):
        return value
    number = Decimal(str(value))
    if not number.is_finite() or (kind == "integer" and number != number.to_integral_value()):
        raise ValueError(column)
    return int(number) if kind == "integer" else number


def _month_day(first: str, second: str, date_format: str, column: str) -> tuple[int, int]:
    """A CSV date's month and day in ``date_format``. A first or second number over 12 proves the order: when it
    contradicts the setting, the error names the setting (never a silent swap, never the value)."""
    day_first = DATE_FORMATS[date_format]
    month, day = (int(second), int(first)) if day_first else (int(first), int(second))
    if month > 12 and day <= 12:
        other = next(name for name, flag in DATE_FORMATS.items() if flag is not day_first)
        raise ReportDateFormatError(
            f"report column {column!r} has a date that is {other}, not {date_format}: set 'report_date_format' to "
            f"{other!r} (the run stops and nothing is bookmarked; rows are held back until a date proves the "
            "order, so none was emitted with day and month swapped)"
        )
    return month, day


_DAY_OR_MONTH = re.compile(r"^(\d{1,2})/(\d{1,2})/\d{4}")


def order_proof(names: list[str], block: list[list[str]], date_columns: t.Collection[str], date_format: str) -> bool:
    """Whether a date in ``block`` (CSV cells under ``names``) proves ``date_format``'s day/month order: a number
    over 12 in the day's place (the other 12 or less). A date proving the other order raises, as reading it would
    (``_month_day``: the error names the setting, never the value); False while every date fits both orders."""
    places = [(at, name) for at, name in enumerate(names) if name in date_columns]
    for row in block:
        for at, name in places:
            found = _DAY_OR_MONTH.match(row[at]) if at < len(row) else None
            if found is None:
                continue
            first, second = found.groups()
            if (int(first) > 12) is not (int(second) > 12):  # exactly one number is a day only
                _month_day(first, second, date_format, name)  # raises when it is in the month's place
                return True
    return False


def proven_blocks(
    blocks: t.Iterable[tuple[list[str], list[list[str]]]], date_columns: t.Collection[str], date_format: str
) -> Iterator[tuple[list[str], list[list[str]]]]:
    """``blocks`` of a CSV report (``ReportClient.report_blocks``), none handed on until a date proves the report's
    day/month order as ``date_format`` says (``order_proof``) or the report ends: a report whose first dates fit
    both orders and a later one proves the other raises before any of its rows is emitted (they would land with day
    and month swapped). Blocks held back wait in an anonymous temporary file (never a list: memory stays bounded,
    and no named file is left behind), handed on in order; after the proof the rest passes as it comes."""
    if not date_columns:
        yield from blocks
        return
    rest = iter(blocks)
    with tempfile.TemporaryFile() as spool:
        headers: list[list[str]] = []  # each header list once (the builders compare it by identity)
        encode = msgspec.json.encode
        proven = False
        for names, block in rest:
            proven = order_proof(names, block, date_columns, date_format)
            if proven:
                break
            if not headers or headers[-1] is not names:
                headers.append(names)
            spool.write(encode((len(headers) - 1, block)) + b"\n")
        if spool.tell():
            spool.seek(0)
            decode = msgspec.json.Decoder(tuple[int, list[list[str]]]).decode
            for line in spool:
                at, kept = decode(line)
                yield headers[at], kept
        if not proven:
            return
        yield names, block
    yield from rest


def cell_reader(
    kind: ColumnType, column: str, date_format: str = DEFAULT_DATE_FORMAT, zone: tzinfo | None = None
) -> t.Callable[[t.Any], t.Any]:
    """``coerce(value, kind, column)`` for one column, with its usual case decided once: a non-empty text under a
    string, integer or number column is converted directly, and each distinct text of a date, date-time or boolean
    column once. Anything else (None, "", other types, a text that does not convert) goes to ``coerce`` itself,
    so results and errors are the same."""
    if kind == "string":

        def read_string(value: t.Any) -> t.Any:
            return value if type(value) is str else coerce(value, kind, column)

        return read_string
    if kind in ("integer", "number"):
        convert: t.Callable[[str], t.Any] = int if kind == "integer" else Decimal

        one = plain_number_text(kind)

        def read_number(value: t.Any) -> t.Any:
            if type(value) is str and one.fullmatch(value):
                return convert(value)
            return coerce(value, kind, column)  # None, "", JSON numbers; raises for a text it refuses

        read_number.bulk = convert  # type: ignore[attr-defined]  # only past ``column`` (cells_block_builder)
        read_number.column = plain_number_column(kind, column)  # type: ignore[attr-defined]
        return read_number
    return text_memo(lambda value: coerce(value, kind, column, date_format, zone))


#: Ready's classifier: a JSON answer by its body too (``get_json``), a streamed report by its status and headers only
#: (``classify_status``), an error status's body read for Ready's rate-limit code.
_STATUS = ReadyClassifier()


class ReportClient:
    """Report calls through the tap's session and authenticator (shared by the streams and the connector)."""

    def __init__(self, session: ResilientSession, auth: t.Any, base_url: str, redact: t.Callable[[str], str]) -> None:
        self.session = session
        self.auth = auth
        self.base_url = base_url.rstrip("/")
        self.redact = redact

    def get_json(self, path: str, params: dict[str, t.Any] | None = None, *, report: str | None = None) -> t.Any:
        """An authenticated GET of a ``/ta/rest`` path answered with JSON (errors raised, vendor body redacted);
        ``report`` (its name) for a report run, which runs the report on the tenant: ``kind="report"``, so it waits
        ``http.report_read_timeout`` and is run again at most once (F13, review26a L10)."""
        request = requests.Request("GET", self.base_url + path, params=params, headers={"Accept": "application/json"})
        response = self.session.send(
            self.session.prepare_request(request),
            authenticate=self.auth,
            classify=self._json_verdict,
            kind="api" if report is None else "report",
            report_runs=None if report is None else ReportRuns(report),
        )
        self._raise_for(response, path)
        try:
            data = loads_exact(response.content)
        except ValueError:
            raise ClientRequestError(
                f"ukg_ready: {path} did not answer JSON", status=response.status_code, path=path
            ) from None
        if isinstance(data, dict) and data.get("errors"):
            raise ClientRequestError(
                self.redact(f"ukg_ready: {path} answered errors: {str(data['errors'])[:300]}"),
                status=response.status_code,
                path=path,
            )
        return data

    def _json_verdict(self, response: requests.Response) -> Verdict:
        """Ready's verdict, not the session's (the kit default, blind to ``{"errors": [...]}`` in a 200): code 100
        in any status is a rate limit, waited out like a 429; other errors in a 200 stop the call at once."""
        return _STATUS.classify(response)

    def _raise_for(self, response: requests.Response, path: str) -> None:
        if response.status_code < 400:
            return
        from xlr8_kit.http.errors import AuthenticationError

        body = " ".join(response.text.split())[:300] if response.content else ""
        message = self.redact(f"ukg_ready: HTTP {response.status_code} for path {path}: {body}")
        if response.status_code == 401:
            raise AuthenticationError(message, status=401, path=path)
        if response.status_code == 429 or response.status_code >= 500:
            raise ServerUnavailableError(message, status=response.status_code, path=path)
        raise ClientRequestError(message, status=response.status_code, path=path)

    def list_reports(self, kind: str) -> list[dict[str, t.Any]]:
        data = self.get_json(f"/ta/rest/v1/reports/{kind}")
        found = data.get("reports") if isinstance(data, dict) else data
        return [r for r in found or [] if isinstance(r, dict)]

    def metadata(self, ref: ReportRef) -> ReportMetadata:
        data = self.get_json(ref.path + "/metadata")
        columns = data.get("columns") if isinstance(data, dict) else None
        if not isinstance(columns, list) or not columns:
            raise ReportDataError(f"ukg_ready report {ref.kind}/{ref.id}: its metadata lists no columns")
        title = str(data.get("name") or f"{ref.kind} {ref.id}")
        where = f"ukg_ready report {ref.kind}/{ref.id} ({title!r})"
        typed: dict[str, ColumnType] = {}
        for position, column in enumerate(columns, start=1):
            name = column.get("name") if isinstance(column, dict) else None
            if not isinstance(name, str) or not name.strip():
                raise ReportDataError(
                    f"{where}: metadata column {position} has no name ({str(column)[:120]}); its cells cannot be "
                    "matched to the CSV header"
                )
            if name in typed:  # two columns would land as one (the last one's values)
                raise ReportDataError(
                    f"{where}: two columns are named {name!r}; rename one in the saved report in UKG Ready"
                )
            typed[name] = column_type(column.get("type"))
        return ReportMetadata(name=title, columns=typed)

    def report_rows(
        self,
        ref: ReportRef,
        fmt: str,
        date_columns: t.Collection[str] = (),
        date_format: str = DEFAULT_DATE_FORMAT,
        expected: t.Collection[str] = (),
    ) -> Iterator[dict[str, t.Any]]:
        """The report's rows as ``{column: raw value}``; CSV read as it arrives, held back until its ``date_columns``
        prove ``date_format``'s day/month order (``proven_blocks``). Every name in ``expected`` (the metadata's)
        must be a column of the answer, once (``check_header``)."""
        if fmt == "json":
            data = self.get_json(ref.path, report=ref.name)
            where = f"ukg ready report {ref.name!r} ({ref.path})"
            names = [str(c.get("name")) if isinstance(c, dict) else "" for c in listed_rows(data, "columns", where)]
            check_header(names, expected)
            rows = listed_rows(data, "rows", where)  # an answer without its rows is not a report of none
            for number, row in enumerate(rows, 1):
                cells = row.get("cols") if isinstance(row, dict) else row
                if type(cells) is not list:  # a row without its cells is not a row of nulls
                    raise AnswerShapeError(
                        f"{where}: a row is {json_kind(row)}, where each row's cells come as a list (or under "
                        "'cols'); the stream stops here rather than land it empty",
                        path=where,
                    )
                if len(cells) != len(names):
                    raise row_width_error(where, number, len(cells), len(names))
                yield dict(zip(names, cells, strict=True))
            return
        where = f"ukg ready report {ref.name!r} ({ref.path})"
        number = 0
        for names, block in proven_blocks(self.report_blocks(ref), date_columns, date_format):
            check_header(names, expected)
            for cells in block:
                number += 1
                if len(cells) != len(names):
                    raise row_width_error(where, number, len(cells), len(names))
                yield dict(zip(names, cells, strict=True))

    def report_blocks(self, ref: ReportRef) -> Iterator[tuple[list[str], list[list[str]]]]:
        """The CSV report's header and the cells of its non-empty rows, a block at a time, read as they arrive
        (``read_csv_blocks``). Every GET runs the report on the tenant: ``kind="report"`` (F13, review26a L10)."""
        request = requests.Request("GET", self.base_url + ref.path, headers={"Accept": "text/csv"})
        response = send_streamed(
            self.session,
            self.session.prepare_request(request),
            authenticate=self.auth,
            classify=_STATUS.classify_status,
            kind="report",
            report=ref.name,
        )
        with response:
            if response.status_code >= 400:  # error answers are read whole
                self._raise_for(response, ref.path)
            kind = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if kind != "text/csv":
                body = next(body_chunks(response, what="report"), b"")[:300].decode("utf-8", "replace")
                raise ClientRequestError(
                    self.redact(f"ukg_ready: {ref.path} answered {kind or 'no content type'} instead of CSV: {body}"),
                    status=response.status_code,
                    path=ref.path,
                )
            read = 0
            try:
                for names, block in read_csv_blocks(response):
                    yield names, block
                    read += len(block)
            except StreamedBodyError as exc:  # cut again after its one re-run (F13), or changed between runs
                raise ServerUnavailableError(
                    self.redact(
                        f"ukg_ready: report {ref.kind}/{ref.id} broke off after {read} rows: {exc} (all but rows "
                        "held back until a date proved the day/month order); run again (the target keys rows by the "
                        "report's primary_keys)"
                    ),
                    path=ref.path,
                ) from None


def row_width_error(where: str, number: int, cells: int, names: int) -> AnswerShapeError:
    """A report row whose cell count is not its column count: its cells cannot be told to their columns (a short
    row would land its missing cells null, a long one drop its extras, silently: review29h M1). Counts only, never a
    cell's value."""
    return AnswerShapeError(
        f"{where}: data row {number} has {cells} cell(s) for the report's {names} column(s), so its cells cannot be "
        "told to their columns; the stream stops here rather than land it with cells missing or dropped",
        path=where,
    )


def check_header(names: t.Sequence[str], expected: t.Collection[str]) -> None:
    """Every metadata column name is in the answer's header exactly once: one spelled otherwise would land null on
    every row, one named twice would land one of the two (audit25c F11, F13)."""
    missing = [name for name in expected if name not in names]
    twice = sorted({name for name in names if name in expected and names.count(name) > 1})
    if missing or twice:
        problem = f"column(s) {missing} of its metadata are not in it" if missing else f"it repeats {twice}"
        raise ReportDataError(
            f"the report's header {list(names)[:40]} does not match its metadata: {problem} (names must match "
            "exactly; rename the columns in the saved report)"
        )


def read_csv_cells(response: requests.Response) -> Iterator[tuple[list[str], list[str]]]:
    """The header (one list for the whole response) and the cells of each non-empty row of a CSV response,
    decoded incrementally (a UTF-8 BOM dropped); quoted newlines kept. A row may have fewer or more cells than the
    header has names."""
    for names, block in read_csv_blocks(response):
        for cells in block:
            yield names, cells


def read_csv_blocks(response: requests.Response, size: int = BLOCK_ROWS) -> Iterator[tuple[list[str], list[list[str]]]]:
    """``read_csv_cells`` in blocks of up to ``size`` non-empty rows (never empty), under the one header list.
    Each decoded piece is cut into lines at ``\n`` (each keeping it) at once, and the lines reach ``csv.reader``
    through C iterators: no Python frame per line or per row."""
    found = re.search(r"charset=([\w.-]+)", response.headers.get("Content-Type") or "", re.IGNORECASE)
    decoder = codecs.getincrementaldecoder(found.group(1) if found else "utf-8")(errors="strict")

    def line_lists() -> Iterator[list[str]]:
        pending = ""
        quoted = False  # a quote seen so far: the reader may be inside a quoted field at a line's end
        for chunk in body_chunks(response, what="report"):  # a cut is asked for again and resumed
            text = decoder.decode(chunk)
            quoted = quoted or '"' in text
            pending += text
            *complete, pending = pending.split("\n")
            if complete:
                # Before any quote the reader ends a row at each line's end with or without its newline (the
                # newline only matters inside a quoted field), so the lines go as they were cut.
                yield list(map(operator.add, complete, repeat("\n"))) if quoted else complete
        pending += decoder.decode(b"", final=True)
        if pending:
            yield [pending]

    reader = csv.reader(chain.from_iterable(line_lists()))
    header = next(reader, None)
    if header is None:
        return
    names = [h.lstrip("\ufeff").strip() for h in header]
    while True:
        taken: list[list[str]] = []
        try:
            taken.extend(islice(reader, size))
        except Exception:
            # a body that breaks off (or does not decode): the rows read before it still go first, as row by row
            block = list(filter(None, taken))
            if block:
                yield names, block
            raise
        if not taken:
            return
        block = list(filter(None, taken))  # empty rows (blank lines) dropped
        if block:
            yield names, block


def record_builder(
    column_types: dict[str, ColumnType],
    names: list[str],
    *,
    readers: t.Mapping[str, t.Callable[[t.Any], t.Any]] | None = None,
    date_format: str = DEFAULT_DATE_FORMAT,
) -> t.Callable[[list[str]], dict[str, t.Any]] | None:
    """For CSV rows under header ``names``: a function giving the typed record of a row's cells (what
    ``{name: cell_reader(kind, name)(row.get(name)) ...}`` gives for ``row = dict(zip(names, cells))``) when the
    row has exactly one cell per name, without that row dict. CSV cells are text, so a string column's cell is its
    value as is; only the other columns call their reader (``typed_readers``). None when a column is not in the
    header (every row then goes the general way)."""
    if not set(column_types) <= set(names):
        return None
    typed = typed_readers(column_types, readers, date_format)
    return cells_record_builder(names, list(column_types), typed, empty_is_none=False)


def block_builder(
    column_types: dict[str, ColumnType],
    names: list[str],
    *,
    written: t.Collection[str] = (),
    vouch: t.Callable[[t.Mapping[str, t.Sequence[t.Any]]], bool] | None = None,
    readers: t.Mapping[str, t.Callable[[t.Any], t.Any]] | None = None,
    date_format: str = DEFAULT_DATE_FORMAT,
) -> t.Callable[[list[list[str]]], tuple[list[dict[str, t.Any]], dict[str, t.Sequence[t.Any]]] | None] | None:
    """``record_builder`` for a block of rows, each with one cell per name, column by column
    (``xlr8_kit.columns.cells_block_builder``: None for a block it leaves to ``record_builder``, row by row;
    number columns in ``written`` given as the texts the writer would write when ``vouch`` vouches for the
    rest)."""
    if not set(column_types) <= set(names):
        return None
    readers = typed_readers(column_types, readers, date_format)
    return cells_block_builder(names, list(column_types), readers, empty_is_none=False, written=written, vouch=vouch)


def typed_readers(
    column_types: dict[str, ColumnType],
    readers: t.Mapping[str, t.Callable[[t.Any], t.Any]] | None = None,
    date_format: str = DEFAULT_DATE_FORMAT,
) -> dict[str, t.Callable[[t.Any], t.Any]]:
    """Each non-string column's reader for the CSV builders (a string column's cell is its value as is): from
    ``readers`` (a report's ``cell_reader`` per column, so its builders and its general path share one memo per
    column), else a new ``cell_reader``."""
    found = readers or {}
    return {
        name: found.get(name) or cell_reader(kind, name, date_format)
        for name, kind in column_types.items()
        if kind != "string"
    }
