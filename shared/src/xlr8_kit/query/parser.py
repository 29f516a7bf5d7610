"""Parser for the universal query language::

    employee where hire_date >= 2024-01-01 and (employment_status = active or status in ('L', "on leave"))
             fields employee_id, hire_date limit 100

Literals: quoted strings ('...' or "...", the quote doubled or backslash-escaped inside), dates (2024-01-01),
date-times (2024-01-01T09:30:00+02:00; without an offset they mean UTC), numbers, true/false/null, and bare
words (``active``) which are strings. Keywords are case-insensitive; field names are kept as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from xlr8_kit.filtering import filters_setting as filters_setting  # re-exported: the light home of the check
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
    Query,
    QuerySyntaxError,
    Value,
)

KEYWORDS = {"where", "and", "or", "in", "between", "contains", "fields", "limit", "true", "false", "null", "is", "not"}
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)(?![\w:.])
  | (?P<date>\d{4}-\d{2}-\d{2})(?![\w:.-])
  | (?P<number>-?\d+(?:\.\d+)?)(?![\w.])
  | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int
    value: Value = None

    @property
    def keyword(self) -> str | None:
        return self.text.lower() if self.kind == "word" and self.text.lower() in KEYWORDS else None


def _unquote(text: str) -> str:
    quote, body = text[0], text[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append({"n": "\n", "t": "\t", "r": "\r"}.get(nxt, nxt))
            i += 2
        elif ch == quote and i + 1 < len(body) and body[i + 1] == quote:
            out.append(quote)
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def parse_datetime(text: str) -> datetime:
    """ISO date-time; ``Z`` or an offset is honoured, none means UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise QuerySyntaxError(f"unexpected character {text[pos]!r} at position {pos}")
        kind = match.lastgroup or ""
        raw = match.group()
        value: Value = None
        try:
            if kind == "datetime":
                value = parse_datetime(raw)
            elif kind == "date":
                value = date.fromisoformat(raw)
        except ValueError as exc:
            raise QuerySyntaxError(f"invalid {kind} {raw!r} at position {pos}: {exc}") from None
        if kind == "number":
            value = Decimal(raw) if "." in raw else int(raw)
        elif kind == "string":
            value = _unquote(raw)
        if kind != "ws":
            tokens.append(Token(kind, raw, pos, value))
        pos = match.end()
    tokens.append(Token("eof", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def fail(self, expected: str) -> QuerySyntaxError:
        tok = self.tok
        near = repr(tok.text) if tok.kind != "eof" else "end of query"
        return QuerySyntaxError(f"expected {expected} at position {tok.pos}, found {near} in {self.text!r}")

    def accept_keyword(self, word: str) -> bool:
        if self.tok.keyword == word:
            self.i += 1
            return True
        return False

    def expect_punct(self, char: str) -> None:
        if self.tok.kind == "punct" and self.tok.text == char:
            self.i += 1
            return
        raise self.fail(f"'{char}'")

    def field(self) -> str:
        if self.tok.kind == "word" and self.tok.keyword is None:
            return self.advance().text
        raise self.fail("a field name")

    def value(self) -> Value:
        tok = self.tok
        if tok.kind in {"string", "number", "date", "datetime"}:
            self.i += 1
            return tok.value
        keyword = tok.keyword
        if keyword in {"true", "false", "null"}:
            self.i += 1
            return None if keyword == "null" else keyword == "true"
        if tok.kind == "word" and keyword is None:
            self.i += 1
            return tok.text
        raise self.fail("a value")

    def expr(self) -> Filter:
        items = [self.conjunction()]
        while self.accept_keyword("or"):
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def conjunction(self) -> Filter:
        items = [self.atom()]
        while self.accept_keyword("and"):
            items.append(self.atom())
        return items[0] if len(items) == 1 else And(tuple(items))

    def atom(self) -> Filter:
        if self.tok.kind == "punct" and self.tok.text == "(":
            self.i += 1
            inner = self.expr()
            self.expect_punct(")")
            return inner
        name = self.field()
        tok = self.tok
        if tok.kind == "op":
            self.i += 1
            op = "!=" if tok.text == "<>" else tok.text
            assert op in COMPARISON_OPS
            return Compare(name, op, self.value())
        if self.accept_keyword("is"):
            negated = self.accept_keyword("not")
            if not self.accept_keyword("null"):
                raise self.fail("'null' after 'is'" if not negated else "'null' after 'is not'")
            return Compare(name, "!=" if negated else "=", None)
        if self.accept_keyword("in"):
            self.expect_punct("(")
            values: list[Value] = []
            if not (self.tok.kind == "punct" and self.tok.text == ")"):
                values.append(self.value())
                while self.tok.kind == "punct" and self.tok.text == ",":
                    self.i += 1
                    values.append(self.value())
            self.expect_punct(")")
            return In(name, tuple(values))
        if self.accept_keyword("between"):
            low = self.value()
            if not self.accept_keyword("and"):
                raise self.fail("'and' in 'between ... and ...'")
            return Between(name, low, self.value())
        if self.accept_keyword("contains"):
            needle = self.value()
            if not isinstance(needle, str):
                raise QuerySyntaxError(f"contains needs a text value for field {name!r}, got {needle!r}")
            return Contains(name, needle)
        raise self.fail(f"an operator after {name!r} (=, !=, <, <=, >, >=, in, between, contains, is [not] null)")

    def query(self) -> Query:
        entity = None
        first, second = self.tokens[0], self.tokens[1]
        starts_with_entity = first.kind == "word" and first.keyword is None
        if starts_with_entity and (second.kind == "eof" or second.keyword in {"where", "fields", "limit"}):
            entity = self.advance().text
        where: Filter | None = None
        if self.accept_keyword("where") or (self.tok.kind != "eof" and self.tok.keyword not in {"fields", "limit"}):
            where = self.expr()
        fields: list[str] = []
        if self.accept_keyword("fields"):
            fields.append(self.field())
            while self.tok.kind == "punct" and self.tok.text == ",":
                self.i += 1
                fields.append(self.field())
        limit = None
        if self.accept_keyword("limit"):
            tok = self.advance()
            if tok.kind != "number" or not isinstance(tok.value, int) or tok.value < 0:
                self.i -= 1
                raise self.fail("a non-negative whole number after 'limit'")
            limit = tok.value
        if self.tok.kind != "eof":
            raise self.fail("end of query (or 'and', 'or', 'fields', 'limit')")
        return Query(entity, where, tuple(fields), limit)


def parse_query(text: str) -> Query:
    """Parse a full universal query; the entity, ``where``, ``fields`` and ``limit`` parts are each optional."""
    if not text or not text.strip():
        raise QuerySyntaxError("empty query")
    return _Parser(text).query()


def parse_filter(text: str) -> Filter:
    """Parse a bare filter expression (what a tap's ``filters`` setting holds), ``where`` allowed in front."""
    parser = _Parser(text)
    if parser.tok.kind == "eof":
        raise QuerySyntaxError("empty filter")
    parser.accept_keyword("where")
    node = parser.expr()
    if parser.tok.kind != "eof":
        raise parser.fail("end of filter (or 'and', 'or')")
    return node


def format_value(value: Value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date | int):
        return str(value) if not isinstance(value, date) else value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def format_filter(node: Filter) -> str:
    """Universal text for a filter; parsing it gives the same filter back."""
    if isinstance(node, Compare):
        if node.value is None and node.op in {"=", "!="}:
            return f"{node.field} is {'not ' if node.op == '!=' else ''}null"
        return f"{node.field} {node.op} {format_value(node.value)}"
    if isinstance(node, In):
        return f"{node.field} in ({', '.join(format_value(v) for v in node.values)})"
    if isinstance(node, Between):
        return f"{node.field} between {format_value(node.low)} and {format_value(node.high)}"
    if isinstance(node, Contains):
        return f"{node.field} contains {format_value(node.value)}"
    if isinstance(node, Const):
        raise ValueError("constant filters have no universal text")
    joiner = " and " if isinstance(node, And) else " or "
    return joiner.join(f"({format_filter(i)})" if isinstance(i, And | Or) else format_filter(i) for i in node.items)


def format_query(query: Query) -> str:
    parts = [query.entity] if query.entity else []
    if query.where is not None:
        parts += ["where", format_filter(query.where)]
    if query.fields:
        parts += ["fields", ", ".join(query.fields)]
    if query.limit is not None:
        parts += ["limit", str(query.limit)]
    return " ".join(parts)
