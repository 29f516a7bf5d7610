"""A small OData v2 server core for emulators: entity declarations, ``$metadata`` EDMX in SAP's style, the
``$filter`` grammar, ``$select``/``$orderby``/``$top``/``$skip``/``$expand``, server paging with ``__next``
(``$skiptoken``, snapshot or offset) and the JSON verbose wire format.

Rows are plain dicts of exact Python values (``str``, ``int``, ``Decimal``, aware ``datetime``, ``bool``); the
wire form (``/Date(ms)/``, Int64/Decimal as strings, ``__metadata``) is produced only when serialising.
"""

from __future__ import annotations

import base64
import functools
import itertools
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeAlias
from urllib.parse import urlencode

from lxml import etree

from xlr8_kit.odata.types import format_odata_datetime
from xlr8_sandbox.platform.rowcache import json_bytes
from xlr8_sandbox.platform.wirejson import plain_bytes

EDMX_NS = "http://schemas.microsoft.com/ado/2007/06/edmx"
EDM_NS = "http://schemas.microsoft.com/ado/2008/09/edm"
M_NS = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
SAP_CONTAINER_NS = "http://www.sap.com/Protocols/SAPData"
SAP_TYPES_NS = "http://www.successfactors.com/edm/sap"
SF_NS = "http://www.successfactors.com/edm/sf"
MAX_PAGE_SIZE = 1000
END_OF_TIME = datetime(9999, 12, 31, tzinfo=UTC)


class ODataRequestError(Exception):
    """A client error answered as ``{"error":{"code","message":{"lang","value"}}}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": {"lang": "en-US", "value": self.message}}}


@dataclass(frozen=True)
class Prop:
    name: str
    edm_type: str = "Edm.String"
    label: str = ""
    nullable: bool = True
    max_length: int | None = None
    filterable: bool = True
    sortable: bool = True


@dataclass(frozen=True)
class Nav:
    name: str
    target: str
    multiplicity: str  # "*" or "0..1" or "1"
    #: Rows of the target for one source row (after effective dating of the request).
    resolve: Callable[[dict[str, Any], tuple[datetime, datetime]], Iterable[dict[str, Any]]]


@dataclass
class EntityDef:
    """One entity set and its type. ``rows(i)`` builds generated row ``i`` of ``count()``; ``extra`` holds rows
    inserted at run time (kept in key order with the generated ones). ``total``: ``row(i)`` is a row for every
    ``i`` below ``count()`` (never None), so an unfiltered scan of a set that is not effective dated need not build
    the rows to know which match (the pages build them)."""

    name: str
    label: str
    keys: tuple[str, ...]
    props: list[Prop]
    count: Callable[[], int]
    row: Callable[[int], dict[str, Any] | None]
    effective_dated: bool = False
    navs: list[Nav] = field(default_factory=list)
    extra: list[dict[str, Any]] = field(default_factory=list)
    total: bool = False
    #: Filter literals the vendor accepts for a stored value, per property (User ``status``: ``'t'`` is active).
    value_codes: dict[str, dict[str, str]] = field(default_factory=dict)
    #: (property, predicate): rows a query sees when its ``$filter`` does not name the property (User: only active
    #: users unless ``status`` is filtered on, SAP KBA 2736579).
    unless_filtered: tuple[str, Callable[[dict[str, Any]], bool]] | None = None
    #: ``serialize``'s (property, wire kind) per ``$select``, worked out once rather than per row.
    wire_plans: dict[tuple[str, ...] | None, tuple[tuple[str, int], ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self.by_name = {p.name: p for p in self.props}

    def key_of(self, row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(row.get(k) for k in self.keys)


#: ``$expand`` as a tree: navigation property -> (its target entity, what is expanded below it).
ExpandTree: TypeAlias = dict[str, tuple[EntityDef, "ExpandTree"]]


# --- $filter -----------------------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""\s*(?:
    (?P<dto>datetimeoffset'[^']*')|(?P<dt>datetime'[^']*')|(?P<guid>guid'[^']*')|
    (?P<str>'(?:[^']|'')*')|
    (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[LlMmDdFf]?)|
    (?P<lp>\()|(?P<rp>\))|(?P<comma>,)|
    (?P<word>[A-Za-z_][A-Za-z0-9_/.]*)
    )""",
    re.VERBOSE,
)
_COMPARE = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and b is not None and a > b,
    "ge": lambda a, b: a is not None and b is not None and a >= b,
    "lt": lambda a, b: a is not None and b is not None and a < b,
    "le": lambda a, b: a is not None and b is not None and a <= b,
}
Predicate = Callable[[dict[str, Any]], bool]


