"""RaaS report documents: decoding (CSV in Windows-1252, Cognos dataset XML), column typing and value coercion.

A RaaS report has no schema endpoint; its columns are known once it has run. XML output carries typed metadata
(``<item name=... type="xs:decimal"/>``), which is authoritative. CSV carries names only, so types are inferred
from every value seen, conservatively: a column is a number/date/boolean only if every non-empty value parses
as one, and identifier-like columns (``...ID``, ``...Code``, ``...Number``) stay strings so "00042" keeps its zeros
and a later "10A" cannot break the schema. A value that no longer fits its column at sync time stops the stream
with the column's name rather than landing as something else.
"""

from __future__ import annotations

import csv
import io
import re
import typing as t
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from itertools import islice
from operator import itemgetter

from xlr8_kit.columns import (
    BLOCK_ROWS,
    INTEGER_TEXT,
    NUMBER_TEXT,
    TextMemo,
    cells_block_builder,
    cells_record_builder,
    plain_number_column,
    plain_number_text,
)
from xlr8_kit.soap import children, local_name
from xlr8_kit.streaming import ChunkReader
from xlr8_kit.xmlsafe import UnsafeXMLError, XMLParseError, iterparse_xml

COGNOS_NS = "http://developer.cognos.com/schemas/xmldata/1/"
#: Cognos writes ``xs:nil`` with ``xs`` bound to XML Schema; the standard is the XML Schema instance namespace.
NIL_ATTRIBUTES = ("{http://www.w3.org/2001/XMLSchema}nil", "{http://www.w3.org/2001/XMLSchema-instance}nil")

ColumnType = t.Literal["string", "integer", "number", "boolean", "date", "date-time"]

_XS_TYPES: dict[str, ColumnType] = {
    "string": "string", "decimal": "number", "double": "number", "float": "number", "int": "integer",
    "integer": "integer", "long": "integer", "short": "integer", "byte": "integer", "boolean": "boolean",
    "date": "date", "dateTime": "date-time",
}  # fmt: skip
_IDENTIFIER = re.compile(r"(?:ID|Id|Code|Number|Num|No|Key|SSN|Zip|ZipCode|Phone|Account)$")
_MEASURE = re.compile(r"(?:Amount|Amt|Salary|Rate|Hours|Hrs|Pay|Total|Balance|Percent|Pct)$", re.IGNORECASE)
_INTEGER = re.compile(r"^-?(?:0|[1-9]\d{0,17})$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$")
_BOOLEANS = {"true": True, "false": False}


class ReportDataError(ValueError):
    """The report document cannot be read as the stream's schema says."""


@dataclass(frozen=True)
class ReportTable:
    """A decoded report: column names, their types, rows as dicts of raw strings (None for empty)."""

    columns: tuple[str, ...]
    types: dict[str, ColumnType]
    rows: list[dict[str, str | None]]
    typed_by_vendor: bool


