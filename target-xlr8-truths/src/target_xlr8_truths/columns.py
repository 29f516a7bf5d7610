"""JSON-schema properties to column types, type widening, and per-dialect type names.

Logical types: boolean, integer, decimal, double, date, time, timestamp, json, text. A column only ever widens
(integer -> decimal -> text, integer/decimal -> double, date -> timestamp -> text); a narrower incoming type is cast to
the wider column.

Numbers: a JSON Schema ``number`` is a double unless the schema says it is a decimal: ``multipleOf`` (its scale),
a string with format ``x-singer.decimal``, or a stream from an XLR8 tap (the ``x-xlr8`` annotation), whose numbers
are exact decimals by design (money, hours). So floats from any Singer tap land as DOUBLE (``3.3000000000000003``,
coordinates) and decimals never round.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

DEFAULT_DECIMAL_SCALE = 9
MAX_DECIMAL_SCALE = 18
DECIMAL_PRECISION = 38

SINGER_DECIMAL_FORMAT = "x-singer.decimal"  # the SDK's string-encoded decimal (``use_singer_decimal``)

LOGICAL_TYPES = ("boolean", "integer", "decimal", "double", "date", "time", "timestamp", "json", "text")


@dataclass(frozen=True)
class Column:
    name: str
    source: str  # the property name in the Singer schema
    kind: str  # one of LOGICAL_TYPES
    scale: int = DEFAULT_DECIMAL_SCALE

    def sql_type(self, dialect: str) -> str:
        return sql_type(self.kind, dialect, self.scale)


def _types_of(prop: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The JSON types and string formats a property may take, flattening anyOf/oneOf."""
    types: set[str] = set()
    formats: set[str] = set()
    declared = prop.get("type")
    if isinstance(declared, str):
        types.add(declared)
    elif isinstance(declared, list):
        types.update(str(t) for t in declared)
    if "format" in prop:
        formats.add(str(prop["format"]))
    for key in ("anyOf", "oneOf"):
        for option in prop.get(key, []) or []:
            if isinstance(option, dict):
                sub_types, sub_formats = _types_of(option)
                types |= sub_types
                formats |= sub_formats
    if not types and ("properties" in prop):
        types.add("object")
    types.discard("null")
    return types, formats


def decimal_scale(prop: dict[str, Any]) -> int:
    """Scale from ``multipleOf`` (e.g. 0.0001 -> 4) when it is finer than the default, capped."""
    multiple = prop.get("multipleOf")
    if multiple is None:
        return DEFAULT_DECIMAL_SCALE
    exponent = Decimal(str(multiple)).normalize().as_tuple().exponent
    digits = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return min(max(DEFAULT_DECIMAL_SCALE, digits), MAX_DECIMAL_SCALE)


def _declares_scale(prop: dict[str, Any]) -> bool:
    if "multipleOf" in prop:
        return True
    return any(_declares_scale(o) for key in ("anyOf", "oneOf") for o in prop.get(key) or [] if isinstance(o, dict))


def logical_type(prop: dict[str, Any], *, exact_numbers: bool = False) -> str:
    """The column type of one property; ``exact_numbers`` makes every ``number`` a decimal (XLR8 taps)."""
    types, formats = _types_of(prop)
    if not types:
        return "json" if not prop else "text"
    if types & {"object", "array"}:
        return "json" if types <= {"object", "array"} else "text"
    if types == {"boolean"}:
        return "boolean"
    if types == {"integer"}:
        return "integer"
    if types <= {"integer", "number"}:
        return "decimal" if exact_numbers or _declares_scale(prop) else "double"
    if types == {"string"}:
        if SINGER_DECIMAL_FORMAT in formats:
            return "decimal"
        if "date-time" in formats:
            return "timestamp"
        if formats == {"date"}:
            return "date"
        if formats == {"time"}:
            return "time"
        return "text"
    return "text"


_WIDER = {
    frozenset({"integer", "decimal"}): "decimal",
    frozenset({"integer", "double"}): "double",
    frozenset({"decimal", "double"}): "double",  # the stream now says its numbers are floats
    frozenset({"date", "timestamp"}): "timestamp",
}


def widen(existing: str, incoming: str) -> str:
    """The narrowest type holding both without loss."""
    if existing == incoming:
        return existing
    return _WIDER.get(frozenset({existing, incoming}), "text")


def sql_type(kind: str, dialect: str, scale: int = DEFAULT_DECIMAL_SCALE) -> str:
    pg = dialect == "postgres"
    return {
        "boolean": "BOOLEAN",
        "integer": "BIGINT",
        "decimal": f"{'NUMERIC' if pg else 'DECIMAL'}({DECIMAL_PRECISION},{scale})",
        "double": "DOUBLE PRECISION" if pg else "DOUBLE",
        "date": "DATE",
        "time": "TIME",
        "timestamp": "TIMESTAMPTZ",
        "json": "JSONB" if pg else "JSON",
        "text": "TEXT" if pg else "VARCHAR",
    }[kind]


_DECIMAL_RE = re.compile(r"(?:decimal|numeric)\((\d+),\s*(\d+)\)")


def parse_sql_type(data_type: str) -> tuple[str, int]:
    """Inverse of ``sql_type`` for information_schema names of both dialects; unknown types read as text."""
    lowered = data_type.lower().strip()
    if lowered in {"boolean", "bool"}:
        return "boolean", DEFAULT_DECIMAL_SCALE
    if lowered in {"bigint", "integer", "int", "int8", "int4", "smallint", "hugeint"}:
        return "integer", DEFAULT_DECIMAL_SCALE
    match = _DECIMAL_RE.match(lowered)
    if match:
        return "decimal", int(match.group(2))
    if lowered in {"numeric", "decimal"}:
        return "decimal", DEFAULT_DECIMAL_SCALE
    if lowered in {"double", "double precision", "float8", "float"}:
        return "double", DEFAULT_DECIMAL_SCALE
    if lowered == "date":
        return "date", DEFAULT_DECIMAL_SCALE
    if lowered.startswith("time") and "zone" not in lowered and "stamp" not in lowered:
        return "time", DEFAULT_DECIMAL_SCALE
    if lowered in {"timestamp with time zone", "timestamptz"}:
        return "timestamp", DEFAULT_DECIMAL_SCALE
    if lowered in {"json", "jsonb"}:
        return "json", DEFAULT_DECIMAL_SCALE
    return "text", DEFAULT_DECIMAL_SCALE
