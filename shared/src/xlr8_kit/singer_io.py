"""Faster Singer I/O for every tap, byte-identical to the SDK's own output.

- ``loads_exact``: a response body parsed with numbers that have a fraction as ``Decimal`` (what
  ``json.loads(parse_float=Decimal)`` gives), through msgspec's C decoder.
- ``KitSingerWriter``: RECORD lines encoded by msgspec instead of the SDK's simplejson (whose ``use_decimal`` path is
  pure Python), escaped exactly as simplejson's ``ensure_ascii`` does; lines are written in blocks, not one
  write and flush per record. Every other message type, and any record holding a value whose text could differ
  (floats, datetimes, anything unusual), goes through the SDK's serializer unchanged, flushing what was buffered
  before it, so the order of messages on stdout never changes.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import json
import keyword
import re
import sys
import time
import typing as t
from datetime import UTC, datetime
from decimal import Decimal
from itertools import chain, compress, repeat
from operator import not_

import msgspec
from singer_sdk.io_base import SingerWriter
from singer_sdk.singerlib import RecordMessage

#: ``singer_sdk.helpers._util.utc_now`` (``datetime.now(timezone.utc)``) without a Python frame per record.
utc_now = functools.partial(datetime.now, UTC)


class IsoClock:
    """``utc_now().isoformat()`` as ASCII bytes, the text of the clock read now, at about a third of the cost: the
    date and time to the second are formatted once per second, the microseconds per call. ``datetime.now`` reads
    the same clock (``time_ns``) and truncates to microseconds the same way; ``isoformat`` drops a zero fraction."""

    __slots__ = ("_clock", "_prefix", "_second")

    def __init__(self, clock: t.Callable[[], int] = time.time_ns) -> None:
        self._clock = clock
        self._second = -1
        self._prefix = b""

    def __call__(self) -> bytes:
        second, nanoseconds = divmod(self._clock(), 1_000_000_000)
        if second != self._second:
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S").encode()
            self._second = second
        micro = nanoseconds // 1000
        return b"%s.%06d+00:00" % (self._prefix, micro) if micro else self._prefix + b"+00:00"

    def stamps(self, count: int) -> list[bytes]:
        """What ``count`` calls in a row return, the clock read ``count`` times first and then formatted at once
        (half the cost of the calls on a page of records): one pattern for reads within one second with no zero
        fraction (nearly every page), else each read formatted alone, as ``isoformat`` writes it."""
        micros, stamps = self._read(count)
        if stamps is not None:
            return stamps
        return ((self._prefix + b".%06d+00:00\n") * count % tuple(micros)).split(b"\n")[:count]

    def around(self, bodies: list[bytes], head: bytes, middle: bytes, end: bytes) -> bytes:
        """``head + body + middle + stamp + end`` for each of ``bodies`` in turn, joined, the stamps those of
        ``stamps(len(bodies))``: when that is one pattern, the whole text is one formatting of the bodies and the
        microseconds (a page's lines without a piece per part of each)."""
        count = len(bodies)
        micros, stamps = self._read(count)
        if stamps is not None:
            return b"".join(chain.from_iterable(zip(repeat(head), bodies, repeat(middle), stamps, repeat(end))))
        pieces: list[t.Any] = [None] * (2 * count)
        pieces[::2] = bodies
        pieces[1::2] = micros
        before, between, after = (part.replace(b"%", b"%%") for part in (head, middle + self._prefix, end))
        return (before + b"%s" + between + b".%06d+00:00" + after) * count % tuple(pieces)

    def _read(self, count: int) -> tuple[list[int], list[bytes] | None]:
        """The clock read ``count`` times: the reads' microseconds and None when they share one second (``_prefix``
        then its text) and none is zero, else the stamps, each formatted alone."""
        clock = self._clock
        reads = [clock() for _ in repeat(None, count)]
        if not reads:
            return [], []
        second = min(reads) // 1_000_000_000
        micros = [read // 1000 % 1_000_000 for read in reads]
        if second != max(reads) // 1_000_000_000 or 0 in micros:  # a second boundary (the clock may go back)
            return micros, [
                datetime.fromtimestamp(read // 1_000_000_000, UTC).replace(microsecond=micro).isoformat().encode()
                for read, micro in zip(reads, micros, strict=True)
            ]
        if second != self._second:
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S").encode()
            self._second = second
        return micros, None


_DECODER = msgspec.json.Decoder(float_hook=Decimal)
_ENCODER = msgspec.json.Encoder(decimal_format="number")
#: Types msgspec writes with exactly the text simplejson writes (datetimes are not among them, floats only in a
#: range: ``_float_alike``).
_PLAIN_TYPES = frozenset({str, int, bool, type(None), Decimal})
#: Lines held before one write to stdout (bounded memory, few system calls).
BLOCK_LINES = 512
#: Pieces of a RECORD line ``record_emitter`` holds (head, record, middle, clock, end): the same block of lines.
_LINE_PIECES = 5


def loads_exact(content: bytes | str) -> t.Any:
    """JSON with fractional numbers as ``Decimal``; the standard library parses what msgspec rejects
    (``NaN``/``Infinity`` literals), so the result is always the same as ``json.loads(parse_float=Decimal)``."""
    try:
        return _DECODER.decode(content)
    except msgspec.DecodeError:
        return json.loads(content, parse_float=Decimal)


_ARRAY_UNPARSED = msgspec.json.Decoder(list[msgspec.Raw])


def json_array_length(content: bytes | str) -> int:
    """Items in a JSON array body, 0 when the body is valid JSON but not an array; the items are not built (a
    paginator asking "was this page full?" need not parse the page a second time)."""
    try:
        return len(_ARRAY_UNPARSED.decode(content))
    except msgspec.ValidationError:
        return 0
    except msgspec.DecodeError:
        items = json.loads(content)  # what msgspec refuses (NaN literals, UTF-16): the standard library decides
        return len(items) if isinstance(items, list) else 0


@functools.cache
def _decoder_for(parse_float: t.Callable[[str], t.Any]) -> msgspec.json.Decoder:
    return msgspec.json.Decoder(float_hook=parse_float)


def loads_with(
    content: bytes | str,
    parse_float: t.Callable[[str], t.Any],
    parse_constant: t.Callable[[str], t.Any] | None = None,
) -> t.Any:
    """``json.loads(content, parse_float=parse_float)`` through msgspec's C decoder: its float hook receives the
    same literal text (``1.50``, ``1e5``) for the same tokens, and anything msgspec rejects goes to the standard
    library, so the result is always that of ``json.loads``."""
    try:
        return _decoder_for(parse_float).decode(content)
    except msgspec.DecodeError:
        return json.loads(content, parse_float=parse_float, parse_constant=parse_constant)


def loads_marked(content: bytes | str, parse_float: t.Callable[[str], Decimal]) -> tuple[t.Any, bool]:
    """``loads_with(content, parse_float)`` and whether the value is plain (see ``_is_plain``): always when msgspec
    parsed it (JSON gives string keys, strings, integers, booleans, nulls, containers, and ``parse_float`` gives
    Decimals), else what ``_is_plain`` finds in what the standard library built (``NaN`` literals are floats)."""
    try:
        return _decoder_for(parse_float).decode(content), True
    except msgspec.DecodeError:
        value = json.loads(content, parse_float=parse_float)
    return value, _is_plain(value) if type(value) in _CONTAINERS else type(value) in _PLAIN_TYPES


class RawNumbers(dict[str, msgspec.Raw]):
    """Number texts as the kit's writer writes ``decimal(text)``, held as ``msgspec.Raw`` (written verbatim): for
    records whose only reader is the writer (``KitRESTStream.records_written_only``), a page's fractional numbers
    need no ``Decimal`` built and then turned back into text. ``verbatim(text)`` says when that text is ``text``
    itself (the usual case: no Python call beyond it). A dict, so a text seen before (coordinates, prices, a Bulk
    column's zero padding) is found in C; cleared when it holds ``limit`` texts (bounded memory). Use its
    ``__getitem__`` as a JSON ``float_hook`` (``loads_marked``) or a CSV cell converter."""

    __slots__ = ("_decimal", "_limit", "_verbatim")

    def __init__(
        self, decimal: t.Callable[[str], Decimal], verbatim: t.Callable[[str], bool], *, limit: int = 16_384
    ) -> None:
        super().__init__()
        self._decimal = decimal
        self._verbatim = verbatim
        self._limit = limit

    def __missing__(self, text: str) -> msgspec.Raw:
        if len(self) >= self._limit:
            self.clear()
        raw = self[text] = msgspec.Raw(text if self._verbatim(text) else str(self._decimal(text)))
        return raw

    def loads_marked(self, content: bytes | str) -> tuple[t.Any, bool]:
        """``loads_marked(content, decimal)`` with fractional numbers as this map gives them; what msgspec refuses
        (``NaN`` literals) is parsed by ``loads_marked`` itself (Decimals, plain or not as ``_is_plain`` finds)."""
        try:
            return _decoder_for(self.__getitem__).decode(content), True
        except msgspec.DecodeError:
            return loads_marked(content, self._decimal)


#: ``str(Decimal(text))`` has an exponent for these fractions (first significant digit past the sixth place).
TINY_FRACTIONS = ("0.000000", "-0.000000")


def decimal_keeps_text(text: str) -> bool:
    """True when ``str(Decimal(text))`` is ``text`` for a JSON number (what a ``float_hook`` receives): no
    exponent, and not so small that ``Decimal`` writes one (``0.0000001`` is ``1E-7``). The one rule for "a
    number's own text is what the writer writes": OData's ``_WrittenDecimals`` and ``columns.written_numbers``
    (a column at once) check their texts are JSON numbers and then this."""
    return "e" not in text and "E" not in text and not text.startswith(TINY_FRACTIONS)


class WrittenRecord(msgspec.Struct, gc=False):
    """A record only the kit's writer reads (``KitRESTStream.records_written_only``, in a page the loop writes
    whole), as a struct of its keys (``written_record_type``): msgspec writes it exactly as the dict of the same
    keys and values, in order, and it is made in one C call per row (``map(kind, *columns)``: no dict built and
    grown key by key), encoded without a key lookup per field, and kept out of the collector (it holds strings,
    numbers, None and compound structs: no cycle). Salesforce Bulk's chunks and the kit's report blocks
    (``xlr8_kit.columns.cells_block_builder``) make them. The loop's state steps read it as that dict: the
    replication key and Id of every record (``record[key]``); ``get``, ``keys``, ``values``, ``items`` and ``in``
    as a dict's."""

    #: ``record[key]`` in C (no Python frame for each of the four reads per record of the read's and the state's
    #: page steps). A key the struct lacks raises AttributeError, not KeyError: no reader asks for one.
    __getitem__ = object.__getattribute__

    def get(self, key: str, default: t.Any = None) -> t.Any:
        return getattr(self, key) if key in self.__struct_fields__ else default

    def __contains__(self, key: object) -> bool:
        return key in self.__struct_fields__

    def __iter__(self) -> t.Iterator[str]:
        return iter(self.__struct_fields__)

    def keys(self) -> t.KeysView[str]:
        return dict.fromkeys(self.__struct_fields__).keys()

    def values(self) -> list[t.Any]:
        return [getattr(self, key) for key in self.__struct_fields__]

    def items(self) -> list[tuple[str, t.Any]]:
        return list(zip(self.__struct_fields__, self.values(), strict=True))


#: Names a record struct's fields cannot take (its own methods and msgspec's attributes): such keys stay dicts.
_RESERVED = frozenset(dir(WrittenRecord))


@functools.cache
def written_record_type(keys: tuple[str, ...]) -> type[WrittenRecord] | None:
    """The ``WrittenRecord`` struct of ``keys`` (a field per key, in order), or None where a key cannot name a field
    (not an identifier, a keyword, one of its methods, any ``__`` name: Python mangles ``__x`` and gives dunders a
    meaning, such as ``__len__`` for ``bool(record)``) or repeats (a dict keeps one), or msgspec refuses the struct:
    those records stay dicts. One type per set of keys (a stream's pages share it)."""
    if not keys or len(set(keys)) != len(keys):
        return None
    if not all(
        key.isidentifier() and not key.startswith("__") and not keyword.iskeyword(key) and key not in _RESERVED
        for key in keys
    ):
        return None
    try:
        kind = msgspec.defstruct("WrittenRecord", [(key, t.Any) for key in keys], bases=(WrittenRecord,), gc=False)
    except (TypeError, ValueError, RuntimeError):  # a name msgspec cannot take as a field: the records stay dicts
        return None
    return t.cast("type[WrittenRecord]", kind)


#: ``$.name[*]``: the records are the array under one top-level member.
_MEMBER_ARRAY = re.compile(r"\$\.([A-Za-z_][A-Za-z0-9_]*)\[\*\]")


@functools.cache
def _member_of(expression: str) -> str | None:
    found = _MEMBER_ARRAY.fullmatch(expression)
    return found.group(1) if found else None


def extract_records(expression: str, data: t.Any) -> t.Iterable[t.Any]:
    """``singer_sdk.helpers.jsonpath.extract_jsonpath(expression, data)``: for ``$.name[*]`` over an object whose
    ``name`` is an array, that array's items (what the SDK yields, without a JSONPath match object per item);
    anything else through the SDK's function."""
    member = _member_of(expression)
    if member is not None and type(data) is dict:
        items = data.get(member)
        if type(items) is list:
            return iter(items)
    from singer_sdk.helpers.jsonpath import extract_jsonpath  # jsonpath_ng (~6 ms to import): a target never asks

    return extract_jsonpath(expression, data)


def listed_rows(answer: t.Any, key: str, where: str) -> list[t.Any]:
    """The list under ``key`` of an object ``answer``; an answer without one (no object, no ``key``, a non-list under
    it) is ``AnswerShapeError`` naming ``where`` and ``key``, never "no rows" (RELIABILITY A8). An empty list is 0
    rows."""
    if type(answer) is dict:
        rows = answer.get(key)
        if type(rows) is list:
            return rows
    from xlr8_kit.http.errors import missing_list

    raise missing_list(key, answer, where)


def listed_records(expression: str, data: t.Any, where: str) -> t.Iterable[t.Any]:
    """``extract_records``, but for ``$.name[*]`` an answer without a list under ``name`` is an ``AnswerShapeError``
    naming ``where`` (``listed_rows``): the JSONPath finds no rows in a gateway's page or a changed shape, and those
    would land nothing and exit 0."""
    member = _member_of(expression)
    if member is None:
        return extract_records(expression, data)
    return iter(listed_rows(data, member, where))


#: Not ``xlr8_kit.http.classify``'s ``_xlr8_json`` (one parse of the body, kept in another shape).
_RESPONSE_JSON = "_xlr8_json_by_parse"


def _not_json(literal: str) -> t.Any:
    raise ValueError(f"{literal} is not JSON")


def response_json(response: t.Any, parse_float: t.Callable[[str], t.Any] = float, *, allow_nan: bool = False) -> t.Any:
    """``response.json()`` through msgspec, parsed once per response and ``parse_float``: a page's records and
    its paginator read the same parsed body instead of parsing it twice. Like ``requests`` (over simplejson) it
    refuses ``NaN``/``Infinity`` literals unless ``allow_nan`` (then it is ``json.loads``). Callers must not change
    the lists and objects they get back."""
    cache: dict[t.Any, t.Any] = response.__dict__.setdefault(_RESPONSE_JSON, {})
    key = (parse_float, allow_nan)
    if key not in cache:  # parse_constant None: json.loads' own (NaN, Infinity as floats)
        cache[key] = loads_with(response.content, parse_float, None if allow_nan else _not_json)
    return cache[key]


def _escape_char(code: int) -> str:
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"


class _EscapedRuns(dict[str, str]):
    """Runs of non-ASCII characters and their escapes, remembered: the same few (an accented letter in a name)
    come back on every line. Cleared when it holds ``limit`` runs (bounded memory)."""

    __slots__ = ("_limit",)

    def __init__(self, limit: int = 4096) -> None:
        super().__init__()
        self._limit = limit

    def __missing__(self, run: str) -> str:
        if len(self) >= self._limit:
            self.clear()
        escaped = self[run] = "".join([_escape_char(ord(char)) for char in run])
        return escaped


_ESCAPED_RUNS = _EscapedRuns()


def _escape_run(error: UnicodeError) -> tuple[str, int]:
    """The ASCII codec's error handler: each character it cannot write as simplejson escapes it."""
    assert isinstance(error, UnicodeEncodeError)
    return _ESCAPED_RUNS[error.object[error.start : error.end]], error.end


#: ``str.encode("ascii", _ESCAPING)`` calls ``_escape_run`` once per run of non-ASCII characters (a line's scan
#: stays in C); DEL (0x7f) is ASCII to the codec, so it is replaced apart.
_ESCAPING = "xlr8-json-ascii"
codecs.register_error(_ESCAPING, _escape_run)


_CONTAINERS = frozenset({dict, list})
_STR_ONLY = frozenset({str})
_PLAIN_OR_CONTAINER = _PLAIN_TYPES | _CONTAINERS


#: ``_float_alike``'s bounds on ``abs``: where ``repr`` switches to exponent notation.
FLOAT_ALIKE_LEAST = 1e-4
FLOAT_ALIKE_BOUND = 1e16


def _float_alike(value: float) -> bool:
    """A float both encoders write alike: ``repr`` (simplejson) and msgspec agree on the shortest digits and
    differ only in exponent notation (``1e+16`` against ``1e16``, ``1e-05`` against ``0.00001``), which ``repr``
    uses outside [1e-4, 1e16); NaN and infinities (simplejson's null) are not alike either."""
    return FLOAT_ALIKE_LEAST <= abs(value) < FLOAT_ALIKE_BOUND or value == 0.0


def _is_plain(container: dict[str, t.Any] | list[t.Any]) -> bool:
    """Every value, however deep, of a type both encoders write alike, or a float they write alike (type sets are
    built in C: cheap)."""
    if type(container) is dict:
        if not _STR_ONLY.issuperset(map(type, container)):
            return False
        values: t.Iterable[t.Any] = container.values()
    elif type(container) is list:
        values = container
    else:  # a ``WrittenRecord`` (its iteration gives its keys, not its values) or anything else: not known plain
        return False
    kinds = set(map(type, values))
    if kinds <= _PLAIN_TYPES:
        return True
    if float in kinds:
        if not all(_float_alike(value) for value in values if type(value) is float):
            return False
        kinds.discard(float)
        if kinds <= _PLAIN_TYPES:
            return True
    if not kinds <= _PLAIN_OR_CONTAINER:
        return False
    # The nested containers, picked out and checked without a Python-level loop over every value.
    return all(map(_is_plain, compress(values, map(_CONTAINERS.__contains__, map(type, values)))))


def _holds_raw(container: dict[str, t.Any] | list[t.Any]) -> bool:
    """A ``msgspec.Raw`` among the values, however deep (type sets built in C, as ``_is_plain``)."""
    values: t.Iterable[t.Any] = container.values() if type(container) is dict else container
    kinds = set(map(type, values))
    if msgspec.Raw in kinds:
        return True
    if kinds.isdisjoint(_CONTAINERS):
        return False
    return any(map(_holds_raw, compress(values, map(_CONTAINERS.__contains__, map(type, values)))))


def _sdk_value(value: t.Any) -> t.Any:
    kind = type(value)
    if kind is msgspec.Raw:  # the writer's text for a Decimal: the Decimal, which the SDK writes as that text
        return Decimal(bytes(value).decode())
    if kind is dict or isinstance(value, WrittenRecord):
        return {key: _sdk_value(item) for key, item in value.items()}
    if kind is list:
        return [_sdk_value(item) for item in value]
    return value


def sdk_record(record: t.Any) -> dict[str, t.Any]:
    """What the SDK's serializer must be handed for a kit record it is to write (a record the fast encoder refused,
    such as one holding a lone surrogate): a ``WrittenRecord`` as its dict and each ``msgspec.Raw`` number text
    as its Decimal, the record the SDK loop would have written (the SDK writes ``str(obj)`` for objects it does not
    know: a struct's or a ``Raw``'s repr, silently). A dict without a ``Raw`` is the record itself."""
    if type(record) is dict and not _holds_raw(record):
        return record
    return t.cast("dict[str, t.Any]", _sdk_value(record))


def record_line(message: RecordMessage) -> str | None:
    """The RECORD line the SDK would write, or None when the record holds a value only the SDK should encode."""
    record = message.record
    if not _is_plain(record):
        return None
    body: dict[str, t.Any] = {"type": "RECORD", "stream": message.stream, "record": record}
    if message.version is not None:
        body["version"] = message.version
    if message.time_extracted is not None:
        body["time_extracted"] = message.time_extracted.isoformat(sep="T")
    try:
        return _ascii_line(_ENCODER.encode(body))
    except UnicodeEncodeError:  # a lone surrogate (json.loads keeps "\ud800", UTF-8 cannot hold it): the SDK's escape
        return None


def _ascii_line(raw: bytes) -> str:
    """msgspec's UTF-8 output as the text simplejson's ``ensure_ascii`` writes."""
    return _ascii_bytes(raw).decode()


def _ascii_bytes(raw: bytes) -> bytes:
    """``_ascii_line`` kept as bytes (escaping is per character, so a line's parts can be escaped apart)."""
    if b"\x7f" in raw:
        raw = raw.replace(b"\x7f", b"\\u007f")
    return raw if raw.isascii() else _escaped(raw)


#: The bytes ``bytes.translate`` deletes to leave a line's non-ASCII bytes.
_ASCII = bytes(range(0x80))


class _EscapePlans(dict[bytes, tuple[tuple[bytes, int, bytes], ...] | None]):
    """A line's non-ASCII bytes (in order) and, for each character they encode, its first byte, its length and its
    escape; None for a line with more than ``_PLAN_CHARACTERS`` (text in a non-Latin script: the codec's way is
    cheaper there). The same few (a right quote in a title) come back on every line. Cleared when it holds ``limit``."""

    __slots__ = ("_limit",)

    def __init__(self, limit: int = 4096) -> None:
        super().__init__()
        self._limit = limit

    def __missing__(self, found: bytes) -> tuple[tuple[bytes, int, bytes], ...] | None:
        if len(self) >= self._limit:
            self.clear()
        text = found.decode()
        plan = None
        if len(text) <= _PLAN_CHARACTERS:
            plan = tuple((char.encode()[:1], len(char.encode()), _escape_char(ord(char)).encode()) for char in text)
        self[found] = plan
        return plan


_PLAN_CHARACTERS = 8
#: The most bytes ``_PLAN_CHARACTERS`` characters take in UTF-8 (the memory holds no longer keys).
_PLAN_BYTES = 4 * _PLAN_CHARACTERS
_ESCAPE_PLANS = _EscapePlans()


def _escaped(raw: bytes) -> bytes:
    """``raw`` (UTF-8 holding non-ASCII) with each non-ASCII character escaped: cut around the characters its
    plan names, each found by its first byte (``bytes.find`` of one byte: every byte before it is ASCII), instead
    of decoding the line and calling the codec's error handler per run (an exception object each). The result is
    ASCII only when the cuts covered every non-ASCII byte with the characters named, which proves ``raw`` valid
    UTF-8 and each cut a whole character; anything else goes through the codec (which raises on bad UTF-8)."""
    found = raw.translate(None, _ASCII)
    plan = _ESCAPE_PLANS[found] if len(found) <= _PLAN_BYTES else None  # longer: more characters than a plan holds
    if plan is not None:
        pieces: list[bytes] = []
        find = raw.find
        at = 0
        for first, size, escape in plan:
            cut = find(first, at)
            if cut < 0:
                break
            pieces += (raw[at:cut], escape)
            at = cut + size
        else:
            pieces.append(raw[at:])
            escaped = b"".join(pieces)
            if escaped.isascii():
                return escaped
    return raw.decode().encode("ascii", _ESCAPING)


class _NotPlainPage(Exception):
    """A page ``record_page_emitter`` hands to the record-by-record emitter."""


#: Whether stdout is being written (a depth: a write may nest), and a termination signal's handling put off until
#: the write returns. A handler that writes or exits during a write blocked on a full pipe (a slower target) tore the
#: line under way and wrote its block again (review 19d).
_writes = [0]
_put_off: list[t.Callable[[], None]] = []


def handle_after_writes(handler: t.Callable[[], None]) -> bool:
    """Put ``handler`` off until the write under way returns; False when none is under way (handle it now)."""
    if not _writes[0]:
        return False
    _put_off.append(handler)
    return True


@contextlib.contextmanager
def writing() -> t.Iterator[None]:
    """A write to stdout: a termination signal that arrives during it is handled once it has returned."""
    _writes[0] += 1
    try:
        yield
    finally:
        _writes[0] -= 1
        if not _writes[0] and _put_off:
            _put_off.pop(0)()


class KitSingerWriter(SingerWriter):
    """The SDK's writer with a fast RECORD encoder and block writes (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        #: Encoded RECORD lines (ASCII bytes, each ending in a newline) not yet written, whole or in pieces.
        self._pending: list[bytes] = []

    def serialize_message(self, message: t.Any) -> str:
        if type(message) is RecordMessage:
            line = record_line(message)
            if line is not None:
                return line
            record = sdk_record(message.record)
            if record is not message.record:
                message = RecordMessage(message.stream, record, message.version, message.time_extracted)
        return super().serialize_message(message)

    def write_message(self, message: t.Any) -> None:
        if type(message) is RecordMessage:
            self._pending.append((self.format_message(message) + "\n").encode())
            if len(self._pending) >= BLOCK_LINES:
                self.flush()
            return
        self.flush()
        with writing():
            super().write_message(message)

    def record_emitter(self, stream: str, version: int | None) -> t.Callable[[dict[str, t.Any], bool], None]:
        """A function writing one stream's RECORD messages, the line ``record_line`` would give, built around the
        record's own encoding (the fixed head and ``version`` are encoded once per stream, not per record). A record
        ``record_line`` would refuse goes through ``write_message`` and the SDK's serializer, as before. ``plain``
        True says the caller already knows every value is plain (``xlr8_kit.conform.Conformer.marked``, or a
        stream's ``records_plain``)."""
        head = _ascii_bytes(_ENCODER.encode({"type": "RECORD", "stream": stream})[:-1] + b',"record":')
        middle = b"" if version is None else b',"version":' + _ENCODER.encode(version)
        middle += b',"time_extracted":"'
        end = b'"}\n'
        pending = self._pending
        extend = pending.extend  # a line's pieces, joined once per block in flush (not once per line, then again)
        block = BLOCK_LINES * _LINE_PIECES
        encode = _ENCODER.encode
        write_message = self.write_message
        flush = self.flush
        extracted = IsoClock()  # the text of the SDK's utc_now().isoformat(sep="T")

        def emit(record: dict[str, t.Any], plain: bool = False) -> None:
            if not plain and not _is_plain(record):
                write_message(RecordMessage(stream=stream, record=record, version=version, time_extracted=utc_now()))
                return
            try:
                body = encode(record)
            except UnicodeEncodeError:  # a lone surrogate: the SDK's serializer writes it escaped, as record_line says
                write_message(RecordMessage(stream=stream, record=record, version=version, time_extracted=utc_now()))
                return
            if not body.isascii() or b"\x7f" in body:
                body = _ascii_bytes(body)
            extend((head, body, middle, extracted(), end))
            if len(pending) >= block:
                flush()

        return emit

    def record_page_emitter(self, stream: str, version: int | None) -> t.Callable[[list[dict[str, t.Any]], bool], None]:
        """``record_emitter`` for a page of records at once: the lines its emitter writes for each record in turn
        (the clock read once per line, in line order), the records encoded in one call (``encode_lines``: one JSON
        document per line, and JSON text never holds a raw newline), a page checked for non-ASCII at once and then
        only its lines that hold some escaped, the page's lines then made in one formatting (``IsoClock.around``).
        A page not known plain, or one the encoder refuses (a lone surrogate among others), goes record by
        record through ``record_emitter``."""
        emit = self.record_emitter(stream, version)
        head = _ascii_bytes(_ENCODER.encode({"type": "RECORD", "stream": stream})[:-1] + b',"record":')
        middle = b"" if version is None else b',"version":' + _ENCODER.encode(version)
        middle += b',"time_extracted":"'
        end = b'"}\n'
        pending = self._pending
        held = [0]
        block = BLOCK_LINES * _LINE_PIECES
        encode_lines = _ENCODER.encode_lines
        flush = self.flush
        extracted = IsoClock()
        escaped = _escaped

        def emit_page(records: list[dict[str, t.Any]], plain: bool = False) -> None:
            try:
                if not plain:
                    raise _NotPlainPage
                lines = encode_lines(records)
            except (_NotPlainPage, TypeError, ValueError, OverflowError, msgspec.EncodeError):
                for record in records:
                    emit(record, plain)
                return
            if b"\x7f" in lines:  # escaped on the whole page (its escape holds no newline)
                lines = lines.replace(b"\x7f", b"\\u007f")
            bodies = lines.split(b"\n")
            bodies.pop()  # after the last newline
            if not lines.isascii():  # only the lines that need it, picked out in C (a scan costs per byte)
                for index in compress(range(len(bodies)), map(not_, map(bytes.isascii, bodies))):
                    bodies[index] = escaped(bodies[index])
            pending.append(extracted.around(bodies, head, middle, end))
            held[0] += len(bodies)
            if held[0] >= BLOCK_LINES or len(pending) >= block:
                held[0] = 0  # lines held since this emitter last flushed (a flush elsewhere only makes it early)
                flush()

        return emit_page

    def flush(self) -> None:
        """Write the held RECORD lines (before any other message, and when a sync ends or fails): as bytes to
        stdout's binary buffer when it has one (no text encoding of ASCII already encoded), else as text.

        The lines are let go once written whole; a termination signal that arrives during the write is handled
        after it (``writing``, ``KitTap._handle_termination``). Let go before, they were lost while the STATE the
        signal wrote covered them."""
        pending = self._pending
        if pending:
            with writing():
                self._write_held(pending)

    def _write_held(self, pending: list[bytes]) -> None:
        count = len(pending)
        block = b"".join(pending)
        out = sys.stdout
        binary = getattr(out, "buffer", None)
        if binary is None:
            out.write(block.decode())
            del pending[:count]
            out.flush()
        else:
            out.flush()  # whatever the text layer holds goes first
            view = memoryview(block)
            while view:  # a write a signal interrupted (its handling put off) returns what it wrote so far
                view = view[binary.write(view) or 0 :]
            del pending[:count]
            binary.flush()
