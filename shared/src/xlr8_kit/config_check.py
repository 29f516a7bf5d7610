"""A plugin's config proven valid against its settings schema without jsonschema, for the usual case.

Every run checks its config (``KitTap._validate_config``) with jsonschema's ``Draft7Validator``. Importing
jsonschema and referencing costs ~60 ms of CPU at every start (~60 modules: attrs, rpds, the draft metaschemas),
about a fifth of a tap's start-up, for a check that nearly always finds nothing. ``proven_valid`` walks the schema
for the keywords the plugins' settings use, exactly as Draft 7 defines them, and answers True only when the
config satisfies every one; anything else (an error, a keyword or value type it does not know) answers False and
jsonschema decides, so the errors and their wording are always jsonschema's. It never says "valid" where
jsonschema would find an error (``tests``: it is compared with ``Draft7Validator`` on generated configs).
"""

from __future__ import annotations

import typing as t
from decimal import Decimal

#: Keywords that assert nothing in Draft 7 as the kit validates (``Draft7Validator(schema)``: no format checker,
#: so ``format`` is an annotation; ``secret`` and ``writeOnly`` are the SDK's markers).
_ANNOTATIONS = frozenset(
    {"$schema", "$comment", "title", "description", "default", "examples", "secret", "writeOnly", "readOnly",
     "format", "definitions", "contentMediaType", "contentEncoding"}
)  # fmt: skip

#: Draft 7's types for the values a JSON config holds (exact types only: anything else goes to jsonschema). A
#: float with an integral value is a Draft 7 integer, a Decimal never is (a config file's fractions: the SDK reads
#: it with ``parse_float=Decimal``); a boolean is neither an integer nor a number.
_TYPES: dict[type, frozenset[str]] = {
    str: frozenset({"string"}),
    bool: frozenset({"boolean"}),
    int: frozenset({"integer", "number"}),
    float: frozenset({"number"}),
    Decimal: frozenset({"number"}),
    type(None): frozenset({"null"}),
    dict: frozenset({"object"}),
    list: frozenset({"array"}),
}
_SCALARS = (str, bool, int, float, type(None))
#: Draft 7's type names (jsonschema raises on any other, even after one that matched).
_KNOWN_TYPES = frozenset({"string", "boolean", "integer", "number", "null", "object", "array"})


def proven_valid(schema: t.Any, instance: t.Any) -> bool:
    """True when ``instance`` satisfies ``schema`` under Draft 7 for certain; False when it may not (jsonschema
    then decides)."""
    if schema is True:
        return True
    if type(schema) is not dict:
        return False
    kind = type(instance)
    types = _TYPES.get(kind)
    if types is None:
        return False
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        if keyword == "type":
            names = [value] if type(value) is str else value if type(value) is list else [None]
            allowed = set(names) if all(type(name) is str for name in names) else None
            if (
                allowed is None
                or not allowed <= _KNOWN_TYPES
                or not (types & allowed or (kind is float and "integer" in allowed and instance.is_integer()))
            ):
                return False
        elif keyword in ("enum", "const"):
            choices = value if keyword == "enum" else [value]
            if type(choices) is not list or kind not in _SCALARS:
                return False
            # the same type and equal: what jsonschema's ``equal`` finds equal (it also equates 1 and 1.0)
            if not any(type(choice) is kind and choice == instance for choice in choices):
                return False
        elif keyword in ("minimum", "maximum"):
            if kind in (int, float, Decimal):  # the bounds apply to numbers only (a boolean is not one)
                if type(value) not in (int, float) or (kind is Decimal and not instance.is_finite()):
                    return False
                if not (value <= instance if keyword == "minimum" else instance <= value):
                    return False
        elif keyword == "properties":
            if type(value) is not dict:
                return False
            if kind is dict and not all(
                proven_valid(value[name], item) for name, item in instance.items() if name in value
            ):
                return False
        elif keyword == "required":
            if type(value) is not list:
                return False
            if kind is dict and not all(name in instance for name in value):
                return False
        elif keyword == "additionalProperties":
            if kind is dict and not _additional_valid(schema, value, instance):
                return False
        elif keyword == "items":
            if type(value) is not dict and value is not True:
                return False  # the tuple form, or false
            if kind is list and not all(proven_valid(value, item) for item in instance):
                return False
        elif keyword == "anyOf":
            if type(value) is not list or not any(proven_valid(branch, instance) for branch in value):
                return False
        else:  # a keyword not handled here (oneOf, $ref, pattern, ...): jsonschema decides
            return False
    return True


def _additional_valid(schema: dict[str, t.Any], additional: t.Any, instance: dict[str, t.Any]) -> bool:
    if "patternProperties" in schema:
        return False  # not handled (and then the whole schema is not: see ``proven_valid``)
    properties = schema.get("properties", {})
    if type(properties) is not dict:
        return False
    extra = [name for name in instance if name not in properties]
    if not extra or additional is True:
        return True
    if type(additional) is not dict:
        return False  # false with keys beyond the properties: an error
    return all(proven_valid(additional, instance[name]) for name in extra)
