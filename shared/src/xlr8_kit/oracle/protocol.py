"""The Fusion REST collection protocol, without the SDK: paging by ``offset``/``limit`` until ``hasMore`` is false
(``limit`` caps at 500), ``fields=`` and ``expand=`` parameters, ``q`` literals in both syntaxes, and the rules
that flatten expanded children into the parent row or turn them into rows of their own carrying the parent key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, cast

import requests
from singer_sdk.pagination import BaseAPIPaginator, OffsetPaginator

from xlr8_kit.http.classify import ResponseClassifier, loads_plain
from xlr8_kit.http.window import UNKNOWN

#: Fusion's limit cap: a larger ``limit`` is silently lowered to this by the server.
MAX_LIMIT = 500
#: ``REST-Framework-Version`` values: 1 is the simple ``q`` syntax, 2 and later the rowmatch expressions.
ADVANCED_FRAMEWORK = "4"
SIMPLE_FRAMEWORK = "1"
#: The first framework whose expanded child says it was cut (``hasMore``); 1 and 2 send bare arrays.
CUT_FRAMEWORK = 3
LAST_UPDATE_DATE = "LastUpdateDate"


class CollectionError(ValueError):
    """A 2xx answer that is not a Fusion collection (an HTML sign-in page, a truncated or foreign body)."""


#: What ``body`` gives for a body that does not parse: no collection, no error object (the classifier has already
#: answered "retry" for a cut 2xx JSON body).
UNPARSABLE: Any = object()


def body(response: requests.Response) -> Any:
    """The JSON body, parsed once per response: the parse the classifier kept (``FusionClassifier.parse_body``),
    else that parse now, kept. The classifier's checks, the page reader, the paginators and
    ``FusionClient.request_json`` all read it. ``UNPARSABLE`` when it does not parse."""
    try:
        return _READER.parsed_body(response)
    except (ValueError, RecursionError):
        return UNPARSABLE


def collection_page(payload: Any) -> tuple[list[dict[str, Any]], bool]:
    """``(items, hasMore)`` of a collection answer; anything else is an error, never "no rows" (RELIABILITY A8)."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("items"), list):
        raise CollectionError("answer is not a Fusion collection (no 'items' list)")
    has_more = payload.get("hasMore", False)
    if not isinstance(has_more, bool):
        raise CollectionError(f"answer has a non-boolean 'hasMore': {has_more!r}")
    return payload["items"], has_more


class ChildShapeError(CollectionError):
    """An expanded child that is neither a list (framework 1 and 2) nor a collection object (3 and later): landing
    it as "no rows" would null the parent's flattened columns and drop the child's rows, silently (audit23b #1)."""


class ChildReadError(ChildShapeError):
    """A cut child read from its own URL that does not add up: a repeated key, fewer or more rows than its
    ``totalResults``, ``hasMore`` past its end, or no parent link to read it from (audit23b #1; review23b 1-3).
    Landing it would double or drop child rows, or flatten the wrong one, silently."""


def child_items(value: Any, name: str) -> tuple[list[Any], bool] | None:
    """``(rows, hasMore)`` of an expanded child, None when the parent has none (absent or null).

    Framework 1 and 2 send an array; 3 and later a collection object, ``{"items": [...], "count": n, "hasMore":
    ..., "limit": 25, "offset": 0}`` (Oracle, "Set the REST Framework Version": version 3 "supports retrieving
    nested child resources ... as a resource collection (JSON object), instead of an array of items"; the
    children "contain additional paging information such as hasMore"), so a child of more than 25 rows comes cut
    and the rest is read from the child's own URL (``expand_children``)."""
    if type(value) is list:
        return value, False
    if value is None:
        return None
    if isinstance(value, Mapping) and isinstance(value.get("items"), list):
        has_more = value.get("hasMore", False)
        if not isinstance(has_more, bool):
            raise ChildShapeError(f"expanded child {name!r} has a non-boolean 'hasMore': {has_more!r}")
        return value["items"], has_more
    raise ChildShapeError(
        f"expanded child {name!r} is neither a list nor a collection object with 'items' ({type(value).__name__})"
    )


@dataclass(frozen=True)
class ChildLevel:
    """One expanded child level: its key attribute (None: composite or no key, so its own children cannot be paged
    from their URL) and the levels expanded below it."""

    key: str | None
    below: Mapping[str, ChildLevel]


