"""Fusion REST ``q`` parsing, as the server does it: the simple syntax of REST framework version 1
(``Attr op value`` joined by ``;``) and the rowmatch expressions of version 2 and later (``and``/``or``/``not``,
parentheses, comparisons, ``in``, ``between``, ``like``, ``is [not] null``). Unknown or non-queryable attributes
and malformed text raise ``QueryError`` whose message names the problem (the emulator answers 400 with it)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

Row = Mapping[str, Any]  # a row as the emulator builds it
Predicate = Callable[[Row], bool]


class QueryError(ValueError):
    pass


@dataclass(frozen=True)
class AttrInfo:
    type: str
    queryable: bool = True


_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>>=|<=|!=|<>|=|>|<)|(?P<lp>\()|(?P<rp>\))|(?P<comma>,)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.]*)|(?P<num>-?\d+(?:\.\d+)?))"
)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<>": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


def typed(value: Any, kind: str, attribute: str) -> Any:
    """A literal (or a row value) as the attribute's type, for comparison."""
    if value is None:
        return None
    text = str(value)
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return Decimal(text)
        if kind == "boolean":
            if text.lower() not in ("true", "false"):
                raise ValueError
            return text.lower() == "true"
        if kind == "date":
            return date.fromisoformat(text[:10])
        if kind in ("datetime", "timestamp"):
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise ValueError
            return moment
    except (ValueError, InvalidOperation):
        raise QueryError(f"The value {text!r} is not valid for attribute {attribute} of type {kind}.") from None
    return text


class _Parser:
    def __init__(self, text: str, attrs: Mapping[str, AttrInfo]) -> None:
        self.attrs = attrs
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise QueryError(f"The q parameter is not valid near {text[pos : pos + 20]!r}.")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise QueryError("The q parameter ends unexpectedly.")
        self.i += 1
        return tok

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok is not None and tok[0] == "word" and tok[1].lower() == word:
            self.i += 1
            return True
        return False

    def expr(self) -> Predicate:
        left = self.term()
        while self.keyword("or"):
            right = self.term()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def term(self) -> Predicate:
        left = self.factor()
        while self.keyword("and"):
            right = self.factor()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def factor(self) -> Predicate:
        if self.keyword("not"):
            inner = self.factor()
            return lambda r: not inner(r)
        tok = self.peek()
        if tok is not None and tok[0] == "lp":
            self.take()
            inner = self.expr()
            if self.take()[0] != "rp":
                raise QueryError("The q parameter has an unbalanced parenthesis.")
            return inner
        return self.comparison()

    def attribute(self) -> tuple[str, AttrInfo]:
        kind, name = self.take()
        if kind != "word":
            raise QueryError(f"The q parameter expects an attribute name, found {name!r}.")
        return name, attribute_info(self.attrs, name)

    def literal(self, name: str, info: AttrInfo) -> Any:
        kind, text = self.take()
        if kind == "str":
            return typed(text[1:-1].replace("''", "'"), info.type, name)
        if kind in ("num", "word"):
            return typed(text, info.type, name)
        raise QueryError(f"The q parameter expects a value for attribute {name}, found {text!r}.")

    def comparison(self) -> Predicate:
        name, info = self.attribute()
        if self.keyword("is"):
            negate = self.keyword("not")
            if not self.keyword("null"):
                raise QueryError(f"The q parameter expects null after 'is' for attribute {name}.")
            return lambda r: (r.get(name) is None) != negate
        if self.keyword("between"):
            low = self.literal(name, info)
            if not self.keyword("and"):
                raise QueryError(f"The q parameter expects 'and' in the between condition on {name}.")
            high = self.literal(name, info)
            return lambda r: (v := typed(r.get(name), info.type, name)) is not None and low <= v <= high
        if self.keyword("in"):
            if self.take()[0] != "lp":
                raise QueryError(f"The q parameter expects '(' after 'in' for attribute {name}.")
            values = [self.literal(name, info)]
            while (tok := self.take())[0] == "comma":
                values.append(self.literal(name, info))
            if tok[0] != "rp":
                raise QueryError(f"The q parameter expects ')' closing the in list of {name}.")
            return lambda r: typed(r.get(name), info.type, name) in values
        if self.keyword("like"):
            pattern = str(self.literal(name, AttrInfo("string")))
            regex = re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("%")) + "$", re.S)
            return lambda r: r.get(name) is not None and bool(regex.match(str(r.get(name))))
        kind, op = self.take()
        if kind != "op":
            raise QueryError(f"The q parameter expects an operator after attribute {name}, found {op!r}.")
        value = self.literal(name, info)
        compare = _OPS[op]
        return lambda r: (v := typed(r.get(name), info.type, name)) is not None and compare(v, value)


def attribute_info(attrs: Mapping[str, AttrInfo], name: str) -> AttrInfo:
    info = attrs.get(name)
    if info is None:
        raise QueryError(f"The attribute {name} in the q parameter is not found in the resource.")
    if not info.queryable:
        raise QueryError(f"The attribute {name} in the q parameter is not queryable.")
    return info


def parse_rowmatch(text: str, attrs: Mapping[str, AttrInfo]) -> Predicate:
    """REST framework version 2 and later."""
    parser = _Parser(text, attrs)
    predicate = parser.expr()
    if parser.peek() is not None:
        raise QueryError(f"The q parameter has unexpected text at {parser.peek()[1]!r}.")  # type: ignore[index]
    return predicate


_SIMPLE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|!=|=|>|<)\s*(.*?)\s*$", re.S)


def _split_simple(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == "'":
            quoted = not quoted
        if ch == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if quoted:
        raise QueryError("The q parameter has an unterminated quoted value.")
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def parse_simple(text: str, attrs: Mapping[str, AttrInfo]) -> Predicate:
    """REST framework version 1: ``Attr=value;Attr2>'quoted value'`` (every condition must hold)."""
    predicates: list[Predicate] = []
    for part in _split_simple(text):
        m = _SIMPLE.match(part)
        if m is None:
            raise QueryError(f"The q parameter condition {part.strip()!r} is not valid.")
        name, op, raw = m.groups()
        info = attribute_info(attrs, name)
        if len(raw) >= 2 and raw.startswith("'") and raw.endswith("'"):
            raw = raw[1:-1].replace("''", "'")
        value = typed(raw, info.type, name)
        compare = _OPS[op]
        predicates.append(
            (lambda n, k, c, v: lambda r: (x := typed(r.get(n), k, n)) is not None and c(x, v))(
                name, info.type, compare, value
            )
        )
    return lambda r: all(p(r) for p in predicates)


def parse_q(text: str, attrs: Mapping[str, AttrInfo], framework_version: int) -> Predicate:
    return parse_simple(text, attrs) if framework_version < 2 else parse_rowmatch(text, attrs)
