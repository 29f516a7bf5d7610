"""The RECORD path compiled once per stream: one pass over a record's properties gates, parses, protects and converts
each value, and a record it cannot vouch for goes through the exact per-field path instead.

The gate only accepts what every validator accepts (a ``str`` for a string property, an ``int`` for an integer,
``None`` where null is allowed, ...), so a record it passes is valid without running the schema validator; a
property with constraints beyond its type (enums, nested objects, ``anyOf``) is checked by a validator compiled for
that property alone. Anything else (a value of another type, an unparseable date, a value conversion rejects, a
missing key) returns ``None`` and the sink handles the record as before: validation, then the field-by-field
conversion that names the offending field in its dead letter. So a record lands the same row, or the same dead
letter, whichever path takes it.
"""

from __future__ import annotations

import datetime as dt
import math
import typing as t
from decimal import Decimal

import fastjsonschema
from singer_sdk.helpers._typing import get_datelike_property_type

from target_xlr8_truths.columns import Column
from target_xlr8_truths.records import INT64_MAX, INT64_MIN, MAX_FIELD_BYTES, Rejected, convert_value

if t.TYPE_CHECKING:
    from target_xlr8_truths.privacy import StreamProtection

#: JSON types whose Python values (as decoded) are recognised by their exact type.
_GATE_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, Decimal, float),
    "boolean": (bool,),
    "null": (type(None),),
}
#: Keywords that never make a value invalid here: annotations, and what the target's validators leave out
#: (formats are checked by parsing, ``multipleOf`` by the decimal column's scale).
_NOT_CONSTRAINTS = frozenset(
    {
        "description",
        "title",
        "examples",
        "default",
        "$comment",
        "readOnly",
        "writeOnly",
        "deprecated",
        "format",
        "multipleOf",
        "inclusion",
        "selected",
        "selected-by-default",
    }
)
#: Top-level keywords the gate can stand in for; any other (``required``, ``additionalProperties: false``, ...)
#: keeps the stream's compiled whole-record validator in the fast path.
_TOP_LEVEL_FREE = frozenset({"type", "properties", "$schema", "$id", "additionalProperties"}) | _NOT_CONSTRAINTS
PARSERS: dict[str, t.Callable[[str], t.Any]] = {
    "date-time": dt.datetime.fromisoformat,  # what the SDK's datetime_fromisoformat is on Python >= 3.11
    "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat,
}
_UTC = dt.UTC


def _constraints(prop: dict[str, t.Any]) -> set[str]:
    return {k for k in prop if k not in _NOT_CONSTRAINTS and not k.startswith("x-")}


def _gate(prop: dict[str, t.Any]) -> frozenset[type] | None:
    """The exact Python types a property accepts when its type is all that constrains it; None otherwise."""
    if _constraints(prop) != {"type"}:
        return None
    declared = prop["type"]
    names = [declared] if isinstance(declared, str) else declared
    if not isinstance(names, list) or not all(isinstance(n, str) and n in _GATE_TYPES for n in names):
        return None
    return frozenset(kind for n in names for kind in _GATE_TYPES[n])