@dataclass(frozen=True)
class CutChild:
    """An expanded child cut at 25 rows (``hasMore``), left in place to be read whole from its own URL: the row
    holding it, the child's name there, its URL path segments after the resource (the first the top-level key's
    value, then ``child/<name>`` per level) and its dotted path, and its level (what is expanded below it)."""

    row: dict[str, Any]
    name: str
    at: tuple[str, ...]
    path: str
    level: ChildLevel


def expand_children(
    row: dict[str, Any], levels: Mapping[str, ChildLevel], key: str | None, cut: list[CutChild]
) -> None:
    """Every expanded child of ``row`` (and below) made a list in place, whatever the framework's shape; a cut
    collection (``hasMore``) is appended to ``cut`` for the caller to read whole from the child's own URL
    (``<parent item>/child/<name>``, nested: ``.../<child key>/child/<grandchild>``) and put in place with
    ``fill_cut_child``, so the cut children of a whole page can be read side by side. The expanded rows are dropped,
    not joined to a second query's rows at offset 25: the two queries need not agree on an order (review23b #2).

    A list needs nothing (framework 1 and 2): the loop then only checks types."""
    _expand(row, levels, key, cut, (), "")


def fill_cut_child(child: CutChild, rows: list[dict[str, Any]], cut: list[CutChild]) -> None:
    """``child``'s rows read whole, put in place, and the children expanded below them made lists the same way
    (their own cut ones appended to ``cut``)."""
    child.row[child.name] = rows
    if child.level.below:
        for item in rows:
            if isinstance(item, dict):
                _expand(item, child.level.below, child.level.key, cut, child.at, child.path)


def _expand(
    row: dict[str, Any],
    levels: Mapping[str, ChildLevel],
    key: str | None,
    cut: list[CutChild],
    trail: tuple[str, ...] | None,
    prefix: str,
) -> None:
    here = row.get(key) if key is not None and trail is not None else None
    for name, level in levels.items():
        value = row.get(name)
        if type(value) is list:
            rows, has_more = value, False
        else:
            got = child_items(value, name)
            if got is None:
                continue
            rows, has_more = got
        path = f"{prefix}.{name}" if prefix else name
        at = (*trail, str(here), "child", name) if trail is not None and here is not None else None
        if has_more:
            if at is None:
                raise ChildShapeError(
                    f"expanded child {path!r} is cut at {len(rows)} rows (hasMore) and its parent has no single "
                    "key to read the rest from its own URL"
                )
            cut.append(CutChild(row, name, at, path, level))
            continue
        row[name] = rows
        if level.below:
            for child in rows:
                if isinstance(child, dict):
                    _expand(child, level.below, level.key, cut, at, path)


def child_levels(paths: Iterable[str], key_of: Callable[[str], str | None]) -> dict[str, ChildLevel]:
    """The tree of expanded paths (``workRelationships.assignments`` implies ``workRelationships``), each level
    with its single key (``key_of(dotted path)``)."""
    tree: dict[str, Any] = {}
    for p in paths:
        node = tree
        for part in p.split("."):
            node = node.setdefault(part, {})

    def build(node: dict[str, Any], prefix: str) -> dict[str, ChildLevel]:
        out = {}
        for name, below in node.items():
            path = f"{prefix}.{name}" if prefix else name
            out[name] = ChildLevel(key_of(path), build(below, path))
        return out

    return build(tree, "")


class FusionClassifier(ResponseClassifier):
    """Fusion answers 503 with Retry-After when throttling; a 2xx without a collection or describe body is an
    error inside a success (A8)."""

    def parse_body(self, response: requests.Response) -> Any:
        """Fusion's rows are read as the kit's plain parse reads them (numbers as int and float): the classifier
        parses a 2xx JSON body with it once and keeps it (``kept_body``), and its status check (``keep_parsed``
        reads the top-level ``status``), its member checks (``error_in_body``) and the stream read that one parse
        instead of probing or parsing the body again."""
        return loads_plain(response.content)

    def error_in_body(self, response: requests.Response) -> str | None:
        found = super().error_in_body(response)
        if found is not None:
            return found
        if "json" not in (response.headers.get("Content-Type") or ""):
            return "answer is not JSON"
        payload = body(response)  # truncated JSON is the classifier's "retry" (body_truncated), not ours
        if isinstance(payload, Mapping) and ("items" in payload or "Resources" in payload):
            return None
        if isinstance(payload, Mapping) and ("o:errorDetails" in payload or {"title", "status"} <= payload.keys()):
            return f"Fusion error: {str(payload.get('title') or payload.get('detail'))[:200]}"
        return None


