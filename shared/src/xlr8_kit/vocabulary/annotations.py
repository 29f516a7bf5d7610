"""The ``x-xlr8`` annotation taps put in each SCHEMA message, read by target-xlr8-truths and ignored by others.

CONTRACT (the target and every tap rely on this shape)::

    "x-xlr8": {
      "version": 1,
      "product": "salesforce",             # registry product id
      "stream": "Contact",
      "entity": "contact",                 # canonical entity
      "truth_type": "reality",             # or "configuration"
      "key_columns": ["Id"],
      "hub": {"column": "Id", "semantic_type": "contact_code"} | null,   # configuration streams
      "references": {"AccountId": {"entity": "crm_account", "semantic_type": "crm_account_code"}},
      "canonical_fields": {"Id": "contact_id", "SystemModstamp": "last_modified"},
      "formerly_unannotated": true,        # only on a stream older taps sent without this block (see below)
      "replace_by": ["personNumber", "applyDate"]   # only on a stream whose rows come in sets (see below)
    }

``canonical_fields`` and ``references`` come from the vocabulary's mapping of the product's stream (only for
columns the schema really has); references a stream declares itself are added on top. An entity the vocabulary
does not know is refused here, when the tap builds its SCHEMA message, not discovered later in the target.

``formerly_unannotated`` marks a stream that earlier versions of its tap sent without ``x-xlr8``: those runs landed
it under the run's source name (``{p8}_{source_name}_{stream}``), and the target renames that table to the
product's name the first time it sees the stream annotated, so its rows stay with it.

``replace_by`` names sets of rows the tap always reads whole, such as a person's totals of one day: the rows a run
sends for such a set replace every row an earlier run landed for it, so a row that vanished from the source (a pay
code a timecard correction removed) is deleted downstream, as the key alone cannot say. A set the source answers
with no rows at all is named only by the announcement below. It is either a leading part of ``key_columns`` (a row
belongs to one set for good), or columns outside the key (``replace_sets_fit``): the key is then the source's own id,
and a row the source moved to another set (a shift given to another person) upserts in place instead of standing
twice.

A set that lost ALL its rows sends no record, so nothing above names it. For those the tap also says which sets it
read whole, once the read ended well (never for a read that failed or read part of the rows, ``reads_part``), as
RECORD messages of one extra stream, ``SETS_READ_STREAM`` (its SCHEMA sent once per run, before the first)::

    {"stream": "punches", "sets": {"personNumber": ["E1", "E2"], "applyDate": ["2026-01-05", "2026-01-06"]},
     "read_start": "2026-01-07T00:00:00.123456+00:00"}

``sets`` names every ``replace_by`` column, each with a list of values: every combination of them is a set the
run read whole (here two people's two days). target-xlr8-truths marks deleted (``hard_delete``: deletes) the
rows of every such set that the run sent no row of: the set is now empty. ``read_start`` (optional) is when the
read began, by the clock that stamps its records' ``time_extracted``: a row extracted at or after it (by another
run whose read overlapped this one and landed first: review26c M5) is never deleted by this announcement. Other
runs' stamps come from their own hosts' clocks: the comparison holds for runs on one host, or on hosts whose
clocks are synchronized (NTP); a skew lets a row another host extracted within it after the read began be
deleted. An announcement whose ``read_start`` is later than the target's own clock (the tap's clock is ahead)
fails the run before the STATE that follows, so the bookmark stays and a rerun announces the sets again.
``stream`` is the name the stream's records go out under (a tap-side stream map's ``__alias__``). The
announcements go out before the STATE that covers the read. Singer has no message for this (an
unknown message type stops SDK targets), and a RECORD of a stream of its own is harmless elsewhere: another target
lands a small table of these announcements (drop it there with a stream map ``{"_xlr8_sets_read": null}``).
"""

from __future__ import annotations

from typing import Any

from xlr8_kit.declared import TRUTH_TYPES
from xlr8_kit.vocabulary import (
    UnknownEntityError,
    VocabularyError,
    all_entities,
    find_canonical_field,
    find_entity,
    mapping_for_stream,
    resolve_entity,
    resolve_product,
)

