"""Salesforce describe -> Singer JSON schema, in pure functions (tested on real describe documents).

Exactness: currency, double and percent become ``number``. The SDK parses JSON numbers as ``Decimal`` and writes
them back unchanged, so 12345.67 stays 12345.67 end to end. ``multipleOf`` is deliberately not emitted: jsonschema
cannot check a ``Decimal`` against a float ``multipleOf`` (it raises TypeError, so every record would fail
validation). Custom ``x-`` keys are not used either: the SDK's catalog model drops unknown schema keys. What the
reader needs beyond the schema (Salesforce types, formula fields, compound parts) is kept in ``ObjectInfo``, built
from the describe (one composite call per 25 objects, also when a catalog is given).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REPLICATION_KEY_CANDIDATES = ("SystemModstamp", "LastModifiedDate", "CreatedDate")
#: Blob fields: a REST query returns the record's blob URL (``/services/data/vXX.X/sobjects/<Object>/<Id>/<Field>``),
#: not the content; Bulk queries cannot select them at all.
BINARY_TYPES = frozenset({"base64"})
DELETED_AT = "_sdc_deleted_at"

_STRING_TYPES = frozenset(
    {
        "id",
        "reference",
        "string",
        "picklist",
        "multipicklist",
        "combobox",
        "textarea",
        "phone",
        "url",
        "email",
        "encryptedstring",
        "base64",
        "anyType",
        "datacategorygroupreference",
        "complexvalue",
        "json",
    }
)
_NUMBER_TYPES = frozenset({"double", "currency", "percent"})
_INTEGER_TYPES = frozenset({"int", "long"})
_FORMATS = {"date": "date", "datetime": "date-time", "time": "time"}

_ADDRESS_PARTS = {
    "street": "string",
    "city": "string",
    "state": "string",
    "stateCode": "string",
    "postalCode": "string",
    "country": "string",
    "countryCode": "string",
    "latitude": "number",
    "longitude": "number",
    "geocodeAccuracy": "string",
}

#: Global-describe names that are not data objects a tap should replicate by default.
_SKIP_SUFFIXES = ("ChangeEvent", "Feed", "History", "Share", "__mdt", "__e", "__x", "__b")


def _nullable(json_type: str, nullable: bool) -> str | list[str]:
    return [json_type, "null"] if nullable else json_type


def field_schema(field: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of one describe field."""
    sf_type = field["type"]
    nullable = field.get("name") != "Id"
    schema: dict[str, Any]
    if sf_type == "boolean":
        schema = {"type": _nullable("boolean", nullable)}
    elif sf_type in _INTEGER_TYPES:
        schema = {"type": _nullable("integer", nullable)}
    elif sf_type in _NUMBER_TYPES:
        schema = {"type": _nullable("number", nullable)}
    elif sf_type in _FORMATS:
        schema = {"type": _nullable("string", nullable), "format": _FORMATS[sf_type]}
    elif sf_type == "address":
        schema = {
            "type": _nullable("object", nullable),
            "properties": {k: {"type": [v, "null"]} for k, v in _ADDRESS_PARTS.items()},
        }
    elif sf_type == "location":
        schema = {
            "type": _nullable("object", nullable),
            "properties": {"latitude": {"type": ["number", "null"]}, "longitude": {"type": ["number", "null"]}},
        }
    else:
        # Known text types and anything newer Salesforce adds: a string loses nothing.
        schema = {"type": _nullable("string", nullable)}
        if sf_type in ("string", "textarea", "phone", "url", "email", "picklist") and field.get("length"):
            schema["maxLength"] = field["length"]
    if field.get("label"):
        schema["title"] = field["label"]
    return schema


def object_schema(describe: dict[str, Any]) -> dict[str, Any]:
    """The stream schema of one sObject; deletable objects get ``_sdc_deleted_at``."""
    properties = {f["name"]: field_schema(f) for f in describe["fields"]}
    if "IsDeleted" in properties:
        properties[DELETED_AT] = {"type": ["string", "null"], "format": "date-time"}
    return {"type": "object", "properties": properties, "additionalProperties": False}


@dataclass(frozen=True)
class ObjectInfo:
    """What reading an sObject needs from its describe, besides the JSON schema."""

    name: str
    field_types: dict[str, str]
    formula_fields: tuple[str, ...]
    #: compound field -> (address | location, its component fields)
    compounds: dict[str, tuple[str, tuple[str, ...]]]
    replication_key: str | None

    @classmethod
    def from_describe(cls, describe: dict[str, Any]) -> ObjectInfo:
        fields = describe["fields"]
        types = {f["name"]: f["type"] for f in fields}
        compounds = {
            f["name"]: (f["type"], tuple(c["name"] for c in fields if c.get("compoundFieldName") == f["name"]))
            for f in fields
            if f["type"] in ("address", "location")
        }
        key = next((n for n in REPLICATION_KEY_CANDIDATES if types.get(n) == "datetime"), None)
        return cls(
            name=describe["name"],
            field_types=types,
            formula_fields=tuple(f["name"] for f in fields if f.get("calculated")),
            compounds=compounds,
            replication_key=key,
        )

    @property
    def has_is_deleted(self) -> bool:
        return "IsDeleted" in self.field_types


def replicable_objects(global_describe: dict[str, Any]) -> list[str]:
    """Objects worth replicating by default: queryable, replicateable, retrieveable, not feeds/shares/events."""
    names = []
    for entry in global_describe["sobjects"]:
        if not (entry.get("queryable") and entry.get("replicateable") and entry.get("retrieveable", True)):
            continue
        if entry["name"].endswith(_SKIP_SUFFIXES):
            continue
        names.append(entry["name"])
    return names


def compound_key(compound: str, compound_type: str, component: str) -> str:
    """The key a component takes inside its compound value: BillingPostalCode -> postalCode."""
    if compound_type == "location":
        suffix = component.rsplit("__", 2)[-2] if component.endswith("__s") else component
        return suffix[0].lower() + suffix[1:]
    prefix = compound[: -len("Address")] if compound.endswith("Address") else compound
    suffix = component[len(prefix) :] if component.startswith(prefix) else component
    return suffix[0].lower() + suffix[1:] if suffix else suffix


def schema_compounds(properties: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """Compound field -> its component fields, guessed from a stream schema alone (a catalog, before the describe
    is in): the object-typed properties ``field_schema`` makes of address and location fields, and the properties
    named as their components (``compound_key``), in schema order. ``ObjectInfo.compounds`` is the describe's own:
    a guess that differs only makes a query sent early go unused."""
    compounds: dict[str, tuple[str, ...]] = {}
    for name, schema in properties.items():
        kinds = schema.get("type")
        if "object" not in (kinds if isinstance(kinds, list) else [kinds]):
            continue
        parts = schema.get("properties") or {}
        if "street" in parts:
            prefix = name[: -len("Address")] if name.endswith("Address") else name
            compounds[name] = tuple(
                p
                for p in properties
                if p != name and p.startswith(prefix) and p[len(prefix) :] and compound_key(name, "address", p) in parts
            )
        else:
            stem = name.removesuffix("__c") + "__"
            compounds[name] = tuple(
                p
                for p in properties
                if p.startswith(stem) and p.endswith("__s") and compound_key(name, "location", p) in parts
            )
    return compounds
