"""The shapes of the vocabulary: products, canonical entities and fields, and how a product's stream carries them.

Plain frozen dataclasses so the data in ``data.py`` reads like a table and a tap can register more mappings
(for example a customer's Workday RaaS report) with ``xlr8_kit.vocabulary.register_mapping``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

TruthType = Literal["reality", "configuration"]
FieldType = Literal["string", "date", "datetime", "number", "integer", "boolean"]
#: Query dialect a product's API speaks; ``params`` means named request parameters (Workday, UKG).
Dialect = Literal["soql", "odata_v2", "oracle_rest", "workday", "ukg_rest", "common_rest", "none"]
Operator = Literal["=", "!=", "<", "<=", ">", ">=", "in", "between", "contains"]


class VocabularyError(ValueError):
    """A product, entity, field or stream the vocabulary does not know; the message lists what it does know."""


class UnknownProductError(VocabularyError):
    pass


class UnknownEntityError(VocabularyError):
    pass


class UnknownFieldError(VocabularyError):
    pass


@dataclass(frozen=True)
class Product:
    id: str
    title: str
    dialect: Dialect
    #: Other spellings accepted by ``resolve_product`` (plan aliases, tap names).
    aliases: tuple[str, ...] = ()
    domain: Literal["hr", "finance", "crm", "workforce", "procurement", "universal"] = "hr"


@dataclass(frozen=True)
class CanonicalField:
    name: str
    type: FieldType = "string"
    #: Entity whose code this field holds (``job_code`` -> ``job``): makes the column a spoke of that hub.
    references: str | None = None
    #: Canonical values for enumerations (``employment_status``): products map theirs to these.
    values: tuple[str, ...] = ()
    #: Personal-data category (``national_id``, ``birth_date``, ``bank``, ``pay``, ``home_address``,
    #: ``personal_contact``): the target protects such columns by the project's PII policy.
    pii: str | None = None


@dataclass(frozen=True)
class Entity:
    name: str
    truth_type: TruthType
    synonyms: tuple[str, ...] = ()
    #: Canonical field holding the entity's own key/code (the hub column of configuration streams).
    code_field: str | None = None
    description: str = ""


@dataclass(frozen=True)
class FieldMap:
    """Where a product stream keeps one canonical field."""

    column: str
    #: Overrides the canonical type when the product stores it differently (a date kept as a timestamp).
    type: FieldType | None = None
    #: Canonical value -> product value (``{"active": "A"}``); values not listed pass through unchanged.
    values: tuple[tuple[str, str], ...] = ()

    def product_value(self, canonical_value: object) -> object:
        if isinstance(canonical_value, str):
            for canonical, product in self.values:
                if canonical == canonical_value:
                    return product
        return canonical_value

    def product_values(self, canonical_value: object) -> tuple[object, ...]:
        """Every product value standing for one canonical value (SuccessFactors: leave is paid ``P`` or unpaid
        ``U``); the value itself when none is listed."""
        found = tuple(p for c, p in self.values if isinstance(canonical_value, str) and c == canonical_value)
        return found or (canonical_value,)

    def knows(self, value: object) -> bool:
        """False when the field is an enumeration that lists neither this canonical nor this product value."""
        if not self.values or not isinstance(value, str):
            return True
        return any(value in pair for pair in self.values)


@dataclass(frozen=True)
class StreamMapping:
    """One product stream (as the tap names it) and the canonical entity and fields it carries."""

    product: str
    stream: str
    entity: str
    truth_type: TruthType
    fields: dict[str, FieldMap] = field(default_factory=dict)
    #: True for the stream ``get_entity``/the gatherer read first when several streams carry one entity.
    primary: bool = True
    #: Named request parameters (Workday RaaS prompts, UKG query params): (canonical field, operator) -> name.
    params: dict[tuple[str, str], str] = field(default_factory=dict)
    #: What one row is when the stream serves aggregates (balances per dimension combination), not one row per
    #: entity: its rows sum right, but a count, list or average of them is not one of the entity (the gatherer says
    #: so instead of answering). None: one row per entity.
    aggregated: str | None = None

    def column(self, canonical: str) -> str | None:
        spec = self.fields.get(canonical)
        return spec.column if spec else None

    def canonical_of(self, column: str) -> str | None:
        for canonical, spec in self.fields.items():
            if spec.column == column:
                return canonical
        return None
