"""EDMX ($metadata) parsing for OData v2 services (SuccessFactors, S/4HANA) and OData v4 CSDL (S/4HANA RAP
services): entity sets, their types, keys, properties with Edm types, ``sap:`` annotations and navigation properties
(v2 through associations, v4 through the navigation property's own ``Type``).

Real documents run to megabytes (S/4 API_BUSINESS_PARTNER is 600 kB, a full SuccessFactors tenant several MB),
so the parser streams with the kit's hardened ``xmlsafe.iterparse_xml`` (no DTD, entities or network) and frees
each element once it has been read; ``Documentation`` and vocabulary ``Annotations`` blocks are dropped unkept.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from lxml import etree

from xlr8_kit.xmlsafe import UnsafeXMLError, XMLParseError, iterparse_xml

#: SAP publishes its annotation attributes under two namespace URIs (SuccessFactors uses both in one document).
SAP_NAMESPACES = frozenset(
    {
        "http://www.sap.com/Protocols/SAPData",
        "http://www.successfactors.com/edm/sap",
    }
)
_M_NAMESPACE = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"


#: Key properties that make an entity effective dated (see ``EntityType.effective_start_key``).
EFFECTIVE_START_KEYS = ("startDate", "effectiveStartDate")
EFFECTIVE_START_SUFFIX = "_effectiveStartDate"


class EdmxError(ValueError):
    """The document is not a usable EDMX (not XML, no schema, or a reference that does not resolve)."""


def _flag(annotations: dict[str, str], name: str, default: bool = True) -> bool:
    """SAP flags default to true when absent (the OData v2 SAP annotation spec)."""
    value = annotations.get(name)
    return default if value is None else value.strip().lower() == "true"


@dataclass(frozen=True)
class EdmProperty:
    name: str
    edm_type: str
    nullable: bool = True
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    #: ``sap:`` attributes by local name, e.g. ``{"filterable": "false", "label": "Company"}``.
    sap: dict[str, str] = field(default_factory=dict)

    @property
    def filterable(self) -> bool:
        return _flag(self.sap, "filterable")

    @property
    def sortable(self) -> bool:
        return _flag(self.sap, "sortable")

    @property
    def creatable(self) -> bool:
        return _flag(self.sap, "creatable")

    @property
    def updatable(self) -> bool:
        return _flag(self.sap, "updatable")

    @property
    def label(self) -> str | None:
        return self.sap.get("label")


@dataclass(frozen=True)
class NavigationProperty:
    name: str
    relationship: str
    from_role: str
    to_role: str
    #: Qualified name of the entity type at the far end, once associations are resolved.
    target_type: str | None = None
    #: ``1``, ``0..1`` or ``*`` at the far end.
    multiplicity: str | None = None
    sap: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EntityType:
    namespace: str
    name: str
    keys: tuple[str, ...]
    properties: dict[str, EdmProperty]
    navigation: dict[str, NavigationProperty]
    sap: dict[str, str] = field(default_factory=dict)

    @property
    def qualified_name(self) -> str:
        return f"{self.namespace}.{self.name}"

    @property
    def effective_start_key(self) -> str | None:
        """The key property that makes this type effective dated, or None.

        SuccessFactors keys effective-dated entities by their start date: ``startDate`` (EmpJob, PerPersonal, FO
        objects), ``effectiveStartDate`` (MDF objects), and an MDF child object by its parent's record, so its key
        carries ``<Parent>_effectiveStartDate`` (e.g. ``cust_Vehicle_effectiveStartDate``) and it follows the parent's
        effective dating.
        """
        for name in self.keys:
            if name in EFFECTIVE_START_KEYS or name.endswith(EFFECTIVE_START_SUFFIX):
                prop = self.properties.get(name)
                if prop is None or prop.edm_type in ("Edm.DateTime", "Edm.DateTimeOffset"):
                    return name
        return None


@dataclass(frozen=True)
class EntitySet:
    name: str
    entity_type: EntityType
    sap: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str | None:
        return self.sap.get("label")

    @property
    def creatable(self) -> bool:
        return _flag(self.sap, "creatable")


@dataclass(frozen=True)
class ServiceMetadata:
    entity_sets: dict[str, EntitySet]
    entity_types: dict[str, EntityType]
    #: The ``Version`` of the ``edmx:Edmx`` root: ``1.0`` for OData v2 services, ``4.0`` (or ``4.01``) for v4.
    edmx_version: str = "1.0"

    @property
    def odata_version(self) -> int:
        """2 or 4: which JSON format, literals and paging options the service speaks."""
        return 4 if self.edmx_version.startswith("4") else 2

    def entity_set(self, name: str) -> EntitySet:
        try:
            return self.entity_sets[name]
        except KeyError:
            raise KeyError(
                f"entity set {name!r} is not in the service metadata; known: {', '.join(sorted(self.entity_sets))}"
            ) from None


# lxml spells a namespaced name "{namespace}local" (Clark notation; an XML name cannot hold "}"): split as text,
# which is what ``etree.QName`` answers at a tenth of its cost (a SuccessFactors $metadata runs to megabytes, and
# every sync of a catalog parses it before its first request).


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _sap_attrs(elem: etree._Element) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in elem.attrib.items():
        if key[:1] == "{":
            namespace, _, local = key[1:].partition("}")
            if namespace in SAP_NAMESPACES:
                out[local] = value
    return out


def _int(value: str | None) -> int | None:
    if value is None or not value.strip().lstrip("-").isdigit():
        return None
    return int(value)


def _source(source: str | bytes | os.PathLike[str] | IO[bytes]) -> IO[bytes] | str:
    if isinstance(source, bytes):
        return io.BytesIO(source)
    if isinstance(source, os.PathLike):
        return os.fspath(source)
    return source


def _iter_elements(
    source: IO[bytes] | str, root_version: list[str] | None = None
) -> Iterator[tuple[str, etree._Element, str, dict[str, str]]]:
    """Yield (kind, element, schema namespace, schema aliases) for each top-level EDM element, then free it.
    The root's ``Version`` is appended to ``root_version`` when given."""
    namespace = ""
    aliases: dict[str, str] = {}
    depth_skip = 0
    try:
        for event, elem in iterparse_xml(source, huge=True):
            name = _local(elem.tag)
            if event == "start":
                if name == "Edmx" and root_version is not None:
                    root_version.append(elem.get("Version", "1.0"))
                if name == "Schema":
                    namespace = elem.get("Namespace", "")
                    if elem.get("Alias"):
                        aliases[elem.get("Alias")] = namespace
                elif name in ("Documentation", "Annotations"):
                    depth_skip += 1
                continue
            if name in ("Documentation", "Annotations"):
                depth_skip -= 1
                elem.clear()
                continue
            if depth_skip:
                continue
            if name in ("EntityType", "EntitySet", "Association", "ComplexType"):
                yield name, elem, namespace, aliases
                elem.clear()
                while elem.getprevious() is not None:
                    del elem.getparent()[0]
    except UnsafeXMLError as exc:
        raise EdmxError(f"EDMX refused: {exc}") from None
    except XMLParseError as exc:
        raise EdmxError(f"EDMX is {exc}") from None


