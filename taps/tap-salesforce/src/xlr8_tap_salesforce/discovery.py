"""Salesforce describe -> Singer JSON schema, in pure functions (tested on real describe documents).

Exactness: currency, double and percent become ``number``. The SDK parses JSON numbers as ``Decimal`` and writes
them back unchanged, so 12345.67 stays 12345.67 end to end. ``multipleOf`` is deliberately not emitted: jsonschema
cannot check a ``Decimal`` against a float ``multipleOf`` (it raises TypeError), so precision and scale travel as
``x-sf-precision`` / ``x-sf-scale`` annotations instead, which validators ignore and the target may read.

Every property carries ``x-sf-type``; formula fields carry ``x-sf-calculated``; the parts of a compound field carry
``x-sf-compound`` (the compound's name). Streams rebuilt from a saved catalog therefore know everything they need
(formula re-read, Bulk API column lists) without another describe call.
"""

from __future__ import annotations

from typing import Any

REPLICATION_KEY_CANDIDATES = ("SystemModstamp", "LastModifiedDate", "CreatedDate")
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
        schema["x-sf-precision"] = field.get("precision", 0)
        schema["x-sf-scale"] = field.get("scale", 0)
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
    schema["x-sf-type"] = sf_type
    if field.get("calculated"):
        schema["x-sf-calculated"] = True
    if field.get("compoundFieldName"):
        schema["x-sf-compound"] = field["compoundFieldName"]
    if field.get("referenceTo"):
        schema["x-sf-reference-to"] = list(field["referenceTo"])
    return schema


def object_schema(describe: dict[str, Any]) -> dict[str, Any]:
    """The stream schema of one sObject; deletable objects get ``_sdc_deleted_at``."""
    properties = {f["name"]: field_schema(f) for f in describe["fields"]}
    if "IsDeleted" in properties:
        properties[DELETED_AT] = {"type": ["string", "null"], "format": "date-time"}
    return {"type": "object", "properties": properties, "additionalProperties": False}


def replication_key(schema: dict[str, Any]) -> str | None:
    """SystemModstamp, else LastModifiedDate, else CreatedDate; None means full-table."""
    properties = schema.get("properties", {})
    for name in REPLICATION_KEY_CANDIDATES:
        if properties.get(name, {}).get("x-sf-type") == "datetime":
            return name
    return None


def replicable_objects(global_describe: dict[str, Any]) -> list[str]:
    """Objects worth replicating by default: queryable, replicateable, retrieveable, not feeds/shares/events."""
    names = []
    for entry in global_describe.get("sobjects", []):
        if not (entry.get("queryable") and entry.get("replicateable") and entry.get("retrieveable", True)):
            continue
        if entry["name"].endswith(_SKIP_SUFFIXES):
            continue
        names.append(entry["name"])
    return names


def formula_fields(schema: dict[str, Any]) -> list[str]:
    return [n for n, p in schema.get("properties", {}).items() if p.get("x-sf-calculated")]


def compound_fields(schema: dict[str, Any]) -> dict[str, list[str]]:
    """Compound field -> its component fields (Bulk API 2.0 cannot select compounds, only their parts)."""
    compounds: dict[str, list[str]] = {
        n: [] for n, p in schema.get("properties", {}).items() if p.get("x-sf-type") in ("address", "location")
    }
    for name, prop in schema.get("properties", {}).items():
        parent = prop.get("x-sf-compound")
        if parent in compounds:
            compounds[parent].append(name)
    return compounds


def compound_key(compound: str, compound_type: str, component: str) -> str:
    """The key a component takes inside its compound value: BillingPostalCode -> postalCode."""
    if compound_type == "location":
        suffix = component.rsplit("__", 2)[-2] if component.endswith("__s") else component
        return suffix[0].lower() + suffix[1:]
    prefix = compound[: -len("Address")] if compound.endswith("Address") else compound
    suffix = component[len(prefix) :] if component.startswith(prefix) else component
    return suffix[0].lower() + suffix[1:] if suffix else suffix
