"""The embedded delivery: one DuckDB file, one writing process. Batches are spooled to JSONL and read by DuckDB's
``read_json`` (no per-row inserts); BATCH message files are read directly.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import secrets
import threading
import typing as t
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import msgspec

from target_xlr8_truths.columns import DECIMAL_PRECISION, Column
from target_xlr8_truths.faults import CHECKPOINT_ENV, SPOOL_ENV, hold
from target_xlr8_truths.naming import DELETED_MARK, quote
from target_xlr8_truths.records import MAX_FIELD_BYTES
from target_xlr8_truths.spool import Spool
from target_xlr8_truths.store import SEQ, Batch, NestedTypes, RowLines, RunContext, Store
from xlr8_kit.singer_io import loads_exact

log = logging.getLogger(__name__)

#: DuckDB's buffer pool (record batches; BATCH files load in ``duckdb_batch_memory_limit``'s when larger); larger
#: work spills. The process peaks about 140 MB above it (Python, the SDK, DuckDB's own allocations outside the pool):
#: 1M Account-width records 250-270 MB at 128MB, 440-480 MB at 384MB, which loads BATCH files with about 20% less
#: CPU. Record batches upserting 1M Account-width records over a table that holds them peaked 262-318 MB at 128MB
#: (the checkpoint rewriting the row groups they deleted from fills the pool), 228-235 MB at 96MB, the same CPU
#: (1.00-1.01 per pair; bench/README, session 21 rec21).
DEFAULT_MEMORY_LIMIT = "96MB"
#: Rows DuckDB puts in a row group. A checkpoint writes a table's new rows as new row groups (it never appends to a
#: row group already written), and merges runs of neighbouring groups that fit in fewer (up to four into three):
#: every group of 92,160 rows or fewer is read back and written again by a later checkpoint.
ROW_GROUP_ROWS = 122_880
#: Rows a table gains before the store checkpoints (``DuckDBStore._checkpoint_by_rows``): groups of more than 3/4 of
#: a row group are never merged. Checkpointing by WAL bytes alone (32 MiB) wrote 500,000 Salesforce Contacts
#: (10,000-record BATCH files) in groups of 70,000 rows, merged again every few checkpoints as the table grew: 1.2 and
#: 2.0 s CPU at the 28th and 42nd file and 1.7 s at close, against ~0.2 s for a checkpoint that merges nothing.
CHECKPOINT_ROWS = ROW_GROUP_ROWS * 4 // 5
#: WAL size at which a commit checkpoints anyway (DuckDB's default: 16 MiB), above ``CHECKPOINT_ROWS`` of narrow rows
#: (~46 MiB for Contacts) so the rows decide for them; wider rows reach it first (a 100,000-record Account-width
#: file holds over 32 MiB). Every commit still writes and syncs its WAL (STATE confirms committed files only); after
#: a crash the next open replays at most about this much WAL.
CHECKPOINT_THRESHOLD = "64MiB"
MAX_OBJECT = 16 * 1024 * 1024  # a JSON line larger than this takes the record path (fields cap at 8 MiB)
#: The JSON reader's buffer: twice its ``maximum_object_size`` (16 MiB at least; a smaller one is raised to it). A
#: file that fits in one is read by one of DuckDB's threads whatever their number (``DuckDBStore._use_threads``).
_READER_BUFFER = 2 * max(MAX_OBJECT, 16 * 1024 * 1024)
#: DuckDB's JSON reader parses non-integer numbers as doubles, which hold any number of up to 15 significant digits
#: exactly and none below the double range (``1e-400`` reads as 0); ``has_long_number`` finds the others: runs of
#: 16 [0-9.] bytes, and exponents of three digits below zero, in the block translated once (digits and dots to
#: ``0``, ``E`` to ``e``); the lines holding one are then decoded.
_NUMBER_MARKS = bytes(0x30 if chr(b) in "0123456789." else 0x65 if chr(b) in "eE" else b for b in range(256))
_LONG_NUMBER = b"0" * 16
_TINY_EXPONENT = b"0e-000"
#: Searched from the end of a block (``rfind``): 0.4-0.7 ms per 4 MiB of Salesforce records against 1.3-2.9 ms for
#: ``find`` of the same patterns, whose last byte, ``0``, is everywhere in the translated block.
_NUMBER_PATTERNS = (_LONG_NUMBER, _TINY_EXPONENT)
#: Bytes that may follow a JSON number. An exponent match followed by anything else (``-``, a letter, a quote) is
#: no number: a dashed UUID such as ``…30e-1234-…`` reads ``0e-000`` once translated (about 4% of random UUIDs do),
#: and decoding its line cost a UUID-keyed stream's scan ~3.7x (review 21d).
_NUMBER_ENDS = frozenset(b",]} \t\r\n")
#: The scan's block (``_scanned``): the block, its translation and the two searches over it stay in a core's cache.
#: Blocks of 4 MiB wrote each translation out to memory and read it back twice, and took fresh pages for it: 256 KiB
#: blocks scanned Salesforce BATCH files with 0.58-0.66 (Contacts) and 0.77-0.80 (Accounts) of the CPU (bench/README,
#: session 26); 128 KiB to 1 MiB scanned alike. A longer line grows the buffer to hold it.
_SCAN_CHUNK = 1 << 18
_SIXTEEN_DIGITS = 10**15
#: Decimal.adjusted() of the smallest normal double (2.2e-308): below it a double holds fewer digits, or none
_DOUBLE_LOWEST_EXPONENT = -308
BAD_ROW = "__xlr8_bad"
_ROW_ENCODER = msgspec.json.Encoder()
_REWRITE_BLOCK = 10_000
_FILE_SEQ_STRIDE = 1 << 40  # SEQ of line n of the i-th file of a BATCH message: i * stride + n
_REFUSED = "xlr8-fast-path-refused: "  # error() text that makes a file take the record path
_KEEPS_COLUMNS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"})  # statements that never alter a table
_FUNCTION = "__xlr8_rewrite_"  # prefix of the Python scalar functions an INSERT of one BATCH file calls
_LOAD = "__xlr8_load_"  # prefix of the prepared INSERTs of BATCH files (``DuckDBStore._prepared_load``)
#: Prepared INSERTs kept per store: one per stream shape (columns, checks, rewrites); the oldest is dropped beyond.
_LOADS_KEPT = 16


class FastPathRefused(ValueError):
    """A BATCH file needs record-level handling (missing keys, inexact numbers); the transaction rolls back."""


class LongNumbers(FastPathRefused):
    """The file holds a number DuckDB's reader would round (``has_long_number``); found while it was loading."""


