"""Post-fetch evaluation: does a record (as a tap emits it) satisfy a filter?

Taps use this for whatever the product's API could not filter, so its semantics are the language's semantics:
a record value is read in the literal's type (``"2024-01-05T10:00:00Z"`` and OData ``/Date(...)/`` are
instants, ``"12.50"`` is a number); a missing or null value matches only ``= null`` and ``!= <value>``; a value
that cannot be read in the literal's type does not match; text comparisons are case-sensitive.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from xlr8_kit.query.ast import And, Between, Compare, Const, Contains, Filter, In, Or, Value

_ODATA_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_MISSING = object()


class _Unreadable(Exception):
    pass


def as_instant(raw: Any) -> datetime:
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
    if isinstance(raw, date):
        return datetime(raw.year, raw.month, raw.day, tzinfo=UTC)
    if isinstance(raw, str):
        match = _ODATA_DATE.match(raw)
        if match:
            return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(match.group(1)))
        try:
            moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            raise _Unreadable from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise _Unreadable


def as_date(raw: Any) -> date:
    """A date; an instant is read as its UTC day (the day a date literal means for a date-time field)."""
    if isinstance(raw, datetime):
        return as_instant(raw).astimezone(UTC).date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        try:
            return date.fromisoformat(text) if len(text) == 10 else as_instant(text).astimezone(UTC).date()
        except ValueError:
            raise _Unreadable from None
    raise _Unreadable


def as_number(raw: Any) -> Decimal:
    if isinstance(raw, bool) or raw is None:
        raise _Unreadable
    try:
        return Decimal(str(raw).strip())
    except InvalidOperation:
        raise _Unreadable from None


def as_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in {"true", "false"}:
        return raw.strip().lower() == "true"
    raise _Unreadable


def as_text(raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, Decimal):
        return format(raw, "f")
    if isinstance(raw, dict | list):
        raise _Unreadable
    return str(raw)


def read_as(raw: Any, like: Value) -> Any:
    """The record value in the literal's type; raises ``_Unreadable`` when it is not one."""
    if isinstance(like, bool):
        return as_bool(raw)
    if isinstance(like, datetime):
        return as_instant(raw)
    if isinstance(like, date):
        return as_date(raw)
    if isinstance(like, int | Decimal):
        return as_number(raw)
    return as_text(raw)


def _comparable(literal: Value) -> Any:
    return Decimal(literal) if isinstance(literal, int) and not isinstance(literal, bool) else literal


def _compare(raw: Any, op: str, literal: Value) -> bool:
    if raw is None:
        if literal is None:
            return op == "="
        return op == "!="
    if literal is None:
        return op == "!="
    try:
        left = read_as(raw, literal)
    except _Unreadable:
        return op == "!="
    right = _comparable(literal)
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if isinstance(left, bool):
        return False
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def matches(record: Mapping[str, Any], node: Filter | None) -> bool:
    """True when the record satisfies the filter (None means no filter)."""
    if node is None:
        return True
    if isinstance(node, Const):
        return node.value
    if isinstance(node, And):
        return all(matches(record, item) for item in node.items)
    if isinstance(node, Or):
        return any(matches(record, item) for item in node.items)
    raw = record.get(node.field)
    if isinstance(node, Compare):
        return _compare(raw, node.op, node.value)
    if raw is None:
        return False
    if isinstance(node, In):
        return any(v is not None and _compare(raw, "=", v) for v in node.values)
    if isinstance(node, Between):
        return _compare(raw, ">=", node.low) and _compare(raw, "<=", node.high)
    if isinstance(node, Contains):
        try:
            return node.value in as_text(raw)
        except _Unreadable:
            return False
    raise TypeError(f"not a filter: {node!r}")