ANNOTATION_KEY = "x-xlr8"
#: The stream of the sets a run read whole (see above): its records name sets, not rows of a table.
SETS_READ_STREAM = "_xlr8_sets_read"
#: Values one ``SETS_READ_STREAM`` record lists per column at most (a run's sets go in as many records as needed).
SETS_READ_CHUNK = 1000


def semantic_type(entity: str) -> str:
    """The semantic type shared by a configuration hub and every column referencing it."""
    return f"{entity}_code"


def replace_sets_fit(replace_by: list[str], key_columns: list[str]) -> bool:
    """Whether ``replace_by`` can name sets for the target: a leading part of the key, or no part of it (one rule
    for the tap's annotation and the target's reading of it)."""
    wanted, key = list(replace_by), list(key_columns)
    return bool(wanted) and (wanted == key[: len(wanted)] or not set(wanted) & set(key))


def build_annotation(
    *,
    product: str,
    stream: str,
    entity: str | None,
    truth_type: str,
    key_columns: list[str],
    references: dict[str, str],
    columns: list[str],
    formerly_unannotated: bool = False,
    replace_by: list[str] | None = None,
) -> dict[str, Any]:
    """The ``x-xlr8`` block for one stream; raises ``VocabularyError`` for unknown products or entities, or for a
    ``replace_by`` that is not a leading part of the key."""
    product_id = resolve_product(product).id
    if replace_by and not replace_sets_fit(replace_by, key_columns):
        raise VocabularyError(
            f"{product_id} stream {stream!r}: replace_by {list(replace_by)} must be a leading part of the key "
            f"{list(key_columns)} or lie outside it"
        )
    if truth_type not in TRUTH_TYPES:
        raise VocabularyError(
            f"{product_id} stream {stream!r}: truth_type must be one of {TRUTH_TYPES}, not {truth_type!r}"
        )
    mapping = mapping_for_stream(product_id, stream)
    entity_name = _stream_entity(product_id, stream, entity, mapping.entity if mapping else None)
    present = set(columns)

    canonical_fields: dict[str, str] = {}
    refs: dict[str, dict[str, str]] = {}
    hub_column = key_columns[0] if key_columns else None
    if mapping is not None and mapping.entity == entity_name:
        for canonical, spec in mapping.fields.items():
            if spec.column in present:
                canonical_fields[spec.column] = canonical
        own_code = resolve_entity(entity_name).code_field
        own_column = mapping.column(own_code) if own_code else None
        if truth_type == "configuration" and own_column in present:
            hub_column = own_column
        for column, canonical in canonical_fields.items():
            spec_field = find_canonical_field(canonical)
            target = spec_field.references if spec_field else None
            if target and not (target == entity_name and column in (own_column, *key_columns)):
                refs[column] = {"entity": target, "semantic_type": semantic_type(target)}
    for column, target in references.items():
        target_name = resolve_entity(target).name
        refs[column] = {"entity": target_name, "semantic_type": semantic_type(target_name)}

    hub = None
    if truth_type == "configuration" and hub_column:
        hub = {"column": hub_column, "semantic_type": semantic_type(entity_name)}
    annotation: dict[str, Any] = {
        "version": 1,
        "product": product_id,
        "stream": stream,
        "entity": entity_name,
        "truth_type": truth_type,
        "key_columns": list(key_columns),
        "hub": hub,
        "references": refs,
        "canonical_fields": canonical_fields,
    }
    if formerly_unannotated:
        annotation["formerly_unannotated"] = True
    if replace_by:
        annotation["replace_by"] = list(replace_by)
    return annotation


def _stream_entity(product_id: str, stream: str, declared: str | None, mapped: str | None) -> str:
    if declared:
        return resolve_entity(declared).name
    if mapped:
        return mapped
    found = find_entity(stream)
    if found is None:
        known = ", ".join(sorted(e.name for e in all_entities()))
        raise UnknownEntityError(
            f"{product_id} stream {stream!r} has no canonical entity: set xlr8_entity on the stream class "
            f"(canonical entities: {known}) or add the stream to xlr8_kit/vocabulary/data.py"
        )
    return found.name
