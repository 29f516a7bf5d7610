"""OData for the S/4HANA emulator: services (v2 Gateway and v4 RAP), their ``$metadata`` (v2 EDMX with ``sap:``
annotations, v4 CSDL), the JSON formats of both versions, server and client paging, and SAP Gateway error bodies.

Entity sets reuse the SuccessFactors emulator's declarations (``EntityDef``/``Prop``) and its ``$filter`` grammar;
v4 literals (``2026-01-05T09:00:00Z``, ``2026-01-05``) are rewritten to the v2 forms that grammar reads.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from lxml import etree

from xlr8_kit.odata.types import format_odata_datetime
from xlr8_sandbox.products.successfactors_odata import (
    EntityDef,
    ODataRequestError,
    Prop,
    parse_filter,
    parse_orderby,
    sort_rows,
)

EDMX_V2 = "http://schemas.microsoft.com/ado/2007/06/edmx"
EDM_V2 = "http://schemas.microsoft.com/ado/2008/09/edm"
M_NS = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
SAP_NS = "http://www.sap.com/Protocols/SAPData"
EDMX_V4 = "http://docs.oasis-open.org/odata/ns/edmx"
EDM_V4 = "http://docs.oasis-open.org/odata/ns/edm"


@dataclass(frozen=True)
class S4Prop(Prop):
    precision: int | None = None
    scale: int | None = None
    #: ``sap:display-format="Date"`` on a v2 Edm.DateTime that holds a day.
    day: bool = False
    #: ``sap:aggregation-role`` in an analytical set: ``dimension`` (grouped by) or ``measure`` (summed).
    role: str | None = None
    #: ``sap:unit``: the property holding a measure's currency or unit (grouped with the measure).
    unit: str | None = None
    #: ``sap:semantics`` of a property (``currency-code``, ``unit-of-measure``).
    semantics: str | None = None


@dataclass(frozen=True)
class S4Nav:
    """A navigation property; with ``related`` (the target rows of one source row) it can be ``$expand``-ed."""

    name: str
    target: str
    many: bool
    related: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = field(default=None, compare=False)


@dataclass
class S4Set:
    entity: EntityDef
    type_name: str
    navs: list[S4Nav] = field(default_factory=list)
    #: An analytical set (``sap:semantics="aggregate"``): ``entity`` serves the posted lines, never served as such;
    #: a request gets them grouped by the dimensions it selects, measures summed, under a generated key.
    aggregate: bool = False


@dataclass
class Service:
    """One OData service: ``/sap/opu/odata/sap/<NAME>`` (v2) or ``/sap/opu/odata4/sap/<group>/srvd_a2x/sap/<name>/0001``
    (v4)."""

    name: str
    version: int
    path: str
    sets: dict[str, S4Set]
    namespace: str

    def metadata(self) -> bytes:
        return build_edmx_v2(self) if self.version == 2 else build_csdl_v4(self)


class S4Error(ODataRequestError):
    """SAP Gateway's error body: code, message with language, and an ``innererror`` with a transaction id."""

    def body(self) -> dict[str, Any]:
        transaction = uuid.uuid4().hex.upper()
        return {
            "error": {
                "code": self.code,
                "message": {"lang": "en", "value": self.message},
                "innererror": {
                    "application": {"component_id": "MM-PUR", "service_namespace": "/SAP/", "service_version": "0001"},
                    "transactionid": transaction,
                    "timestamp": datetime.now(UTC).strftime("%Y%m%d%H%M%S.%f")[:21],
                    "Error_Resolution": {
                        "SAP_Transaction": 'For backend administrators: use ADT feed reader "SAP Gateway Error '
                        'Log" or run transaction /IWFND/ERROR_LOG on SAP Gateway hub system and search for entries '
                        "with the timestamp above for more details",
                        "SAP_Note": "See SAP Note 1797736 for error analysis (https://service.sap.com/sap/support/notes/"
                        "1797736)",
                    },
                    "errordetails": [],
                },
            }
        }

    def body_v4(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "@SAP__common.ExceptionCategory": "Client"}}


