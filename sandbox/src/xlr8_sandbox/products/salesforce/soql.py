"""The SOQL subset the emulator understands: enough for what real Singer taps send, strict about the rest.

``SELECT f1, f2 | COUNT() FROM Object [WHERE cond] [ORDER BY f [ASC|DESC], ...] [LIMIT n]`` where ``cond`` is
comparisons (``= != <> < <= > >= IN (..) NOT IN (..) LIKE``) joined by AND/OR with parentheses, on date/datetime
literals, quoted strings, booleans, numbers and ``null``. Anything else raises ``SoqlError`` (MALFORMED_QUERY),
as the real API would reject it rather than guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
    |(?P<date>\d{4}-\d{2}-\d{2})
    |(?P<num>-?\d+(?:\.\d+)?)
    |(?P<str>'(?:[^'\\]|\\.)*')
    |(?P<op><=|>=|!=|<>|=|<|>|\(|\)|,)
    |(?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)


class SoqlError(ValueError):
    """A query outside the supported subset, reported as MALFORMED_QUERY."""


@dataclass(frozen=True)
class Comparison:
    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class BoolOp:
    op: str  # "AND" | "OR"
    parts: tuple[Condition, ...]


Condition = Comparison | BoolOp


@dataclass
class Query:
    fields: list[str]
    sobject: str
    where: Condition | None = None
    order_by: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    limit: int | None = None
    count_only: bool = False


def parse_datetime(text: str) -> datetime:
    value = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", value):
        value = value[:-2] + ":" + value[-2:]
    return datetime.fromisoformat(value).astimezone(UTC)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise SoqlError(f"unexpected token at position {pos}: {text[pos : pos + 20]!r}")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok and tok[0] == "word" and tok[1].upper() == word:
            self.i += 1
            return True
        return False

    def expect(self, value: str) -> None:
        tok = self.peek()
        if not tok or tok[1].upper() != value:
            raise SoqlError(f"expected {value!r}, found {tok[1] if tok else 'end of query'!r}")
        self.i += 1

    def name(self) -> str:
        tok = self.peek()
        if not tok or tok[0] != "word":
            raise SoqlError(f"expected a field name, found {tok[1] if tok else 'end of query'!r}")
        self.i += 1
        return tok[1]

    def parse(self) -> Query:
        self.expect("SELECT")
        fields: list[str] = []
        count_only = False
        if self.keyword("COUNT"):
            self.expect("(")
            self.expect(")")
            count_only = True
        else:
            fields.append(self.name())
            while self.peek() == ("op", ","):
                self.i += 1
                fields.append(self.name())
        self.expect("FROM")
        query = Query(fields=fields, sobject=self.name(), count_only=count_only)
        if self.keyword("WHERE"):
            query.where = self.disjunction()
        if self.keyword("ORDER"):
            self.expect("BY")
            while True:
                column = self.name()
                descending = self.keyword("DESC")
                if not descending:
                    self.keyword("ASC")
                if self.keyword("NULLS"):
                    self.keyword("FIRST") or self.keyword("LAST")
                query.order_by.append((column, descending))
                if self.peek() != ("op", ","):
                    break
                self.i += 1
        if self.keyword("LIMIT"):
            tok = self.peek()
            if not tok or tok[0] != "num":
                raise SoqlError("LIMIT needs a number")
            self.i += 1
            query.limit = int(tok[1])
        if self.peek() is not None:
            raise SoqlError(f"unexpected {self.peek()[1]!r} after the query")  # type: ignore[index]
        return query

    def disjunction(self) -> Condition:
        parts = [self.conjunction()]
        while self.keyword("OR"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else BoolOp("OR", tuple(parts))

    def conjunction(self) -> Condition:
        parts = [self.atom()]
        while self.keyword("AND"):
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else BoolOp("AND", tuple(parts))

    def atom(self) -> Condition:
        if self.peek() == ("op", "("):
            self.i += 1
            inner = self.disjunction()
            self.expect(")")
            return inner
        column = self.name()
        if self.keyword("NOT"):
            self.expect("IN")
            return Comparison(column, "NOT IN", self.value_list())
        if self.keyword("IN"):
            return Comparison(column, "IN", self.value_list())
        if self.keyword("LIKE"):
            return Comparison(column, "LIKE", self.literal())
        tok = self.peek()
        if not tok or tok[0] != "op" or tok[1] in "(),":
            raise SoqlError(f"expected an operator after {column}")
        self.i += 1
        return Comparison(column, "!=" if tok[1] == "<>" else tok[1], self.literal())

    def value_list(self) -> tuple[Any, ...]:
        self.expect("(")
        values = [self.literal()]
        while self.peek() == ("op", ","):
            self.i += 1
            values.append(self.literal())
        self.expect(")")
        return tuple(values)

    def literal(self) -> Any:
        tok = self.peek()
        if tok is None:
            raise SoqlError("expected a value, found end of query")
        self.i += 1
        kind, text = tok
        if kind == "dt":
            return parse_datetime(text)
        if kind == "date":
            return date.fromisoformat(text)
        if kind == "num":
            return Decimal(text)
        if kind == "str":
            return re.sub(r"\\(.)", r"\1", text[1:-1])
        if kind == "word" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if kind == "word" and text.lower() == "null":
            return None
        raise SoqlError(f"unsupported value {text!r}")


def parse(text: str) -> Query:
    return _Parser(text).parse()


def _coerce(record_value: Any, literal: Any) -> Any:
    """Bring a record's wire value to the literal's type so comparisons are typed, as SOQL's are."""
    if record_value is None or literal is None:
        return record_value
    if isinstance(literal, datetime):
        return parse_datetime(record_value) if isinstance(record_value, str) else record_value
    if isinstance(literal, date):
        return date.fromisoformat(record_value[:10]) if isinstance(record_value, str) else record_value
    if isinstance(literal, Decimal) and not isinstance(record_value, bool):
        return Decimal(str(record_value))
    return record_value