def read_csv(content: bytes, *, encoding: str = "cp1252") -> tuple[list[str], Iterator[list[str]]]:
    """Header and data rows of a RaaS CSV (a UTF-8 BOM wins over the configured encoding)."""
    if content.startswith(b"\xef\xbb\xbf"):
        text = content[3:].decode("utf-8")
    else:
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ReportDataError(
                f"report CSV is not valid {encoding} at byte {exc.start}; set 'raas_csv_encoding' to the "
                "tenant's export encoding"
            ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return [], iter(())
    return [h.strip() for h in header], reader


def parse_report(content: bytes, *, encoding: str = "cp1252") -> ReportTable:
    """The whole report with inferred (CSV) or declared (XML) types: what discovery needs."""
    header, declared, rows = iter_report(content, encoding=encoding)
    table_rows = list(rows)
    types = declared if declared is not None else infer_types(header, table_rows)
    return ReportTable(tuple(header), types, table_rows, typed_by_vendor=declared is not None)


def iter_report(
    content: bytes, *, encoding: str = "cp1252"
) -> tuple[list[str], dict[str, ColumnType] | None, Iterator[dict[str, str | None]]]:
    """Header, the types the document declares (XML) or None (CSV), and the rows lazily: a sync never holds
    every row of a large report at once. The first non-blank byte tells the form."""
    if content.lstrip()[:1] == b"<":
        events = _xml_rows(content)
        header, types = t.cast("tuple[list[str], dict[str, ColumnType]]", next(events))
        return header, types, t.cast("Iterator[dict[str, str | None]]", events)
    header, reader = read_csv(content, encoding=encoding)
    _check_header(header)

    def rows() -> Iterator[dict[str, str | None]]:
        for number, values in enumerate(reader, start=2):
            if not values:
                continue
            if len(values) != len(header):
                raise ReportDataError(f"report CSV line {number} has {len(values)} fields, the header {len(header)}")
            yield {h: (v if v != "" else None) for h, v in zip(header, values, strict=True)}

    return header, None, rows()


def iter_report_stream(
    chunks: Iterable[bytes], *, encoding: str = "cp1252", cells: bool = False, blocks: bool = False
) -> tuple[list[str], dict[str, ColumnType] | None, Iterator[t.Any]]:
    """``iter_report`` for a document arriving in pieces: CSV decoded and split into rows as it arrives, XML
    parsed incrementally (the kit's hardened iterparse), so a sync holds one piece and one row at a time. Rows
    are dicts; with ``cells`` a CSV row is its list of cell texts instead, one per header name (``record_builder``
    types them; a CSV document is the one whose declared types are None); with ``blocks`` too, CSV rows come in
    lists of up to ``BLOCK_ROWS`` (never empty), read off ``csv.reader`` in C (``block_builder`` types them)."""
    reader = ChunkReader(chunks)
    if reader.first_byte() == b"<":
        events = _xml_rows(t.cast("t.IO[bytes]", reader))
        header, types = t.cast("tuple[list[str], dict[str, ColumnType]]", next(events))
        return header, types, t.cast("Iterator[dict[str, str | None]]", events)
    bom = reader.peek(3) == b"\xef\xbb\xbf"
    if bom:
        reader.read(3)
    chosen = "utf-8" if bom else encoding
    text = io.TextIOWrapper(t.cast("t.BinaryIO", reader), encoding=chosen, errors="strict", newline="")

    def decoded(lines: Iterator[list[str]]) -> Iterator[list[str]]:
        try:
            yield from lines
        except UnicodeDecodeError as exc:
            raise ReportDataError(
                f"report CSV is not valid {chosen} at byte {reader.offset_of(exc) - (3 if bom else 0)}; set "
                "'raas_csv_encoding' to the tenant's export encoding"
            ) from None

    csv_rows = csv.reader(text)
    lines = decoded(csv_rows)
    first = next(lines, None)
    header = [h.strip() for h in first] if first is not None else []
    _check_header(header)

    def rows() -> Iterator[t.Any]:
        for number, values in enumerate(lines, start=2):
            if not values:
                continue
            if len(values) != len(header):
                raise ReportDataError(f"report CSV line {number} has {len(values)} fields, the header {len(header)}")
            yield values if cells else {h: (v if v != "" else None) for h, v in zip(header, values, strict=True)}

    if not (cells and blocks):
        return header, None, rows()
    width = len(header)

    def row_blocks() -> Iterator[list[list[str]]]:
        """``rows()`` in blocks: the same rows, errors raised after the same rows before them."""
        number = 2  # the CSV row number of the block's first row
        while True:
            taken: list[list[str]] = []
            failure: BaseException | None = None
            try:
                taken.extend(islice(csv_rows, BLOCK_ROWS))
            except UnicodeDecodeError as exc:
                failure = ReportDataError(
                    f"report CSV is not valid {chosen} at byte {reader.offset_of(exc) - (3 if bom else 0)}; set "
                    "'raas_csv_encoding' to the tenant's export encoding"
                )
            except Exception as exc:  # noqa: BLE001 - a body that breaks off: re-raised after the rows before it
                failure = exc
            if not taken and failure is None:
                return
            block = list(filter(None, taken))
            if not all(map(width.__eq__, map(len, block))):
                offset, values = next((i, v) for i, v in enumerate(taken) if v and len(v) != width)
                block = list(filter(None, taken[:offset]))
                failure = ReportDataError(
                    f"report CSV line {number + offset} has {len(values)} fields, the header {width}"
                )
            if block:
                yield block
            if failure is not None:
                raise failure
            number += len(taken)

    return header, None, row_blocks()


def _check_header(header: list[str]) -> None:
    if not header or any(not h for h in header):
        raise ReportDataError("report has an empty column name in its header")
    seen = {h for h in header if header.count(h) > 1}
    if seen:
        raise ReportDataError(f"report has duplicate column name(s): {', '.join(sorted(seen))}")


def _xml_rows(content: bytes | t.IO[bytes]) -> Iterator[t.Any]:
    """Cognos dataset XML, streamed: first ``(header, types)`` from the metadata, then one dict per row (each
    element freed once read). Parsed with the kit's hardened parser (no DTD, entities or network)."""
    header: list[str] = []
    items: list[t.Any] = []
    started = False
    try:
        for event, node in iterparse_xml(content, huge=True, remove_comments=False):
            name = local_name(node)
            if event == "start":
                if not started:
                    started = True
                    if name != "dataset":
                        raise ReportDataError(f"report XML root is {name!r}, not a Cognos dataset")
                continue
            if name == "item":
                items.append(node)
            elif name == "metadata":
                header = [item.get("name") or "" for item in items]
                _check_header(header)
                types: dict[str, ColumnType] = {}
                for column, item in zip(header, items, strict=True):
                    xs_type = (item.get("type") or "xs:string").split(":")[-1]
                    types[column] = _XS_TYPES.get(xs_type, "string")
                yield header, types
            elif name == "row":
                values = children(node, "value")
                if len(values) != len(header):
                    raise ReportDataError(f"report XML row has {len(values)} values, the metadata {len(header)} items")
                row = {h: (None if _is_nil(v) else (v.text or "")) for h, v in zip(header, values, strict=True)}
                node.clear()
                while node.getprevious() is not None:
                    del node.getparent()[0]
                yield row
    except UnsafeXMLError:
        raise ReportDataError("refusing a report document with a DOCTYPE/ENTITY declaration") from None
    except XMLParseError as exc:
        raise ReportDataError(f"report XML is {exc}") from None
    if not header:
        raise ReportDataError("report XML has no metadata")


def _is_nil(node: t.Any) -> bool:
    return any(node.get(name) == "true" for name in NIL_ATTRIBUTES)


def _kind(value: str) -> set[ColumnType]:
    """Every type this one value could be."""
    kinds: set[ColumnType] = {"string"}
    lowered = value.strip().lower()
    if lowered in _BOOLEANS:
        kinds.add("boolean")
    if _INTEGER.match(value):
        kinds.update(("integer", "number"))
    elif _NUMBER.match(value) and not re.match(r"^-?0\d", value):
        kinds.add("number")
    if _ISO_DATE.match(value) or _US_DATE.match(value):
        kinds.add("date")
    if _ISO_DATETIME.match(value):
        kinds.add("date-time")
    return kinds


def infer_types(header: Iterable[str], rows: list[dict[str, str | None]]) -> dict[str, ColumnType]:
    """The narrowest type every non-empty value of a column satisfies (identifier-like columns stay strings)."""
    order: tuple[ColumnType, ...] = ("boolean", "integer", "number", "date", "date-time")
    types: dict[str, ColumnType] = {}
    for name in header:
        if _IDENTIFIER.search(name):
            types[name] = "string"
            continue
        possible: set[ColumnType] | None = None
        for row in rows:
            value = row.get(name)
            if value is None or value == "":
                continue
            kinds = _kind(value)
            possible = kinds if possible is None else possible & kinds
            if possible == {"string"}:
                break
        chosen: ColumnType = "string"
        if possible:
            chosen = next((k for k in order if k in possible), "string")
        if chosen == "integer" and _MEASURE.search(name):
            chosen = "number"  # money and hours that happen to be whole in this run are still decimals
        types[name] = chosen
    return types


def json_schema_for(column_type: ColumnType) -> dict[str, t.Any]:
    if column_type in ("date", "date-time"):
        return {"type": ["string", "null"], "format": column_type}
    return {"type": [column_type, "null"]}


def coerce(value: str | None, column_type: ColumnType, column: str, *, zone: tzinfo = UTC) -> t.Any:
    """A report cell as its column's JSON value; a misfit names the column instead of landing as a string.

    Date-times without an offset are the tenant's local time (``zone``) and leave with an explicit offset."""
    if value is None or (value == "" and column_type != "string"):
        return None
    try:
        if column_type == "string":
            return value
        if column_type == "integer":
            if not INTEGER_TEXT.fullmatch(value):
                raise ValueError(column)  # a leading zero, sign, space: not what discovery typed (``_kind``)
            return int(value)
        if column_type == "number":
            if not NUMBER_TEXT.fullmatch(value):
                raise ValueError(column)  # also NaN and Infinity
            return Decimal(value)
        if column_type == "boolean":
            return _BOOLEANS[value.strip().lower()]
        if column_type == "date":
            found = _US_DATE.match(value)
            if found:
                return date(int(found.group(3)), int(found.group(1)), int(found.group(2))).isoformat()
            return date.fromisoformat(value[:10]).isoformat()
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).isoformat()
    except (ValueError, KeyError, InvalidOperation):
        raise ReportDataError(
            f"report column {column!r} has a value that is not a {column_type} (discovered type; a number with a "
            "leading zero, NaN or Infinity is not one); run discovery again or set the report's column types"
        ) from None