def from_filter_error(exc: ODataRequestError) -> S4Error:
    """The shared ``$filter`` grammar speaks SuccessFactors' codes; S/4 answers with Gateway's."""
    message = re.sub(r"^\[COE\d+\]", "", exc.message)
    return S4Error(exc.status, "/IWBEP/CM_MGW_RT/022" if exc.status == 400 else "/IWBEP/CM_MGW_RT/020", message)


_V4_INSTANT = re.compile(r"(?<![\w'])(\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2}))")
_V4_DATE = re.compile(r"(?<![\w'-])(\d{4}-\d{2}-\d{2})(?![\w'T:-])")


def v4_filter_to_v2(text: str) -> str:
    """``LastChangeDateTime ge 2026-01-05T09:00:00Z`` -> ``... ge datetimeoffset'2026-01-05T09:00:00Z'``."""
    text = _V4_INSTANT.sub(lambda m: f"datetimeoffset'{m.group(1)}'", text)
    return _V4_DATE.sub(lambda m: f"datetime'{m.group(1)}T00:00:00'", text)


# --- wire values -------------------------------------------------------------------------------------------------


def _moment(value: datetime | date) -> datetime:
    return value if isinstance(value, datetime) else datetime(value.year, value.month, value.day, tzinfo=UTC)


def v2_value(prop: Prop, value: Any) -> Any:
    """OData v2 JSON: ``/Date(ms)/``, Edm.Time as ``PT09H30M00S``, Int64 and Decimal as strings."""
    if value is None:
        return None
    edm = prop.edm_type
    if edm == "Edm.DateTime":
        return format_odata_datetime(_moment(value))
    if edm == "Edm.DateTimeOffset":
        return format_odata_datetime(_moment(value), with_offset=True)
    if edm == "Edm.Time":
        return f"PT{value.hour:02d}H{value.minute:02d}M{value.second:02d}S"
    if edm in ("Edm.Int64", "Edm.Decimal"):
        return str(value)
    return value


class RawNumber(str):
    """A Decimal to be written as a JSON number with its exact digits (v4 without IEEE754Compatible)."""


def v4_value(prop: Prop, value: Any, *, ieee754_compatible: bool) -> Any:
    """OData v4 JSON: ISO 8601 dates and instants; Decimal as a number (a string with IEEE754Compatible=true)."""
    if value is None:
        return None
    edm = prop.edm_type
    if edm == "Edm.DateTimeOffset":
        return _moment(value).astimezone(UTC).isoformat().replace("+00:00", "Z")
    if edm == "Edm.Date":
        return (value.date() if isinstance(value, datetime) else value).isoformat()
    if edm == "Edm.TimeOfDay":
        return value.isoformat() if isinstance(value, time) else str(value)
    if edm == "Edm.Decimal":
        return str(value) if ieee754_compatible else RawNumber(str(value))
    if edm == "Edm.Int64":
        return str(value) if ieee754_compatible else int(value)
    return value


def dumps_v4(body: dict[str, Any]) -> str:
    """JSON with ``RawNumber`` values written unquoted (``json`` cannot write a Decimal exactly)."""
    marker = "\u0000n:"

    def mark(value: Any) -> Any:
        if isinstance(value, RawNumber):
            return marker + value
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    text = json.dumps(mark(body), ensure_ascii=False)
    return re.sub(r'"\\u0000n:([-0-9.Ee+]+)"', r"\1", text)


def key_predicate(entity: EntityDef, row: dict[str, Any], version: int) -> str:
    def lit(prop: Prop, value: Any) -> str:
        if isinstance(value, str):
            return "'" + value.replace("'", "''") + "'"
        if isinstance(value, datetime | date):
            if version >= 4:
                return value.isoformat()[:10] if prop.edm_type == "Edm.Date" else _moment(value).isoformat()
            return f"datetime'{_moment(value).replace(tzinfo=None).isoformat(timespec='seconds')}'"
        return str(value)

    if len(entity.keys) == 1:
        key = entity.keys[0]
        return lit(entity.by_name[key], row[key])
    return ",".join(f"{k}={lit(entity.by_name[k], row[k])}" for k in entity.keys)


