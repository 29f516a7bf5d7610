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


def conformed_decoder(
    stream: KitRESTStream, entity: EntityType, schema: dict[str, t.Any], *, read: Iterable[str] = ()
) -> EntryDecoder | None:
    """The stream's ``EntryDecoder`` for ``entity`` (Edm.Decimal as written text while only the writer reads the
    records: ``records_written_only``), or None when the schema in force is not ``schema`` (the one discovery
    built from the entity, under which the decoder's records are conformed): a user's catalog may declare other
    types, and then the loop conforms. ``read`` names properties the stream reads itself (kept as values)."""
    properties = stream.effective_schema.get("properties")
    if properties is not schema.get("properties") and properties != schema.get("properties"):
        return None
    written = stream.records_written_only
    cache: dict[tuple[int, bool], EntryDecoder] = stream.__dict__.setdefault(_DECODERS, {})
    key = (id(entity), written)
    decoder = cache.get(key)
    if decoder is None or decoder.entity is not entity:
        decoder = cache[key] = EntryDecoder(entity, written=written, read=read)
    return decoder
