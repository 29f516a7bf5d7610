"""The ``x-xlr8`` annotation taps put in each SCHEMA message, read by target-xlr8-truths and ignored by others.

CONTRACT (the target and every tap rely on this shape)::

    "x-xlr8": {
      "version": 1,
      "product": "salesforce",             # registry product id
      "stream": "accounts",
      "entity": "crm_account",             # canonical entity
      "truth_type": "reality",             # or "configuration"
      "key_columns": ["Id"],
      "hub": {"column": "Id", "semantic_type": "crm_account_code"} | null,   # configuration streams
      "references": {"AccountId": {"entity": "crm_account", "semantic_type": "crm_account_code"}},
      "canonical_fields": {"Id": "account_id", "LastModifiedDate": "last_modified"}
    }
"""

from __future__ import annotations

from typing import Any

ANNOTATION_KEY = "x-xlr8"


def build_annotation(
    *,
    product: str,
    stream: str,
    entity: str | None,
    truth_type: str,
    key_columns: list[str],
    references: dict[str, str],
    columns: list[str],
) -> dict[str, Any]:
    """Minimal builder; the vocabulary fills canonical field names and validates entities."""
    entity_name = entity or stream
    hub = None
    if truth_type == "configuration" and key_columns:
        hub = {"column": key_columns[0], "semantic_type": f"{entity_name}_code"}
    return {
        "version": 1,
        "product": product,
        "stream": stream,
        "entity": entity_name,
        "truth_type": truth_type,
        "key_columns": key_columns,
        "hub": hub,
        "references": {c: {"entity": e, "semantic_type": f"{e}_code"} for c, e in references.items()},
        "canonical_fields": {},
    }