def cell_coercer(column_type: ColumnType, column: str, *, zone: tzinfo = UTC) -> t.Callable[[str], t.Any]:
    """``coerce(text, column_type, column, zone=zone)`` for the non-empty texts of one column, its usual case
    decided once: integers and numbers converted directly, each distinct boolean, date or date-time text once
    (they repeat row after row). A text that does not convert goes to ``coerce`` itself, which raises its error."""
    if column_type == "string":
        return str
    if column_type in ("integer", "number"):
        convert: t.Callable[[str], t.Any] = int if column_type == "integer" else Decimal
        one = plain_number_text(column_type)

        def read_number(value: str) -> t.Any:
            if one.fullmatch(value):
                return convert(value)
            return coerce(value, column_type, column, zone=zone)  # raises its error

        read_number.bulk = convert  # type: ignore[attr-defined]  # only past ``column`` (cells_block_builder)
        read_number.column = plain_number_column(column_type, column)  # type: ignore[attr-defined]
        return read_number
    # empty cells (None) are looked up in C too: a block's column is then one ``map`` (``cells_block_builder``)
    memo = TextMemo(lambda value: coerce(value, column_type, column, zone=zone), seed={None: None})

    def general(value: str) -> t.Any:
        return memo[value]

    general.bulk = memo.__getitem__  # type: ignore[attr-defined]  # see ``xlr8_kit.columns.cells_block_builder``
    if column_type == "date-time":
        return _local_stamp_reader(general, zone)
    return general


