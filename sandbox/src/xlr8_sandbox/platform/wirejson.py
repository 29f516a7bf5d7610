"""JSON row bytes from msgspec where they are exactly what the stdlib encoder writes (issue 14, emulator speed).

Emulators answer with ``json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))`` bytes. msgspec writes the
same bytes for str, int, bool, None, dicts and lists, and for floats written in positional notation
(``1e-4 <= |x| < 1e16`` or zero); it writes other floats differently (``1e16`` against ``1e+16``, ``0.00001``
against ``1e-05``) and NaN/inf as null. ``row_bytes`` checks every value first and answers None when anything
falls outside that set, so the caller falls back to its stdlib encoder: same bytes either way, several times
faster when it applies. ``sandbox/tests/test_wirejson.py`` holds the two encoders against each other.

Oracle Fusion answers with ``json.dumps``'s defaults instead (``", "`` and ``": "``, every character outside
printable ASCII escaped): ``spaced_ascii_bytes`` writes those from msgspec's bytes, and ``spaced_object_writer``
compiles a writer of one row shape's text straight from the row's values (no dict built to be walked).
"""

from __future__ import annotations

import codecs
import functools
import json
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

_ENCODER = msgspec.json.Encoder()
_BUFFERS = threading.local()


def _encode(content: Any) -> bytes:
    """msgspec's bytes in an exactly sized ``bytes``: ``Encoder.encode`` leaves allocator slack behind each result
    (about 1.4x the bytes at 1.4 KB a row), which the row cache would keep for every row it holds."""
    buffer = getattr(_BUFFERS, "buffer", None)
    if buffer is None:
        buffer = _BUFFERS.buffer = bytearray(16384)
    _ENCODER.encode_into(content, buffer)
    return bytes(buffer)


_PLAIN = frozenset({str, int, bool, type(None)})


def plain_bytes(content: Any) -> bytes:
    """msgspec's bytes for content the caller built of str keys and str, int, bool and None values (in dicts and
    lists) alone: what the stdlib encoder writes, without ``content_bytes`` checking every value again."""
    return _encode(content)


_FLOATS: dict[Decimal, float] = {}
_FLOATS_KEPT = 4096


def _float_of(value: Decimal) -> float:
    """``float(value)``, kept per value: a Decimal's ``float`` goes through its text (about 1 us), and rows repeat
    many of theirs (a city's coordinates). Equal Decimals give the same float, except zeros (``-0`` equals ``0``),
    which are never kept; a signalling NaN, which cannot be hashed, converts (and fails) as before."""
    try:
        number = _FLOATS.get(value)
    except TypeError:
        return float(value)
    if number is None:
        number = float(value)
        if number:
            if len(_FLOATS) >= _FLOATS_KEPT:
                _FLOATS.clear()
            _FLOATS[value] = number
    return number


def _positional(value: float) -> bool:
    """Whether ``repr(value)`` is positional, i.e. msgspec writes the same digits (False for NaN and inf)."""
    return value == 0.0 or 1e-4 <= abs(value) < 1e16


def _convert(value: Any, decimal_as_float: bool) -> tuple[bool, Any]:
    """(fits, value as msgspec should see it) for one value; Decimals become floats when the caller's
    stdlib ``default`` makes them floats."""
    kind = type(value)
    if kind in _PLAIN:
        return True, value
    if kind is float:
        return _positional(value), value
    if kind is Decimal and decimal_as_float:
        number = _float_of(value)
        return _positional(number), number
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                return False, None
            fits, out[key] = _convert(item, decimal_as_float)
            if not fits:
                return False, None
        return True, out
    if kind is list:
        items = []
        for item in value:
            fits, converted = _convert(item, decimal_as_float)
            if not fits:
                return False, None
            items.append(converted)
        return True, items
    return False, None


def _fits(value: Any) -> bool:
    """Whether msgspec writes ``value`` exactly as the stdlib encoder does (no Decimal conversion)."""
    kind = type(value)
    if kind is str or value is None or kind is int or kind is bool:
        return True
    if kind is float:
        return value == 0.0 or 1e-4 <= abs(value) < 1e16
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            kind = type(item)
            if not (kind is str or item is None or kind is int or kind is bool or _fits(item)):
                return False
        return True
    if kind is list or kind is tuple:
        for item in value:
            kind = type(item)
            if not (kind is str or item is None or kind is int or kind is bool or _fits(item)):
                return False
        return True
    return False


def content_bytes(content: Any) -> bytes | None:
    """msgspec's bytes for any JSON content when they equal the stdlib encoder's, else None (Decimals and other
    types the stdlib encoder rejects give None, so the caller's encoder raises as before)."""
    return _encode(content) if _fits(content) else None


