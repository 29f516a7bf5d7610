"""Streams a tap builds from the API's own description (OData ``$metadata``, Oracle's describe): the tap declares
only what each stream is for the Intelligence Engine (``StreamDeclaration``), and ``declared_stream_class`` makes one
class per stream carrying its plan and that declaration (the SDK keys some behaviour on the class)."""

from __future__ import annotations

import typing as t
from collections.abc import Mapping
from dataclasses import dataclass, field

StreamT = t.TypeVar("StreamT", bound=type)


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
