"""Record values to storable values, and the reasons a record is dead-lettered instead.

Conversion never loses data silently: a value that a column cannot hold exactly (an integer beyond int64, a
decimal with more places than the column's scale, NaN) rejects the record with a reason naming the field.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
from decimal import Decimal, InvalidOperation
from typing import Any

from target_xlr8_truths.columns import DECIMAL_PRECISION, Column

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_JSON_DEPTH = 64
MAX_FIELD_BYTES = 8 * 1024 * 1024


class Rejected(ValueError):
    """A value the target must not load; ``path`` is the JSON path of the offending field."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{reason} at {path}")
        self.path = path
        self.reason = reason


def _depth(value: Any, limit: int) -> int:
    stack = [(value, 1)]
    deepest = 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


@functools.lru_cache(maxsize=65536)  # coordinates, rates and amounts repeat across rows
def json_number(token: str) -> Any:
    """What the JSON writer below gives a fractional number read as ``Decimal(token)``: a float when integral
    (1000.0), else its plain decimal text ("0.00000025")."""
    return _json_default(Decimal(token))


def _check_text(path: str, text: str) -> str:
    if "\x00" in text:
        raise Rejected(path, "NUL byte in string (PostgreSQL text cannot store it)")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise Rejected(path, "invalid UTF-8 (lone surrogate)") from exc
    if size > MAX_FIELD_BYTES:
        raise Rejected(path, f"string of {size} bytes exceeds the {MAX_FIELD_BYTES}-byte field limit")
    return text


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("non-finite number")
        if value == value.to_integral_value() and abs(value) < 2**53:
            return float(value)
        text = format(value, "f")  # one spelling per value: 1.50 and 1.5 (REST vs Bulk) land alike
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _to_json_text(path: str, value: Any) -> str:
    if _depth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise Rejected(path, f"nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        text = json.dumps(value, default=_json_default, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    except (ValueError, TypeError) as exc:
        raise Rejected(path, "value cannot be stored as JSON (NaN, Infinity or unknown type)") from exc
    return _check_text(path, text)


def _decimal_text(path: str, text: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except InvalidOperation as exc:
        raise Rejected(path, "expected a decimal number as text") from exc


def convert_value(column: Column, value: Any) -> Any:
    """A JSON-serialisable, exact representation of ``value`` for ``column`` (decimals as strings)."""
    if value is None:
        return None
    path = f"$.{column.source}"
    kind = column.kind
    if kind == "text":
        if isinstance(value, str):
            return _check_text(path, value)
        if isinstance(value, dict | list):
            return _to_json_text(path, value)
        if isinstance(value, float) and not math.isfinite(value):
            raise Rejected(path, "NaN or Infinity is not a value")
        if isinstance(value, Decimal) and not value.is_finite():
            raise Rejected(path, "NaN or Infinity is not a value")
        if isinstance(value, dt.datetime | dt.date | dt.time):
            return value.isoformat()
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    if kind == "json":
        return _to_json_text(path, value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        raise Rejected(path, "expected a boolean")
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
            raise Rejected(path, "expected an integer")
        if isinstance(value, float | Decimal) and (not math.isfinite(value) or value != int(value)):
            raise Rejected(path, "expected an integer")
        number = int(value)
        if not INT64_MIN <= number <= INT64_MAX:
            raise Rejected(path, "integer outside the 64-bit range")
        return number
    if kind == "double":
        if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
            raise Rejected(path, "expected a number")
        try:
            real = float(value)
        except OverflowError as exc:
            raise Rejected(path, "number outside the double range") from exc
        if not math.isfinite(real):
            raise Rejected(path, "NaN, Infinity or a number outside the double range")
        return real
    if kind == "decimal":
        if isinstance(value, str):  # x-singer.decimal: the number as text
            value = _decimal_text(path, value)
        if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
            raise Rejected(path, "expected a number")
        try:
            exact = Decimal(value) if not isinstance(value, float) else Decimal(repr(value))
        except InvalidOperation as exc:
            raise Rejected(path, "expected a number") from exc
        if not exact.is_finite():
            raise Rejected(path, "NaN or Infinity is not a value")
        exponent = exact.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > column.scale:
            raise Rejected(path, f"more than {column.scale} decimal places would be truncated")
        integer_digits = len(str(abs(int(exact)))) if exact != 0 else 0
        if integer_digits > DECIMAL_PRECISION - column.scale:
            raise Rejected(path, f"number too large for DECIMAL({DECIMAL_PRECISION},{column.scale})")
        return format(exact, "f")
    if kind in {"timestamp", "date", "time"}:
        if isinstance(value, dt.datetime):
            if kind == "timestamp" and value.tzinfo is None:
                value = value.replace(tzinfo=dt.UTC)
            return value.isoformat()
        if isinstance(value, dt.date | dt.time):
            return value.isoformat()
        if isinstance(value, str):
            return _check_text(path, value)
        raise Rejected(path, f"expected a {kind}")
    raise Rejected(path, f"unsupported column type {kind}")
