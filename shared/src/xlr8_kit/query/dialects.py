"""Compilers from a typed, product-named filter to each product's own query syntax.

Each dialect says which predicates it can push down, which pushed ones must still be re-checked after fetching
(SOQL compares text case-insensitively; named parameters of Workday and UKG are vendor-defined), and renders
literals in its own form: values are always escaped here, never pasted raw.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

from xlr8_kit.odata.filters import quote_string as odata_quote
from xlr8_kit.query.ast import And, Between, Compare, Contains, Filter, In, Or, QueryError, Value, predicates
from xlr8_kit.vocabulary import FieldType, StreamMapping

_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:[./][A-Za-z_][A-Za-z0-9_]*)*$")
_SOQL_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


class _NotExpressible(Exception):
    pass


def column(name: str) -> str:
    """A column name safe to place in query text (vocabulary columns are, registered ones are checked)."""
    if not _COLUMN.match(name):
        raise QueryError(f"column name {name!r} is not a plain identifier; refusing to place it in a query")
    return name


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def whole_seconds(moment: datetime) -> datetime:
    if moment.microsecond:
        raise _NotExpressible
    return utc(moment)


class Dialect:
    """Base: nothing pushed down, everything filtered after fetching."""

    name = "none"
    supports_limit = False

    def __init__(self, mapping: StreamMapping, types: dict[str, FieldType]) -> None:
        self.mapping = mapping
        self.types = types

    def pushable(self, node: Filter) -> bool:
        try:
            self.compile(node)
        except _NotExpressible:
            return False
        return True

    def recheck(self, node: Filter) -> bool:
        """Whether a pushed predicate must still be evaluated on the fetched records."""
        del node
        return False

    def compile(self, node: Filter) -> str:
        raise _NotExpressible

    def request(
        self, where: str | None, pushed: list[Filter], select: tuple[str, ...], limit: int | None
    ) -> tuple[dict[str, str], str]:
        """Request parameters and the native query text a human would recognise."""
        del where, pushed, select, limit
        return {}, ""


class _InfixDialect(Dialect):
    """Shared shape of SOQL, OData and Oracle: ``field op literal`` joined by and/or with parentheses."""

    ops: dict[str, str] = {}
    and_word = " and "
    or_word = " or "

    def literal(self, value: Value, field: str) -> str:
        raise NotImplementedError

    def null_test(self, field: str, is_null: bool) -> str:
        raise NotImplementedError

    def contains(self, field: str, needle: str) -> str:
        raise _NotExpressible

    def in_list(self, field: str, values: tuple[Value, ...]) -> str:
        return self.group(self.or_word.join(self.compare(field, "=", v) for v in values), len(values) > 1)

    def between(self, field: str, low: Value, high: Value) -> str:
        return self.group(f"{self.compare(field, '>=', low)}{self.and_word}{self.compare(field, '<=', high)}", True)

    @staticmethod
    def group(text: str, wrap: bool) -> str:
        return f"({text})" if wrap else text

    def compare(self, field: str, op: str, value: Value) -> str:
        name = column(field)
        if value is None:
            if op not in {"=", "!="}:
                raise QueryError(f"{field}: only = and != can compare with null")
            return self.null_test(name, op == "=")
        text = f"{name} {self.ops[op]} {self.literal(value, field)}"
        if op == "!=":
            # Universal semantics: a null value differs from every value; SQL-like engines would drop it.
            return f"({text}{self.or_word}{self.null_test(name, True)})"
        return text

    def compile(self, node: Filter) -> str:
        if isinstance(node, Compare):
            return self.compare(node.field, node.op, node.value)
        if isinstance(node, In):
            return self.in_list(node.field, node.values)
        if isinstance(node, Between):
            return self.between(node.field, node.low, node.high)
        if isinstance(node, Contains):
            return self.contains(column(node.field), node.value)
        if isinstance(node, And | Or):
            joiner = self.and_word if isinstance(node, And) else self.or_word
            return joiner.join(self.group(self.compile(i), isinstance(i, And | Or)) for i in node.items)
        raise _NotExpressible  # Const never reaches a dialect: translation folds it away


class SOQL(_InfixDialect):
    name = "soql"
    supports_limit = True
    ops = {"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
    and_word = " AND "
    or_word = " OR "

    @staticmethod
    def quote(text: str, *, like: bool = False) -> str:
        escaped = "".join(_SOQL_ESCAPES.get(ch, ch) for ch in text)
        if like:
            escaped = escaped.replace("%", "\\%").replace("_", "\\_")
        return f"'{escaped}'"

    def literal(self, value: Value, field: str) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, datetime):
            return whole_seconds(value).strftime("%Y-%m-%dT%H:%M:%SZ")
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return format(value, "f")
        if isinstance(value, int):
            return str(value)
        return self.quote(str(value))

    def null_test(self, field: str, is_null: bool) -> str:
        return f"{field} {'=' if is_null else '!='} null"

    def compare(self, field: str, op: str, value: Value) -> str:
        """Text compares case-insensitively in SOQL: only ``=`` (implied by the exact test) may be pushed."""
        if value is not None and op != "=" and self.types.get(field, "string") == "string":
            raise _NotExpressible
        return super().compare(field, op, value)

    def between(self, field: str, low: Value, high: Value) -> str:
        if self.types.get(field, "string") == "string":
            raise _NotExpressible
        return super().between(field, low, high)

    def in_list(self, field: str, values: tuple[Value, ...]) -> str:
        return f"{column(field)} IN ({', '.join(self.literal(v, field) for v in values)})"

    def contains(self, field: str, needle: str) -> str:
        return f"{field} LIKE '%{self.quote(needle, like=True)[1:-1]}%'"

    def recheck(self, node: Filter) -> bool:
        """SOQL compares text case-insensitively: text predicates are re-checked exactly after fetching."""
        return any(
            self.types.get(p.field, "string") == "string" and not (isinstance(p, Compare) and p.value is None)
            for p in predicates(node)
        )

    def request(
        self, where: str | None, pushed: list[Filter], select: tuple[str, ...], limit: int | None
    ) -> tuple[dict[str, str], str]:
        del pushed
        columns = select or tuple(dict.fromkeys(spec.column for spec in self.mapping.fields.values()))
        # Columns are checked identifiers and every literal in ``where`` went through ``quote``/``literal``.
        soql = f"SELECT {', '.join(column(c) for c in columns)} FROM {column(self.mapping.stream)}"  # noqa: S608
        if where:
            soql += f" WHERE {where}"
        if limit is not None:
            soql += f" LIMIT {limit}"
        return {"q": soql}, soql


class ODataV2(_InfixDialect):
    name = "odata_v2"
    supports_limit = True
    ops = {"=": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}

    def literal(self, value: Value, field: str) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, datetime):
            moment = utc(value)
            if moment.microsecond % 1000:
                raise _NotExpressible
            spec = "milliseconds" if moment.microsecond else "seconds"
            return f"datetimeoffset'{moment.replace(tzinfo=None).isoformat(timespec=spec)}Z'"
        if isinstance(value, date):
            return f"datetime'{value.isoformat()}T00:00:00'"
        if isinstance(value, Decimal):
            return f"{format(value, 'f')}M"
        if isinstance(value, int):
            return str(value)
        return odata_quote(str(value))

    def null_test(self, field: str, is_null: bool) -> str:
        return f"{field} {'eq' if is_null else 'ne'} null"

    def contains(self, field: str, needle: str) -> str:
        """Not pushed: ``substringof`` support and its case handling differ between SAP services (the
        SuccessFactors emulator refuses it), so ``contains`` is always checked after fetching."""
        raise _NotExpressible

    def request(
        self, where: str | None, pushed: list[Filter], select: tuple[str, ...], limit: int | None
    ) -> tuple[dict[str, str], str]:
        del pushed
        params: dict[str, str] = {}
        if where:
            params["$filter"] = where
        if select:
            params["$select"] = ",".join(column(c) for c in select)
        if limit is not None:
            params["$top"] = str(limit)
        text = "&".join(f"{k}={v}" for k, v in params.items())
        return params, f"/{self.mapping.stream}" + (f"?{text}" if text else "")


class OracleREST(_InfixDialect):
    """Fusion REST ``q`` rowmatch expressions (REST framework version 2 or later)."""

    name = "oracle_rest"
    ops = {"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

    def literal(self, value: Value, field: str) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, datetime):
            return f"'{whole_seconds(value).isoformat()}'"
        if isinstance(value, date):
            return f"'{value.isoformat()}'"
        if isinstance(value, Decimal):
            return format(value, "f")
        if isinstance(value, int):
            return str(value)
        return "'" + str(value).replace("'", "''") + "'"

    def null_test(self, field: str, is_null: bool) -> str:
        return f"{field} is {'null' if is_null else 'not null'}"

    def in_list(self, field: str, values: tuple[Value, ...]) -> str:
        return f"{column(field)} in ({', '.join(self.literal(v, field) for v in values)})"

    def between(self, field: str, low: Value, high: Value) -> str:
        return f"{column(field)} between {self.literal(low, field)} and {self.literal(high, field)}"

    def request(
        self, where: str | None, pushed: list[Filter], select: tuple[str, ...], limit: int | None
    ) -> tuple[dict[str, str], str]:
        del pushed, limit
        params: dict[str, str] = {"onlyData": "true"}
        if where:
            params["q"] = where
        if select:
            params["fields"] = ",".join(column(c) for c in select)
        text = "&".join(f"{k}={v}" for k, v in params.items())
        return params, f"/{self.mapping.stream}?{text}"


class OracleRESTSimple(OracleREST):
    """Fusion REST ``q`` in the simple syntax of REST framework version 1: ``Attr op value`` conditions joined by
    ``;`` (and). Or, lists of more than one value and null tests have no form there, so they are filtered after
    fetching instead."""

    name = "oracle_rest_v1"
    and_word = ";"

    def compare(self, field: str, op: str, value: Value) -> str:
        if value is None or op == "!=":
            raise _NotExpressible  # "differs" includes null in the universal language; v1 cannot say that
        return f"{column(field)}{self.ops[op]}{self.literal(value, field)}"

    def in_list(self, field: str, values: tuple[Value, ...]) -> str:
        if len(values) != 1:
            raise _NotExpressible
        return self.compare(field, "=", values[0])

    def between(self, field: str, low: Value, high: Value) -> str:
        return f"{self.compare(field, '>=', low)};{self.compare(field, '<=', high)}"

    def compile(self, node: Filter) -> str:
        if isinstance(node, Or):
            raise _NotExpressible
        if isinstance(node, And):
            return ";".join(self.compile(item) for item in node.items)
        return super().compile(node)


def param_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return whole_seconds(value).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


class NamedParams(Dialect):
    """Workday REST parameters / RaaS prompts and UKG query parameters, declared per stream in the vocabulary.

    Only conjuncts the stream declares a parameter for are sent, and all of them are re-checked after
    fetching: a vendor's parameter semantics (inclusive bounds, case) are not the language's to rely on.
    """

    def _param(self, field: str, op: str) -> str:
        canonical = self.mapping.canonical_of(field) or field
        name = self.mapping.params.get((canonical, op))
        if name is None:
            raise _NotExpressible
        return name

    def assignments(self, node: Filter) -> list[tuple[str, str]]:
        if isinstance(node, Compare) and node.value is not None and node.op != "!=":
            return [(self._param(node.field, node.op), param_value(node.value))]
        if isinstance(node, Between) and node.low is not None and node.high is not None:
            return [
                (self._param(node.field, ">="), param_value(node.low)),
                (self._param(node.field, "<="), param_value(node.high)),
            ]
        if isinstance(node, In) and len(node.values) == 1:
            return [(self._param(node.field, "="), param_value(node.values[0]))]
        if isinstance(node, In) and node.values and not any("," in param_value(v) for v in node.values):
            # a list parameter a vendor documents as comma-separated: declared as (field, "in")
            return [(self._param(node.field, "in"), ",".join(param_value(v) for v in node.values))]
        raise _NotExpressible

    def compile(self, node: Filter) -> str:
        parts = node.items if isinstance(node, And) else (node,)
        return "&".join(f"{k}={v}" for part in parts for k, v in self.assignments(part))

    def recheck(self, node: Filter) -> bool:
        del node
        return True

    def request(
        self, where: str | None, pushed: list[Filter], select: tuple[str, ...], limit: int | None
    ) -> tuple[dict[str, str], str]:
        del where, select, limit
        params: dict[str, str] = {}
        for node in pushed:
            for key, value in self.assignments(node):
                if key in params and params[key] != value:
                    raise _NotExpressible
                params[key] = value
        text = "&".join(f"{k}={v}" for k, v in params.items())
        return params, f"/{self.mapping.stream}" + (f"?{text}" if text else "")


class Workday(NamedParams):
    name = "workday"


class UKGRest(NamedParams):
    name = "ukg_rest"


class CommonRest(NamedParams):
    """Common's purchase-order list filters (``status``, ``updated_since``, ``buyer_company_id``)."""

    name = "common_rest"


DIALECTS: dict[str, Callable[[StreamMapping, dict[str, FieldType]], Dialect]] = {
    "soql": SOQL,
    "odata_v2": ODataV2,
    "oracle_rest": OracleREST,
    "oracle_rest_v1": OracleRESTSimple,
    "workday": Workday,
    "ukg_rest": UKGRest,
    "common_rest": CommonRest,
    "none": Dialect,
}

__all__ = [
    "DIALECTS",
    "SOQL",
    "CommonRest",
    "Dialect",
    "NamedParams",
    "ODataV2",
    "OracleREST",
    "OracleRESTSimple",
    "UKGRest",
    "Workday",
]