class ExactnessCheck:
    """``content_refusal`` of one file, run in a thread while DuckDB loads it: the scan is Python (it holds the
    GIL) and the INSERT runs in DuckDB's threads (which do not), so the scan no longer adds its time before the
    load. The load consults ``exact()`` before its transaction commits; a file found to hold a long number (or a
    NUL) is rolled back and takes the record path, as when it was scanned first. The thread ends with the scan."""

    def __init__(self, path: str, keys: t.Mapping[str, bool] | None = None, numbers: bool = True) -> None:
        self._found: str | None = None
        self._error: BaseException | None = None
        args = (path, keys, numbers)
        self._thread = threading.Thread(target=self._scan, args=args, name="xlr8-number-scan", daemon=True)
        self._thread.start()

    def _scan(self, path: str, keys: t.Mapping[str, bool] | None, numbers: bool) -> None:
        try:
            self._found = content_refusal(path, keys, numbers)
        except BaseException as exc:  # noqa: BLE001 - raised again by exact(), in the loading thread
            self._error = exc

    def exact(self) -> bool:
        """Waits for the scan: True when every number of the file converts exactly through a double (and no
        string holds a NUL)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._found is None

    def reason(self) -> str:
        """What the scan found (after ``exact()`` said False)."""
        return self._found or ""

    def require(self) -> None:
        """Raises LongNumbers (the transaction rolls back) unless the scan found every number exact."""
        if not self.exact():
            raise LongNumbers(self.reason())


def _marking_refusals(slot: list[t.Callable[[t.Any], t.Any]]) -> t.Callable[[t.Any], t.Any]:
    """The function in ``slot`` (the current BATCH file's: a prepared INSERT outlives the file it was prepared for)
    with its FastPathRefused carrying the marker that survives DuckDB's error text."""

    def call(value: t.Any) -> t.Any:
        try:
            return slot[0](value)
        except FastPathRefused as exc:
            raise FastPathRefused(_REFUSED + str(exc)) from None

    return call


@dataclass
class _PreparedLoad:
    """A BATCH file's INSERT prepared once for every file of its shape (``DuckDBStore._prepared_load``): DuckDB
    bound the per-file statement again for each file, 12-13 ms of CPU for 29 Contacts columns (its checks, casts and
    nested selects; the raw ``read_json`` INSERT binds in 1.4 ms). It reads the spool's link to the current file."""

    name: str
    #: column -> the one-element slot its registered function calls (set to the current file's function)
    slots: dict[str, list[t.Callable[[t.Any], t.Any]]]
    functions: list[str]


def _leads_to(link: Path, path: str) -> bool | None:
    """Whether the OS follows ``link`` to ``path``'s file (as DuckDB's open will): on a ``nosymfollow`` mount the
    link is made but following it fails (ELOOP), and every prepared load through it would fail. None when the file
    itself cannot be seen (its own error comes from the read, naming it)."""
    try:
        real = os.stat(path)
    except OSError:
        return None
    try:
        followed = os.stat(link)
    except OSError:
        return False
    return (followed.st_dev, followed.st_ino) == (real.st_dev, real.st_ino)


class StoreLockedError(RuntimeError):
    """Another process (a running engine, another pipeline) holds the DuckDB file."""


@dataclass
class _TableFacts:
    """What this process knows of a data table between its own batch transactions, so that a BATCH file's
    bookkeeping does not rescan the table: its row count, of those the rows marked deleted (``marked``), and a range
    holding the first key column's value of every row (``key``: column, SQL type, lowest, highest; a superset, since
    deletes only narrow the truth). None: unknown, measured when needed. Held only across this store's batch
    transactions (``DuckDBStore.transaction``)."""

    rows: int | None = None
    key: tuple[str, str, t.Any, t.Any] | None = None
    marked: int | None = None


def _size(path: str) -> float:
    """A file's size; infinite when it cannot be read (DuckDB's read then names the problem)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return float("inf")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _read_json_columns(columns: list[Column]) -> str:
    # spooled JSON columns hold JSON text (cast to JSON on insert)
    spec = {c.name: "VARCHAR" if c.kind == "json" else c.sql_type("duckdb") for c in columns}
    spec[SEQ] = "BIGINT"
    return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in spec.items()) + "}"


def has_long_number(path: str, keys: t.Mapping[str, bool] | None = None) -> bool:
    """True when the file holds a number with more than 15 significant digits, one below the double range (1e-400,
    which DuckDB reads as 0; 1.5e-310, as fewer digits), or NaN, Infinity, in one of the properties ``keys`` (every
    property when None): the values DuckDB's reader would round through a double. An integer counts only in a
    property whose ``keys`` value is True (a decimal column, read as a double); in nested JSON (False) DuckDB's text
    keeps its digits, and an integer column is read as text. Runs of [0-9.] holding 16 or more digits and exponents
    of three digits below zero are found with bytes (fast); a line holding one is then decoded, so digits inside
    strings (long ids, phone numbers) and integers elsewhere (epoch microseconds) do not send the whole file down
    the record path. Blocks end at a line end."""
    return _scanned(path, keys, numbers=True, nul=False) is not None


def content_refusal(path: str, keys: t.Mapping[str, bool] | None = None, numbers: bool = True) -> str | None:
    """Why DuckDB's reader must not load the file, from its bytes: ``LONG_NUMBERS`` (``has_long_number``, when
    ``numbers``), or ``NUL_ESCAPE``: a ``\\u0000`` escape, which the record path refuses in a string (RELIABILITY
    F1) and DuckDB's reader lands (a NUL inside nested JSON, or a false match, only costs the record path). A
    search per block (``_SCAN_CHUNK``) in C: a check per string value in SQL cost 4-8% of the load. None: neither."""
    return _scanned(path, keys, numbers=numbers, nul=True)


LONG_NUMBERS = "numbers DuckDB would round"
NUL_ESCAPE = "a NUL escape, which the record path refuses in a string"
_NUL = b"\\u0000"


class BatchFileChanged(OSError):
    """The BATCH file's size changed while it was scanned (rewritten or truncated under the target): what DuckDB
    loaded cannot be trusted, so the file fails as an I/O error does (its transaction rolls back)."""


def _scanned(path: str, keys: t.Mapping[str, bool] | None, numbers: bool, nul: bool) -> str | None:
    # buffered reads into one reused buffer, blocks ending at its last line end: a memory map died of SIGBUS when
    # the file shrank under it, and failed every file where mmap is refused (review21d); page cache is not RSS
    with open(path, "rb", buffering=0) as handle:
        size = os.fstat(handle.fileno()).st_size
        if not size:
            return None
        buffer = bytearray(max(1, min(_SCAN_CHUNK, size)))
        view = memoryview(buffer)
        held = read = 0  # held: the start of a line not yet ended, at the buffer's start
        try:
            while True:
                if held == len(buffer):  # a line longer than the buffer
                    view.release()
                    buffer.extend(bytes(len(buffer)))
                    view = memoryview(buffer)
                got = handle.readinto(view[held:]) or 0
                read += got
                filled = held + got
                end = filled if not got else buffer.rfind(b"\n", 0, filled) + 1
                if end:
                    if nul and _has_nul_escape(buffer, end):
                        return NUL_ESCAPE
                    if numbers and _block_has_long_number(buffer, keys, end):
                        return LONG_NUMBERS
                    view[: filled - end] = view[end:filled]
                held = filled - end
                if not got:
                    break
        finally:
            view.release()
    if read != size:
        raise BatchFileChanged(f"BATCH file {path} changed size while it was scanned ({size} bytes, then {read})")
    return None


def _block_has_long_number(block: bytes | bytearray, keys: t.Mapping[str, bool] | None, end: int = -1) -> bool:
    """A line of the block (its first ``end`` bytes; all when -1) holds a number ``_line_has_long_number`` counts.
    The block is translated whole, once, and each pattern found from its end in C; a line holding one is decoded
    (Salesforce's 15-digit Ids are runs of 15: a pre-pass over every 4th byte, which they passed in every block, cost
    as much as the translation)."""
    end = len(block) if end < 0 else end
    marked = block.translate(_NUMBER_MARKS)
    for pattern in _NUMBER_PATTERNS:
        start = marked.rfind(pattern, 0, end)
        while start >= 0:
            if pattern is _TINY_EXPONENT and not _ends_a_number(marked, start + len(pattern), end):
                start = marked.rfind(pattern, 0, start + len(pattern) - 1)
                continue
            line_start = block.rfind(b"\n", 0, start) + 1
            line_end = block.find(b"\n", start, end)
            if _line_has_long_number(bytes(block[line_start : end if line_end < 0 else line_end]), keys):
                return True
            start = marked.rfind(pattern, 0, line_start)
    return False


def _ends_a_number(marked: bytes | bytearray, at: int, end: int) -> bool:
    """The exponent's digits from ``at`` on end where a JSON number may end (or at the block's end)."""
    while at < end and marked[at] == 0x30:
        at += 1
    return at >= end or marked[at] in _NUMBER_ENDS


def _has_nul_escape(block: bytes | bytearray, end: int = -1) -> bool:
    """True when an escape of the block (its first ``end`` bytes; all when -1) is ``\\u0000``. Escapes are walked
    from backslash to backslash (memchr; most blocks hold none), each escaped character skipped, so an escaped
    backslash followed by ``u0000`` is not one. ``_NUL in block`` cost 12-14 ms per 4 MiB of Salesforce Contacts (its
    last byte, ``0``, is everywhere)."""
    end = len(block) if end < 0 else end
    at = block.find(b"\\", 0, end)
    while at >= 0:
        if block.startswith(_NUL[1:], at + 1, end):
            return True
        at = block.find(b"\\", at + 2, end)
    return False


def _line_has_long_number(line: bytes, keys: t.Mapping[str, bool] | None = None) -> bool:
    try:
        record = loads_exact(line)
    except Exception:  # noqa: BLE001 - an unreadable line is the record path's to report
        return True
    if type(record) is not dict:
        return True
    if keys is None:
        stack = [(value, True) for value in record.values()]
    else:
        stack = [(record[k], integers) for k, integers in keys.items() if k in record]
    while stack:
        value, integers = stack.pop()
        kind = type(value)
        if kind is dict:
            stack.extend((v, integers) for v in value.values())
        elif kind is list:
            stack.extend((v, integers) for v in value)
        elif kind is int:
            if integers and abs(value) >= _SIXTEEN_DIGITS:
                return True
        elif kind is Decimal:  # trailing zeros (81234.5000000000000) add no significant digits
            if not value.is_finite() or len(value.normalize().as_tuple().digits) >= len(_LONG_NUMBER):
                return True
            if value and value.adjusted() < _DOUBLE_LOWEST_EXPONENT:  # 1e-400 reads as 0, 1.5e-310 as fewer digits
                return True
        elif kind is float:  # NaN or Infinity
            return True
    return False


#: Date, time and timestamp texts that Python's ``fromisoformat`` (the record path) and DuckDB's cast read as the same
#: value. Any other spelling sends its file to the record path, which parses it or dead-letters it. DuckDB reads
#: some texts Python refuses: a zero year, hour 24, an offset of 24 hours or more (``+25:00``: another instant),
#: ``infinity``, one-digit months, a zone name. Python reads some texts DuckDB refuses: ``+05``, ``20240101``.
_ISO_DATE = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
_ISO_TIME = "(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:[.][0-9]{1,6})?)?"
_ISO_TEXT = {
    "date": _ISO_DATE,
    "time": _ISO_TIME,
    "timestamp": f"{_ISO_DATE}(?:[T ]{_ISO_TIME}(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?)?",
}
#: The spelling most values of a kind have (the kit's taps write these), checked without the regex (a LIKE of fixed
#: width is a third of its CPU): a year of four digits from 0001 (the text from ``0001`` and below ``:``) and, for
#: a timestamp, an hour below 24. Within that width DuckDB's cast refuses what Python refuses (a month 13, a second
#: 60, a letter), and a refusal sends the file to the record path.
_ISO_COMMON = {"date": "____-__-__", "timestamp": "____-__-__T__:__:__.___Z"}


def _double(source: str) -> str:
    """A number read as JSON text, as a double: the double DuckDB's reader makes of it (both round correctly; 1e-400
    reads 0.0 either way), and NULL for any other JSON value (``"12"`` and ``true``, which a DOUBLE read casts)."""
    return f"TRY_CAST(CAST({source} AS VARCHAR) AS DOUBLE)"


def _outside_lengths(text: str, low: int | None, high: int | None) -> str:
    """SQL true when the string ``text`` has fewer code points than ``low`` or more than ``high`` (DuckDB's
    ``length`` counts code points, as Python's ``len``; a surrogate pair read from ``\\uXXXX`` escapes is one).
    The byte length decides first where it can: a code point is 1-4 bytes."""
    if (low is not None and low < 0) or (high is not None and high < 0):  # a limit that is not an integer
        return f"{text} IS NOT NULL"
    outside = []
    if low:
        outside.append(f"(strlen({text}) < {4 * low} AND length({text}) < {low})")
    if high is not None:
        outside.append(f"(strlen({text}) > {high} AND length({text}) > {high})")
    return " OR ".join(outside) or "FALSE"


def _nested_refused(value: str, nested: NestedTypes, depth: int = 0) -> str:
    """SQL true when the JSON ``value`` holds a nested value of a type its schema does not allow there (``nested``):
    one ``json_type`` of every plain path per value (one parse: 9 paths of a Salesforce address cost ~0.45 us a
    value, as much as one path alone twice), and, per array the schema describes, the same for each element
    (``json_type`` takes no wildcard beside other paths). A path that is absent, or runs through another kind of
    value, reads NULL or no element: allowed, as the validator allows it."""
    refused = []
    x, i, element = f"__xlr8_x{depth}", f"__xlr8_i{depth}", f"__xlr8_e{depth}"
    if nested.paths:
        paths = "[" + ", ".join(_literal(p) for p, _ in nested.paths) + "]"
        allowed = "[" + ", ".join("[" + ", ".join(_literal(n) for n in names) + "]" for _, names in nested.paths) + "]"
        refused.append(
            f"coalesce(list_bool_or(list_transform(json_type({value}, {paths}), lambda {x}, {i}: "
            f"coalesce(NOT list_contains({allowed}[{i}], {x}), FALSE))), FALSE)"
        )
    for path, items in nested.arrays:
        refused.append(
            f"coalesce(list_bool_or(list_transform(json_extract({value}, {_literal(path + '[*]')}), lambda {element}: "
            f"{_nested_refused(element, items, depth + 1)})), FALSE)"
        )
    return " OR ".join(refused) or "FALSE"


def _batch_file_columns(
    columns: list[Column],
    text_decimals: t.Collection[str] = (),
    json_shapes: t.Mapping[str, str] | None = None,
    protected: t.Collection[str] = (),
    not_null: t.Collection[str] = (),
    lengths: t.Mapping[str, tuple[int | None, int | None]] | None = None,
    choices: t.Mapping[str, tuple[str | None, ...]] | None = None,
    nested: t.Mapping[str, NestedTypes] | None = None,
) -> tuple[str, list[str], list[str], list[tuple[str, str]]]:
    """How a BATCH file's columns are read and converted exactly in SQL: the read_json spec, the raw and converted
    expressions, and the conditions marking a row the exact record path must handle instead. Every row the record
    path would dead-letter is marked (RELIABILITY F1: the same input lands the same way by either path), except a
    non-string in a plain string column (read as VARCHAR, ``12`` lands as the text 12); keywords checked neither here
    (lengths, plain strings' enum and const, nested JSON's shape and the types inside it: ``nested``) nor by DuckDB's
    reader keep the stream on the record path (``sinks.TruthsSink._unchecked_keywords``).

    Integers, booleans, numbers and protected (PII) strings are read as JSON text, so a value of another JSON type
    (``"2"`` for an integer or a number, ``true`` for a number, ``2`` for a boolean, ``5`` for a PII string) fails
    its conversion or its check instead of being cast (read as DOUBLE, ``"12"`` landed as 12 and ``true`` as 1).
    Integers keep all their digits as text (no double in between) and must be integers that fit BIGINT. A number's
    text is cast to a double (the double DuckDB's reader makes of it: correctly rounded either way), exact once
    ``has_long_number`` has ruled out 16+ significant digits in a fraction, and must be finite (NaN, Infinity and
    1e400 are dead-lettered). A decimal is cast straight to DECIMAL while value x 10^scale < 2^50 (the cast's double
    arithmetic then rounds correctly), through its shortest text above that (DuckDB's direct cast invents digits
    there), and must convert back to the same double: more places than the scale would round, and that is caught
    here. Dates and timestamps are read as text and must be spelled as ``_ISO_TEXT`` says. A protected string's
    Python protector decodes it (``sinks._from_json_string``). A string of a property declaring ``minLength`` or
    ``maxLength`` (``lengths``: Salesforce and OData give most string fields a ``maxLength``) must have as many code
    points as they allow; a column with no string text here marks every value it holds. A plain string in
    ``choices`` (its ``enum`` or ``const``) must be one of them, compared as the VARCHAR read (a column read
    otherwise marks every row: the sink's ``_unchecked_keywords`` trusts that what it passes is checked)."""
    spec: dict[str, str] = {}
    raw: list[str] = []
    converted: list[str] = []
    bad: list[tuple[str, str]] = []  # (column, condition)
    shapes = json_shapes or {}
    limits = lengths or {}
    for index, column in enumerate(columns):
        source, name = quote(column.source), quote(column.name)
        value = f'"__xlr8_v{index}"'
        text = f'"__xlr8_t{index}"'
        absent = f'"__xlr8_n{index}"'
        limited = limits.get(column.source)
        string: str | None = None  # SQL for the value's text as the record path's string, where one is read
        if column.kind == "decimal" and column.source in text_decimals:
            # x-singer.decimal: a JSON string of plain decimal digits casts exactly when its significant places fit
            # the scale and its integer digits the precision; anything else (a number, an exponent, spaces) is
            # left to the record path
            spec[column.source] = "JSON"
            limit = DECIMAL_PRECISION - column.scale
            raw.append(f"{source} AS {value}")
            converted += [
                value,
                f"CASE WHEN json_type({value}) = 'VARCHAR' THEN {value} ->> '$' END AS {text}",
                f"TRY_CAST({text} AS {column.sql_type('duckdb')}) AS {name}",
            ]
            bad.append(
                (
                    column.name,
                    f"({value} IS NOT NULL AND json_type({value}) <> 'NULL' AND ({text} IS NULL OR {name} IS NULL OR "
                    f"NOT regexp_full_match({text}, '[+-]?[0-9]+([.][0-9]+)?') OR "
                    f"length(rtrim(regexp_extract({text}, '[.]([0-9]+)$', 1), '0')) > {column.scale} OR "
                    f"length(ltrim(regexp_extract({text}, '^[+-]?([0-9]+)', 1), '0')) > {limit}))",
                )
            )
        elif column.kind == "integer":
            # a value whose text is not exactly the BIGINT's (a fraction, 1.0, 1e3, a boolean, a string, 2^63) is
            # left to the record path
            spec[column.source] = "JSON"
            raw.append(f"CAST({source} AS VARCHAR) AS {value}")
            converted += [value, f"TRY_CAST({value} AS BIGINT) AS {name}"]
            exact = f"CAST({name} AS VARCHAR) = {value}"
            bad.append((column.name, f"({value} IS NOT NULL AND ({name} IS NULL OR NOT {exact}))"))
        elif column.kind == "decimal":
            spec[column.source] = "JSON"
            decimal = column.sql_type("duckdb")
            direct_below = float(2**50) / 10**column.scale
            raw += [f"{source} IS NULL AS {absent}", f"{_double(source)} AS {value}"]
            converted += [
                absent,
                value,
                f"CASE WHEN abs({value}) < {direct_below!r} THEN CAST({value} AS {decimal}) "
                f"ELSE TRY_CAST(CAST({value} AS VARCHAR) AS {decimal}) END AS {name}",
            ]
            # not a number (no double), NaN, Infinity and 1e400 (read as inf) do not cast (NULL)
            bad.append((column.name, f"(NOT {absent} AND ({name} IS NULL OR CAST({name} AS DOUBLE) <> {value}))"))
        elif column.kind == "double":
            spec[column.source] = "JSON"
            raw += [f"{source} IS NULL AS {absent}", f"{_double(source)} AS {name}"]
            converted += [absent, name]
            # not a number (no double), NaN, Infinity, 1e400 (read as inf)
            bad.append((column.name, f"(NOT {absent} AND ({name} IS NULL OR NOT isfinite({name})))"))
        elif column.kind == "boolean":
            spec[column.source] = "JSON"
            raw.append(f"CAST({source} AS VARCHAR) AS {value}")
            converted += [value, f"CASE {value} WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE END AS {name}"]
            bad.append((column.name, f"({value} IS NOT NULL AND {name} IS NULL)"))
        elif column.kind in _ISO_TEXT:
            spec[column.source] = "VARCHAR"
            raw.append(f"{source} AS {value}")
            converted += [value, f"TRY_CAST({value} AS {column.sql_type('duckdb')}) AS {name}"]
            spelled = (
                f"(regexp_full_match({value}, {_literal(_ISO_TEXT[column.kind])}) AND NOT starts_with({value}, '0000'))"
            )
            common = _ISO_COMMON.get(column.kind)
            if common is not None:
                hour = f" AND substr({value}, 12, 2) < '24'" if column.kind == "timestamp" else ""
                spelled = (
                    f"CASE WHEN {value} LIKE '{common}' THEN ({value} >= '0001' AND {value} < ':'{hour} "
                    f"AND strpos({value}, ' ') = 0) "
                    f"ELSE {spelled} END"
                )
            bad.append((column.name, f"({value} IS NOT NULL AND ({name} IS NULL OR NOT {spelled}))"))
            string = value
        elif column.name in protected:
            spec[column.source] = "JSON"
            raw.append(f"CAST({source} AS VARCHAR) AS {name}")
            converted.append(name)
            if limited is not None:  # the plaintext's length; a value that is not a string is the protector's
                raw.append(f"{source} ->> '$' AS {text}")
                converted.append(text)
                string = text
        else:
            spec[column.source] = column.sql_type("duckdb")
            raw.append(f"{source} AS {name}")
            converted.append(name)
            if column.kind == "text":
                other = ""
                allowed = (choices or {}).get(column.source)
                if allowed is not None:  # null (or absent: read alike) is marked unless the enum lists it
                    texts = [_literal(v) for v in allowed if v is not None]
                    listed = f"{name} NOT IN ({', '.join(texts)})" if texts else "TRUE"
                    other = (
                        f" OR ({name} IS NOT NULL AND {listed})"
                        if None in allowed
                        else f" OR {name} IS NULL OR {listed}"
                    )
                too_long = f"strlen({name}) > {MAX_FIELD_BYTES}"  # NUL: ``content_refusal``
                bad.append((column.name, f"({too_long}{other})" if other else too_long))
                string = name
            elif column.kind == "json":
                refused = []
                if column.source in shapes:
                    starts = " OR ".join(
                        f"starts_with(CAST({name} AS VARCHAR), {_literal(c)})" for c in shapes[column.source]
                    )
                    refused.append(f"NOT ({starts})")
                if column.source in (nested or {}):
                    refused.append(_nested_refused(name, (nested or {})[column.source]))
                if refused:
                    bad.append((column.name, " OR ".join(f"({r})" for r in refused)))
        if column.source in (choices or {}) and string != name:  # not compared above: every row to the record path
            bad.append((column.name, "TRUE"))
        if limited is not None:
            # a non-string in a plain string column reads as its text (the string gap): the validator refuses it
            outside = (
                _outside_lengths(string, *limited)
                if string is not None
                else f"{raw[-1].rsplit(' AS ', 1)[1]} IS NOT NULL"
            )
            condition = bad[-1][1] if bad and bad[-1][0] == column.name else None
            if condition is not None:
                bad[-1] = (column.name, f"({condition} OR {outside})")
            else:
                bad.append((column.name, f"({outside})"))
        if column.source in not_null:  # null, or absent (DuckDB reads both as NULL): the validator decides
            bad.append((column.name, f"{raw[-1].rsplit(' AS ', 1)[1]} IS NULL"))
    literal = "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in spec.items()) + "}"
    return literal, raw, converted, bad


def _batch_columns(columns: list[Column], batch: Batch) -> tuple[str, list[str], list[str], list[tuple[str, str]]]:
    """``_batch_file_columns`` with what the sink knows of the stream's properties (``Batch``); the dropped columns
    (``Batch.checked``) are read after the stored ones, for their checks alone (the callers project ``columns``)."""
    return _batch_file_columns(
        [*columns, *batch.checked],
        batch.text_decimals,
        batch.json_shapes,
        batch.protected,
        batch.not_null,
        batch.lengths,
        batch.choices,
        batch.nested,
    )


class DuckDBStore(Store):
    dialect = "duckdb"
    rows_type = RowLines
    sole_writer = True  # the file's lock: one writing process

    def __init__(
        self,
        path: str,
        run: RunContext,
        spool: Spool,
        profile_interval_seconds: float = 300.0,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        batch_memory_limit: str | None = None,
    ) -> None:
        super().__init__(run, profile_interval_seconds)
        self.path = path
        #: the buffer pool for record batches (False) and for BATCH files (True); ``_use_pool`` switches between them
        self._pools = {False: memory_limit, True: batch_memory_limit or memory_limit}
        self._pool = memory_limit
        self.spool = spool
        self._functions = 0  # scalar functions and prepared loads so far (each gets its own name)
        #: prepared BATCH-file INSERTs by statement shape, least recently used first (``_prepared_load``)
        self._loads: dict[str, _PreparedLoad] = {}
        #: this store's link to the BATCH file at hand (``_linked``): its own random name, since two targets may share a
        #: spool directory (one volume, the same PID in two containers) and a fixed name let one read the other's file
        self._link = f"batch-{secrets.token_hex(8)}.jsonl"
        self._links_followed = True  # False once a link was made but did not lead to its file (a nosymfollow mount)
        #: ``table_columns`` answers, kept until a statement that may change a table's columns (any statement that is
        #: not SELECT/INSERT/UPDATE/DELETE/WITH) or a rollback; this process is the file's only writer.
        self._columns: dict[str, dict[str, str]] = {}
        #: the temporary tables of replaced sets made in this connection (``_replaced_sets_table``)
        self._sets_tables: set[str] = set()
        #: ``_TableFacts`` of the committed tables, and those the open batch transaction will commit
        self._facts: dict[str, _TableFacts] = {}
        self._pending: dict[str, _TableFacts] = {}
        self._in_batch = False
        self._joined = False  # inside ``one_commit``: batch transactions join its transaction
        #: rows each table gained since the last checkpoint (``_checkpoint_by_rows``)
        self._unwritten: dict[str, int] = {}
        #: (table, rows) whose count made a checkpoint due at the last commit; ``checkpoint_if_due`` runs it
        self._due: tuple[str, int] | None = None
        self._wal = Path(f"{Path(path).expanduser()}.wal")
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        try:
            # a bounded buffer pool: large batches spill to disk instead of growing the process
            # insertion order preserved (DuckDB's default, relied on: BATCH rows keep their file's line order)
            self.con = duckdb.connect(
                str(Path(path).expanduser()),
                config={
                    "memory_limit": memory_limit,
                    "preserve_insertion_order": True,
                    "checkpoint_threshold": CHECKPOINT_THRESHOLD,
                },
            )
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise StoreLockedError(
                    f"DuckDB file {path} is locked by another process (a running XLR8 engine or another pipeline); "
                    "DuckDB allows one writer. Stop that process, or set delivery to 'postgres' (many pipelines at "
                    "once) or 'upload' (send to the running engine's /api/upload)."
                ) from None
            raise
        #: DuckDB's threads as it opened (its default: one per core), and as set now (``_use_threads``)
        threads = self.con.execute("SELECT current_setting('threads')").fetchone()
        self._threads = self._threads_now = int(threads[0]) if threads else 1

    def execute(self, sql: str, params: t.Sequence[t.Any] | None = None) -> None:
        self._forget_columns_before(sql)
        self.con.execute(sql, list(params) if params is not None else None)

    def execute_count(self, sql: str, params: t.Sequence[t.Any] | None = None) -> int:
        row = self.fetchone(sql, params)  # DuckDB answers an UPDATE or DELETE with its count
        return int(row[0]) if row else 0

    def fetchall(self, sql: str, params: t.Sequence[t.Any] | None = None) -> list[tuple[t.Any, ...]]:
        self._forget_columns_before(sql)
        return self.con.execute(sql, list(params) if params is not None else None).fetchall()

    def _forget_columns_before(self, sql: str) -> None:
        if self._columns and (sql.lstrip()[:7].split(maxsplit=1) or [""])[0].upper() not in _KEEPS_COLUMNS:
            self._columns.clear()

    def table_columns(self, table: str) -> dict[str, str]:
        """As ``Store.table_columns`` (the same rows: information_schema.columns is a view over this), read from
        ``duckdb_columns()`` directly, and kept until a statement may change them (``_columns``): every batch
        asks, and the catalog scan costs a few milliseconds."""
        known = self._columns.get(table)
        if known is None:
            rows = self.fetchall(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? "
                "AND schema_name = current_schema() ORDER BY column_index",
                [table],
            )
            known = self._columns[table] = {str(name): str(kind) for name, kind in rows}
        return dict(known)

    def _replaced_sets_table(self, name: str, listed: str, table: str) -> None:
        """As ``Store._replaced_sets_table``, its statement run once per stream, not per batch: the CREATE, as any
        DDL, empties the column cache (``_forget_columns_before``), a catalog scan (~3 ms) on the next batch of a
        BATCH-file load. ``_sets_tables`` names the ones made, forgotten with the column cache on a rollback or a
        failed commit (a CREATE rolled back with its batch is run again)."""
        if name in self._sets_tables:
            return
        super()._replaced_sets_table(name, listed, table)
        self._sets_tables.add(name)

    def _drop_sets_table(self, name: str) -> None:
        """As ``Store._drop_sets_table``, the name forgotten by ``_sets_tables`` too: kept there, the next
        ``_replaced_sets_table`` of it skipped the CREATE and its first statement found no table (the cause of the
        "Table __xlr8_kept_... does not exist" c7fadaa4 met, pinned by review29b: this memo, not DuckDB)."""
        super()._drop_sets_table(name)
        self._sets_tables.discard(name)

    def tables_columns(self, tables: list[str]) -> dict[str, dict[str, str]]:
        """As ``Store.tables_columns``, from one catalog scan for all of them (each scan costs ~3 ms: the start-up
        asked five times), kept as ``table_columns`` keeps its answers."""
        missing = [table for table in tables if table not in self._columns]
        if missing:
            found: dict[str, dict[str, str]] = {table: {} for table in missing}
            rows = self.fetchall(
                "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE table_name IN "  # noqa: S608
                f"({', '.join('?' for _ in missing)}) AND schema_name = current_schema() ORDER BY column_index",
                missing,
            )
            for table, name, kind in rows:
                found[str(table)][str(name)] = str(kind)
            self._columns.update(found)
        return {table: dict(self._columns[table]) for table in tables}

    @contextmanager
    def transaction(self) -> t.Iterator[None]:
        """One transaction. ``_facts`` hold only across batch transactions (``write_batch``): any other one (a
        version switch, retention, an archive, a test's own statements) may change a table, so they are forgotten;
        a batch's own facts count once it commits, and all are forgotten when a commit fails."""
        if self._joined:  # part of ``one_commit``'s transaction: it commits or rolls back
            self._pending.clear()
            yield
            return
        if not self._in_batch:
            self._facts.clear()
        self._pending.clear()
        self.con.begin()
        try:
            yield
        except BaseException:
            self._columns.clear()  # a rolled-back ALTER or CREATE no longer holds
            self._sets_tables.clear()
            self._pending.clear()
            self.con.rollback()
            self._forget_loads()
            raise
        try:
            self.con.commit()
        except BaseException:
            self._columns.clear()
            self._sets_tables.clear()
            self._facts.clear()
            self._pending.clear()
            self._forget_loads()
            raise
        if self._in_batch:
            self._facts.update(self._pending)
        self._pending.clear()

    @contextmanager
    def one_commit(self) -> t.Iterator[None]:
        """As ``Store.one_commit``: DuckDB has no savepoints, so the batches' ``transaction`` joins this one
        (``_joined``), and no checkpoint runs inside it (``checkpoint_if_due`` keeps it due). Only the outermost
        one commits or rolls back, so only it puts back the store's memos (``_memos``)."""
        memos = None if self._joined else self._memos()
        try:
            with self.transaction():
                joined, self._joined = self._joined, True  # nested (a message's file record by record): still joined
                try:
                    yield
                finally:
                    self._joined = joined
        except BaseException:
            if memos is not None:
                self._restore_memos(memos)
            raise

    def _memos(self) -> tuple[t.Any, ...]:
        """As ``Store._memos``, and the rows since the last checkpoint (``_checkpoint_by_rows``)."""
        return (*super()._memos(), dict(self._unwritten), self._due)

    def _restore_memos(self, memos: tuple[t.Any, ...]) -> None:
        super()._restore_memos(memos[:-2])
        self._unwritten, self._due = memos[-2:]

    @property
    def joined(self) -> bool:
        """Inside ``one_commit``: a batch that fails leaves what came before it in the open transaction."""
        return self._joined

    def write_batch(self, batch: Batch) -> int:
        """As ``Store.write_batch``, in the pool for its kind of batch (``_use_pool``). A checkpoint that an earlier
        batch made due and that nothing ran since (``checkpoint_if_due``) runs first."""
        self.checkpoint_if_due()
        self._use_pool(bool(batch.files))
        self._use_threads(batch.files)
        self._in_batch = True
        try:
            loaded = super().write_batch(batch)
        finally:
            self._in_batch = False
        self._checkpoint_by_rows(batch.info.table_name, loaded)
        return loaded

    def _checkpoint_by_rows(self, table: str, rows: int) -> None:
        """Makes a checkpoint due once a table has gained ``CHECKPOINT_ROWS`` since the last checkpoint, DuckDB's
        own (at ``CHECKPOINT_THRESHOLD`` of WAL: an empty WAL after the commit) or this store's, so that its rows
        are written in row groups no later checkpoint merges. It runs later (``checkpoint_if_due``), once the STATE
        that follows the batch has gone out: a kill during the checkpoint (0.2 s at 100,000 Contacts) then finds
        the batch's STATE relayed, where before it made the rerun load that committed file again (twice, for a
        stream without a key)."""
        try:
            checkpointed = self._wal.stat().st_size == 0
        except FileNotFoundError:
            checkpointed = True
        if checkpointed:
            self._unwritten.clear()
            self._due = None
            return
        unwritten = self._unwritten[table] = self._unwritten.get(table, 0) + rows
        if unwritten >= CHECKPOINT_ROWS:
            self._due = (table, unwritten)

    def checkpoint_if_due(self) -> None:
        """The checkpoint ``_checkpoint_by_rows`` made due, if any: called by the target once it has relayed the
        STATE after the batch, and before the next batch. The batches before are committed (in the WAL) whatever it
        does: an ordinary error (say out of memory) keeps the count and the next batch tries again; a fatal one (the
        file cannot grow: too large, disk full) invalidates the database, so it is logged with DuckDB's text (the
        file and the OS error, never row values) and the next statement stops the run."""
        if self._due is None or self._joined:
            return
        table, unwritten = self._due
        self._due = None
        hold(CHECKPOINT_ENV)
        try:
            self.con.execute("CHECKPOINT")
        except duckdb.FatalException as exc:
            log.error(
                "DuckDB's checkpoint after %d rows of %s failed and invalidated the database: %s. The batches before "
                "are committed (in the WAL); the run stops at the next statement.",
                unwritten,
                table,
                exc,
            )
            return
        except duckdb.Error as exc:
            log.warning("DuckDB did not checkpoint after %d rows of %s: %s", unwritten, table, type(exc).__name__)
            return
        self._unwritten.clear()

    def _rename(self, table: str, to: str, owner: str | None = None) -> None:
        """As ``Store._rename`` (an archive, an adopted table); the rows the table gained since the last checkpoint
        go with it (row groups are per table), so a new table under the old name counts from nothing
        (``_checkpoint_by_rows``), and a checkpoint they made due names the new name (its failure was logged under
        the old one)."""
        super()._rename(table, to, owner)
        if table in self._unwritten:
            self._unwritten[to] = self._unwritten.pop(table)
        if self._due is not None and self._due[0] == table:
            self._due = (to, self._due[1])

    def _row_count(self, table: str) -> int:
        """The current rows, from the counts ``insert_files`` kept (the committed counts, plus rows inserted, less
        rows deleted; rows marked deleted likewise), or counted; a table this transaction loaded otherwise (staged
        and merged) has its key range forgotten."""
        facts = self._pending.get(table)
        if facts is None:
            facts = self._pending[table] = _TableFacts()
        if facts.rows is None or facts.marked is None:
            facts.rows, facts.marked = self.row_counts(table)
        return facts.rows - facts.marked

    def _use_pool(self, files: bool) -> None:
        """BATCH files load in the larger pool and record batches in the smaller one. The pool changes only when the
        kind of batch changes, between transactions (nothing is pinned then, so DuckDB can evict down to a lower
        limit; a refusal is logged and the run goes on, in the larger pool)."""
        self._pool = self._switch("memory_limit", self._pool, self._pools[files])

    def _use_threads(self, files: list[str]) -> None:
        """One DuckDB thread for BATCH files that each fit in the JSON reader's buffer (``_READER_BUFFER``: a
        10,000-record Account-width file is ~9 MB), all of DuckDB's threads for anything else. The reader gives a
        file to its threads a buffer at a time, so such a file is read, checked and inserted by one thread while
        the other waits: a second thread saves no time there, yet it holds its own buffers in the BATCH pool,
        whose evictions give pages back to the kernel that the next file faults in again. On one thread the
        target loaded 500,000 Contacts with 0.85-0.92 of the CPU and 200,000 Accounts with 0.91-0.94, in no more
        wall (bench/README, session 25). Changed only when it changes, between batches as the pool (``_use_pool``);
        a refusal is logged and the run goes on."""
        one = bool(files) and all(_size(path) <= _READER_BUFFER for path in files)
        self._threads_now = int(self._switch("threads", str(self._threads_now), "1" if one else str(self._threads)))

    def _switch(self, setting: str, now: str, wanted: str) -> str:
        """DuckDB's ``setting`` set to ``wanted`` where it is ``now`` another value; what it holds after (a refusal
        is logged and the run goes on with ``now``)."""
        if wanted == now:
            return now
        try:
            self.con.execute(f"SET {setting} = {_literal(wanted)}")
        except duckdb.Error as exc:
            log.warning("DuckDB kept its %s at %s instead of %s: %s", setting, now, wanted, exc)
            return now
        return wanted

    def stage(self, name: str, columns: list[Column], batch: Batch) -> None:
        if batch.files:
            self._stage_files(name, columns, batch)
            return
        spec = _read_json_columns(columns)
        with self.spool.file(".jsonl") as (fd, path):
            with os.fdopen(fd, "wb") as out:
                rows = batch.rows
                out.write(rows.data if isinstance(rows, RowLines) else _ROW_ENCODER.encode_lines(rows))
            hold(SPOOL_ENV)
            self.execute(
                f"CREATE TEMP TABLE {name} AS SELECT * FROM read_json({_literal(str(path))}, "  # noqa: S608
                f"format='newline_delimited', columns={spec}, maximum_object_size={MAX_OBJECT})"
            )

    def _stage_files(self, name: str, columns: list[Column], batch: Batch) -> None:
        """One read of each file: values converted exactly in SQL; any row that needs the record path (an inexact
        or non-integral number, a missing key) refuses the whole file before anything is written. Long numbers are
        ruled out before the commit (``Batch.exactness``): the conversions are only exact below 16 digits."""
        spec, raw, converted, bad = _batch_columns(columns, batch)
        flags = "".join(f", {condition} AS {BAD_ROW}{i}" for i, (_, condition) in enumerate(bad))
        names = ", ".join(quote(c.name) for c in columns)
        for index, path in enumerate(batch.files):
            # BATCH files carry no sequence: file and line order stand in for it
            select = (
                f"SELECT {names}, CAST({index * _FILE_SEQ_STRIDE} + seq AS BIGINT) AS {SEQ}{flags} "  # noqa: S608
                f"FROM (SELECT {', '.join(converted)}, seq FROM (SELECT {', '.join(raw)}, row_number() OVER () AS seq "
                f"FROM read_json({_literal(path)}, format='newline_delimited', columns={spec}, "
                f"maximum_object_size={MAX_OBJECT})))"
            )
            self.execute(f"CREATE TEMP TABLE {name} AS {select}" if index == 0 else f"INSERT INTO {name} {select}")
        if batch.exactness is not None:
            batch.exactness.require()
        keys = batch.info.key_columns
        missing = " OR ".join(f"{quote(k)} IS NULL" for k in keys) or "FALSE"
        counts = "".join(f", COUNT(*) FILTER ({BAD_ROW}{i})" for i in range(len(bad)))
        row = self.fetchone(f"SELECT COUNT(*) FILTER ({missing}){counts} FROM {name}")  # noqa: S608
        if row and int(row[0]):
            raise FastPathRefused(f"{int(row[0])} rows lack a key: they go through the record path")
        inexact = {column: int(n) for (column, _), n in zip(bad, (row or ())[1:], strict=False) if n}
        if inexact:
            where = ", ".join(f"{column} {n}" for column, n in inexact.items())
            raise FastPathRefused(f"rows holding values SQL cannot convert exactly ({where}): record path")
        extracted = next((c for c in columns if c.source == "_sdc_extracted_at"), None)
        if extracted is not None and batch.extracted is not None:
            self.execute(
                f"UPDATE {name} SET {quote(extracted.name)} = ? WHERE {quote(extracted.name)} IS NULL",  # noqa: S608
                [batch.extracted],
            )
        if batch.rewrite:
            self._rewrite_stage(name, batch.rewrite)

    def _rewrite_stage(
        self, name: str, rewrite: dict[str, tuple[str, t.Callable[[t.Any], t.Any]]], rows: str = "TRUE"
    ) -> None:
        """Columns of a staged BATCH file (or of the rows ``rows`` selects in the stored table, for a file loaded in
        place) that the record path writes through Python (PII protected, nested JSON with fractions) rewritten
        column-wise before the transaction commits: the rows matching the column's condition are read out in
        blocks, passed through the same function the record path applies, spooled (ciphertext only, for PII) and
        written back by row id."""
        qn = quote(name)
        for column, (condition, function) in rewrite.items():
            cursor = self.con.execute(
                f"SELECT rowid, {quote(column)} FROM {qn} WHERE {rows} AND {condition}"  # noqa: S608
            )
            with self.spool.file(".jsonl") as (fd, path):
                with os.fdopen(fd, "wb") as out:
                    while block := cursor.fetchmany(_REWRITE_BLOCK):
                        out.write(_ROW_ENCODER.encode_lines([{"r": r, "v": function(v)} for r, v in block]))
                self.execute(
                    f"CREATE TEMP TABLE __xlr8_rewritten AS SELECT * FROM read_json({_literal(str(path))}, "  # noqa: S608
                    "format='newline_delimited', columns={'r': 'BIGINT', 'v': 'VARCHAR'})"
                )
            self.execute(
                f"UPDATE {qn} SET {quote(column)} = p.v FROM __xlr8_rewritten AS p WHERE {qn}.rowid = p.r"  # noqa: S608
            )
            self.execute("DROP TABLE __xlr8_rewritten")

    def insert_files(self, table: str, stored: list[Column], batch: Batch) -> int | None:
        """A BATCH file read by DuckDB straight into the stored table: one read, no staging copy. Rows that need
        the record path (a missing key, a value SQL cannot convert exactly) stop the INSERT with ``error()``, and
        the transaction rolls back (FastPathRefused). The new rows are then upserted as ``_merge`` upserts a stage:
        older rows holding one of their keys are deleted, then all but the last of the file's rows per key (rows
        of this transaction have higher row ids than every committed row, in file order), then, with
        ``hard_delete``, the new rows marked deleted.

        Values the record path writes through Python (``Batch.rewrite``: PII protected, nested JSON with
        fractions) are passed through the same functions inside the INSERT, as DuckDB scalar functions applied to
        each row's own value: no second read, no UPDATE, and plaintext PII exists only in the read's vectors, never
        in a table. A file whose key column is itself protected is staged instead (``_stage_files``)."""
        keys = batch.info.key_columns
        if batch.private and batch.protected & set(keys):
            return None
        qt = quote(table)
        kinds = {c.name: c.sql_type(self.dialect) for c in stored}
        spec, raw, converted, bad = _batch_columns(batch.columns, batch)
        checks = [(f"{quote(k)} IS NULL", "rows lack a key: they go through the record path") for k in keys]
        checks += [
            (condition, f"rows holding values SQL cannot convert exactly ({column}): record path")
            for column, condition in bad
        ]
        guard = " ".join(f"WHEN {condition} THEN error({_literal(_REFUSED + why)})" for condition, why in checks)
        column_list = ", ".join(quote(c.name) for c in batch.columns)
        extracted = batch.extracted
        # EXECUTE takes literals only: the file's time as a TIMESTAMPTZ literal, exact for an aware datetime (the
        # BATCH path's file time, in UTC); any other value is passed to the statement per file as a parameter
        stamped = extracted is not None and any(c.source == "_sdc_extracted_at" for c in batch.columns)
        arguments = None
        if not stamped:
            arguments = ""
        elif isinstance(extracted, dt.datetime) and extracted.tzinfo is not None:
            arguments = f"(TIMESTAMPTZ {_literal(extracted.isoformat())})"

        def insert(path: str, functions: t.Mapping[str, str], parameter: str) -> str:
            projected = []
            for column in batch.columns:
                value = quote(column.name)
                if column.name in functions:
                    condition = batch.rewrite[column.name][0]
                    value = f"CASE WHEN {condition} THEN {functions[column.name]}(CAST({value} AS VARCHAR)) END"
                    if column.name not in batch.protected:  # nested JSON without fractions stays as DuckDB read it
                        value = f"COALESCE({value}, {quote(column.name)})"
                if column.source == "_sdc_extracted_at" and stamped:
                    value = f"COALESCE({value}, {parameter})"
                projected.append(f"CAST({value} AS {kinds[column.name]})")
            return (
                f"INSERT INTO {qt} ({column_list}) SELECT {', '.join(projected)} FROM (SELECT "  # noqa: S608
                f"{', '.join(converted)} FROM (SELECT {', '.join(raw)} FROM read_json({_literal(path)}, "
                f"format='newline_delimited', columns={spec}, maximum_object_size={MAX_OBJECT})))"
                + (f" WHERE CASE {guard} ELSE TRUE END" if guard else "")
            )

        before = (self.fetchone(f"SELECT MAX(rowid) FROM {qt}") or (None,))[0]  # noqa: S608
        new = "TRUE" if before is None else f"rowid > {int(before)}"
        loaded = 0
        for path in batch.files:
            named = ""  # the link DuckDB reads, which its errors name
            try:
                with self._linked(path) as link:
                    if link is not None and arguments is not None:
                        named = str(link)

                        def statement(names: t.Mapping[str, str], at: str = named) -> str:
                            return insert(at, names, "$1")

                        load = self._prepared_load(statement, batch.rewrite)
                        # EXECUTE of an INSERT alters no table's columns: not through ``fetchall``, whose
                        # statement check would forget them (``_columns``)
                        row = self.con.execute(f"EXECUTE {load.name}{arguments}").fetchone()
                    else:  # no link here (none made, or not followed): the statement per file
                        functions = self._register_rewrites(batch.rewrite)
                        try:
                            row = self.fetchone(insert(path, functions, "?"), [extracted] if stamped else [])
                        finally:
                            for name in functions.values():
                                with contextlib.suppress(duckdb.Error):
                                    self.con.remove_function(name)
            except duckdb.Error as exc:  # the transaction is rolled back (``transaction`` forgets prepared loads)
                if _REFUSED not in str(exc):
                    if not named or named not in str(exc):
                        raise
                    # DuckDB named the link, gone with the spool: the operator is told the BATCH file instead
                    raise type(exc)(str(exc).replace(named, path)) from exc
                raise FastPathRefused(str(exc).split(_REFUSED, 1)[1].splitlines()[0]) from None
            loaded += int(row[0]) if row else 0
        if batch.exactness is not None:  # the scan ran while DuckDB read the file; it decides before the commit
            batch.exactness.require()
        committed = self._facts.get(table) or _TableFacts()
        older = "FALSE" if before is None else f"rowid <= {int(before)}"
        replaced = self.replaced
        deleted = self._replace_sets(batch.info, f"(SELECT * FROM {qt} WHERE {new})", older, batch.hard_delete)  # noqa: S608
        marked_now = self.replaced - replaced - deleted  # older rows of re-read sets marked deleted
        older_deleted = deleted
        key: tuple[str, str, t.Any, t.Any] | None = None
        if keys:
            partition = ", ".join(quote(k) for k in keys)
            first = quote(keys[0])
            # one grouping of the new rows: keys that repeat, and the range of the first key column
            row = self.fetchone(
                f"SELECT COUNT(*) FILTER (WHERE n > 1), MIN(k), MAX(k) FROM (SELECT {first} AS k, COUNT(*) AS n "  # noqa: S608
                f"FROM {qt} WHERE {new} GROUP BY {partition}) AS g"
            )
            repeated, low, high = row if row else (0, None, None)
            key = self._key_range(table, keys[0], kinds.get(keys[0], ""), committed, before, low, high)
            if before is not None and not self._apart(committed, key, low, high):
                match = " AND ".join(f"n.{quote(k)} = o.{quote(k)}" for k in keys)
                gone = self._deleted(
                    f"DELETE FROM {qt} AS o WHERE o.rowid <= {int(before)} AND EXISTS "  # noqa: S608
                    f"(SELECT 1 FROM {qt} AS n WHERE n.{new} AND {match})"
                )
                deleted += gone
                older_deleted += gone
            if repeated:  # the last record of the file wins
                deleted += self._deleted(
                    f"DELETE FROM {qt} WHERE rowid IN (SELECT rowid FROM (SELECT rowid, ROW_NUMBER() OVER "  # noqa: S608
                    f"(PARTITION BY {partition} ORDER BY rowid DESC) AS rn FROM {qt} WHERE {new}) AS r "
                    "WHERE rn > 1)"
                )
        if batch.hard_delete and "_sdc_deleted_at" in kinds:
            deleted += self._deleted(
                f"DELETE FROM {qt} WHERE {new} AND {quote('_sdc_deleted_at')} IS NOT NULL"  # noqa: S608
            )
        rows, marked = committed.rows, committed.marked
        if rows is not None and (before is None) != (rows == 0):  # not as this store left it: counted instead
            rows = marked = None
        if marked is not None and older_deleted and marked + marked_now:
            marked = None  # older rows deleted may have been marked ones: counted when needed
        elif marked is not None:
            # older rows of re-read sets marked: marked in the table whatever this file's columns (review26c L4)
            marked += marked_now
            if DELETED_MARK in kinds:  # the new rows that arrived marked deleted, and stayed
                arrived = self.fetchone(f"SELECT COUNT({quote(DELETED_MARK)}) FROM {qt} WHERE {new}")  # noqa: S608
                marked += int(arrived[0] if arrived else 0)
        self._pending[table] = _TableFacts(None if rows is None else rows + loaded - deleted, key, marked)
        return loaded

    def _deleted(self, sql: str) -> int:
        """Runs a DELETE; the rows it deleted."""
        row = self.fetchone(sql)
        return int(row[0]) if row else 0

    def _key_range(
        self,
        table: str,
        column: str,
        kind: str,
        committed: _TableFacts,
        before: int | None,
        low: t.Any,
        high: t.Any,
    ) -> tuple[str, str, t.Any, t.Any] | None:
        """The first key column's range over the committed rows and this file's (``_TableFacts.key``), measured
        once when not known (or known for another column or type); None when its values do not compare in Python
        as in DuckDB (only text, compared by code point as DuckDB compares UTF-8 bytes, and integers do)."""
        if type(low) not in (str, int) or type(high) is not type(low):
            committed.key = None
            return None
        known = committed.key
        if known is None or known[:2] != (column, kind):
            if before is None:  # the table held no rows before this file
                known = (column, kind, low, high)
            else:
                row = self.fetchone(
                    f"SELECT MIN({quote(column)}), MAX({quote(column)}) FROM {quote(table)} "  # noqa: S608
                    f"WHERE rowid <= {int(before)}"
                )
                old_low, old_high = row if row else (None, None)
                if type(old_low) is not type(low) or type(old_high) is not type(low):
                    committed.key = None
                    return None
                known = (column, kind, old_low, old_high)
            committed.key = known
        return (column, kind, min(known[2], low), max(known[3], high))

    @staticmethod
    def _apart(committed: _TableFacts, key: tuple[str, str, t.Any, t.Any] | None, low: t.Any, high: t.Any) -> bool:
        """True when no committed row can hold a key of this file: the file's first-key range lies wholly outside
        the committed rows' (the upsert's DELETE, a scan of the whole table, then has nothing to find)."""
        known = committed.key
        if key is None or known is None or type(low) is not type(known[2]):
            return False
        return bool(high < known[2] or low > known[3])

    def _register_rewrites(
        self,
        rewrites: dict[str, tuple[str, t.Callable[[t.Any], t.Any]]],
        slots: dict[str, list[t.Callable[[t.Any], t.Any]]] | None = None,
    ) -> dict[str, str]:
        """Each rewrite's function as a DuckDB scalar function (text in, text out, NULL passed through), named per
        call; a value it refuses raises with the marker ``insert_files`` turns into FastPathRefused. With ``slots``,
        each calls the function its column's slot holds (filled here; a prepared load refills it per file)."""
        names: dict[str, str] = {}
        for column, (_, function) in rewrites.items():
            self._functions += 1
            name = f"{_FUNCTION}{self._functions}"
            slot = [function] if slots is None else slots.setdefault(column, [function])
            # side effects: every call runs (encryption draws a fresh nonce per value; nothing is folded or reused)
            self.con.create_function(name, _marking_refusals(slot), ["varchar"], "varchar", side_effects=True)
            names[column] = name
        return names

    @contextmanager
    def _linked(self, path: str) -> t.Iterator[Path | None]:
        """A symbolic link in the spool to the BATCH file, for as long as DuckDB reads it: the prepared load always
        reads this path. None where links cannot be made, or are made but not followed (a ``nosymfollow`` mount):
        the statement per file then, for the rest of the run."""
        if not self._links_followed:
            yield None
            return
        link = self.spool.dir / self._link
        try:
            os.symlink(os.path.abspath(path), link)  # fails if the name exists: never repoint a link not ours
        except (OSError, NotImplementedError):
            yield None
            return
        try:
            leads = _leads_to(link, path)
            if leads is None:
                yield None
                return
            if not leads:
                self._links_followed = False
                log.warning(
                    "The spool's symbolic links are not followed (%s; a nosymfollow mount?): BATCH files are read "
                    "through a statement per file for the rest of this run",
                    self.spool.dir,
                )
                yield None
                return
            yield link
        finally:
            with contextlib.suppress(FileNotFoundError):
                link.unlink()

    def _prepared_load(
        self,
        statement: t.Callable[[t.Mapping[str, str]], str],
        rewrites: dict[str, tuple[str, t.Callable[[t.Any], t.Any]]],
    ) -> _PreparedLoad:
        """The prepared INSERT ``statement(function names)`` is, prepared (and its functions registered) the first
        time its shape is asked for, with each rewrite's slot set to this file's function. DuckDB binds a prepared
        statement again by itself when the catalog changed (a column added, a table replaced)."""
        shape = statement({column: _FUNCTION for column in rewrites})
        load = self._loads.pop(shape, None)
        if load is None:
            slots: dict[str, list[t.Callable[[t.Any], t.Any]]] = {}
            functions = self._register_rewrites(rewrites, slots)
            self._functions += 1
            load = _PreparedLoad(f"{_LOAD}{self._functions}", slots, list(functions.values()))
            self.con.execute(f"PREPARE {load.name} AS {statement(functions)}")
            while len(self._loads) >= _LOADS_KEPT:
                self._drop_load(self._loads.pop(next(iter(self._loads))))
        for column, (_, function) in rewrites.items():
            load.slots[column][0] = function
        self._loads[shape] = load  # the most recently used last
        return load

    def _drop_load(self, load: _PreparedLoad) -> None:
        """A prepared load and its functions gone (after a rollback they may be gone already)."""
        with contextlib.suppress(duckdb.Error):
            self.con.execute(f"DEALLOCATE {load.name}")
        for name in load.functions:
            with contextlib.suppress(duckdb.Error):
                self.con.remove_function(name)
        load.slots.clear()

    def _forget_loads(self) -> None:
        """Every prepared load dropped: a rollback takes back the functions registered in its transaction."""
        while self._loads:
            self._drop_load(self._loads.popitem()[1])

    def exactness_check(self, path: str, keys: t.Mapping[str, bool]) -> ExactnessCheck:
        """The scan for NUL escapes, and for numbers a double would round in the properties ``keys`` if any
        (``content_refusal``; checked again value by value in SQL), started in a thread to run while DuckDB loads
        the file (``Batch.exactness``)."""
        return ExactnessCheck(path, keys, numbers=bool(keys))

    def close(self) -> None:
        self.con.close()
