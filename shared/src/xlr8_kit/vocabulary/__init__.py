"""One language for every product: registry product ids, canonical entities and fields, and per product which
stream and column carry each of them.

Lookups raise a ``VocabularyError`` subclass naming what was asked and listing what is known, so a typo in a
setting or a question fails clearly instead of silently matching nothing.
"""

from __future__ import annotations

import re
import threading

from xlr8_kit.vocabulary.data import ENTITIES, FIELDS, PRODUCTS, build_mappings
from xlr8_kit.vocabulary.model import (
    CanonicalField,
    Dialect,
    Entity,
    FieldMap,
    FieldType,
    Product,
    StreamMapping,
    TruthType,
    UnknownEntityError,
    UnknownFieldError,
    UnknownProductError,
    VocabularyError,
)

_PRODUCT_BY_NAME: dict[str, Product] = {}
for _product in PRODUCTS:
    for _name in (_product.id, *_product.aliases):
        _PRODUCT_BY_NAME[re.sub(r"[\s\-/]+", "_", _name.strip().lower())] = _product

_ENTITY_BY_NAME: dict[str, Entity] = {entity.name: entity for entity in ENTITIES}
_ENTITY_BY_WORD: dict[str, Entity] = {}
for _entity in ENTITIES:
    for _word in (_entity.name, *_entity.synonyms):
        _ENTITY_BY_WORD[_word] = _entity

_FIELD_BY_NAME: dict[str, CanonicalField] = {f.name: f for f in FIELDS}

_mappings: dict[tuple[str, str], StreamMapping] | None = None
_lock = threading.Lock()


def _normalise(word: str) -> str:
    return re.sub(r"[\s\-/]+", "_", word.strip().lower())


def resolve_product(name: str) -> Product:
    """The product for a registry id, a plan alias (``sap_sf``) or a tap name (``tap-salesforce``)."""
    found = _PRODUCT_BY_NAME.get(_normalise(name or ""))
    if found is None:
        known = ", ".join(p.id for p in PRODUCTS)
        raise UnknownProductError(f"unknown product {name!r}; known product ids: {known}")
    return found


def all_products() -> tuple[Product, ...]:
    return PRODUCTS


def find_entity(word: str) -> Entity | None:
    """The canonical entity a word means (synonyms and simple plurals), or None."""
    key = _normalise(word)
    if key in _ENTITY_BY_WORD:
        return _ENTITY_BY_WORD[key]
    for suffix, replacement in (("ies", "y"), ("es", ""), ("s", "")):
        if key.endswith(suffix) and key[: -len(suffix)] + replacement in _ENTITY_BY_WORD:
            return _ENTITY_BY_WORD[key[: -len(suffix)] + replacement]
    return None


def resolve_entity(word: str) -> Entity:
    """Like ``find_entity`` but refuses unknown words, listing the canonical entities."""
    found = find_entity(word or "")
    if found is None:
        known = ", ".join(sorted(_ENTITY_BY_NAME))
        raise UnknownEntityError(f"unknown entity {word!r}; canonical entities: {known}")
    return found


def all_entities() -> tuple[Entity, ...]:
    return ENTITIES


def canonical_field(name: str) -> CanonicalField:
    found = _FIELD_BY_NAME.get(_normalise(name or ""))
    if found is None:
        raise UnknownFieldError(f"unknown canonical field {name!r}; known fields: {', '.join(sorted(_FIELD_BY_NAME))}")
    return found


def all_canonical_fields() -> tuple[CanonicalField, ...]:
    return FIELDS


def find_canonical_field(name: str) -> CanonicalField | None:
    return _FIELD_BY_NAME.get(_normalise(name or ""))


def _all_mappings() -> dict[tuple[str, str], StreamMapping]:
    global _mappings
    with _lock:
        if _mappings is None:
            _mappings = {(m.product, m.stream): m for m in build_mappings()}
        return _mappings


def register_mapping(mapping: StreamMapping) -> None:
    """Add or replace a product stream's mapping (a customer's RaaS report, a custom object)."""
    product = resolve_product(mapping.product)
    resolve_entity(mapping.entity)
    for canonical in mapping.fields:
        canonical_field(canonical)
    for canonical, _op in mapping.params:
        canonical_field(canonical)
    if product.id != mapping.product:
        raise VocabularyError(f"mapping product must be the registry id {product.id!r}, not {mapping.product!r}")
    _all_mappings()[(mapping.product, mapping.stream)] = mapping


def unregister_mapping(product: str, stream: str) -> None:
    """Remove a stream registered with ``register_mapping`` (tests, a report that was deleted)."""
    _all_mappings().pop((resolve_product(product).id, stream), None)


def stream_mappings(product: str, entity: str | None = None) -> list[StreamMapping]:
    """A product's stream mappings (for one canonical entity when given), primary stream first."""
    product_id = resolve_product(product).id
    entity_name = resolve_entity(entity).name if entity else None
    found = [
        m
        for (p, _), m in _all_mappings().items()
        if p == product_id and (entity_name is None or m.entity == entity_name)
    ]
    return sorted(found, key=lambda m: (not m.primary, m.stream))


def product_mapping(product: str, entity: str) -> StreamMapping:
    """The stream a product reads first for a canonical entity (or a product's own stream name)."""
    product_id = resolve_product(product).id
    direct = mapping_for_stream(product_id, entity)
    if direct is not None:
        return direct
    found = stream_mappings(product_id, entity)
    if not found:
        entities = sorted({m.entity for m in stream_mappings(product_id)})
        raise VocabularyError(
            f"product {product_id!r} has no stream for entity {resolve_entity(entity).name!r}; "
            f"it carries: {', '.join(entities) or 'nothing yet'}"
        )
    return found[0]


def mapping_for_stream(product: str, stream: str) -> StreamMapping | None:
    return _all_mappings().get((resolve_product(product).id, stream))


def products_for_entity(entity: str) -> list[str]:
    """Registry ids of the source products that carry a canonical entity (``universal`` is not a source)."""
    name = resolve_entity(entity).name
    return sorted({p for (p, _), m in _all_mappings().items() if m.entity == name and p != "universal"})


def field_type(mapping: StreamMapping, canonical: str) -> FieldType:
    """The type a product stores a canonical field in (the product's override, else the canonical type)."""
    spec = mapping.fields.get(canonical)
    if spec is not None and spec.type is not None:
        return spec.type
    return canonical_field(canonical).type


__all__ = [
    "CanonicalField",
    "Dialect",
    "Entity",
    "FieldMap",
    "FieldType",
    "Product",
    "StreamMapping",
    "TruthType",
    "UnknownEntityError",
    "UnknownFieldError",
    "UnknownProductError",
    "VocabularyError",
    "all_canonical_fields",
    "all_entities",
    "all_products",
    "canonical_field",
    "field_type",
    "find_canonical_field",
    "find_entity",
    "mapping_for_stream",
    "product_mapping",
    "products_for_entity",
    "register_mapping",
    "resolve_entity",
    "resolve_product",
    "stream_mappings",
    "unregister_mapping",
]