def parse_edmx(source: str | bytes | os.PathLike[str] | IO[bytes]) -> ServiceMetadata:
    """Parse an EDMX document (path, bytes or binary file) into entity sets with resolved entity types."""
    raw_types: dict[str, EntityType] = {}
    raw_sets: list[tuple[str, str, dict[str, str]]] = []
    associations: dict[str, dict[str, tuple[str, str]]] = {}
    all_aliases: dict[str, str] = {}
    version: list[str] = []
    for kind, elem, namespace, aliases in _iter_elements(_source(source), version):
        all_aliases.update(aliases)
        if kind == "EntityType":
            entity = _entity_type(elem, namespace)
            raw_types[entity.qualified_name] = entity
        elif kind == "EntitySet":
            raw_sets.append((elem.get("Name", ""), elem.get("EntityType", ""), _sap_attrs(elem)))
        elif kind == "Association":
            ends = {
                end.get("Role", ""): (end.get("Type", ""), end.get("Multiplicity", ""))
                for end in elem
                if _local(end.tag) == "End"
            }
            associations[f"{namespace}.{elem.get('Name', '')}"] = ends
    if not raw_types and not raw_sets:
        raise EdmxError("EDMX holds no entity types or entity sets (is this a $metadata document?)")

    def resolve(qualified: str) -> str:
        ns, _, name = qualified.rpartition(".")
        return f"{all_aliases.get(ns, ns)}.{name}"

    types: dict[str, EntityType] = {}
    for qualified, entity in raw_types.items():
        navigation = {}
        for nav in entity.navigation.values():
            if nav.target_type is not None:  # v4: the type is on the navigation property itself
                navigation[nav.name] = NavigationProperty(
                    nav.name, "", "", "", resolve(nav.target_type), nav.multiplicity, nav.sap
                )
                continue
            target = associations.get(resolve(nav.relationship), {}).get(nav.to_role)
            navigation[nav.name] = NavigationProperty(
                name=nav.name,
                relationship=nav.relationship,
                from_role=nav.from_role,
                to_role=nav.to_role,
                target_type=resolve(target[0]) if target else None,
                multiplicity=target[1] if target else None,
                sap=nav.sap,
            )
        types[qualified] = EntityType(
            entity.namespace, entity.name, entity.keys, entity.properties, navigation, entity.sap
        )
    sets: dict[str, EntitySet] = {}
    for name, type_name, sap in raw_sets:
        entity_type = types.get(resolve(type_name))
        if entity_type is None:
            raise EdmxError(f"entity set {name!r} refers to unknown entity type {type_name!r}")
        sets[name] = EntitySet(name=name, entity_type=entity_type, sap=sap)
    return ServiceMetadata(entity_sets=sets, entity_types=types, edmx_version=version[0] if version else "1.0")


