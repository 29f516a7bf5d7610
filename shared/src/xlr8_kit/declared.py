"""Streams a tap builds from the API's own description (OData ``$metadata``, Oracle's describe): the tap declares
only what each stream is for the Intelligence Engine (``StreamDeclaration``), and ``declared_stream_class`` makes one
class per stream carrying its plan and that declaration (the SDK keys some behaviour on the class)."""

from __future__ import annotations

import typing as t
from collections.abc import Mapping
from dataclasses import dataclass, field

StreamT = t.TypeVar("StreamT", bound=type)

#: The truth types a stream may land as (``xlr8_kit.vocabulary.annotations`` refuses any other).
TRUTH_TYPES = ("reality", "configuration")


class Declares(t.Protocol):
    """What a declaration says: the canonical entity (None: none), the truth type and the referencing columns."""

    @property
    def entity(self) -> str | None: ...

    @property
    def truth_type(self) -> str: ...

    @property
    def references(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class StreamDeclaration:
    entity: str | None = None
    truth_type: str = "reality"
    #: Column -> the configuration entity it references: ``{"Supplier": "supplier"}``.
    references: dict[str, str] = field(default_factory=dict)


#: What an entity set the tap says nothing about is: a reality stream with no canonical entity.
UNDECLARED = StreamDeclaration()


def declared_stream_class(base: StreamT, plan: t.Any, name: str, declared: Declares | None, doc: str) -> StreamT:
    """A subclass of ``base`` named ``<name>Stream`` with ``plan`` and the ``xlr8_*`` annotations of ``declared``."""
    declared = declared or UNDECLARED
    attrs = {
        "plan": plan,
        "xlr8_entity": declared.entity,
        "xlr8_truth_type": declared.truth_type,
        "xlr8_references": dict(declared.references),
        "__doc__": doc,
    }
    return t.cast("StreamT", type(f"{name}Stream", (base,), attrs))


def declaration_properties(entity_example: str, column_example: str) -> list[t.Any]:
    """The settings a tap's report declarations carry for the engine (``entity``, ``truth_type``, ``references``),
    for the report's ``th.ObjectType``; the examples go into the descriptions (``--about``, the README)."""
    from singer_sdk import typing as th  # a tap's settings only: the target imports this module without the SDK

    return [
        th.Property("entity", th.StringType, description=f"Canonical entity of the rows (e.g. {entity_example})."),
        th.Property("truth_type", th.StringType, allowed_values=list(TRUTH_TYPES)),
        th.Property(
            "references",
            th.ObjectType(additional_properties=True),
            description=f'Columns referencing canonical entities, e.g. {{"{column_example}": "employee"}}.',
        ),
    ]


def declared_truths(raw: Mapping[str, t.Any], where: str, errors: list[str]) -> tuple[str, dict[str, str]]:
    """A report declaration's ``truth_type`` (reality when unset) and ``references``, checked with the tap's other
    settings: a bad value adds an error naming ``<where>.truth_type`` or ``<where>.references``."""
    truth = raw.get("truth_type") or "reality"
    if truth not in TRUTH_TYPES:
        errors.append(f"setting '{where}.truth_type' must be one of {', '.join(TRUTH_TYPES)}")
    refs = raw.get("references")
    if refs is None:
        return truth, {}
    if not isinstance(refs, dict) or not all(isinstance(v, str) and v for v in refs.values()):
        errors.append(f"setting '{where}.references' must map column names to canonical entity names")
        return truth, {}
    return truth, {str(k): v for k, v in refs.items()}
