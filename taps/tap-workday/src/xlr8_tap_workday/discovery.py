"""RaaS report schemas from the report's own XSD (``?xsds``), and the conversion of Workday's all-string JSON into
typed values by that schema.

Workday renders every RaaS JSON value as a string (``"1"``/``"0"`` for booleans, decimals as text) and leaves
empty fields out; the XSD is the only place the types live. Subgroups (``<Name>_group``, ``maxOccurs=unbounded``)
become arrays of objects, references (``*_ReferenceType`` with a ``Descriptor`` attribute) the descriptor
string the JSON carries.
"""

from __future__ import annotations

import typing as t
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import partial
from itertools import chain, compress, islice, repeat
from operator import is_not, setitem

from lxml import etree

from xlr8_kit.columns import converted_column, text_memo
from xlr8_kit.soap import local_name, parse_xml

XSD_NS = "http://www.w3.org/2001/XMLSchema"
_X = f"{{{XSD_NS}}}"

#: xsd simple types -> JSON schema.
SIMPLE_TYPES: dict[str, dict[str, t.Any]] = {
    "string": {"type": ["string", "null"]},
    "normalizedString": {"type": ["string", "null"]},
    "token": {"type": ["string", "null"]},
    "anyURI": {"type": ["string", "null"]},
    "time": {"type": ["string", "null"]},
    "decimal": {"type": ["number", "null"]},
    "double": {"type": ["number", "null"]},
    "float": {"type": ["number", "null"]},
    "integer": {"type": ["integer", "null"]},
    "int": {"type": ["integer", "null"]},
    "long": {"type": ["integer", "null"]},
    "short": {"type": ["integer", "null"]},
    "nonNegativeInteger": {"type": ["integer", "null"]},
    "positiveInteger": {"type": ["integer", "null"]},
    "boolean": {"type": ["boolean", "null"]},
    "date": {"type": ["string", "null"], "format": "date"},
    "dateTime": {"type": ["string", "null"], "format": "date-time"},
}


class ReportSchemaError(ValueError):
    """The XSD is not a RaaS report schema (no Report_Entry), or names a type it does not define."""


class ReportValueError(ValueError):
    """A report value that does not fit its XSD type. The message names the field (``Group.Field`` inside a group)
    and the type, never the value: a report carries salaries and birth dates, and the text reaches the ERROR log."""

    def __init__(self, field: str, kind: str, where: str = "") -> None:
        text = f"field {field!r} has a value that is not a {kind} (as the report's XSD says)"
        super().__init__(f"{where}: {text}" if where else text)
        self.field, self.kind = field, kind

    def at(self, where: str) -> ReportValueError:
        """The same misfit, said where (the report stream, the report): the field alone does not say which."""
        return ReportValueError(self.field, self.kind, where)


@dataclass(frozen=True)
class ReportSchema:
    report: str
    schema: dict[str, t.Any]

    @property
    def columns(self) -> list[str]:
        return list(self.schema["properties"])


def parse_report_xsd(content: bytes, report: str) -> ReportSchema:
    """The JSON schema of one report entry."""
    root = parse_xml(content)
    if local_name(root) != "schema":
        raise ReportSchemaError(f"report {report}: ?xsds did not return an XML schema (root {local_name(root)!r})")
    complex_types = {c.get("name"): c for c in root.iter(f"{_X}complexType") if c.get("name")}
    entry_type = _entry_type(root, complex_types)
    if entry_type is None:
        raise ReportSchemaError(f"report {report}: the XSD has no Report_Entry element")
    properties = _properties(entry_type, complex_types, report, depth=0)
    return ReportSchema(report, {"type": "object", "properties": properties})


def _entry_type(root: etree._Element, complex_types: dict[str | None, etree._Element]) -> etree._Element | None:
    for node in root.iter(f"{_X}element"):
        if node.get("name") == "Report_Entry":
            inline = node.find(f"{_X}complexType")
            if inline is not None:
                return inline
            return complex_types.get(_local(node.get("type") or ""))
    return complex_types.get("Report_EntryType")


def _local(qname: str) -> str:
    return qname.rsplit(":", 1)[-1]


def _properties(
    complex_type: etree._Element, complex_types: dict[str | None, etree._Element], report: str, depth: int
) -> dict[str, t.Any]:
    if depth > 10:
        raise ReportSchemaError(f"report {report}: subgroups nested more than 10 deep")
    properties: dict[str, t.Any] = {}
    for element in complex_type.iter(f"{_X}element"):
        if element.getparent() is None or _owner(element) is not complex_type:
            continue
        name = element.get("name")
        if not name:
            continue
        properties[name] = _property(element, complex_types, report, depth)
    return properties


def _owner(element: etree._Element) -> etree._Element | None:
    node = element.getparent()
    while node is not None and node.tag != f"{_X}complexType":
        node = node.getparent()
    return node