def _entity_type(elem: etree._Element, namespace: str) -> EntityType:
    keys: list[str] = []
    properties: dict[str, EdmProperty] = {}
    navigation: dict[str, NavigationProperty] = {}
    for child in elem:
        kind = _local(child.tag)
        if kind == "Key":
            keys.extend(ref.get("Name", "") for ref in child if _local(ref.tag) == "PropertyRef")
        elif kind == "Property":
            name = child.get("Name", "")
            properties[name] = EdmProperty(
                name=name,
                edm_type=child.get("Type", "Edm.String"),
                nullable=child.get("Nullable", "true").lower() != "false",
                max_length=_int(child.get("MaxLength")),
                precision=_int(child.get("Precision")),
                scale=_int(child.get("Scale")),
                sap=_sap_attrs(child),
            )
        elif kind == "NavigationProperty" and child.get("Type"):
            name = child.get("Name", "")
            declared = child.get("Type", "")
            many = declared.startswith("Collection(")
            navigation[name] = NavigationProperty(
                name=name,
                relationship="",
                from_role="",
                to_role="",
                target_type=declared[len("Collection(") : -1] if many else declared,
                multiplicity="*" if many else ("0..1" if child.get("Nullable", "true").lower() != "false" else "1"),
                sap=_sap_attrs(child),
            )
        elif kind == "NavigationProperty":
            name = child.get("Name", "")
            navigation[name] = NavigationProperty(
                name=name,
                relationship=child.get("Relationship", ""),
                from_role=child.get("FromRole", ""),
                to_role=child.get("ToRole", ""),
                sap=_sap_attrs(child),
            )
    missing = [k for k in keys if k not in properties]
    if missing:
        raise EdmxError(f"entity type {namespace}.{elem.get('Name')} declares key(s) {missing} with no property")
    return EntityType(
        namespace=namespace,
        name=elem.get("Name", ""),
        keys=tuple(keys),
        properties=properties,
        navigation=navigation,
        sap=_sap_attrs(elem),
    )