def row_bytes(row: dict[str, Any], *, decimal_as_float: bool = False) -> bytes | None:
    """msgspec's bytes for ``row`` when they equal the stdlib encoder's (Decimals as ``float(d)`` with
    ``decimal_as_float``), else None. ``row`` itself is not changed."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if type(key) is not str:
            return None
        if type(value) in _PLAIN:
            out[key] = value
            continue
        fits, out[key] = _convert(value, decimal_as_float)
        if not fits:
            return None
    return _encode(out)


def projected_bytes(
    head: dict[str, Any], record: dict[str, Any], fields: tuple[str, ...] | list[str], *, decimal_as_float: bool = False
) -> bytes | None:
    """``row_bytes({**head, **{f: record.get(f) for f in fields}})`` in one pass (the projection is built here, so
    its values are checked as they are picked)."""
    out = dict(head)
    get = record.get
    for name in fields:
        value = get(name)
        kind = type(value)
        if kind is str or value is None or kind is int or kind is bool:
            out[name] = value
            continue
        if kind is Decimal and decimal_as_float:
            value = _float_of(value)
            if not (value == 0.0 or 1e-4 <= abs(value) < 1e16):
                return None
            out[name] = value
            continue
        fits, out[name] = _convert(value, decimal_as_float)
        if not fits:
            return None
    for key in head:
        if type(key) is not str:
            return None
    return _encode(out)


def _ascii_escapes(error: UnicodeError) -> tuple[str, int]:
    """The ``ascii`` codec's handler for a run of non-ASCII characters: escaped as ``json.dumps`` escapes them
    (lowercase hex, surrogate pairs above the BMP). A codec handler, not a regex: the codec scans in C."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    out = []
    for char in error.object[error.start : error.end]:
        n = ord(char)
        if n > 0xFFFF:
            n -= 0x10000
            out.append(f"\\u{0xD800 | (n >> 10):04x}\\u{0xDC00 | (n & 0x3FF):04x}")
        else:
            out.append(f"\\u{n:04x}")
    return "".join(out), error.end


_ASCII_ESCAPES = "xlr8-json-ascii-escapes"
codecs.register_error(_ASCII_ESCAPES, _ascii_escapes)


def spaced_ascii_bytes(content: Any) -> bytes | None:
    """``json.dumps(content).encode()`` for content the caller built of str keys and str, int, bool and None
    values (in dicts and lists) alone, as ``plain_bytes``; None for a str msgspec cannot write (a lone surrogate,
    which ``json.dumps`` escapes), so the caller falls back to the stdlib. About 3 us against 7-20 for a
    1.1 KB Oracle worker: msgspec's bytes, spaced by ``msgspec.json.format`` (which copies strings and numbers
    as they are), then the characters ``ensure_ascii`` escapes (msgspec already escapes controls the same way)."""
    try:
        spaced = msgspec.json.format(_ENCODER.encode(content), indent=0)
    except UnicodeEncodeError:
        return None
    if not spaced.isascii():
        spaced = spaced.decode().encode("ascii", _ASCII_ESCAPES)
    # DEL is ASCII to the codec; ``ensure_ascii`` escapes it (it can only stand inside a string here).
    return spaced.replace(b"\x7f", b"\\u007f") if b"\x7f" in spaced else spaced


# --- ``json.dumps`` text written straight from row values (no dict per row to shape, then walk) -------------------

#: ``json.dumps``'s own string writer (C): every character outside printable ASCII escaped, as ``ensure_ascii``.
_ESCAPE: Callable[[str], str] = json.encoder.encode_basestring_ascii
_INF = float("inf")


def spaced_value(value: Any, default: Callable[[Any], Any] | None = None, decimal_as_float: bool = False) -> str:
    """``json.dumps(value, default=default)``: the usual types written here, anything else by ``json.dumps``
    itself (so the text is its text for every value). ``decimal_as_float``: the caller's ``default`` writes a
    Decimal as ``float(d)`` (Fusion's ``json_default``)."""
    kind = type(value)
    if kind is str:
        return _ESCAPE(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is float and -_INF < value < _INF:
        return float.__repr__(value)
    if kind is Decimal and decimal_as_float:
        number = _float_of(value)
        if -_INF < number < _INF:
            return float.__repr__(number)
    return json.dumps(value, default=default)


def spaced_key(name: str) -> str:
    """An object key as ``json.dumps`` writes it, with its ``": "``."""
    return _ESCAPE(name) + ": "


@functools.lru_cache(maxsize=512)
def spaced_object_writer(
    slots: tuple[tuple[str, str | None], ...],
    default: Callable[[Any], Any] | None = None,
    decimal_as_float: bool = False,
) -> Callable[..., str]:
    """A function ``write(row, *texts)`` giving ``json.dumps({key: ...})``'s text of one object, compiled once per
    row shape and kept (compiling costs about 0.5 ms, a page of 25 rows a few times over): ``slots`` are (key,
    attribute), each value ``row.get(attribute)`` (written as ``spaced_value`` writes it), or (key, None) for
    text the caller wrote (a child collection, links), taken from ``texts`` in order. Keys must be distinct (a
    dict keeps one of each). One ``%`` format of one template a row; str, int and None values written inline (a
    str by ``json.dumps``'s own C writer), anything else by ``spaced_value``. The writer keeps no state."""
    if len({key for key, _ in slots}) != len(slots):
        raise ValueError("duplicate keys")
    parts: list[str] = []
    args: list[str] = []
    texts: list[str] = []

    def value(v: Any) -> str:
        return spaced_value(v, default, decimal_as_float)

    names: dict[str, Any] = {"_esc": _ESCAPE, "_str": str, "_int": int, "_repr": int.__repr__, "_value": value}
    for n, (key, attribute) in enumerate(slots):
        parts.append(spaced_key(key).replace("%", "%%") + "%s")
        if attribute is None:
            texts.append(f"t{len(texts)}")
            args.append(texts[-1])
        else:
            names[f"a{n}"] = attribute
            args.append(
                f"(_esc(v) if (t := type(v := g(a{n}))) is _str else _repr(v) if t is _int else "
                '"null" if v is None else _value(v))'
            )
    names["template"] = "{" + ", ".join(parts) + "}"
    if not slots:
        return lambda row, *texts: "{}"
    source = (
        f"def write(row, {''.join(t + ', ' for t in texts)}):\n"
        "    g = row.get\n"
        f"    return template % ({', '.join(args)},)\n"
    )
    exec(compile(source, "<spaced_object_writer>", "exec"), names)  # noqa: S102 - generated from the slots alone
    written: Callable[..., str] = names["write"]
    return written