def _property(
    element: etree._Element, complex_types: dict[str | None, etree._Element], report: str, depth: int
) -> dict[str, t.Any]:
    many = element.get("maxOccurs") == "unbounded"
    type_name = element.get("type") or ""
    inline = element.find(f"{_X}complexType")
    local = _local(type_name)
    if inline is None and (type_name.startswith(("xsd:", "xs:")) or (local in SIMPLE_TYPES and ":" not in type_name)):
        spec = dict(SIMPLE_TYPES.get(local, {"type": ["string", "null"]}))
    else:
        definition = inline if inline is not None else complex_types.get(local)
        if definition is None:
            raise ReportSchemaError(f"report {report}: element {element.get('name')} has undefined type {type_name!r}")
        if _is_reference(definition, local) or definition.find(f"{_X}simpleContent") is not None:
            spec = {"type": ["string", "null"]}
        else:
            nested = _properties(definition, complex_types, report, depth + 1)
            spec = {"type": ["object", "null"], "properties": nested}
    if many:
        return {"type": ["array", "null"], "items": {**spec, "type": _non_null(spec["type"])}}
    return spec


def _is_reference(definition: etree._Element, type_name: str) -> bool:
    if type_name.endswith("_ReferenceType"):
        return True
    return any(_local(a.get("ref") or "") == "Descriptor" for a in definition.iter(f"{_X}attribute"))


def _non_null(types: list[str]) -> list[str] | str:
    kept = [x for x in types if x != "null"]
    return kept[0] if len(kept) == 1 else kept


# --- values ---------------------------------------------------------------------------------------------------

_TRUE = {"1", "true", "y", "yes"}
_FALSE = {"0", "false", "n", "no"}


def converter(schema: dict[str, t.Any]) -> Callable[[t.Any], t.Any]:
    """A function turning one rendered value into the schema's type (compiled once per stream)."""
    types = schema.get("type")
    kinds = {types} if isinstance(types, str) else set(types or [])
    if "array" in kinds:
        item = converter(schema.get("items", {}))

        def many(value: t.Any) -> t.Any:
            if value is None:
                return None
            return list(map(item, value if isinstance(value, list) else [value]))

        return many
    if "object" in kinds:
        fields = {name: converter(spec) for name, spec in schema.get("properties", {}).items()}
        #: Fields whose text or null values stay as they are (most of a report), and the others.
        texts = frozenset(name for name, convert in fields.items() if convert is _string)
        others = tuple((name, convert) for name, convert in fields.items() if convert is not _string)

        def every_field(value: dict[str, t.Any]) -> dict[str, t.Any]:
            """Each field converted; the first misfit raises ``ReportValueError`` naming the field, not the value
            (the conversions' own texts quote it)."""
            out = {}
            for k, v in value.items():
                convert = fields.get(k)
                try:
                    out[k] = v if convert is None else convert(v)
                except ReportValueError as exc:  # inside a group
                    raise ReportValueError(f"{k}.{exc.field}", exc.kind) from None
                except (ValueError, TypeError, ArithmeticError):
                    raise ReportValueError(k, _KIND_NAMES.get(convert, "value of its type")) from None
            return out

        def obj(value: t.Any) -> t.Any:
            """``every_field(value)``: the entry copied in C, then only the fields that change replaced (a
            text field holding something else than text or null, found in C, and every non-text field present).
            A conversion that fails is done again by ``every_field``, which raises at its own first misfit."""
            if not isinstance(value, dict):
                return None if value is None else value
            out = dict(value)
            try:
                for name in compress(value, map(_NOT_TEXT, map(type, value.values()), _ALWAYS)):
                    if name in texts:
                        out[name] = _string(value[name])
                for name, convert in others:
                    if name in value:
                        out[name] = convert(value[name])
            except Exception:  # noqa: BLE001 - every_field raises the same kind of error, at its own place
                return every_field(value)
            return out

        return obj
    if "boolean" in kinds:
        return _boolean
    if "integer" in kinds:
        return _integer
    if "number" in kinds:
        return _number
    if schema.get("format") == "date":
        return _date
    return _string


#: ``type(value)`` -> False for the values ``_string`` returns as they are (text and null); anything else True.
_NOT_TEXT: Callable[[type, bool], bool] = {str: False, type(None): False}.get
_ALWAYS = repeat(True)


def _string(value: t.Any) -> t.Any:
    if isinstance(value, dict) and "Descriptor" in value:
        return value["Descriptor"]
    return value if value is None or isinstance(value, str) else str(value)