#: A naive local date-time as UKG exports it (``2024-05-01T13:45:12``, ASCII digits, the time of day in range).
_NAIVE_STAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]")
#: A column of ``_NAIVE_STAMP`` texts joined by newlines (none of them holds one: the newlines are counted).
_NAIVE_STAMPS = re.compile(rf"(?:{_NAIVE_STAMP.pattern}\n)*{_NAIVE_STAMP.pattern}")
_DAY = itemgetter(slice(0, 10))
#: Days whose offset ``_local_stamp_reader`` remembers before it starts afresh.
_DAY_MEMO_SIZE = 4096
#: From a day's midnight to each of its hours and to its last microsecond (``_local_stamp_reader``'s checks).
_DAY_STEPS = (*(timedelta(hours=hour) for hour in range(24)), timedelta(days=1, microseconds=-1))


def _local_stamp_reader(general: t.Callable[[str], t.Any], zone: tzinfo) -> t.Callable[[str], t.Any]:
    """``general`` (``coerce`` of a date-time text, memoised per text) for a column whose texts are distinct row
    after row (a last-changed stamp): a naive ``YYYY-MM-DDTHH:MM:SS`` text on a day whose UTC offset in ``zone``
    is the same at every hour and at its last microsecond is the text itself followed by that day's offset text
    (what ``isoformat`` of the text read in ``zone`` writes), remembered per day. Any other text (an offset or
    ``Z`` of its own, a fraction, a day with a clock change, a date that does not exist) goes to ``general``.
    ``bulk`` (for ``cells_block_builder``) raises for those instead; None stays None. ``column`` does the same for a
    whole column of naive texts at once in C (one regex over the column joined, each day's offset looked up), the
    texts on a day with a clock change by ``general``; a column with an empty cell or any other text raises."""

    def offset_of(day: str) -> str | None:
        try:
            midnight = datetime.fromisoformat(f"{day}T00:00:00").replace(tzinfo=zone)
        except ValueError:
            return None
        # each hour and the day's last microsecond, by wall-clock addition (what parsing each time gives)
        if len(set(map(datetime.utcoffset, map(midnight.__add__, _DAY_STEPS)))) != 1:
            return None
        return midnight.isoformat()[19:]

    offsets = TextMemo(offset_of, _DAY_MEMO_SIZE)

    def bulk(value: str | None) -> str | None:
        if value is None:
            return None
        if _NAIVE_STAMP.fullmatch(value) is None:
            raise ValueError(value)
        offset = offsets[value[:10]]
        if offset is None:
            raise ValueError(value)
        return value + t.cast("str", offset)

    def read(value: str) -> t.Any:
        try:
            return bulk(value)
        except ValueError:
            return general(value)

    def column(column_cells: t.Sequence[str | None]) -> list[t.Any]:
        if None in column_cells:
            raise ValueError("an empty cell")  # ``bulk`` cell by cell
        cells = t.cast("t.Sequence[str]", column_cells)
        joined = "\n".join(cells)
        if joined.count("\n") != len(cells) - 1 or _NAIVE_STAMPS.fullmatch(joined) is None:
            raise ValueError("not every cell is a naive stamp")
        found = list(map(offsets.__getitem__, map(_DAY, cells)))
        if None in found:  # a day with a clock change (or no such day): those texts as ``read`` gives them
            return [
                general(cell) if offset is None else cell + offset for cell, offset in zip(cells, found, strict=True)
            ]
        return list(map(str.__add__, cells, found))

    read.bulk = bulk  # type: ignore[attr-defined]  # see ``xlr8_kit.columns.cells_block_builder``
    read.column = column  # type: ignore[attr-defined]
    return read


