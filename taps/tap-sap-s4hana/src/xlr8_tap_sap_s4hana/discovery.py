"""Streams from each service's own ``$metadata`` (v2 EDMX or v4 CSDL): one stream per entity set, keys from the
EDMX, navigation properties left out (item sets are streams of their own), Edm types mapped by the kit, and the
replication key the kit recognises (``LastChangeDateTime``, ``LastChangeDate``, ``ChangedOn``; never a creation
stamp, which misses every later change).
Item sets without a timestamp of their own but with a header (``HEADER_LINKS``) are incremental through the
header's timestamp, carried on each item as ``HeaderLastChangeDateTime``; everything else is full-table."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from xlr8_kit.odata import ChangeKey, EntitySet, EntityType, ServiceMetadata, change_key, entity_jsonschema
from xlr8_tap_sap_s4hana.streams import HEADER_LINKS, HeaderLink

#: The column an item set carries its header's change timestamp in (its replication key).
HEADER_CHANGE_COLUMN = "HeaderLastChangeDateTime"
#: An analytical set's row identity, the stream's key: a digest of the row's dimension values (review28a M5).
DIMENSION_KEY_COLUMN = "DimensionKey"
V2_ROOT = "/sap/opu/odata/sap"


def is_aggregate(entity: EntityType) -> bool:
    """An analytical set (``sap:semantics="aggregate"``, e.g. the real ``A_JournalEntryItemBasic``): the server
    groups by the dimensions a request selects and sums the measures, under a generated key (``ID``)."""
    return entity.sap.get("semantics") == "aggregate"


def dimensions(entity: EntityType) -> tuple[str, ...]:
    """An analytical set's ``sap:aggregation-role="dimension"`` properties, in ``$metadata`` order."""
    return tuple(n for n, p in entity.properties.items() if p.sap.get("aggregation-role") == "dimension")


def dimension_digest(entity: EntityType) -> Callable[[dict[str, Any]], str]:
    """A raw entry's ``DIMENSION_KEY_COLUMN``: SHA-256 of its dimension values as the server wrote them. A row
    read with every column is one combination of the dimensions, so this names the same row in every run, where
    SAP's generated ``ID`` is documented (HANA XS OData) as valid only for the session that numbered it."""
    names = dimensions(entity)

    def digest(entry: dict[str, Any]) -> str:
        values = json.dumps([entry.get(n) for n in names], separators=(",", ":"), ensure_ascii=False, default=str)
        return hashlib.sha256(values.encode()).hexdigest()

    return digest


@dataclass(frozen=True)
class ServiceRef:
    """A configured service: a v2 name (``API_BUSINESS_PARTNER``) or the path of any service (v4 included)."""

    configured: str

    @property
    def path(self) -> str:
        text = self.configured.strip().rstrip("/")
        return text if text.startswith("/") else f"{V2_ROOT}/{text}"

    @property
    def name(self) -> str:
        """``API_BUSINESS_PARTNER``; for v4 paths the service name before the version (``.../purchaseorder/0001``)."""
        segments = self.path.split("/")
        return segments[-2] if segments[-1].isdigit() and len(segments) > 1 else segments[-1]


@dataclass(frozen=True)
class Expansion:
    """A navigation property read inline with its source row (``$expand``): the rows it leads to are part of the
    record (a list for a collection), so a purchase order and its items come from one answer, as S/4 holds them."""

    name: str
    entity: EntityType
    many: bool
    children: tuple[Expansion, ...] = ()

    def jsonschema(self) -> dict[str, Any]:
        schema = entity_jsonschema(self.entity)
        for child in self.children:
            schema["properties"][child.name] = child.jsonschema()
        if self.many:
            return {"type": "array", "items": schema, "description": f"{self.name} ($expand): every related row"}
        schema["type"] = ["object", "null"]
        return schema


@dataclass(frozen=True)
class StreamPlan:
    service: ServiceRef
    version: int
    name: str
    entity_set: EntitySet
    schema: dict[str, Any]
    primary_keys: tuple[str, ...]
    change: ChangeKey | None
    #: Item sets read through their header (see ``HeaderLink``), with the header's change key.
    header: HeaderLink | None = None
    header_entity: EntitySet | None = None
    header_change: ChangeKey | None = None
    #: Navigation properties read inline (the ``expand`` setting).
    expand: tuple[Expansion, ...] = ()

    @property
    def replication_key(self) -> str | None:
        if self.change is not None:
            return self.change.name
        if self.header is not None and self.header.every_run:
            return None  # read whole every run: no bookmark
        return HEADER_CHANGE_COLUMN if self.header_change is not None else None


