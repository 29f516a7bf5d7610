"""Streams from the service's own ``$metadata``: every entity set the tenant has (custom MDF objects included),
keys as primary keys, Edm types mapped by the kit, incremental where a filterable change timestamp exists and
effective dating where the key carries a start date (the kit's ``EntityType.effective_start_key``). Fetched once
per tap instance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xlr8_kit.odata import SUCCESSFACTORS_CHANGE_KEYS, EntitySet, ServiceMetadata, change_key, entity_jsonschema

#: Change timestamps, most specific first (SuccessFactors entities, then MDF objects).
REPLICATION_KEYS = SUCCESSFACTORS_CHANGE_KEYS


@dataclass(frozen=True)
class StreamPlan:
    entity_set: EntitySet
    schema: dict[str, Any]
    primary_keys: tuple[str, ...]
    replication_key: str | None
    replication_key_type: str | None
    effective_dated: bool

    @property
    def name(self) -> str:
        return self.entity_set.name


def plan_stream(entity_set: EntitySet) -> StreamPlan:
    entity = entity_set.entity_type
    schema = entity_jsonschema(entity)
    key = change_key(entity, REPLICATION_KEYS)
    return StreamPlan(
        entity_set=entity_set,
        schema=schema,
        primary_keys=entity.keys,
        replication_key=key.name if key else None,
        replication_key_type=key.edm_type if key else None,
        effective_dated=entity.effective_start_key is not None,
    )


def select_entity_sets(metadata: ServiceMetadata, wanted: tuple[str, ...]) -> list[EntitySet]:
    """The configured entity sets in the configured order; ``*`` means every set in the metadata."""
    if "*" in wanted:
        return [metadata.entity_sets[name] for name in sorted(metadata.entity_sets)]
    missing = [name for name in wanted if name not in metadata.entity_sets]
    if missing:
        raise ValueError(
            f"setting 'entity_sets' names {', '.join(missing)}, not in this tenant's $metadata "
            f"(available: {', '.join(sorted(metadata.entity_sets))})"
        )
    return [metadata.entity_sets[name] for name in wanted]