def record_builder(
    column_types: dict[str, ColumnType], header: list[str], *, zone: tzinfo = UTC
) -> t.Callable[[list[str]], dict[str, t.Any]]:
    """For the CSV rows of ``iter_report_stream(..., cells=True)`` under ``header`` (distinct names, every column
    of ``column_types`` among them): the typed record of a row's cells, what ``{name: coerce(row.get(name), kind,
    name, zone=zone) ...}`` gives for its row dict. An empty cell is None; a string cell is its text as it is;
    only the other columns convert."""
    readers = {name: cell_coercer(kind, name, zone=zone) for name, kind in column_types.items() if kind != "string"}
    return cells_record_builder(header, list(column_types), readers, empty_is_none=True)


def block_builder(
    column_types: dict[str, ColumnType],
    header: list[str],
    *,
    zone: tzinfo = UTC,
    written: t.Collection[str] = (),
    vouch: t.Callable[[t.Mapping[str, t.Sequence[t.Any]]], bool] | None = None,
) -> t.Callable[[list[list[str]]], tuple[list[dict[str, t.Any]], dict[str, t.Sequence[t.Any]]] | None]:
    """``record_builder`` for a block of rows (``iter_report_stream(..., cells=True, blocks=True)``), column by
    column (``xlr8_kit.columns.cells_block_builder``: None for a block it leaves to ``record_builder``; number
    columns in ``written`` given as the texts the writer would write when ``vouch`` vouches for the rest)."""
    readers = {name: cell_coercer(kind, name, zone=zone) for name, kind in column_types.items() if kind != "string"}
    return cells_block_builder(header, list(column_types), readers, empty_is_none=True, written=written, vouch=vouch)