def plan_streams(service: ServiceRef, metadata: ServiceMetadata, taken: set[str]) -> list[StreamPlan]:
    """Plans for every entity set of one service; a name another service already uses gets the service prefix."""
    plans = []
    for name in sorted(metadata.entity_sets):
        entity_set = metadata.entity_sets[name]
        entity = entity_set.entity_type
        schema = entity_jsonschema(entity)
        change = change_key(entity)
        header = HEADER_LINKS.get(name) if change is None else None
        header_entity = metadata.entity_sets.get(header.header_set) if header else None
        header_change = change_key(header_entity.entity_type) if header_entity is not None else None
        if header_change is not None:
            schema["properties"][HEADER_CHANGE_COLUMN] = {
                "type": ["string", "null"],
                "format": "date-time",
                "description": f"{header_entity.name if header_entity else ''}.{header_change.name} of this item's "
                "header (the item's replication key, unless read whole every run)",
            }
        keys = entity.keys
        if is_aggregate(entity) and dimensions(entity):
            # SAP's generated ID is no row identity across requests: the dimensions are (one row per combination)
            keys = (DIMENSION_KEY_COLUMN,)
            schema["properties"][DIMENSION_KEY_COLUMN] = {
                "type": ["string"],
                "description": "SHA-256 of the row's dimension values: the row's identity across runs (the "
                "generated ID is valid only for the request that numbered it)",
            }
        stream_name = name if name not in taken else f"{service.name}_{name}"
        taken.add(stream_name)
        plans.append(
            StreamPlan(
                service=service,
                version=metadata.odata_version,
                name=stream_name,
                entity_set=entity_set,
                schema=schema,
                primary_keys=keys,
                change=change,
                header=header if header_change is not None else None,
                header_entity=header_entity if header_change is not None else None,
                header_change=header_change,
            )
        )
    return plans


def select_plans(plans: list[StreamPlan], wanted: tuple[str, ...]) -> list[StreamPlan]:
    """Only the configured entity sets (stream names), in discovery order; none configured means all."""
    if not wanted:
        return plans
    known = {p.name for p in plans}
    missing = [w for w in wanted if w not in known]
    if missing:
        raise ValueError(
            f"setting 'entity_sets' names {', '.join(missing)}, not in the configured services' $metadata "
            f"(available: {', '.join(sorted(known))})"
        )
    return [p for p in plans if p.name in wanted]


def with_expansions(
    plans: list[StreamPlan], metadata: dict[str, ServiceMetadata], expand: dict[str, tuple[str, ...]]
) -> list[StreamPlan]:
    """Plans with the ``expand`` setting's navigation paths (``to_PurchaseOrderItem/to_ScheduleLine``) resolved
    against each service's ``$metadata`` and added to the stream's schema; every error names the setting."""
    by_name = {p.name: p for p in plans}
    unknown = [name for name in expand if name not in by_name]
    if unknown:
        raise ValueError(
            f"setting 'expand' names {', '.join(unknown)}, not among the streams read (check 'entity_sets' and "
            f"'services'; read: {', '.join(sorted(by_name))})"
        )
    out = []
    for plan in plans:
        paths = expand.get(plan.name)
        if not paths:
            out.append(plan)
            continue
        if plan.version >= 4:
            raise ValueError(f"setting 'expand': {plan.name} is an OData v4 set; only v2 services are expanded")
        if plan.header is not None:
            raise ValueError(f"setting 'expand': {plan.name} is read through its header; expand the header instead")
        tree: dict[str, Any] = {}
        for path in paths:
            node = tree
            for segment in path.strip().split("/"):
                node = node.setdefault(segment, {})
        expansions = _expansions(plan.entity_set.entity_type, tree, metadata[plan.service.path], plan.name)
        schema = {**plan.schema, "properties": dict(plan.schema["properties"])}
        for expansion in expansions:
            schema["properties"][expansion.name] = expansion.jsonschema()
        out.append(replace(plan, schema=schema, expand=expansions))
    return out


def _expansions(
    entity: EntityType, tree: dict[str, Any], metadata: ServiceMetadata, where: str
) -> tuple[Expansion, ...]:
    found = []
    for name, below in tree.items():
        nav = entity.navigation.get(name)
        target = metadata.entity_types.get(nav.target_type or "") if nav is not None else None
        if nav is None or target is None:
            raise ValueError(
                f"setting 'expand': {where} has no navigation property {name!r} in $metadata (its navigation "
                f"properties: {', '.join(sorted(entity.navigation)) or 'none'})"
            )
        children = _expansions(target, below, metadata, f"{where}/{name}")
        found.append(Expansion(name, target, nav.multiplicity == "*", children))
    return tuple(found)
