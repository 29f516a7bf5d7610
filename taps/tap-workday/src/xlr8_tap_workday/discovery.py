"""RaaS report schemas from the report's own XSD (``?xsds``), and the conversion of Workday's all-string JSON into
typed values by that schema.

Workday renders every RaaS JSON value as a string (``"1"``/``"0"`` for booleans, decimals as text) and leaves
empty fields out; the XSD is the only place the types live. Subgroups (``<Name>_group``, ``maxOccurs=unbounded``)
become arrays of objects, references (``*_ReferenceType`` with a ``Descriptor`` attribute) the descriptor
string the JSON carries.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from itertools import compress, repeat

from lxml import etree

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
            return {k: (fields[k](v) if k in fields else v) for k, v in value.items()}

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
