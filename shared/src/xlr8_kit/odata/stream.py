"""What the SuccessFactors and S/4HANA streams share about decoding their pages: which ``EntryDecoder`` a stream
uses for the read in progress."""

from __future__ import annotations

import typing as t
from collections.abc import Iterable

from xlr8_kit.odata.edmx import EntityType
from xlr8_kit.odata.types import EntryDecoder

if t.TYPE_CHECKING:
    from xlr8_kit.rest import KitRESTStream

_DECODERS = "_xlr8_odata_decoders"
#: What the SDK's type conformance reads of a schema (singer-sdk 0.54.9, pinned): the property names and, per
#: property, its types and nested shapes. Descriptions, formats and annotations (``x-edm-precision``, which a
#: catalog's schema may not carry) change nothing it does.
_CONFORMANCE_KEYS = ("type", "anyOf", "allOf", "oneOf", "items", "prefixItems", "properties", "additionalProperties")


def _conformance_view(schema: dict[str, t.Any]) -> tuple[t.Any, ...]:
    properties = schema.get("properties") or {}
    return (
        schema.get("additionalProperties"),
        [
            (name, [(key, prop.get(key)) for key in _CONFORMANCE_KEYS] if isinstance(prop, dict) else prop)
            for name, prop in properties.items()
        ],
    )


def _conforms_alike(in_force: dict[str, t.Any], discovered: dict[str, t.Any]) -> bool:
    """Whether the SDK's conformance does the same under both schemas (read once per schema in force)."""
    if in_force is discovered:
        return True
    cached = _ALIKE.get(id(in_force))
    if cached is None or cached[0] is not in_force or cached[1] is not discovered:
        cached = (in_force, discovered, _conformance_view(in_force) == _conformance_view(discovered))
        if len(_ALIKE) >= 256:
            _ALIKE.clear()
        _ALIKE[id(in_force)] = cached
    return cached[2]


_ALIKE: dict[int, tuple[dict[str, t.Any], dict[str, t.Any], bool]] = {}


def conformed_decoder(
    stream: KitRESTStream, entity: EntityType, schema: dict[str, t.Any], *, read: Iterable[str] = ()
) -> EntryDecoder | None:
    """The stream's ``EntryDecoder`` for ``entity`` (Edm.Decimal as written text while only the writer reads the
    records: ``records_written_only``), or None when the schema in force is not ``schema`` (the one discovery
    built from the entity, under which the decoder's records are conformed): a user's catalog may declare other
    types, and then the loop conforms. ``read`` names properties the stream reads itself (kept as values)."""
    if not _conforms_alike(stream.effective_schema, schema):
        return None
    written = stream.records_written_only
    cache: dict[tuple[int, bool], EntryDecoder] = stream.__dict__.setdefault(_DECODERS, {})
    key = (id(entity), written)
    decoder = cache.get(key)
    if decoder is None or decoder.entity is not entity:
        decoder = cache[key] = EntryDecoder(entity, written=written, read=read)
    return decoder
