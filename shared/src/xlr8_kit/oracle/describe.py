"""Oracle Fusion ``/describe`` documents as resource descriptions, and their JSON Schema.

A describe document is ``{"Resources": {"<name>": {"attributes": [...], "collection": {"finders": [...]},
"children": {"<child>": {...same shape...}}}}}``. Each attribute carries ``name``, ``type`` (``string``,
``integer``, ``number``, ``boolean``, ``date``, ``datetime``), ``queryable`` and ``updatable``; the
``PrimaryKey`` finder lists the key attributes. Stream schemas are built from this, never written by hand, so an
attribute a tenant adds (a flexfield) appears without a code change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Attribute types and their JSON Schema (nullable: Fusion sends null for unset attributes).
_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": ["string", "null"]},
    "integer": {"type": ["integer", "null"]},
    "number": {"type": ["number", "null"]},
    "boolean": {"type": ["boolean", "null"]},
    "date": {"type": ["string", "null"], "format": "date"},
    "datetime": {"type": ["string", "null"], "format": "date-time"},
    "timestamp": {"type": ["string", "null"], "format": "date-time"},
}
EFFECTIVE_START = "EffectiveStartDate"
EFFECTIVE_END = "EffectiveEndDate"
EFFECTIVE_SEQUENCE = "EffectiveSequence"
EFFECTIVE_LATEST = "EffectiveLatestChange"


class DescribeError(ValueError):
    """A describe document without the expected shape (or without the resource asked for)."""


@dataclass(frozen=True)
class Attribute:
    name: str
    type: str
    queryable: bool = True
    updatable: bool = False
    title: str | None = None

    def jsonschema(self) -> dict[str, Any]:
        """Unknown types (a newer framework's) are kept as strings rather than dropped."""
        return dict(_TYPES.get(self.type, _TYPES["string"]))


@dataclass(frozen=True)
class Resource:
    """One resource (or child resource) of a describe document."""

    name: str
    attributes: dict[str, Attribute]
    keys: tuple[str, ...]
    children: dict[str, Resource] = field(default_factory=dict)
    finders: tuple[str, ...] = ()

    @property
    def effective_dated(self) -> bool:
        return EFFECTIVE_START in self.attributes

    def child(self, path: str) -> Resource:
        """A (nested) child by dotted path: ``workRelationships.assignments``."""
        node = self
        for part in path.split("."):
            if part not in node.children:
                raise DescribeError(
                    f"resource {self.name!r} has no child {path!r} (children: {', '.join(sorted(node.children))})"
                )
            node = node.children[part]
        return node

    def jsonschema(self, *, embed: tuple[str, ...] = ()) -> dict[str, Any]:
        """Object schema of the attributes, plus embedded child collections (arrays of their own schema)."""
        properties: dict[str, Any] = {name: attr.jsonschema() for name, attr in self.attributes.items()}
        groups: dict[str, list[str]] = {}
        for path in embed:
            head, _, rest = path.partition(".")
            groups.setdefault(head, []).extend([rest] if rest else [])
        for head, rests in groups.items():
            child = self.children.get(head)
            if child is None:
                raise DescribeError(f"resource {self.name!r} has no child {head!r}")
            properties[head] = {"type": ["array", "null"], "items": child.jsonschema(embed=tuple(rests))}
        return {"type": "object", "properties": properties}


def parse_resource(name: str, doc: Mapping[str, Any]) -> Resource:
    """One resource node of a describe document (recursing into children)."""
    raw_attributes = doc.get("attributes")
    if not isinstance(raw_attributes, list):
        raise DescribeError(f"describe of {name!r} has no attribute list")
    attributes: dict[str, Attribute] = {}
    for raw in raw_attributes:
        if not isinstance(raw, Mapping) or not raw.get("name"):
            raise DescribeError(f"describe of {name!r}: attribute without a name: {raw!r}"[:300])
        attributes[str(raw["name"])] = Attribute(
            name=str(raw["name"]),
            type=str(raw.get("type") or "string"),
            queryable=bool(raw.get("queryable", True)),
            updatable=bool(raw.get("updatable", False)),
            title=raw.get("title"),
        )
    finders = (doc.get("collection") or {}).get("finders") or []
    keys: tuple[str, ...] = ()
    for finder in finders:
        if finder.get("name") == "PrimaryKey":
            keys = tuple(str(a["name"]) for a in finder.get("attributes") or [] if a.get("name") in attributes)
    children = {
        str(child_name): parse_resource(str(child_name), child_doc)
        for child_name, child_doc in (doc.get("children") or {}).items()
        if isinstance(child_doc, Mapping)
    }
    return Resource(
        name=name,
        attributes=attributes,
        keys=keys,
        children=children,
        finders=tuple(str(f.get("name")) for f in finders if f.get("name")),
    )


def parse_describe(doc: Mapping[str, Any], resource: str) -> Resource:
    """The named resource from a ``<resource>/describe`` answer."""
    resources = doc.get("Resources")
    if not isinstance(resources, Mapping):
        raise DescribeError(f"describe of {resource!r} has no 'Resources' object")
    node = resources.get(resource)
    if not isinstance(node, Mapping):
        raise DescribeError(f"describe of {resource!r} does not describe it (found: {', '.join(resources)})")
    return parse_resource(resource, node)