def serialize_v2(service: Service, s4set: S4Set, row: dict[str, Any], service_url: str) -> dict[str, Any]:
    entity = s4set.entity
    uri = f"{service_url}/{entity.name}({key_predicate(entity, row, 2)})"
    out: dict[str, Any] = {
        "__metadata": {"id": uri, "uri": uri, "type": f"{service.namespace}.{s4set.type_name}"},
    }
    for prop in entity.props:
        out[prop.name] = v2_value(prop, row.get(prop.name))
    for nav in s4set.navs:
        out[nav.name] = {"__deferred": {"uri": f"{uri}/{nav.name}"}}
    return out


def serialize_v4(s4set: S4Set, row: dict[str, Any], *, ieee754_compatible: bool) -> dict[str, Any]:
    return {p.name: v4_value(p, row.get(p.name), ieee754_compatible=ieee754_compatible) for p in s4set.entity.props}


# --- $metadata ---------------------------------------------------------------------------------------------------


def _type_attrs(elem: etree._Element, prop: Prop, keys: tuple[str, ...]) -> None:
    elem.set("Name", prop.name)
    elem.set("Type", prop.edm_type)
    if prop.name in keys or not prop.nullable:
        elem.set("Nullable", "false")
    if prop.max_length:
        elem.set("MaxLength", str(prop.max_length))
    if isinstance(prop, S4Prop):
        if prop.precision is not None:
            elem.set("Precision", str(prop.precision))
        if prop.scale is not None:
            elem.set("Scale", str(prop.scale))