#: ``body``'s reader (any ``FusionClassifier`` parses and keeps alike).
_READER = FusionClassifier()


class HasMorePaginator(OffsetPaginator):
    """Next offset = this offset + rows received, while the server says ``hasMore`` (not ``count == limit``:
    the server may lower ``limit``)."""

    def __init__(self, page_size: int) -> None:
        super().__init__(start_value=0, page_size=page_size)
        #: ``totalResults`` of the first page (asked for with ``totalResults=true``), None when not sent.
        self.total: int | None = None

    def has_more(self, response: requests.Response) -> bool:
        return collection_page(body(response))[1]

    def continue_if_empty(self, response: requests.Response) -> bool:
        """A page that yields no rows is not the end while it held items and ``hasMore`` is true: a child stream's
        rows come from the page's parents, and a page of parents without children yields none (the SDK's rule
        stopped the stream there, losing every child row after it)."""
        items, has_more = collection_page(body(response))
        return has_more and bool(items)

    def get_next(self, response: requests.Response) -> int | None:
        payload = body(response)
        items, _ = collection_page(payload)
        total = payload.get("totalResults")
        if isinstance(total, int) and not isinstance(total, bool):
            self.total = total
        return self.current_value + len(items)

    def page_count(self, response: requests.Response) -> int | None:
        """``totalResults`` of this answer (``xlr8_kit.http.window.CountsPages``; the stream asks for it on every
        page of a window); None when absent, or when smaller than the page's ``offset`` plus its items, which no
        true count can be (third-party reports say some Fusion releases answer ``totalResults`` capped at the page
        size once an ``offset`` is given): the window then stops and the rest is read one page ahead."""
        payload = body(response)
        total = payload.get("totalResults") if isinstance(payload, Mapping) else None
        if not isinstance(total, int) or isinstance(total, bool):
            return None
        items, _ = collection_page(payload)
        offset = payload.get("offset")
        start = offset if isinstance(offset, int) and not isinstance(offset, bool) else 0
        return total if total >= start + len(items) else None

    def predict_next(self, token: int | None) -> Any:
        """The offset after a full page (``xlr8_kit.http.window``), while below ``totalResults``: a shorter page
        with ``hasMore`` (the server lowered ``limit``) shows up as a different real offset, and the window then
        stops guessing; rows created while paging (past the total) are read one page at a time, by ``hasMore``."""
        offset = (token or 0) + min(self._page_size, MAX_LIMIT)
        return UNKNOWN if self.total is not None and offset >= self.total else offset


@dataclass(frozen=True)
class Keyset:
    """Where the last page ended: its last row's ordering value (as sent) and key (a tuple for a composite key)."""

    moment: Any
    key: Any


#: A keyset key: one attribute, or a composite key's attributes in ``orderBy`` order.
KeyAttributes = str | tuple[str, ...]


class KeysetPaginator(BaseAPIPaginator[Keyset | None]):
    """Pages that start after the last row seen (``orderBy=<attr>:asc,<key>:asc``), never at an offset: rows
    updated while paging move to the end and are read there, and none shifts back across a page boundary
    (RELIABILITY E7), which offset paging cannot promise. ``start``: continue after that row (a read that went on
    from rows already emitted). A composite key (a tuple) continues after the row's whole key (audit25a F9)."""

    def __init__(self, order_attribute: str, key_attribute: KeyAttributes, start: Keyset | None = None) -> None:
        super().__init__(start)
        self.order_attribute = order_attribute
        self.key_attribute = key_attribute

    def has_more(self, response: requests.Response) -> bool:
        items, has_more = collection_page(body(response))
        return has_more and bool(items)

    def get_next(self, response: requests.Response) -> Keyset | None:
        items, _ = collection_page(body(response))
        last = items[-1]
        key = self.key_attribute
        value = last.get(key) if isinstance(key, str) else tuple(last.get(k) for k in key)
        return Keyset(last.get(self.order_attribute), value)