def _boolean(value: t.Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _integer(value: t.Any) -> int | None:
    if value is None or isinstance(value, int):
        return value
    return int(str(value).strip().replace(",", ""))


def _number(value: t.Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def _date(value: t.Any) -> str | None:
    """``2024-03-01-08:00`` (a date with the tenant's offset) -> ``2024-03-01``."""
    if value is None:
        return None
    text = str(value).strip()
    return date.fromisoformat(text[:10]).isoformat()


#: The type each converter reads, for ``ReportValueError`` (a list of values: "value of its type").
_KIND_NAMES: dict[t.Any, str] = {_boolean: "boolean", _integer: "integer", _number: "number", _date: "date"}


# --- blocks ---------------------------------------------------------------------------------------------------


def block_converter(schema: dict[str, t.Any]) -> Callable[[list[t.Any]], list[dict[str, t.Any]] | None]:
    """A function converting a block of entries (the items of one decoded run of the report) column by column:
    ``[converter(schema)(entry) for entry in entries]``, or None for a block it leaves to that per-entry
    conversion (the caller then converts it entry by entry, so an error is raised at its own entry, after the
    entries before it): an item that is not an object, a value that is not text, null, a list or an object, a
    list or object where no non-text field takes it, or a conversion that raises. Text fields are kept as they
    are (the entries are copied in C); each other field present is converted for the whole block at once
    (``_column_converter``) and set back in place, so the key order is the entry's."""
    converts = {name: converter(spec) for name, spec in schema.get("properties", {}).items()}
    columns = tuple(
        (name, _column_converter(spec, converts[name]))
        for name, spec in schema.get("properties", {}).items()
        if converts[name] is not _string
    )

    def convert_block(entries: list[t.Any]) -> list[dict[str, t.Any]] | None:
        if not set(map(type, entries)) <= _DICT:
            return None
        kinds = list(map(type, chain.from_iterable(map(dict.values, entries))))
        found = set(kinds)
        if not found <= _TEXT_OR_CONTAINER:
            return None
        containers = (kinds.count(list) if list in found else 0) + (kinds.count(dict) if dict in found else 0)
        out = list(map(dict, entries))
        try:
            for name, convert_column in columns:
                values = list(map(dict.get, entries, repeat(name), repeat(_ABSENT)))
                present = list(map(is_not, values, repeat(_ABSENT)))
                records = out
                if not all(present):
                    values = list(compress(values, present))
                    if not values:
                        continue
                    records = list(compress(out, present))
                if containers:
                    containers -= sum(map(_CONTAINER.__contains__, map(type, values)))
                converted = convert_column(values)
                if converted is None:  # a value the conversion refuses
                    return None
                deque(map(setitem, records, repeat(name), converted), maxlen=0)
        except Exception:  # noqa: BLE001 - the per-entry conversion raises its own error at its own entry
            return None
        return None if containers else out  # a list or object under a text or unknown field: per entry

    return convert_block


_DICT = frozenset({dict})
_CONTAINER = frozenset({list, dict})
_TEXT_OR_CONTAINER = frozenset({str, type(None)}) | _CONTAINER
#: ``dict.get``'s answer for a field an entry leaves out (Workday omits empty fields).
_ABSENT = object()


def _column_converter(
    spec: dict[str, t.Any], convert: Callable[[t.Any], t.Any]
) -> Callable[[list[t.Any]], list[t.Any] | None]:
    """``lambda values: list(map(convert, values))`` for one non-text field's values across a block, with C
    loops where the per-value work repeats: booleans and dates through a memo of each distinct text
    (``xlr8_kit.columns.text_memo`` and ``converted_column``, None where a value is refused), numbers straight
    through ``Decimal`` (which strips the same blanks ``_number`` strips) when no value holds a thousands
    separator, and a list of objects as one block of its items (``block_converter``), regrouped by the lists'
    lengths."""
    if convert is _boolean or convert is _date:
        return _memo_column(convert)
    if convert is _number:
        return _number_column
    types = spec.get("type")
    kinds = {types} if isinstance(types, str) else set(types or [])
    items = spec.get("items", {})
    item_types = items.get("type")
    item_kinds = {item_types} if isinstance(item_types, str) else set(item_types or [])
    if "array" in kinds and "object" in item_kinds:
        convert_items = block_converter(items)

        def objects_column(values: list[t.Any]) -> list[t.Any]:
            if set(map(type, values)) == _LIST:
                converted = convert_items(list(chain.from_iterable(values)))
                if converted is not None:
                    taken = iter(converted)
                    return list(map(list, map(islice, repeat(taken), map(len, values))))
            return list(map(convert, values))

        return objects_column
    return _each(convert)


_LIST = frozenset({list})


def _each(convert: Callable[[t.Any], t.Any]) -> Callable[[list[t.Any]], list[t.Any]]:
    def column(values: list[t.Any]) -> list[t.Any]:
        return list(map(convert, values))

    return column


def _memo_column(convert: Callable[[t.Any], t.Any]) -> Callable[[list[t.Any]], list[t.Any] | None]:
    read = text_memo(convert)
    return partial(converted_column, read=read, bulk=read.bulk)  # type: ignore[attr-defined]


def _number_column(values: list[t.Any]) -> list[t.Any]:
    if set(map(type, values)) == _STR and "," not in "".join(values):
        return list(map(Decimal, values))
    return list(map(_number, values))


_STR = frozenset({str})