def build_edmx_v2(service: Service) -> bytes:
    """EDMX 1.0 as SAP Gateway publishes it: one schema named after the service, ``sap:`` flags and labels,
    ``<Name>Type`` entity types, associations for the navigation properties."""
    root = etree.Element(f"{{{EDMX_V2}}}Edmx", nsmap={"edmx": EDMX_V2, "m": M_NS, "sap": SAP_NS})
    root.set("Version", "1.0")
    services = etree.SubElement(root, f"{{{EDMX_V2}}}DataServices")
    services.set(f"{{{M_NS}}}DataServiceVersion", "2.0")
    schema = etree.SubElement(services, f"{{{EDM_V2}}}Schema", nsmap={None: EDM_V2})
    schema.set("Namespace", service.namespace)
    schema.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    schema.set(f"{{{SAP_NS}}}schema-version", "1")
    associations: list[tuple[S4Set, S4Nav]] = []
    for s4set in service.sets.values():
        entity = s4set.entity
        entity_type = etree.SubElement(schema, f"{{{EDM_V2}}}EntityType")
        entity_type.set("Name", s4set.type_name)
        if s4set.aggregate:
            entity_type.set(f"{{{SAP_NS}}}semantics", "aggregate")
        entity_type.set(f"{{{SAP_NS}}}label", entity.label)
        entity_type.set(f"{{{SAP_NS}}}content-version", "1")
        key = etree.SubElement(entity_type, f"{{{EDM_V2}}}Key")
        for name in entity.keys:
            etree.SubElement(key, f"{{{EDM_V2}}}PropertyRef").set("Name", name)
        for prop in entity.props:
            elem = etree.SubElement(entity_type, f"{{{EDM_V2}}}Property")
            _type_attrs(elem, prop, entity.keys)
            if isinstance(prop, S4Prop) and prop.role:
                elem.set(f"{{{SAP_NS}}}aggregation-role", prop.role)
            if isinstance(prop, S4Prop) and prop.day:
                elem.set(f"{{{SAP_NS}}}display-format", "Date")
            if isinstance(prop, S4Prop) and prop.unit:
                elem.set(f"{{{SAP_NS}}}unit", prop.unit)
            elem.set(f"{{{SAP_NS}}}label", prop.label or prop.name)
            if isinstance(prop, S4Prop) and prop.semantics:
                elem.set(f"{{{SAP_NS}}}semantics", prop.semantics)
            elem.set(f"{{{SAP_NS}}}creatable", "false")
            elem.set(f"{{{SAP_NS}}}updatable", "false")
            if not prop.filterable:
                elem.set(f"{{{SAP_NS}}}filterable", "false")
            if not prop.sortable:
                elem.set(f"{{{SAP_NS}}}sortable", "false")
        for nav in s4set.navs:
            relationship = f"assoc_{s4set.type_name}_{nav.name}"
            elem = etree.SubElement(entity_type, f"{{{EDM_V2}}}NavigationProperty")
            elem.set("Name", nav.name)
            elem.set("Relationship", f"{service.namespace}.{relationship}")
            elem.set("FromRole", "FromRole_" + relationship)
            elem.set("ToRole", "ToRole_" + relationship)
            associations.append((s4set, nav))
    for s4set, nav in associations:
        relationship = f"assoc_{s4set.type_name}_{nav.name}"
        association = etree.SubElement(schema, f"{{{EDM_V2}}}Association")
        association.set("Name", relationship)
        association.set(f"{{{SAP_NS}}}content-version", "1")
        target = service.sets[nav.target]
        for type_name, multiplicity, role in (
            (s4set.type_name, "1", "FromRole_" + relationship),
            (target.type_name, "*" if nav.many else "0..1", "ToRole_" + relationship),
        ):
            end = etree.SubElement(association, f"{{{EDM_V2}}}End")
            end.set("Type", f"{service.namespace}.{type_name}")
            end.set("Multiplicity", multiplicity)
            end.set("Role", role)
    container = etree.SubElement(schema, f"{{{EDM_V2}}}EntityContainer")
    container.set("Name", f"{service.namespace}_Entities")
    container.set(f"{{{M_NS}}}IsDefaultEntityContainer", "true")
    container.set(f"{{{SAP_NS}}}supported-formats", "atom json xlsx")
    for s4set in service.sets.values():
        elem = etree.SubElement(container, f"{{{EDM_V2}}}EntitySet")
        elem.set("Name", s4set.entity.name)
        elem.set("EntityType", f"{service.namespace}.{s4set.type_name}")
        for flag in ("creatable", "updatable", "deletable"):
            elem.set(f"{{{SAP_NS}}}{flag}", "false")
        elem.set(f"{{{SAP_NS}}}content-version", "1")
    for s4set, nav in associations:
        relationship = f"assoc_{s4set.type_name}_{nav.name}"
        association_set = etree.SubElement(container, f"{{{EDM_V2}}}AssociationSet")
        association_set.set("Name", relationship)
        association_set.set("Association", f"{service.namespace}.{relationship}")
        for set_name, role in ((s4set.entity.name, "FromRole_"), (nav.target, "ToRole_")):
            end = etree.SubElement(association_set, f"{{{EDM_V2}}}End")
            end.set("EntitySet", set_name)
            end.set("Role", role + relationship)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def build_csdl_v4(service: Service) -> bytes:
    """CSDL 4.0 as the ABAP RESTful programming model publishes it: schema alias ``SAP__self``, ``<Name>Type``
    types, navigation properties typed ``Collection(...)``, an entity container named ``Container``."""
    root = etree.Element(f"{{{EDMX_V4}}}Edmx", nsmap={"edmx": EDMX_V4})
    root.set("Version", "4.0")
    reference = etree.SubElement(root, f"{{{EDMX_V4}}}Reference")
    reference.set(
        "Uri",
        "https://sap.github.io/odata-vocabularies/vocabularies/Common.xml",
    )
    include = etree.SubElement(reference, f"{{{EDMX_V4}}}Include")
    include.set("Namespace", "com.sap.vocabularies.Common.v1")
    include.set("Alias", "SAP__common")
    services = etree.SubElement(root, f"{{{EDMX_V4}}}DataServices")
    schema = etree.SubElement(services, f"{{{EDM_V4}}}Schema", nsmap={None: EDM_V4})
    schema.set("Namespace", service.namespace)
    schema.set("Alias", "SAP__self")
    for s4set in service.sets.values():
        entity = s4set.entity
        entity_type = etree.SubElement(schema, f"{{{EDM_V4}}}EntityType")
        entity_type.set("Name", s4set.type_name)
        key = etree.SubElement(entity_type, f"{{{EDM_V4}}}Key")
        for name in entity.keys:
            etree.SubElement(key, f"{{{EDM_V4}}}PropertyRef").set("Name", name)
        for prop in entity.props:
            _type_attrs(etree.SubElement(entity_type, f"{{{EDM_V4}}}Property"), prop, entity.keys)
        for nav in s4set.navs:
            elem = etree.SubElement(entity_type, f"{{{EDM_V4}}}NavigationProperty")
            elem.set("Name", nav.name)
            target = f"SAP__self.{service.sets[nav.target].type_name}"
            elem.set("Type", f"Collection({target})" if nav.many else target)
            if not nav.many:
                elem.set("Nullable", "false")
    container = etree.SubElement(schema, f"{{{EDM_V4}}}EntityContainer")
    container.set("Name", "Container")
    for s4set in service.sets.values():
        elem = etree.SubElement(container, f"{{{EDM_V4}}}EntitySet")
        elem.set("Name", s4set.entity.name)
        elem.set("EntityType", f"SAP__self.{s4set.type_name}")
        for nav in s4set.navs:
            binding = etree.SubElement(elem, f"{{{EDM_V4}}}NavigationPropertyBinding")
            binding.set("Path", nav.name)
            binding.set("Target", nav.target)
    annotations = etree.SubElement(schema, f"{{{EDM_V4}}}Annotations")
    annotations.set("Target", "SAP__self.Container")
    annotation = etree.SubElement(annotations, f"{{{EDM_V4}}}Annotation")
    annotation.set("Term", "SAP__common.ApplyMultiUnitBehaviorForSortingAndFiltering")
    annotation.set("Bool", "true")
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