@dataclass(frozen=True)
class KeysetRange:
    """A page token of a ranged keyset read (``xlr8_kit.oracle.ranges``): the rows after ``after`` (None: from
    the first) up to and including ``upto`` in ``orderBy=<order>:asc,<key>:asc`` order (None: to the end, rows
    without an ordering value included)."""

    after: Keyset | None
    upto: Keyset | None


@dataclass(frozen=True)
class PageAt:
    """A page token asking for the page of rows from ``offset`` in the keyset order (``offset`` paging, ``limit``
    and ``fields`` as any page): its first row is where a range of a ranged read ends (a bound), the rows after it
    start the next range (``xlr8_kit.oracle.ranges``)."""

    offset: int


def _key_literals(
    key_attribute: KeyAttributes, key_is_number: bool | Sequence[bool], key: Any
) -> list[tuple[str, str]]:
    """(attribute, literal) per key attribute: one, or each of a composite key's."""
    if isinstance(key_attribute, str):
        names, numbers, values = [key_attribute], [bool(key_is_number)], [key]
    else:
        names, values = list(key_attribute), list(key)
        numbers = [bool(key_is_number)] * len(names) if isinstance(key_is_number, bool) else list(key_is_number)
    return [(n, str(v) if number else q_quote(str(v))) for n, number, v in zip(names, numbers, values, strict=True)]


def _past(pairs: list[tuple[str, str]], last: str) -> str:
    """Lexicographic "past this key": ``(K1 > a or (K1 = a and K2 > b))`` (``last`` the final comparison)."""
    (name, literal), rest = pairs[0], pairs[1:]
    if not rest:
        return f"{name} {last} {literal}"
    return f"({name} {last[0]} {literal} or ({name} = {literal} and {_past(rest, last)}))"


def keyset_q(
    order_attribute: str, key_attribute: KeyAttributes, key_is_number: bool | Sequence[bool], after: Keyset
) -> str:
    """Rowmatch for "after this row" in ``orderBy=<order>:asc,<key>:asc`` order (nulls sort last); a composite
    key compares lexicographically, attribute after attribute (audit25a F9)."""
    keys = _past(_key_literals(key_attribute, key_is_number, after.key), ">")
    if after.moment is None:
        return f"({order_attribute} is null and {keys})"
    moment = q_quote(str(after.moment))
    return f"({order_attribute} > {moment} or ({order_attribute} = {moment} and {keys}) or {order_attribute} is null)"


def upto_q(
    order_attribute: str, key_attribute: KeyAttributes, key_is_number: bool | Sequence[bool], upto: Keyset
) -> str:
    """Rowmatch for "up to and including this row" in ``orderBy=<order>:asc,<key>:asc`` order: the complement of
    ``keyset_q`` for the same row, so consecutive ranges neither overlap nor leave a gap, ties on the ordering
    value included (the key decides). ``upto`` has an ordering value (rows without one sort last: never bounded)."""
    keys = _past(_key_literals(key_attribute, key_is_number, upto.key), "<=")
    moment = q_quote(str(upto.moment))
    return f"({order_attribute} < {moment} or ({order_attribute} = {moment} and {keys}))"


def fields_param(top: Sequence[str], children: Mapping[str, Sequence[str]] | None = None) -> str:
    """``fields=A,B;child:C,D;child.grand:E``: the attributes to return per level; the children named are expanded
    (Fusion ignores ``expand`` beside ``fields``, audit25a F3)."""
    parts = [",".join(top)]
    parts.extend(f"{path}:{','.join(names)}" for path, names in (children or {}).items() if names)
    return ";".join(parts)


def expand_param(paths: Iterable[str]) -> str:
    """``expand=names,workRelationships.assignments`` with every ancestor of a nested path implied."""
    return ",".join(dict.fromkeys(p for p in paths if p))


def order_by_param(keys: Sequence[str]) -> str:
    return ",".join(f"{k}:asc" for k in keys)