def _has_ref(node: t.Any) -> bool:
    if isinstance(node, dict):
        return "$ref" in node or any(_has_ref(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_ref(v) for v in node)
    return False


def _converter(column: Column) -> t.Callable[[t.Any], t.Any]:
    """``convert_value`` for one column, with the common value type of its kind handled inline."""
    path = f"$.{column.source}"
    kind = column.kind
    if kind == "text":

        def text(value: t.Any) -> t.Any:
            if type(value) is str and value.isascii() and "\x00" not in value and len(value) <= MAX_FIELD_BYTES:
                return value
            return convert_value(column, value)

        return text
    if kind == "integer":

        def integer(value: t.Any) -> t.Any:
            if type(value) is int and INT64_MIN <= value <= INT64_MAX:
                return value
            return convert_value(column, value)

        return integer
    if kind == "boolean":

        def boolean(value: t.Any) -> t.Any:
            if type(value) is bool:
                return value
            raise Rejected(path, "expected a boolean")

        return boolean
    if kind == "timestamp":

        def timestamp(value: t.Any) -> t.Any:
            if type(value) is dt.datetime:
                return (value if value.tzinfo is not None else value.replace(tzinfo=_UTC)).isoformat()
            return convert_value(column, value)

        return timestamp
    if kind == "double":

        def double(value: t.Any) -> t.Any:
            kind_of = type(value)
            if kind_of is float or kind_of is Decimal:
                real = float(value)
                if math.isfinite(real):
                    return real
            return convert_value(column, value)

        return double
    return lambda value: convert_value(column, value)


class _Step(t.NamedTuple):
    source: str
    gate: frozenset[type] | None  # None: the property's own compiled validator decides
    check: t.Callable[[dict[str, t.Any]], t.Any] | None
    parse: t.Callable[[str], t.Any] | None
    name: str | None  # the stored column, None when the property is not stored
    protect: bool
    convert: t.Callable[[t.Any], t.Any] | None


class CompiledRecords:
    """Per stream: record -> row (column name -> storable value), or None when the exact path must decide."""

    def __init__(
        self,
        schema: dict[str, t.Any],
        stripped_schema: dict[str, t.Any],
        columns: list[Column],
        protection: StreamProtection,
        key_properties: t.Sequence[str],
        skipped: t.Collection[str],
        whole_record_check: t.Callable[[dict[str, t.Any]], t.Any] | None,
    ) -> None:
        by_source = {c.source: c for c in columns}
        protected = protection.protected_sources
        self.protection = protection
        self.key_properties = tuple(key_properties)
        self.whole_record_check = None
        free = set(stripped_schema) <= _TOP_LEVEL_FREE and stripped_schema.get("additionalProperties", True) in (
            True,
            {},
        )
        if not free or _has_ref(stripped_schema):
            self.whole_record_check = whole_record_check
        steps = []
        for source, prop in schema.get("properties", {}).items():
            if source in skipped:
                continue
            stripped = stripped_schema["properties"][source]
            gate = _gate(stripped) if isinstance(stripped, dict) else None
            check = None
            if gate is None and self.whole_record_check is None:
                check = fastjsonschema.compile({"type": "object", "properties": {source: stripped}}, use_default=False)
            datelike = get_datelike_property_type(prop) if isinstance(prop, dict) else None
            column = by_source.get(source)
            steps.append(
                _Step(
                    source,
                    gate,
                    check,
                    PARSERS.get(datelike) if datelike else None,
                    column.name if column else None,
                    source in protected,
                    _converter(column) if column else None,
                )
            )
        self.steps = tuple(steps)
        # stored columns the schema does not list cannot exist (columns come from the schema's properties)
        self.extracted_index = next((i for i, s in enumerate(self.steps) if s.source == "_sdc_extracted_at"), -1)
        self._convert = self._generate(by_source)

    def _generate(self, by_source: dict[str, Column]) -> t.Callable[[dict[str, t.Any]], t.Any]:
        """The loop of ``row`` unrolled into straight-line code for this stream (one branch per property, the
        common conversions inline): the same steps, without the per-property dispatch."""
        namespace: dict[str, t.Any] = {
            "protect": self.protection.protect,
            "MAX_FIELD_BYTES": MAX_FIELD_BYTES,
            "INT64_MIN": INT64_MIN,
            "INT64_MAX": INT64_MAX,
            "UTC": _UTC,
            "datetime": dt.datetime,
            "NoneType": type(None),
        }
        lines = ["def convert(record):", "    get = record.get", "    row = {}", "    extracted = None"]
        for index, step in enumerate(self.steps):
            src = repr(step.source)
            namespace[f"gate{index}"] = step.gate
            namespace[f"check{index}"] = step.check
            namespace[f"parse{index}"] = step.parse
            namespace[f"convert{index}"] = step.convert
            lines.append(f"    v = get({src})")
            lines.append("    if v is None:")
            lines.append("        pass")  # a dropped column that may be null has nothing else to do here
            if step.gate is not None and type(None) not in step.gate:
                lines.append(f"        if {src} in record: return None")
            if step.check is not None:
                lines.append(f"        if {src} in record: check{index}({{{src}: v}})")
            if step.name is not None:
                lines.append(f"        row[{step.name!r}] = None")
            lines.append("    else:")
            lines.append("        pass")
            if step.gate is not None:
                kinds = step.gate - {type(None)}
                if len(kinds) == 1:
                    namespace[f"kind{index}"] = next(iter(kinds))
                    lines.append(f"        if type(v) is not kind{index}: return None")
                else:
                    lines.append(f"        if type(v) not in gate{index}: return None")
            elif step.check is not None:
                lines.append(f"        check{index}({{{src}: v}})")
            if step.parse is not None:
                lines.append(f"        v = parse{index}(v)")
                if index == self.extracted_index:
                    lines.append("        extracted = v")
            if step.name is None or step.convert is None:
                continue
            column = by_source[step.source]
            target = f"row[{step.name!r}]"
            if step.protect:
                lines.append(f"        {target} = convert{index}(protect({src}, v))")
            elif column.kind == "text" and step.gate is not None and step.gate - {type(None)} == {str}:
                lines.append(
                    f"        {target} = v if v.isascii() and '\\x00' not in v and len(v) <= MAX_FIELD_BYTES "
                    f"else convert{index}(v)"
                )
            elif column.kind == "integer" and step.gate is not None and step.gate - {type(None)} == {int}:
                lines.append(f"        {target} = v if INT64_MIN <= v <= INT64_MAX else convert{index}(v)")
            elif column.kind == "boolean" and step.gate is not None and step.gate - {type(None)} == {bool}:
                lines.append(f"        {target} = v")
            elif column.kind == "timestamp" and step.parse is not None:
                lines.append(
                    f"        {target} = (v if v.tzinfo is not None else v.replace(tzinfo=UTC)).isoformat() "
                    f"if type(v) is datetime else convert{index}(v)"
                )
            else:
                lines.append(f"        {target} = convert{index}(v)")
        lines.append("    return row, extracted")
        exec(compile("\n".join(lines), f"<compiled record path {len(self.steps)} properties>", "exec"), namespace)  # noqa: S102
        return t.cast("t.Callable[[dict[str, t.Any]], t.Any]", namespace["convert"])

    def row(self, record: dict[str, t.Any]) -> tuple[dict[str, t.Any], dt.datetime | None] | None:
        """The stored row and the record's parsed ``_sdc_extracted_at``; None: take the exact path."""
        if type(record) is not dict:
            return None
        for key in self.key_properties:
            if record.get(key) is None:
                return None
        if self.whole_record_check is not None:
            try:
                self.whole_record_check(record)
            except fastjsonschema.JsonSchemaValueException:
                return None
        try:
            converted = self._convert(record)
        except (Rejected, ValueError, TypeError, OverflowError, fastjsonschema.JsonSchemaValueException):
            return None
        if converted is None:
            return None
        row, extracted = converted
        return row, extracted if isinstance(extracted, dt.datetime) else None