def _compare(value: Any, op: str, literal: Any) -> bool:
    if op == "IN":
        return any(_compare(value, "=", item) for item in literal)
    if op == "NOT IN":
        return not any(_compare(value, "=", item) for item in literal)
    value = _coerce(value, literal)
    if op == "=":
        return bool(value == literal)
    if op == "!=":
        return bool(value != literal)
    if value is None or literal is None:
        return False
    if op == "LIKE":
        pattern = "^" + re.escape(str(literal)).replace("%", ".*").replace("_", ".") + "$"
        return re.match(pattern, str(value), re.IGNORECASE | re.DOTALL) is not None
    checks: dict[str, Callable[[Any, Any], bool]] = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    return checks[op](value, literal)


def matches(condition: Condition | None, record: dict[str, Any]) -> bool:
    if condition is None:
        return True
    if isinstance(condition, BoolOp):
        results = (matches(part, record) for part in condition.parts)
        return all(results) if condition.op == "AND" else any(results)
    if condition.field not in record:
        raise SoqlError(f"No such column '{condition.field}'")
    return _compare(record[condition.field], condition.op, condition.value)


def conjuncts(condition: Condition) -> tuple[Condition, ...]:
    """The terms of a top-level AND, nested ANDs flattened (``a AND (b AND c)``, as a pushed-down filter adds)."""
    if isinstance(condition, BoolOp) and condition.op == "AND":
        return tuple(term for part in condition.parts for term in conjuncts(part))
    return (condition,)


def bounds(condition: Condition | None, column: str) -> tuple[datetime | None, datetime | None]:
    """The [lower, upper] range a top-level AND puts on ``column``: lets the emulator seek instead of scan."""
    lower: datetime | None = None
    upper: datetime | None = None
    if condition is None:
        return None, None
    parts = conjuncts(condition)
    for part in parts:
        if isinstance(part, Comparison) and part.field == column and isinstance(part.value, datetime):
            if part.op in (">", ">=", "="):
                lower = part.value if lower is None else max(lower, part.value)
            if part.op in ("<", "<=", "="):
                upper = part.value if upper is None else min(upper, part.value)
    return lower, upper
