"""``translate`` and ``translate_filters``: a universal query in, a product's own request out, with an honest
account of what the product filters (pushed down) and what the caller must filter after fetching.

Steps: find the target stream from the vocabulary; resolve each field (canonical, the source product's column,
or the target's own column) to the target column; type every literal by the field's type and map enumeration
values (``active`` -> ``A``); fold constants (an empty ``in`` list matches nothing); split the top-level ``and``
into the part the dialect can express and the rest; render the pushed part with escaped literals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from xlr8_kit.query.ast import (
    And,
    Between,
    Compare,
    Const,
    Contains,
    Filter,
    In,
    Or,
    Query,
    QueryError,
    QueryRefused,
    Value,
    all_of,
    conjuncts,
    field_names,
    predicates,
    simplify,
)
from xlr8_kit.query.dialects import DIALECTS, Dialect, NamedParams, _NotExpressible
from xlr8_kit.query.evaluate import matches
from xlr8_kit.query.parser import format_filter, parse_datetime, parse_filter, parse_query
from xlr8_kit.vocabulary import (
    FieldMap,
    FieldType,
    StreamMapping,
    UnknownEntityError,
    UnknownFieldError,
    VocabularyError,
    field_type,
    find_canonical_field,
    find_entity,
    mapping_for_stream,
    product_mapping,
    resolve_product,
    stream_mappings,
)


@dataclass(frozen=True)
class Translation:
    """A query compiled for one product stream."""

    product: str
    dialect: str
    entity: str
    stream: str
    #: The whole filter over the product's columns and values (None: no filter).
    filter: Filter | None
    #: The part the product's API applies.
    pushed: Filter | None
    #: What must be checked on fetched records (``matches``); may overlap ``pushed`` where re-checked.
    residual: Filter | None
    #: Native filter text only (SOQL WHERE clause, OData ``$filter``, Oracle ``q``); None when nothing pushed.
    where: str | None
    #: Request parameters to send (``q``, ``$filter``/``$select``/``$top``, prompts ...).
    params: dict[str, str]
    #: The native query as a person would write it, for logs and provenance.
    query: str
    #: Product columns to request (requested fields plus what the post-fetch filter reads); empty = all.
    select: tuple[str, ...]
    limit: int | None
    limit_pushed: bool
    #: True when the filter can never match (``x in ()``): no request needs to be sent.
    empty: bool = False
    source_product: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def fully_pushed(self) -> bool:
        return self.residual is None

    def matches(self, record: Mapping[str, Any]) -> bool:
        """The post-fetch part of the filter for one record as the tap emits it."""
        return not self.empty and matches(record, self.residual)

    def apply(self, records: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
        """Yield the records satisfying the whole query (post-fetch filter and limit), lazily."""
        if self.empty or self.limit == 0:
            return
        kept = 0
        for record in records:
            if matches(record, self.residual):
                yield record
                kept += 1
                if self.limit is not None and kept >= self.limit:
                    return


def translate(
    universal_query: str | Query,
    source_product: str | None,
    target_product: str,
    *,
    allow_post_filter: bool = True,
) -> Translation:
    """Compile a universal query for the target product.

    Names in the query may be canonical or the source product's own (``User where hireDate >= ...`` with
    source ``successfactors``). With ``allow_post_filter=False`` anything the target cannot push down is
    refused with ``QueryRefused`` instead of being left to post-fetch filtering.
    """
    query = parse_query(universal_query) if isinstance(universal_query, str) else universal_query
    if not query.entity:
        raise QueryError("the query must start with an entity (for example 'employee where ...')")
    target = resolve_product(target_product).id
    source = resolve_product(source_product).id if source_product else None
    needed = [*field_names(query.where), *query.fields]
    mapping = _target_mapping(query.entity, source, target, needed, _string_values(query.where))
    return _compile(query, mapping, source, allow_post_filter)


def translate_filters(
    filters: str | Filter | None,
    target_product: str,
    *,
    entity: str | None = None,
    stream: str | None = None,
    fields: Iterable[str] = (),
    limit: int | None = None,
    source_product: str | None = None,
    allow_post_filter: bool = True,
) -> Translation:
    """Compile a filter (text or parsed) for one target stream, named directly or via a canonical entity."""
    target = resolve_product(target_product).id
    source = resolve_product(source_product).id if source_product else None
    mapping: StreamMapping | None = None
    if stream is not None:
        mapping = mapping_for_stream(target, stream)
        if mapping is None:
            raise VocabularyError(
                f"{target} stream {stream!r} is not in the vocabulary; add it to xlr8_kit/vocabulary/data.py "
                "(or register_mapping) so its columns can be filtered"
            )
    fields = tuple(fields)
    where: Filter | None
    if isinstance(filters, str) and stream is None and entity is None:
        # a whole query ("employee where ... limit 5") names its own entity
        parsed = parse_query(filters)
        entity, where = parsed.entity, parsed.where
        fields = fields or parsed.fields
        limit = parsed.limit if limit is None else limit
    else:
        where = parse_filter(filters) if isinstance(filters, str) else filters
    if stream is None and entity is not None:
        mapping = _target_mapping(entity, source, target, [*field_names(where), *fields], _string_values(where))
    if mapping is None:
        raise QueryError("translate_filters needs the entity or the stream the filter applies to")
    query = Query(mapping.entity, where, fields, limit)
    return _compile(query, mapping, source, allow_post_filter)


def filter_for_stream(
    filters: str | None, product: str, stream: str, *, dialect: str | None = None
) -> Translation | None:
    """For a tap's ``filters`` setting: this stream's translation, or None when the filter is not for it.

    ``employee where ...`` applies to the streams carrying employees; a bare expression applies to every stream
    carrying all the fields it names. Streams unknown to the vocabulary are never filtered. ``dialect`` overrides
    the product's (a tenant on an older API syntax, such as Oracle's REST framework version 1).
    """
    if not filters or not filters.strip():
        return None
    try:
        query = parse_query(filters)
        mapping = mapping_for_stream(product, stream)
        if mapping is None:
            return None
        if query.entity:
            entity = find_entity(query.entity)
            if query.entity != stream and (entity is None or entity.name != mapping.entity):
                return None
        elif not all(_carries(mapping, name) for name in field_names(query.where)):
            return None
        return _compile(
            Query(mapping.entity, query.where, query.fields, query.limit), mapping, None, True, dialect_name=dialect
        )
    except (QueryError, VocabularyError) as exc:
        raise type(exc)(f"setting 'filters' ({filters!r}), stream {stream!r}: {exc}") from None


def plan_filters(filters: str | None, product: str, streams: Iterable[str]) -> dict[str, Translation]:
    """``filter_for_stream`` for every selected stream; refuses a filter that applies to none of them."""
    if not filters or not filters.strip():
        return {}
    names = list(streams)
    plans = {s: t for s in names if (t := filter_for_stream(filters, product, s)) is not None}
    if not plans:
        raise QueryError(
            f"setting 'filters' ({filters!r}) applies to none of the selected {product} streams "
            f"({', '.join(names) or 'none'}): name an entity they carry or fields they have"
        )
    return plans


# --- internals ----------------------------------------------------------------------------------------------


def _carries(mapping: StreamMapping, name: str) -> bool:
    return name in mapping.fields or mapping.canonical_of(name) is not None


def _string_values(where: Filter | None) -> list[tuple[str, str]]:
    """(field, text value) pairs of a filter: an enumeration value picks the stream that knows it."""
    if where is None:
        return []
    pairs: list[tuple[str, str]] = []
    for node in predicates(where):
        if isinstance(node, Compare) and isinstance(node.value, str):
            pairs.append((node.field, node.value))
        elif isinstance(node, In):
            pairs.extend((node.field, v) for v in node.values if isinstance(v, str))
    return pairs


def _target_mapping(
    word: str,
    source: str | None,
    target: str,
    needed: list[str] | None = None,
    values: list[tuple[str, str]] | None = None,
) -> StreamMapping:
    own = mapping_for_stream(target, word)
    if own is not None:
        return own
    source_stream = mapping_for_stream(source, word) if source is not None else None
    entity = find_entity(source_stream.entity) if source_stream is not None else find_entity(word)
    if entity is not None:
        return _stream_carrying(target, entity.name, source, needed or [], values or [])
    raise UnknownEntityError(
        f"unknown entity {word!r}: not a canonical entity, nor a stream of "
        f"{' or '.join(p for p in (source, target) if p)}"
    )


def _stream_carrying(
    target: str, entity: str, source: str | None, needed: list[str], values: Iterable[tuple[str, str]] = ()
) -> StreamMapping:
    """The target's first stream for the entity (primary first) that carries every field the query names, and
    whose enumerations know the values compared (SuccessFactors' User has no leave status; EmpJob has)."""
    candidates = stream_mappings(target, entity)
    if not candidates:
        product_mapping(target, entity)  # raises the vocabulary's clear error
    sources = stream_mappings(source, entity) if source is not None and source != target else []
    carrying = [c for c in candidates if all(_Resolver(c, sources).resolves(name) for name in needed)]
    for candidate in carrying:
        resolver = _Resolver(candidate, sources)
        if all(candidate.fields[resolver.canonical(name)].knows(value) for name, value in values):
            return candidate
    if carrying and values:
        first = carrying[0]
        resolver = _Resolver(first, sources)
        name, value = next((n, v) for n, v in values if not first.fields[resolver.canonical(n)].knows(v))
        spec = first.fields[resolver.canonical(name)]
        raise UnknownFieldError(
            f"{target} stream {first.stream!r} has no value for {name} = {value!r} (its {spec.column} knows "
            f"{', '.join(dict.fromkeys(c for c, _ in spec.values))}), and no {target} stream for {entity} carries "
            f"{', '.join(dict.fromkeys(needed))} with that value"
        )
    if carrying:
        return carrying[0]
    for name in needed:
        if not any(_Resolver(c, sources).resolves(name) for c in candidates):
            _Resolver(candidates[0], sources).canonical(name)  # raises naming the field and what is carried
    carried = "; ".join(f"{c.stream}: {', '.join(c.fields)}" for c in candidates)
    raise UnknownFieldError(
        f"no single {target} stream for {entity} carries all of {', '.join(dict.fromkeys(needed))} "
        f"(streams and their fields: {carried})"
    )


@dataclass
class _Resolver:
    mapping: StreamMapping
    sources: list[StreamMapping]

    def resolves(self, name: str) -> bool:
        try:
            self.canonical(name)
        except UnknownFieldError:
            return False
        return True

    def canonical(self, name: str) -> str:
        if name in self.mapping.fields:
            return name
        for candidate in (*self.sources, self.mapping):
            if (canonical := candidate.canonical_of(name)) is not None:
                if canonical in self.mapping.fields:
                    return canonical
                raise UnknownFieldError(
                    f"field {name!r} ({canonical}) has no counterpart in {self.mapping.product} stream "
                    f"{self.mapping.stream!r}; it carries: {', '.join(self.mapping.fields)}"
                )
        what = "canonical field" if find_canonical_field(name) else "field"
        raise UnknownFieldError(
            f"{what} {name!r} is not carried by {self.mapping.product} stream {self.mapping.stream!r} "
            f"(entity {self.mapping.entity}); it carries: {', '.join(self.mapping.fields)}"
        )


def _compile(
    query: Query,
    mapping: StreamMapping,
    source: str | None,
    allow_post_filter: bool,
    *,
    dialect_name: str | None = None,
) -> Translation:
    sources = stream_mappings(source, mapping.entity) if source is not None and source != mapping.product else []
    resolver = _Resolver(mapping, sources)
    types = {spec.column: field_type(mapping, canonical) for canonical, spec in mapping.fields.items()}
    physical = simplify(_typed(query.where, resolver)) if query.where is not None else None
    empty = isinstance(physical, Const) and not physical.value
    if isinstance(physical, Const):
        physical = None

    dialect: Dialect = DIALECTS[dialect_name or resolve_product(mapping.product).dialect](mapping, types)
    pushed: list[Filter] = []
    residual: list[Filter] = []
    for part in conjuncts(physical):
        if dialect.pushable(part) and _fits(dialect, pushed, part):
            pushed.append(part)
            if dialect.recheck(part):
                residual.append(part)
        else:
            residual.append(part)
    residual_filter = all_of(residual)
    if residual_filter is not None and not allow_post_filter:
        not_pushed = [p for p in residual if p not in pushed]
        if not_pushed or isinstance(dialect, NamedParams):
            text = "; ".join(format_filter(p) for p in (not_pushed or residual))
            raise QueryRefused(
                f"{mapping.product} ({dialect.name}) cannot apply on stream {mapping.stream!r}: {text}; "
                "allow post-fetch filtering or simplify the filter"
            )

    select = tuple(mapping.fields[resolver.canonical(name)].column for name in query.fields)
    if select:
        select = tuple(dict.fromkeys((*select, *field_names(residual_filter))))
    limit_pushed = query.limit is not None and dialect.supports_limit and residual_filter is None
    pushed_filter = all_of(pushed)
    where = dialect.compile(pushed_filter) if pushed_filter is not None else None
    params, text = dialect.request(where, pushed, select, query.limit if limit_pushed else None)
    notes = []
    if empty:
        notes.append("the filter can never match (empty 'in' list): nothing to fetch")
    if pushed_filter is not None:
        notes.append(f"pushed down: {format_filter(pushed_filter)}")
    if residual_filter is not None:
        notes.append(f"filtered after fetching: {format_filter(residual_filter)}")
    if query.limit is not None and not limit_pushed:
        notes.append(f"limit {query.limit} applied after fetching")
    return Translation(
        product=mapping.product,
        dialect=dialect.name,
        entity=mapping.entity,
        stream=mapping.stream,
        filter=physical,
        pushed=pushed_filter,
        residual=residual_filter,
        where=where,
        params=params,
        query=text,
        select=select,
        limit=query.limit,
        limit_pushed=limit_pushed,
        empty=empty,
        source_product=source,
        notes=tuple(notes),
    )


def _fits(dialect: Dialect, pushed: list[Filter], part: Filter) -> bool:
    """Named parameters hold one value each: a second conjunct wanting the same parameter stays post-fetch."""
    if not isinstance(dialect, NamedParams):
        return True
    try:
        dialect.request(None, [*pushed, part], (), None)
    except _NotExpressible:
        return False
    return True


def _typed(node: Filter, resolver: _Resolver) -> Filter:
    if isinstance(node, And):
        return And(tuple(_typed(i, resolver) for i in node.items))
    if isinstance(node, Or):
        return Or(tuple(_typed(i, resolver) for i in node.items))
    if isinstance(node, Const):
        return node
    canonical = resolver.canonical(node.field)
    spec = resolver.mapping.fields[canonical]
    ftype = field_type(resolver.mapping, canonical)

    def value(raw: Value, op: str) -> Value:
        return _coerce(raw, ftype, spec, canonical, op)

    if ftype == "datetime" and _has_day(node):
        return _day_semantics(node, spec.column, lambda raw: value(raw, "="))
    if isinstance(node, Compare):
        several = _several(spec, ftype, node.value)
        if several and node.op == "=":
            return In(spec.column, several)
        if several and node.op == "!=":
            return And(tuple(Compare(spec.column, "!=", v) for v in several))
        return Compare(spec.column, node.op, value(node.value, node.op))
    if isinstance(node, In):
        expanded = [w for v in node.values if v is not None for w in (_several(spec, ftype, v) or (value(v, "in"),))]
        return In(spec.column, tuple(dict.fromkeys(expanded)))
    if isinstance(node, Between):
        if node.low is None or node.high is None:
            raise QueryError(f"{canonical}: between needs two values, not null")
        return Between(spec.column, value(node.low, "between"), value(node.high, "between"))
    if ftype != "string":
        raise QueryError(f"{canonical} is a {ftype} field: 'contains' only applies to text fields")
    return Contains(spec.column, node.value)


def _several(spec: FieldMap, ftype: FieldType, raw: Value) -> tuple[Value, ...]:
    """The product values of an enumeration value that stands for more than one (else empty)."""
    if ftype != "string" or not isinstance(raw, str):
        return ()
    found = spec.product_values(raw)
    return tuple(str(v) for v in found) if len(found) > 1 else ()


def _day(raw: Value) -> date | None:
    """A date (not a date-time) literal, also when written as a quoted '2024-01-31'."""
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    if isinstance(raw, str) and len(raw) == 10:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            return None
    return None


def _has_day(node: Filter) -> bool:
    if isinstance(node, Compare):
        return _day(node.value) is not None
    if isinstance(node, In):
        return any(_day(v) is not None for v in node.values)
    if isinstance(node, Between):
        return _day(node.low) is not None or _day(node.high) is not None
    return False


def _day_semantics(node: Filter, column: str, instant: Callable[[Value], Value]) -> Filter:
    """A date compared with a date-time field means the whole UTC day: ``= 2024-01-31`` is that day's instants."""

    def bounds(raw: Value) -> tuple[datetime, datetime]:
        day = _day(raw)
        assert day is not None
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return start, start + timedelta(days=1)

    def on(raw: Value) -> Filter:
        if _day(raw) is None:
            return Compare(column, "=", instant(raw))
        start, end = bounds(raw)
        return And((Compare(column, ">=", start), Compare(column, "<", end)))

    if isinstance(node, Compare):
        start, end = bounds(node.value)
        if node.op == "=":
            return on(node.value)
        if node.op == "!=":
            return Or((Compare(column, "<", start), Compare(column, ">=", end), Compare(column, "=", None)))
        return {
            "<": Compare(column, "<", start),
            "<=": Compare(column, "<", end),
            ">": Compare(column, ">=", end),
            ">=": Compare(column, ">=", start),
        }[node.op]
    if isinstance(node, In):
        return Or(tuple(on(v) for v in node.values if v is not None)) if node.values else In(column, ())
    assert isinstance(node, Between)
    if node.low is None or node.high is None:
        raise QueryError(f"{column}: between needs two values, not null")
    low = Compare(column, ">=", bounds(node.low)[0] if _day(node.low) else instant(node.low))
    high = Compare(column, "<", bounds(node.high)[1]) if _day(node.high) else Compare(column, "<=", instant(node.high))
    return And((low, high))


def _coerce(raw: Value, ftype: FieldType, spec: FieldMap, name: str, op: str) -> Value:
    """The literal in the field's type; a literal that cannot be one is refused, naming the field."""
    if raw is None:
        if op not in {"=", "!="}:
            raise QueryError(f"{name}: only = and != compare with null")
        return None

    def refuse(expected: str) -> QueryError:
        return QueryError(f"{name} is a {ftype} field: {raw!r} is not {expected}")

    if ftype == "date":
        if isinstance(raw, datetime):
            raise refuse("a date (write 2024-01-31, not a date-time)")
        if isinstance(raw, date):
            return raw
        if isinstance(raw, str):
            try:
                return date.fromisoformat(raw)
            except ValueError:
                raise refuse("a date like 2024-01-31") from None
        raise refuse("a date like 2024-01-31")
    if ftype == "datetime":
        if isinstance(raw, datetime):
            return raw
        if isinstance(raw, date):
            return datetime(raw.year, raw.month, raw.day, tzinfo=UTC)
        if isinstance(raw, str):
            try:
                return parse_datetime(raw)
            except ValueError:
                raise refuse("a date-time like 2024-01-31T09:00:00Z") from None
        raise refuse("a date-time")
    if ftype in {"number", "integer"}:
        if isinstance(raw, bool | date):
            raise refuse("a number")
        try:
            number = Decimal(str(raw))
        except InvalidOperation:
            raise refuse("a number") from None
        if ftype == "integer":
            if number != number.to_integral_value():
                raise refuse("a whole number")
            return int(number)
        return number
    if ftype == "boolean":
        if op not in {"=", "!=", "in"}:
            raise QueryError(f"{name} is a boolean field: only =, != and in apply")
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in {"true", "false"}:
            return raw.lower() == "true"
        raise refuse("true or false")
    if isinstance(raw, bool):
        text = "true" if raw else "false"
    elif isinstance(raw, datetime | date):
        text = raw.isoformat()
    elif isinstance(raw, Decimal):
        text = format(raw, "f")
    else:
        text = str(raw)
    mapped = spec.product_value(text)
    return str(mapped)


__all__ = ["Translation", "filter_for_stream", "plan_filters", "translate", "translate_filters"]