def _bad_filter(message: str) -> ODataRequestError:
    return ODataRequestError(400, "COE_GENERAL_BAD_REQUEST", f"[COE0019]Invalid $filter: {message}")


def _parse_instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _bad_filter(f"invalid date-time literal {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match or match.end() == pos:
            raise _bad_filter(f"unexpected text at position {pos}: {text[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _literal(kind: str, text: str) -> Any:
    if kind == "dto":
        return _parse_instant(text[len("datetimeoffset'") : -1])
    if kind == "dt":
        return _parse_instant(text[len("datetime'") : -1])
    if kind == "guid":
        return text[len("guid'") : -1]
    if kind == "str":
        return text[1:-1].replace("''", "'")
    if kind == "num":
        suffix = text[-1].lower()
        body = text[:-1] if suffix in "lmdf" else text
        try:
            if suffix == "l" or re.fullmatch(r"-?\d+", body):
                return int(body)
            return Decimal(body)
        except (ValueError, InvalidOperation):
            raise _bad_filter(f"invalid number {text!r}") from None
    raise _bad_filter(f"unexpected {text!r}")


def parse_filter(text: str, entity: EntityDef) -> Predicate:
    """Compile ``$filter`` (comparisons, ``and``/``or``/``not``, parentheses) into a row predicate."""
    tokens = _tokens(text)
    pos = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        if pos >= len(tokens):
            raise _bad_filter("unexpected end of expression")
        pos += 1
        return tokens[pos - 1]

    def operand() -> Callable[[dict[str, Any]], Any]:
        kind, text_ = take()
        if kind == "word":
            lowered = text_.lower()
            if lowered in ("true", "false"):
                return _constant(lowered == "true")
            if lowered == "null":
                return _constant(None)
            if text_ not in entity.by_name:
                raise ODataRequestError(
                    400,
                    "COE_PROPERTY_NOT_FOUND",
                    f"[COE0021]Invalid property names: {entity.name}/{text_}. Please check the property name.",
                )
            if not entity.by_name[text_].filterable:
                raise _bad_filter(f"property {text_} is not filterable")
            return _column(text_)
        return _constant(_literal(kind, text_))

    def literals() -> list[Any]:
        found = []
        while True:
            kind, text_ = take()
            if kind in ("word", "lp", "rp", "comma"):
                raise _bad_filter(f"expected a literal after 'in', got {text_!r}")
            found.append(_literal(kind, text_))
            if peek() != ("comma", ","):
                return found
            take()

    def comparison() -> Predicate:
        nonlocal pos
        nxt = peek()
        if nxt and nxt[0] == "lp":
            take()
            inner = disjunction()
            if take()[0] != "rp":
                raise _bad_filter("missing ')'")
            return inner
        if nxt and nxt[0] == "word" and nxt[1] == "not":
            take()
            inner = comparison()
            return lambda row: not inner(row)
        first = peek()
        codes = entity.value_codes.get(first[1], {}) if first and first[0] == "word" else {}
        left = operand()
        kind, op = take()
        if kind == "word" and op == "in":
            # ``status in 't','f'``: SuccessFactors' list operator (KBA 2166571), the same as an ``or`` chain of eq
            values = {_comparable(codes.get(v, v) if isinstance(v, str) else v) for v in literals()}
            return lambda row: _comparable(left(row)) in values
        if kind != "word" or op not in _COMPARE:
            raise _bad_filter(f"expected a comparison operator, got {op!r}")
        right = operand()
        if codes:
            right = _coded(right, codes)
        compare = _COMPARE[op]

        def predicate(row: dict[str, Any]) -> bool:
            a, b = left(row), right(row)
            try:
                return bool(compare(_comparable(a), _comparable(b)))
            except TypeError:
                raise _bad_filter(f"cannot compare {type(a).__name__} with {type(b).__name__}") from None

        return predicate

    def conjunction() -> Predicate:
        parts = [comparison()]
        while (nxt := peek()) and nxt == ("word", "and"):
            take()
            parts.append(comparison())
        return parts[0] if len(parts) == 1 else lambda row: all(p(row) for p in parts)

    def disjunction() -> Predicate:
        parts = [conjunction()]
        while (nxt := peek()) and nxt == ("word", "or"):
            take()
            parts.append(conjunction())
        return parts[0] if len(parts) == 1 else lambda row: any(p(row) for p in parts)

    predicate = disjunction()
    if pos != len(tokens):
        raise _bad_filter(f"unexpected {tokens[pos][1]!r}")
    return predicate


def filter_names(text: str) -> set[str]:
    """The words of a ``$filter`` (property names among them), to tell whether it names a property at all."""
    return {value for kind, value in _tokens(text) if kind == "word"}


def names_every_value(text: str, entity: EntityDef) -> bool:
    """Whether a ``$filter`` is only ``<coded property> in <every code>`` (what the tap sends for User): it keeps
    every row, so a scan need not build the rows to know which match."""
    tokens = _tokens(text)
    if len(tokens) < 3 or tokens[0][0] != "word" or tokens[1] != ("word", "in"):
        return False
    codes = entity.value_codes.get(tokens[0][1])
    values = tokens[2::2]
    if not codes or any(t != ("comma", ",") for t in tokens[3::2]) or any(k != "str" for k, _ in values):
        return False
    named = {codes.get(v, v) for v in (_literal(k, t) for k, t in values)}
    return named >= set(codes.values())


def _coded(read: Callable[[dict[str, Any]], Any], codes: dict[str, str]) -> Callable[[dict[str, Any]], Any]:
    """A literal compared with a coded property, as the value the vendor stores for it."""

    def coded(row: dict[str, Any]) -> Any:
        value = read(row)
        return codes.get(value, value) if isinstance(value, str) else value

    return coded


def _constant(value: Any) -> Callable[[dict[str, Any]], Any]:
    def read(_row: dict[str, Any]) -> Any:
        return value

    return read


def _column(name: str) -> Callable[[dict[str, Any]], Any]:
    def read(row: dict[str, Any]) -> Any:
        return row.get(name)

    return read


def _comparable(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value


_KEY_VALUE = r"datetimeoffset'[^']*'|datetime'[^']*'|guid'[^']*'|'(?:[^']|'')*'|-?\d+(?:\.\d+)?[LlMmDd]?"
_KEY_PART = re.compile(rf"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*)?(?P<value>{_KEY_VALUE})\s*(?:,|$)")


def parse_key(text: str, entity: EntityDef) -> dict[str, Any]:
    """The key predicate of an entity address, ``('E1')`` or ``(userId='E1',startDate=datetime'...')``, as
    property -> value; every key property of the entity type, and only those, must be given."""

    def bad(message: str) -> ODataRequestError:
        return ODataRequestError(
            400, "COE_GENERAL_BAD_REQUEST", f"[COE0019]Invalid key predicate for {entity.name}: {message}"
        )

    values: dict[str, Any] = {}
    pos = 0
    while pos < len(text):
        match = _KEY_PART.match(text, pos)
        if not match or match.end() == pos:
            raise bad(f"unexpected text {text[pos : pos + 30]!r}")
        raw = match.group("value")
        kind = next(k for k, p in (("dto", "datetimeoffset'"), ("dt", "datetime'"), ("guid", "guid'"),
                                   ("str", "'")) if raw.startswith(p)) if "'" in raw else "num"  # fmt: skip
        name = match.group("name")
        if name is None:
            if len(entity.keys) != 1 or values:
                raise bad(f"name each of the key properties {', '.join(entity.keys)}")
            name = entity.keys[0]
        if name not in entity.keys:
            raise bad(f"{name} is not a key property")
        try:
            values[name] = _literal(kind, raw)
        except ODataRequestError:
            raise bad(f"invalid literal {raw!r}") from None
        pos = match.end()
    if set(values) != set(entity.keys):
        raise bad(f"expected {', '.join(entity.keys)}")
    return values


def parse_orderby(text: str, entity: EntityDef) -> list[tuple[str, bool]]:
    order: list[tuple[str, bool]] = []
    for part in text.split(","):
        bits = part.split()
        if not bits or len(bits) > 2 or (len(bits) == 2 and bits[1] not in ("asc", "desc")):
            raise ODataRequestError(400, "COE_GENERAL_BAD_REQUEST", f"[COE0019]Invalid $orderby: {text!r}")
        if bits[0] not in entity.by_name:
            raise ODataRequestError(400, "COE_PROPERTY_NOT_FOUND", f"[COE0021]Invalid property names: {bits[0]}")
        order.append((bits[0], len(bits) == 2 and bits[1] == "desc"))
    return order


def sort_rows(rows: list[dict[str, Any]], order: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    """Stable multi-key sort; nulls first ascending (as SAP does)."""
    for name, desc in reversed(order):

        def key(row: dict[str, Any], column: str = name) -> tuple[bool, Any]:
            return row.get(column) is not None, _sort_value(row.get(column))

        rows.sort(key=key, reverse=desc)
    return rows


def _sort_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.timestamp()
    return value


# --- paging ------------------------------------------------------------------------------------------------------


class SnapshotStore:
    """Server-side snapshots for ``paging=snapshot``: the list of row identities is fixed at the first page."""

    def __init__(self, limit: int = 64) -> None:
        self._snapshots: dict[str, list[Any]] = {}
        self._order: list[str] = []
        self._lock = threading.Lock()
        self._limit = limit

    def create(self, rows: list[Any]) -> str:
        ident = uuid.uuid4().hex
        with self._lock:
            self._snapshots[ident] = rows
            self._order.append(ident)
            while len(self._order) > self._limit:
                self._snapshots.pop(self._order.pop(0), None)
        return ident

    def get(self, ident: str) -> list[Any]:
        with self._lock:
            rows = self._snapshots.get(ident)
        if rows is None:
            raise ODataRequestError(400, "COE_GENERAL_BAD_REQUEST", "[COE0023]The snapshot has expired or is invalid.")
        return rows

    def drop(self, ident: str) -> None:
        with self._lock:
            self._snapshots.pop(ident, None)


def encode_skiptoken(offset: int, snapshot: str | None) -> str:
    raw = f"{snapshot or ''}:{offset}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_skiptoken(token: str) -> tuple[int, str | None]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        snapshot, _, offset = raw.partition(":")
        return int(offset), snapshot or None
    except (ValueError, UnicodeDecodeError):
        raise ODataRequestError(400, "COE_GENERAL_BAD_REQUEST", "[COE0019]Invalid $skiptoken.") from None


def next_url(base_url: str, params: list[tuple[str, str]], token: str) -> str:
    kept = [(k, v) for k, v in params if k != "$skiptoken"]
    return f"{base_url}?{urlencode([*kept, ('$skiptoken', token)], safe='$/,():')}"


# --- wire format -------------------------------------------------------------------------------------------------


def wire_value(prop: Prop, value: Any) -> Any:
    if value is None:
        return None
    if prop.edm_type == "Edm.DateTime":
        moment = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day, tzinfo=UTC)
        return format_odata_datetime(moment)
    if prop.edm_type == "Edm.DateTimeOffset":
        return format_odata_datetime(value, with_offset=True)
    if prop.edm_type in ("Edm.Int64", "Edm.Decimal"):
        return str(value)
    return value


#: ``format_odata_datetime`` kept per moment: rows share their days (hire dates, created stamps at 09:00).
_odata_datetime = functools.lru_cache(maxsize=16_384)(format_odata_datetime)
_PASS, _DATETIME, _OFFSET, _TEXT = 0, 1, 2, 3
_WIRE_KINDS = {"Edm.DateTime": _DATETIME, "Edm.DateTimeOffset": _OFFSET, "Edm.Int64": _TEXT, "Edm.Decimal": _TEXT}


def _wire_plan(entity: EntityDef, select: list[str] | None) -> tuple[tuple[str, int], ...]:
    """The selected properties in declaration order with how ``wire_value`` writes each (per entity and select)."""
    key = None if select is None else tuple(select)
    plan = entity.wire_plans.get(key)
    if plan is None:
        if len(entity.wire_plans) >= 64:
            entity.wire_plans.clear()
        plan = tuple(
            (p.name, _WIRE_KINDS.get(p.edm_type, _PASS)) for p in entity.props if select is None or p.name in select
        )
        entity.wire_plans[key] = plan
    return plan


def key_predicate(entity: EntityDef, row: dict[str, Any]) -> str:
    def lit(prop: Prop, value: Any) -> str:
        if prop.edm_type == "Edm.DateTime":
            return f"datetime'{value.replace(tzinfo=None).isoformat(timespec='seconds')}'"
        if prop.edm_type == "Edm.Int64":
            return f"{value}L"
        if isinstance(value, str):
            return "'" + value.replace("'", "''") + "'"
        return str(value)

    if len(entity.keys) == 1:
        key = entity.keys[0]
        return lit(entity.by_name[key], row[key])
    return ",".join(f"{k}={lit(entity.by_name[k], row[k])}" for k in entity.keys)


_PLAIN_TYPES = frozenset({str, int, bool, type(None)})


def _entry(
    entity: EntityDef, row: dict[str, Any], service_url: str, select: list[str] | None
) -> tuple[dict[str, Any], bool]:
    """An entry's metadata and properties (``serialize`` before its navigation properties), and whether every value
    is a str, int, bool or None (so msgspec writes the stdlib encoder's bytes without another check)."""
    uri = f"{service_url}/{entity.name}({key_predicate(entity, row)})"
    out: dict[str, Any] = {"__metadata": {"uri": uri, "type": f"SFOData.{entity.name}"}}
    get = row.get
    plain = True
    for name, kind in _wire_plan(entity, select):  # wire_value per property, planned once
        value = get(name)
        if value is None or kind == _PASS:
            out[name] = value
            if plain and type(value) not in _PLAIN_TYPES:
                plain = False
        elif kind == _DATETIME:
            moment = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day, tzinfo=UTC)
            out[name] = _odata_datetime(moment)
        elif kind == _OFFSET:
            out[name] = _odata_datetime(value, with_offset=True)
        else:
            out[name] = str(value)
    return out, plain


def serialize_bytes(
    entity: EntityDef,
    row: dict[str, Any],
    service_url: str,
    select: list[str] | None,
    expand: dict[str, EntityDef],
    window: tuple[datetime, datetime],
    deeper: ExpandTree | None = None,
) -> bytes:
    """``json_bytes(serialize(...))``: an entry that expands nothing and holds only plain values is encoded by
    msgspec at once, without ``json_bytes`` walking it again to check that msgspec may (the same bytes)."""
    out, plain = _serialized(entity, row, service_url, select, expand, window, deeper)
    return plain_bytes(out) if plain and not expand else json_bytes(out)


def serialize(
    entity: EntityDef,
    row: dict[str, Any],
    service_url: str,
    select: list[str] | None,
    expand: dict[str, EntityDef],
    window: tuple[datetime, datetime],
    deeper: ExpandTree | None = None,
) -> dict[str, Any]:
    """One entry in the JSON verbose format; ``expand`` inlines those navigation properties, ``deeper`` the
    navigation properties expanded below each of them (``$expand=a/b``)."""
    return _serialized(entity, row, service_url, select, expand, window, deeper)[0]


def _serialized(
    entity: EntityDef,
    row: dict[str, Any],
    service_url: str,
    select: list[str] | None,
    expand: dict[str, EntityDef],
    window: tuple[datetime, datetime],
    deeper: ExpandTree | None,
) -> tuple[dict[str, Any], bool]:
    """``serialize``'s entry, and whether its own values are all plain (what it expands is not looked at)."""
    out, plain = _entry(entity, row, service_url, select)
    uri = out["__metadata"]["uri"]
    for nav in entity.navs:
        if nav.name in expand:
            target = expand[nav.name]
            branch = (deeper or {}).get(nav.name)
            below: ExpandTree = branch[1] if branch else {}
            inner = {name: sub_entity for name, (sub_entity, _) in below.items()}
            related = [serialize(target, r, service_url, None, inner, window, below) for r in nav.resolve(row, window)]
            if nav.multiplicity == "*":
                out[nav.name] = {"results": related}
            else:
                out[nav.name] = related[0] if related else None
        elif select is None or nav.name in select:
            out[nav.name] = {"__deferred": {"uri": f"{uri}/{nav.name}"}}
    return out, plain


# --- $metadata ---------------------------------------------------------------------------------------------------


def build_edmx(entities: Iterable[EntityDef]) -> bytes:
    """An EDMX document in the shape SuccessFactors publishes: an ``SFODataSet`` container schema (EntitySets,
    AssociationSets; ``sap`` = SAPData namespace) and an ``SFOData`` types schema (``sap`` = successfactors
    namespace), with ``sap:`` flags on every property and navigation property."""
    entities = list(entities)
    root = etree.Element(f"{{{EDMX_NS}}}Edmx", nsmap={"edmx": EDMX_NS})
    root.set("Version", "1.0")
    services = etree.SubElement(root, f"{{{EDMX_NS}}}DataServices", nsmap={"m": M_NS})
    services.set(f"{{{M_NS}}}DataServiceVersion", "2.0")
    container_schema = etree.SubElement(
        services, f"{{{EDM_NS}}}Schema", nsmap={None: EDM_NS, "sap": SAP_CONTAINER_NS, "sf": SF_NS}
    )
    container_schema.set("Namespace", "SFODataSet")
    container = etree.SubElement(container_schema, f"{{{EDM_NS}}}EntityContainer")
    container.set("Name", "EntityContainer")
    container.set(f"{{{M_NS}}}IsDefaultEntityContainer", "true")
    types_schema = etree.SubElement(
        services, f"{{{EDM_NS}}}Schema", nsmap={None: EDM_NS, "sap": SAP_TYPES_NS, "sf": SF_NS}
    )
    types_schema.set("Namespace", "SFOData")

    def sap(elem: etree._Element, ns: str, **flags: str) -> None:
        for key, value in flags.items():
            elem.set(f"{{{ns}}}{key.replace('_', '-')}", value)

    associations: list[tuple[str, EntityDef, Nav]] = []
    for entity in entities:
        entity_set = etree.SubElement(container, f"{{{EDM_NS}}}EntitySet")
        entity_set.set("Name", entity.name)
        entity_set.set("EntityType", f"SFOData.{entity.name}")
        sap(entity_set, SAP_CONTAINER_NS, label=entity.label, creatable="false", updatable="false",
            upsertable="true", deletable="false")  # fmt: skip
        doc = etree.SubElement(entity_set, f"{{{EDM_NS}}}Documentation")
        etree.SubElement(doc, f"{{{EDM_NS}}}Summary").text = entity.label
        etree.SubElement(
            doc, f"{{{EDM_NS}}}LongDescription"
        ).text = f"{entity.label}{' (effective dated)' if entity.effective_dated else ''}."
        entity_type = etree.SubElement(types_schema, f"{{{EDM_NS}}}EntityType")
        entity_type.set("Name", entity.name)
        key = etree.SubElement(entity_type, f"{{{EDM_NS}}}Key")
        for name in entity.keys:
            etree.SubElement(key, f"{{{EDM_NS}}}PropertyRef").set("Name", name)
        for prop in entity.props:
            elem = etree.SubElement(entity_type, f"{{{EDM_NS}}}Property")
            elem.set("Name", prop.name)
            elem.set("Type", prop.edm_type)
            elem.set("Nullable", "false" if prop.name in entity.keys or not prop.nullable else "true")
            sap(elem, SAP_TYPES_NS, required=str(prop.name in entity.keys).lower(), creatable="false",
                updatable="false", upsertable="true", visible="true", sortable=str(prop.sortable).lower(),
                filterable=str(prop.filterable).lower())  # fmt: skip
            if prop.max_length:
                elem.set("MaxLength", str(prop.max_length))
            if prop.edm_type == "Edm.DateTime":
                sap(elem, SAP_TYPES_NS, display_format="Date")
            sap(elem, SAP_TYPES_NS, label=prop.label or prop.name)
        for nav in entity.navs:
            relationship = f"{entity.name}_{nav.name}"
            elem = etree.SubElement(entity_type, f"{{{EDM_NS}}}NavigationProperty")
            elem.set("Name", nav.name)
            elem.set("Relationship", f"SFOData.{relationship}")
            elem.set("FromRole", entity.name)
            elem.set("ToRole", f"{nav.target}_{nav.name}")
            sap(elem, SAP_TYPES_NS, required="false", creatable="false", updatable="false", upsertable="false",
                visible="true", sortable="false", filterable="false", label=nav.name)  # fmt: skip
            associations.append((relationship, entity, nav))
    for relationship, entity, nav in associations:
        association = etree.SubElement(types_schema, f"{{{EDM_NS}}}Association")
        association.set("Name", relationship)
        for type_name, multiplicity, role in (
            (entity.name, "1", entity.name),
            (nav.target, nav.multiplicity, f"{nav.target}_{nav.name}"),
        ):
            end = etree.SubElement(association, f"{{{EDM_NS}}}End")
            end.set("Type", f"SFOData.{type_name}")
            end.set("Multiplicity", multiplicity)
            end.set("Role", role)
        association_set = etree.SubElement(container, f"{{{EDM_NS}}}AssociationSet")
        association_set.set("Name", relationship)
        association_set.set("Association", f"SFOData.{relationship}")
        for set_name, role in ((entity.name, entity.name), (nav.target, f"{nav.target}_{nav.name}")):
            end = etree.SubElement(association_set, f"{{{EDM_NS}}}End")
            end.set("EntitySet", set_name)
            end.set("Role", role)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def window(iterable: Iterable[dict[str, Any]], offset: int, limit: int) -> Iterator[dict[str, Any]]:
    return itertools.islice(iterable, offset, offset + limit)