def pick_primary_keys(table: ReportTable) -> list[str]:
    """The first column whose values are all present and distinct, identifier-like names first; else none."""
    ranked = sorted(table.columns, key=lambda c: (0 if _IDENTIFIER.search(c) else 1, table.columns.index(c)))
    for column in ranked:
        values = [row.get(column) for row in table.rows]
        if values and all(v not in (None, "") for v in values) and len(set(values)) == len(values):
            return [column]
    return []


#: Row counts after which key candidates that already repeat a value are dropped (their hashes freed).
_PRUNE_AT = frozenset({1_000, 10_000, 100_000})


@dataclass(frozen=True)
class ReportShape:
    """What discovery needs of a report: its columns, their types and a key column, without its rows."""

    columns: tuple[str, ...]
    types: dict[str, ColumnType]
    primary_keys: list[str]
    typed_by_vendor: bool


def profile_report(chunks: Iterable[bytes], *, encoding: str = "cp1252") -> ReportShape:
    """``parse_report`` + ``pick_primary_keys`` for a report arriving in pieces, keeping per-column summaries only
    (the kinds every value fits, and one 64-bit hash per row of each column still able to be the key), so a
    report of a million rows is profiled in a few dozen MB. Gives the types and key ``parse_report`` gives."""
    header, declared, rows = iter_report_stream(chunks, encoding=encoding)
    order: tuple[ColumnType, ...] = ("boolean", "integer", "number", "date", "date-time")
    open_kinds: dict[str, set[ColumnType] | None] = {}
    if declared is None:
        open_kinds = {name: None for name in header if not _IDENTIFIER.search(name)}
    narrowed: dict[str, set[ColumnType] | None] = {}
    hashes: dict[str, array[int]] = {name: array("q") for name in header}
    count = 0
    for row in rows:
        count += 1
        for name in list(open_kinds):
            value = row.get(name)
            if value is None or value == "":
                continue
            seen = open_kinds[name]
            possible = _kind(value) if seen is None else seen & _kind(value)
            if possible == {"string"}:
                del open_kinds[name]
                narrowed[name] = possible
            else:
                open_kinds[name] = possible
        for name in list(hashes):
            value = row.get(name)
            if value is None or value == "":
                del hashes[name]
            else:
                hashes[name].append(hash(value))
        if count in _PRUNE_AT or count % 250_000 == 0:  # a column that already repeats a value is no key
            hashes = {name: found for name, found in hashes.items() if len(set(found)) == count}
    narrowed.update(open_kinds)
    if declared is not None:
        types = dict(declared)
    else:
        types = {}
        for name in header:
            if _IDENTIFIER.search(name):
                types[name] = "string"
                continue
            fits = narrowed.get(name)
            chosen: ColumnType = next((k for k in order if k in fits), "string") if fits else "string"
            if chosen == "integer" and _MEASURE.search(name):
                chosen = "number"
            types[name] = chosen
    keys: list[str] = []
    ranked = sorted(header, key=lambda c: (0 if _IDENTIFIER.search(c) else 1, header.index(c)))
    for column in ranked:
        found = hashes.get(column)
        if count and found is not None and len(set(found)) == count:  # equal hashes count as a repeat: no key
            keys = [column]
            break
    return ReportShape(tuple(header), types, keys, typed_by_vendor=declared is not None)


def stream_name_for(report_name: str) -> str:
    """``XLR8 Employees`` -> ``raas_xlr8_employees``."""
    slug = re.sub(r"[^0-9a-zA-Z]+", "_", report_name).strip("_").lower()
    return f"raas_{slug or 'report'}"


def report_name_from_path(path: str) -> str:
    """The report's own name from a Cognos search path (``.../report[@name='X']``)."""
    found = re.findall(r"\[@name='([^']*)'\]", path)
    return found[-1] if found else path.rsplit("/", 1)[-1]