def q_datetime(moment: datetime) -> str:
    """A timestamp literal Fusion compares correctly: UTC, ISO 8601, whole seconds or, when the moment has them,
    milliseconds as Fusion stamps ``LastUpdateDate`` (``...29.607+00:00``; a finer part cut: a lower bound only
    re-reads). Cut to its second, a bookmark re-read the rows of that second below it, which the SDK's sort check
    stops the run for (audit25a F5)."""
    utc = moment.astimezone(UTC)
    utc = utc.replace(microsecond=utc.microsecond // 1000 * 1000)
    return utc.isoformat(timespec="milliseconds" if utc.microsecond else "seconds")


def q_quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def since_q(attribute: str, moment: datetime, framework_version: str) -> str:
    """``LastUpdateDate >= '...'`` in the framework's syntax (``>=``: rows at the bookmark are re-read, E6)."""
    literal = q_quote(q_datetime(moment))
    if framework_version == SIMPLE_FRAMEWORK:
        return f"{attribute}>={literal}"
    return f"{attribute} >= {literal}"


def join_q(parts: Iterable[str | None], framework_version: str) -> str | None:
    """Conjunction of ``q`` expressions: ``;`` in the simple syntax, ``and`` of parenthesised parts otherwise."""
    present = [p for p in parts if p]
    if not present:
        return None
    if framework_version == SIMPLE_FRAMEWORK:
        return ";".join(present)
    if len(present) == 1:
        return present[0]
    return " and ".join(f"({p})" for p in present)


def effective_date_param(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class Flatten:
    """Copy attributes of one row of an expanded child into the parent row.

    ``child`` is a dotted child path (``workRelationships.assignments``); the row taken at each level is the first
    whose attributes equal ``where`` (or the first row when ``where`` has nothing for that level), so "the primary
    work relationship's primary assignment" is ``Flatten("workRelationships.assignments", where={"PrimaryFlag":
    True})``. ``columns`` maps child attribute -> parent column.
    """

    child: str
    columns: Mapping[str, str]
    where: Mapping[str, Any] = field(default_factory=dict)

    def pick(self, rows: Any) -> Mapping[str, Any] | None:
        """The first row matching ``where`` (a row without a ``where`` attribute matches it), else the first row.

        One pass, no copies: this runs for every level of every record (issue 14)."""
        if not isinstance(rows, list) or not rows:
            return None
        first: Mapping[str, Any] | None = None
        where = self._where
        for row in rows:
            if type(row) is not dict and not isinstance(row, Mapping):  # a dict skips the ABC check
                continue
            if first is None:
                first = row
            for key, value in where:
                if key in row and row[key] != value:
                    break
            else:
                return row
        return first

    def apply(self, row: dict[str, Any]) -> None:
        node: Mapping[str, Any] = row
        for part in self._path:
            picked = self.pick(node.get(part))
            if picked is None:
                for target in self.columns.values():
                    row[target] = None
                return
            node = picked
        for source, target in self._columns:
            row[target] = node.get(source)

    @cached_property
    def _path(self) -> tuple[str, ...]:
        return tuple(self.child.split("."))

    @cached_property
    def _where(self) -> tuple[tuple[str, Any], ...]:
        return tuple(self.where.items())

    @cached_property
    def _columns(self) -> tuple[tuple[str, str], ...]:
        return tuple(self.columns.items())

    def needed_attributes(self) -> dict[str, list[str]]:
        """Per child level, the attributes the rule reads (for ``fields=``)."""
        levels = self.child.split(".")
        needed: dict[str, list[str]] = {}
        for depth in range(1, len(levels) + 1):
            path = ".".join(levels[:depth])
            needed[path] = list(self.where)
        needed[self.child] = list(dict.fromkeys([*self.columns, *self.where]))
        return needed


def holds_inner_arrays(content: bytes) -> bool:
    """False when a collection body holds a single ``[`` (its ``items``): every list a row could hold needs a ``[`` of
    its own, so its rows hold none and the parent-row step of a resource without flatten rules (``row_shaper``: only
    list-valued attributes deleted) has nothing to do on them. One search in C over the body, against the step's
    call and scan of every row (Oracle ERP ``invoices``: about 0.4 us a row). A ``[`` inside a string says True:
    the rows are then shaped as ever."""
    first = content.find(b"[")
    return first < 0 or content.find(b"[", first + 1) >= 0


#: What a JSON decoder builds besides lists (``row_shaper`` takes its short way only when the values left are these).
_JSON_NOT_LIST = frozenset({str, int, float, bool, type(None), dict, Decimal})


def row_shaper(rules: Sequence[Flatten], embedded: Iterable[str]) -> Callable[[dict[str, Any]], None]:
    """A parent row shaped in place: each rule's ``Flatten.apply`` in turn, then, if any value is a list, every
    list-valued attribute not in ``embedded`` deleted (expanded only for flattening).

    The same as those two steps, with the usual case written out (issue 14, ~5 us per HCM worker): a child's first
    row, a dict matching ``where``, is the one ``pick`` returns (any other case calls ``pick``); the children the
    rules expanded are deleted by name, and the whole-row rule runs only when something list-valued or of an
    unusual type is left. The steps are compiled into one function per stream (names and ``where`` values are
    constants in it, no loop over rules or columns: about a quarter less per HCM worker than the same steps in
    loops); the names and values reach it as arguments bound once, never as source text."""
    kept = frozenset(embedded)
    children = tuple(dict.fromkeys(rule._path[0] for rule in rules if rule._path[0] not in kept))
    bound: dict[str, Any] = {"_JSON_NOT_LIST": _JSON_NOT_LIST, "list": list, "dict": dict, "type": type,
                             "set": set, "map": map}  # fmt: skip

    def const(value: Any) -> str:
        name = f"c{len(bound)}"
        bound[name] = value
        return name

    def strip(row: dict[str, Any]) -> None:
        for name in [k for k, v in row.items() if isinstance(v, list) and k not in kept]:
            del row[name]

    lines = ["def shape(row):"]
    for rule in rules:
        pick = const(rule.pick)
        nulls = [f"row[{const(target)}] = None" for _, target in rule._columns]
        copies = [f"row[{const(target)}] = node.get({const(source)})" for source, target in rule._columns]
        mismatch = " or ".join(f"({const(k)} in first and first[{const(k)}] != {const(v)})" for k, v in rule._where)
        pad = "    "
        lines.append(f"{pad}node = row")
        for part in rule._path:
            lines += [
                f"{pad}rows = node.get({const(part)})",
                f"{pad}if type(rows) is list and rows and type(first := rows[0]) is dict:",
                f"{pad}    node = {pick}(rows) if {mismatch} else first" if mismatch else f"{pad}    node = first",
                f"{pad}else:",
                f"{pad}    node = {pick}(rows)",
                f"{pad}if node is None:",
                *(f"{pad}    {line}" for line in nulls or ["pass"]),
                f"{pad}else:",
            ]
            pad += "    "
        lines += [f"{pad}{line}" for line in copies] or [f"{pad}pass"]
    lines.append("    listed = False")
    for name in children:
        child = const(name)
        lines += [f"    if type(row.get({child})) is list:", f"        del row[{child}]", "        listed = True"]
    lines += [
        "    if not _JSON_NOT_LIST.issuperset(map(type, row.values())) and (",
        "        listed or list in set(map(type, row.values()))",
        "    ):",
        f"        {const(strip)}(row)",
    ]
    names = list(bound)
    source = f"def make({', '.join(names)}):\n" + "\n".join(f"    {line}" for line in lines) + "\n    return shape\n"
    scope: dict[str, Any] = {}
    exec(compile(source, "<xlr8_kit.oracle row_shaper>", "exec"), scope)  # noqa: S102 - names and values are bound, not written
    return cast("Callable[[dict[str, Any]], None]", scope["make"](*bound.values()))


def child_rows(row: Mapping[str, Any], path: str, parent_keys: Mapping[str, str]) -> Iterator[dict[str, Any]]:
    """Rows of the (nested) child at ``path`` inside an expanded parent row, each carrying the keys of every
    ancestor (``parent_keys`` maps ancestor attribute path -> column name, e.g. ``{"PersonId": "PersonId",
    "workRelationships.PeriodOfServiceId": "PeriodOfServiceId"}``)."""

    def walk(
        node: Mapping[str, Any], parts: list[str], prefix: str, carried: dict[str, Any]
    ) -> Iterator[dict[str, Any]]:
        here = dict(carried)
        for attr_path, column in parent_keys.items():
            head, _, name = attr_path.rpartition(".")
            if head == prefix:
                here[column] = node.get(name)
        if not parts:
            yield {**{k: v for k, v in node.items() if not isinstance(v, list)}, **here}
            return
        children = node.get(parts[0])
        for child in children if isinstance(children, list) else []:
            if isinstance(child, Mapping):
                yield from walk(child, parts[1:], f"{prefix}.{parts[0]}".lstrip("."), here)

    yield from walk(row, path.split("."), "", {})
