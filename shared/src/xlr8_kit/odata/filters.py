"""``$filter`` expressions for OData v2 and v4 with correctly typed literals.

Strings are single-quoted with embedded quotes doubled (``O'Brien`` -> ``'O''Brien'``). In v2, instants become
``datetimeoffset'2026-01-05T09:00:00Z'`` and local date-times ``datetime'2026-01-05T09:00:00'``; v4 drops the
prefixes and suffixes (``2026-01-05T09:00:00Z``, ``Edm.Date`` as ``2026-01-05``, ``12.50`` rather than ``12.50M``).
Field names are checked so a value can never be smuggled in as syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

COMPARISONS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
_FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*$")


class FilterError(ValueError):
    """An unusable field name, operator or literal."""


def quote_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def datetimeoffset_literal(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    spec = "milliseconds" if aware.microsecond else "seconds"
    text = aware.astimezone(UTC).replace(tzinfo=None).isoformat(timespec=spec)
    return f"datetimeoffset'{text}Z'"


def datetime_literal(moment: datetime | date) -> str:
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    if moment.tzinfo:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return f"datetime'{moment.isoformat(timespec='seconds')}'"


def _v4_literal(value: Any, edm_type: str | None) -> str:
    if isinstance(value, str) and edm_type in ("Edm.DateTimeOffset", "Edm.Date"):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise FilterError(f"not an ISO 8601 date for {edm_type}: {value!r}") from None
    if isinstance(value, datetime):
        if edm_type == "Edm.Date":
            return value.date().isoformat() if value.tzinfo is None else value.astimezone(UTC).date().isoformat()
        return datetimeoffset_literal(value)[len("datetimeoffset'") : -1]
    if isinstance(value, date):
        if edm_type == "Edm.DateTimeOffset":
            return f"{value.isoformat()}T00:00:00Z"
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return literal(value, None if edm_type == "Edm.Int64" else edm_type, version=2)
    raise FilterError(f"no OData literal for {type(value).__name__}")


def literal(value: Any, edm_type: str | None = None, *, version: int = 2) -> str:
    """The OData literal for a Python value; ``edm_type`` picks ``datetime`` vs ``datetimeoffset`` (v2) or a date
    vs an instant (v4)."""
    if version >= 4:
        return _v4_literal(value, edm_type)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return datetime_literal(value) if edm_type == "Edm.DateTime" else datetimeoffset_literal(value)
    if isinstance(value, date):
        if edm_type == "Edm.DateTimeOffset":
            return datetimeoffset_literal(datetime(value.year, value.month, value.day, tzinfo=UTC))
        return datetime_literal(value)
    if isinstance(value, int):
        return f"{value}L" if edm_type == "Edm.Int64" else str(value)
    if isinstance(value, Decimal):
        return f"{value}M"
    if isinstance(value, float):
        return f"{value!r}d"
    if isinstance(value, str):
        if edm_type in ("Edm.DateTimeOffset", "Edm.DateTime"):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise FilterError(f"not an ISO 8601 date-time for {edm_type}: {value!r}") from None
            return literal(parsed, edm_type)
        return quote_string(value)
    raise FilterError(f"no OData literal for {type(value).__name__}")


@dataclass(frozen=True)
class Filter:
    """An immutable ``$filter`` expression; combine with ``&`` and ``|``."""

    text: str

    def __and__(self, other: Filter) -> Filter:
        return Filter(f"{self.text} and {other.text}")

    def __or__(self, other: Filter) -> Filter:
        return Filter(f"({self.text} or {other.text})")

    def __str__(self) -> str:
        return self.text


def compare(field: str, op: str, value: Any, edm_type: str | None = None, *, version: int = 2) -> Filter:
    if not _FIELD_RE.match(field):
        raise FilterError(f"invalid field name in $filter: {field!r}")
    if op not in COMPARISONS:
        raise FilterError(f"unsupported $filter operator {op!r}; use one of {', '.join(sorted(COMPARISONS))}")
    return Filter(f"{field} {op} {literal(value, edm_type, version=version)}")


def all_of(*parts: Filter | None) -> Filter | None:
    """``a and b and ...`` of the given parts, None if there are none."""
    present = [p for p in parts if p is not None]
    if not present:
        return None
    result = present[0]
    for part in present[1:]:
        result = result & part
    return result
