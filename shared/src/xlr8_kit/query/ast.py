"""The universal query as data: comparisons, ``in``, ``between``, ``contains``, ``and``/``or``.

Frozen dataclasses so filters can be hashed, compared in tests, and rewritten (renamed to a product's columns,
simplified) without mutating what a caller passed in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import TypeAlias

Value: TypeAlias = str | int | Decimal | bool | date | datetime | None
COMPARISON_OPS = ("=", "!=", "<", "<=", ">", ">=")


class QueryError(ValueError):
    """A query or filter that cannot be parsed, typed or translated; the message says which part and why."""


class QuerySyntaxError(QueryError):
    pass


class QueryRefused(QueryError):
    """The target product cannot express the query and post-fetch filtering is not possible either."""


@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    value: Value


@dataclass(frozen=True)
class In:
    field: str
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Between:
    """Inclusive on both ends, as in SQL."""

    field: str
    low: Value
    high: Value


@dataclass(frozen=True)
class Contains:
    """Case-sensitive substring test."""

    field: str
    value: str


@dataclass(frozen=True)
class And:
    items: tuple[Filter, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Filter, ...]


@dataclass(frozen=True)
class Const:
    """A filter known to be always true or always false (an empty ``in`` list makes one)."""

    value: bool


Filter: TypeAlias = Compare | In | Between | Contains | And | Or | Const
Predicate: TypeAlias = Compare | In | Between | Contains


@dataclass(frozen=True)
class Query:
    """``<entity> where <filter> fields a, b limit n``; every part optional except in ``translate``."""

    entity: str | None
    where: Filter | None = None
    fields: tuple[str, ...] = ()
    limit: int | None = None


def predicates(node: Filter) -> Iterator[Predicate]:
    if isinstance(node, And | Or):
        for item in node.items:
            yield from predicates(item)
    elif not isinstance(node, Const):
        yield node


def field_names(node: Filter | None) -> list[str]:
    """Fields a filter reads, in first-use order."""
    seen: dict[str, None] = {}
    if node is not None:
        for predicate in predicates(node):
            seen.setdefault(predicate.field, None)
    return list(seen)


def simplify(node: Filter) -> Filter:
    """Fold constants (``x in ()`` is false), flatten nested and/or; keeps meaning exactly."""
    if isinstance(node, In) and not node.values:
        return Const(False)
    if isinstance(node, And | Or):
        is_and = isinstance(node, And)
        items: list[Filter] = []
        for item in (simplify(i) for i in node.items):
            if isinstance(item, Const):
                if item.value != is_and:
                    return Const(not is_and)
                continue
            if isinstance(item, type(node)):
                items.extend(item.items)
            else:
                items.append(item)
        if not items:
            return Const(is_and)
        if len(items) == 1:
            return items[0]
        return And(tuple(items)) if is_and else Or(tuple(items))
    return node


def rename(node: Filter, columns: dict[str, str]) -> Filter:
    """The same filter over other field names (canonical -> a product's columns)."""
    if isinstance(node, And):
        return And(tuple(rename(i, columns) for i in node.items))
    if isinstance(node, Or):
        return Or(tuple(rename(i, columns) for i in node.items))
    if isinstance(node, Const):
        return node
    return replace(node, field=columns.get(node.field, node.field))


def conjuncts(node: Filter | None) -> list[Filter]:
    if node is None:
        return []
    return list(node.items) if isinstance(node, And) else [node]


def all_of(items: list[Filter]) -> Filter | None:
    if not items:
        return None
    return items[0] if len(items) == 1 else And(tuple(items))
