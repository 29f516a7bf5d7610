"""The plan's ``QueryTranslator`` (component 6.2) over ``translate``/``translate_filters``, and filters written as
dicts, the shape the plan passes around::

    QueryTranslator().translate("employee where hire_date >= 2024-01-01", "ukg_pro", "sap_sf")
    QueryTranslator().translate_filters({"employment_status": "active"}, "workday_hcm")
    # -> {"workerStatus": "Active"}

A filter dict maps a field to a value (``=``), a list (``in``), ``None`` (``is null``) or ``{op: value}`` with op one
of ``= != < <= > >= in between contains`` (``between`` takes a pair); a key may also carry the operator
(``"hire_date >="``). Several entries are ``and``-ed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from xlr8_kit.query.ast import (
    COMPARISON_OPS,
    And,
    Between,
    Compare,
    Const,
    Contains,
    Filter,
    In,
    Or,
    QueryError,
    Value,
    field_names,
    predicates,
)
from xlr8_kit.query.parser import parse_filter
from xlr8_kit.query.translate import Translation, translate, translate_filters
from xlr8_kit.vocabulary import UnknownFieldError, VocabularyError, all_entities, resolve_product, stream_mappings

_OPS = (*COMPARISON_OPS, "in", "between", "contains")


def filter_from_mapping(filters: Mapping[str, Any]) -> Filter | None:
    """A universal filter from the plan's dict shape (see the module docstring); None for an empty dict."""
    parts: list[Filter] = []
    for key, raw in filters.items():
        name, _, op = str(key).strip().partition(" ")
        op = op.strip().lower()
        if op:
            parts.append(_predicate(name, op, raw))
        elif isinstance(raw, Mapping):
            parts.extend(_predicate(name, str(o).strip().lower(), v) for o, v in raw.items())
        elif isinstance(raw, list | tuple | set | frozenset):
            parts.append(In(name, tuple(raw)))
        else:
            parts.append(Compare(name, "=", raw))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def _predicate(name: str, op: str, raw: Any) -> Filter:
    if op not in _OPS:
        raise QueryError(f"filter {name!r}: unknown operator {op!r} (use one of {', '.join(_OPS)})")
    if op == "in":
        return In(name, tuple(raw))
    if op == "between":
        low, high = raw
        return Between(name, low, high)
    if op == "contains":
        return Contains(name, str(raw))
    return Compare(name, op, raw)


def as_filter(filters: str | Filter | Mapping[str, Any] | None) -> Filter | None:
    """Any accepted filter shape (text, parsed, dict) as a parsed filter."""
    if filters is None or isinstance(filters, Compare | In | Between | Contains | And | Or | Const):
        return filters
    if isinstance(filters, Mapping):
        return filter_from_mapping(filters)
    text = str(filters).strip()
    return parse_filter(text) if text else None


def filter_to_mapping(node: Filter | None) -> dict[str, Any]:
    """The dict shape of a translated filter: ``column: value`` for ``=``, ``column: [values]`` for ``in``, and
    ``column: {op: value}`` otherwise; an ``or`` has no dict shape and is refused."""
    out: dict[str, Any] = {}
    if node is None:
        return out
    if isinstance(node, Or):
        raise QueryError("an 'or' filter has no dict form; use translate() for the native query")
    for part in predicates(node):
        if isinstance(part, Compare):
            entry: Any = part.value if part.op == "=" else {part.op: part.value}
        elif isinstance(part, In):
            entry = list(part.values)
        elif isinstance(part, Between):
            entry = {"between": [part.low, part.high]}
        else:
            assert isinstance(part, Contains)
            entry = {"contains": part.value}
        previous = out.get(part.field)
        if isinstance(previous, dict) and isinstance(entry, dict):
            previous.update(entry)
        elif previous is not None:
            raise QueryError(f"{part.field}: two conditions on one column have no dict form")
        else:
            out[part.field] = entry
    return out


class QueryTranslator:
    """Translate universal queries to product-specific queries (plan, component 6.2); products by id or alias."""

    def translate(self, universal_query: str, source_product: str | None, target_product: str) -> str:
        """The target's native request (SOQL, an OData path, REST parameters) for a universal query whose names
        may be canonical or ``source_product``'s own."""
        return self.translation(universal_query, source_product, target_product).query

    def translation(self, universal_query: str, source_product: str | None, target_product: str) -> Translation:
        """The whole ``Translation`` (pushed-down part, post-fetch part, parameters, notes)."""
        return translate(universal_query, source_product, target_product)

    def translate_filters(
        self,
        filters: Mapping[str, Any] | str | Filter | None,
        target_product: str,
        *,
        entity: str | None = None,
        source_product: str | None = None,
    ) -> dict[str, Any]:
        """Field names and values in the target's own terms, as a dict (``{"workerStatus": "Active"}``).

        Without ``entity`` the target's first stream carrying every field named is used."""
        where = as_filter(filters)
        if where is None:
            return {}
        translated = self.filter_translation(where, target_product, entity=entity, source_product=source_product)
        return filter_to_mapping(translated.filter)

    def filter_translation(
        self,
        filters: Mapping[str, Any] | str | Filter | None,
        target_product: str,
        *,
        entity: str | None = None,
        source_product: str | None = None,
    ) -> Translation:
        where = as_filter(filters)
        target = resolve_product(target_product).id
        if entity:
            return translate_filters(where, target, entity=entity, source_product=source_product)
        for candidate in _entities_of(target):
            try:
                return translate_filters(where, target, entity=candidate, source_product=source_product)
            except VocabularyError:
                continue  # the next entity may carry the fields
        raise UnknownFieldError(
            f"no {target} stream carries every field of the filter ({', '.join(field_names(where))}); "
            "pass entity= to say which entity the filter is about"
        )


def _entities_of(product: str) -> Iterable[str]:
    """The canonical entities a product carries, in the vocabulary's order."""
    return [e.name for e in all_entities() if stream_mappings(product, e.name)]


__all__ = ["QueryTranslator", "Value", "as_filter", "filter_from_mapping", "filter_to_mapping"]