# --- analytical sets ---------------------------------------------------------------------------------------------


def aggregate_rows(
    entity: EntityDef,
    lines: Iterable[dict[str, Any] | None],
    select: list[str] | None,
    filter_text: str | None,
    orderby_text: str | None,
    tie_salt: int | None = None,
) -> list[dict[str, Any]]:
    """An analytical read as SAP's engine answers it: the posted ``lines`` the ``$filter`` keeps (dimensions only:
    measures are ``sap:filterable="false"``), grouped by the dimensions ``$select`` names (every dimension without
    ``$select``) and by the unit of each selected measure, measures summed, in ``$orderby`` order (only over what is
    selected; the generated key cannot be sorted), else in no promised order (here: the first line of each group).
    Each row's key (``ID``) is its place in this answer from 1: it names the row only within this result.
    ``tie_salt`` shuffles the groups (seeded by it) before the stable sort: rows tied under ``$orderby``, and a whole
    answer without one, come back in another order per salt, as HANA may give them per request."""
    key = entity.keys[0]
    props = {p.name: p for p in entity.props}
    wanted = [n for n in (select if select is not None else list(props)) if n != key]
    role = {n: p.role if isinstance(p, S4Prop) else None for n, p in props.items()}
    measures = [n for n in wanted if role[n] == "measure"]
    units = {u for m in measures if (u := getattr(props[m], "unit", None))}
    dims = [n for n in props if n != key and role[n] != "measure" and (n in wanted or n in units)]
    try:
        predicate = parse_filter(filter_text, entity) if filter_text else None
        order = parse_orderby(orderby_text, entity) if orderby_text else []
    except ODataRequestError as exc:
        raise from_filter_error(exc) from None
    for name, _ in order:
        if not props[name].sortable:
            raise S4Error(400, "/IWBEP/CM_MGW_RT/022", f"Property '{name}' is not sortable")
        if name not in dims and name not in measures:
            raise S4Error(400, "/IWBEP/CM_MGW_RT/022", f"$orderby property '{name}' is not in $select")
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for line in lines:
        if line is None or (predicate is not None and not predicate(line)):
            continue
        group = tuple(line.get(d) for d in dims)
        row = groups.get(group)
        if row is None:
            groups[group] = {**{d: line.get(d) for d in dims}, **{m: line.get(m) for m in measures}}
            continue
        for m in measures:
            row[m] = row[m] + line[m]
    result = list(groups.values())
    if tie_salt is not None:
        random.Random(tie_salt).shuffle(result)
    result = sort_rows(result, order) if order else result
    for number, row in enumerate(result, 1):
        row[key] = str(number)
    return result


def props_named(props: Iterable[Prop]) -> dict[str, Prop]:
    return {p.name: p for p in props}
