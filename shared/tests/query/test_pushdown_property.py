"""Property: for random filters and random records, what a product would return for the pushed-down query
(evaluated here by a tiny reference evaluator of each dialect, with the product's own quirks such as SOQL's
case-insensitive text and SQL null handling) followed by the post-fetch filter equals ``matches``.

A probe stream with every field type is registered for each product so all literal forms are exercised.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xlr8_kit.query import And, Between, Compare, Contains, In, Or, matches, translate_filters
from xlr8_kit.query.ast import Filter
from xlr8_kit.vocabulary import FieldMap, StreamMapping, register_mapping, unregister_mapping

STATUS = (("active", "A"), ("leave", "L"), ("terminated", "T"))
COLUMNS = {
    "last_name": ("Txt", "string"),
    "employment_status": ("Status", "string"),
    "hire_date": ("Day", "date"),
    "last_modified": ("Ts", "datetime"),
    "annual_salary": ("Num", "number"),
    "full_time": ("Flag", "boolean"),
}
TYPES = {column: kind for column, kind in COLUMNS.values()}
PARAMS = {
    ("last_name", "="): "name",
    ("hire_date", ">="): "from",
    ("hire_date", "<="): "to",
    ("employment_status", "="): "st",
    ("employment_status", "in"): "sts",
    ("full_time", "="): "ft",
    ("annual_salary", ">"): "minsal",
    ("last_modified", ">="): "since",
}
PRODUCTS = ["salesforce", "successfactors", "oracle_hcm", "ukg_pro", "workday_hcm", "universal"]
STREAM = "Xlr8Probe"


@pytest.fixture(scope="module", autouse=True)
def probe_streams() -> Iterator[None]:
    for product in PRODUCTS:
        register_mapping(
            StreamMapping(
                product=product,
                stream=STREAM,
                entity="employee",
                truth_type="reality",
                fields={
                    canonical: FieldMap(column, values=STATUS if canonical == "employment_status" else ())
                    for canonical, (column, _) in COLUMNS.items()
                },
                primary=False,
                params=dict(PARAMS),
            )
        )
    yield
    for product in PRODUCTS:
        unregister_mapping(product, STREAM)


# --- random filters (canonical names, canonical values) and random records (product columns and values) -------

TEXT = st.text(st.sampled_from(["a", "A", "b", "'", "%", "_", "\\", "é", " ", '"']), max_size=3)
DAYS = st.integers(0, 6).map(lambda d: date(2024, 1, 1) + timedelta(days=d))
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=5, minutes=30))])
INSTANTS = st.builds(
    lambda minutes, ms, zone: (
        datetime(2024, 1, 1, 12, tzinfo=UTC) + timedelta(minutes=minutes * 30, milliseconds=ms)
    ).astimezone(zone),
    st.integers(-4, 4),
    st.sampled_from([0, 0, 0, 500, 1]),
    ZONES,
)
NUMBERS = st.one_of(st.integers(-2, 2), st.sampled_from([Decimal("-1.5"), Decimal("0.5"), Decimal("1.25")]))
LITERALS: dict[str, st.SearchStrategy[Any]] = {
    "last_name": TEXT,
    "employment_status": st.sampled_from(["active", "leave", "terminated", "X"]),
    "hire_date": DAYS,
    "last_modified": st.one_of(INSTANTS, DAYS),
    "annual_salary": NUMBERS,
    "full_time": st.booleans(),
}
ORDERED = ["=", "!=", "<", "<=", ">", ">="]


def _leaf(field: str) -> st.SearchStrategy[Filter]:
    values = LITERALS[field]
    ops = ["=", "!="] if field in {"full_time", "employment_status"} else ORDERED
    options: list[st.SearchStrategy[Filter]] = [
        st.builds(Compare, st.just(field), st.sampled_from(ops), values),
        st.builds(Compare, st.just(field), st.sampled_from(["=", "!="]), st.none()),
        st.builds(In, st.just(field), st.lists(values, max_size=3).map(tuple)),
    ]
    if field not in {"full_time", "employment_status"}:
        options.append(st.builds(Between, st.just(field), values, values))
    if field == "last_name":
        options.append(st.builds(Contains, st.just(field), TEXT))
    return st.one_of(options)


LEAVES = st.sampled_from(list(COLUMNS)).flatmap(_leaf)
FILTERS = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
    ),
    max_leaves=6,
)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


RECORDS = st.fixed_dictionaries(
    {
        "Txt": st.one_of(st.none(), TEXT),
        "Status": st.one_of(st.none(), st.sampled_from(["A", "L", "T", "X"])),
        "Day": st.one_of(st.none(), DAYS.map(date.isoformat)),
        "Ts": st.one_of(st.none(), INSTANTS.map(_iso)),
        "Num": st.one_of(st.none(), NUMBERS.map(lambda n: float(n) if isinstance(n, Decimal) else n)),
        "Flag": st.one_of(st.none(), st.booleans()),
    }
)

# --- the reference evaluators: what each product's server would return ----------------------------------------


def _typed(kind: str, value: Any) -> Any:
    """A value (record value or literal) as the server's column type holds it."""
    if value is None:
        return None
    if kind == "date":
        if isinstance(value, datetime):
            assert value.time() == datetime.min.time()
            return value.date()
        return value if isinstance(value, date) else date.fromisoformat(value)
    if kind == "datetime":
        if isinstance(value, datetime):
            return value
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if kind == "number":
        return Decimal(str(value))
    if kind == "boolean":
        return value if isinstance(value, bool) else value == "true"
    return value


_TOKENS = {
    "soql": r"""(?P<dt>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)|(?P<date>\d{4}-\d\d-\d\d)|(?P<num>-?\d+(?:\.\d+)?)"""
    r"""|(?P<str>'(?:\\.|[^'\\])*')|(?P<op>!=|<=|>=|=|<|>)|(?P<punct>[(),])|(?P<word>[A-Za-z_]\w*)""",
    "odata_v2": r"""(?P<dto>datetimeoffset'[^']*')|(?P<dtl>datetime'[^']*')|(?P<num>-?\d+(?:\.\d+)?M?)"""
    r"""|(?P<str>'(?:''|[^'])*')|(?P<punct>[(),])|(?P<word>[A-Za-z_]\w*)""",
    "oracle_rest": r"""(?P<num>-?\d+(?:\.\d+)?)|(?P<str>'(?:''|[^'])*')|(?P<op>!=|<=|>=|=|<|>)|(?P<punct>[(),])"""
    r"""|(?P<word>[A-Za-z_]\w*)""",
}
_ODATA_OPS = {"eq": "=", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_SOQL_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


def _soql_string(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: _SOQL_UNESCAPE.get(m.group(1), m.group(1)), body)


def _like(pattern: str) -> re.Pattern[str]:
    """SOQL LIKE: % and _ wildcards, \\% \\_ \\\\ \\' literal, case-insensitive."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            nxt = pattern[i + 1]
            out.append(re.escape(_SOQL_UNESCAPE.get(nxt, nxt)))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


class Reference:
    """Parses a dialect's filter text and evaluates it on a record with the server's semantics."""

    def __init__(self, dialect: str, text: str) -> None:
        self.dialect = dialect
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        pattern = re.compile(_TOKENS[dialect])
        while pos < len(text):
            if text[pos] == " ":
                pos += 1
                continue
            match = pattern.match(text, pos)
            assert match is not None, f"reference cannot read {text[pos:]!r} in {text!r}"
            self.tokens.append((match.lastgroup or "", match.group()))
            pos = match.end()
        self.i = 0
        self.tree = self.expr()
        assert self.i == len(self.tokens), f"trailing tokens in {text!r}"

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("eof", "")

    def take(self, text: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        assert text is None or tok[1].lower() == text, (tok, text)
        self.i += 1
        return tok

    def is_word(self, word: str) -> bool:
        return self.peek()[0] == "word" and self.peek()[1].lower() == word

    def expr(self) -> Callable[[dict[str, Any]], bool]:
        parts = [self.conj()]
        while self.is_word("or"):
            self.take()
            parts.append(self.conj())
        return lambda r: any(p(r) for p in parts)

    def conj(self) -> Callable[[dict[str, Any]], bool]:
        parts = [self.atom()]
        while self.is_word("and"):
            self.take()
            parts.append(self.atom())
        return lambda r: all(p(r) for p in parts)

    def literal(self, column: str) -> Any:
        kind, text = self.take()
        if kind == "word":
            return {"null": None, "true": True, "false": False}[text.lower()]
        if kind == "str":
            body = text[1:-1]
            value: Any = _soql_string(body) if self.dialect == "soql" else body.replace("''", "'")
            return _typed(TYPES[column], value) if self.dialect == "oracle_rest" else value
        if kind == "num":
            return Decimal(text.rstrip("M"))
        if kind in {"dt", "dto"}:
            return datetime.fromisoformat(text.split("'")[1] if "'" in text else text.replace("Z", "+00:00"))
        if kind == "dtl":
            return datetime.fromisoformat(text.split("'")[1])
        return date.fromisoformat(text)

    def text_eq(self, left: str, right: str) -> bool:
        return left.casefold() == right.casefold() if self.dialect == "soql" else left == right

    def compare(self, column: str, op: str, literal: Any) -> Callable[[dict[str, Any]], bool]:
        kind = TYPES[column]
        if isinstance(literal, datetime) and not literal.tzinfo:
            literal = literal.replace(tzinfo=UTC)  # OData datetime'...' literals are UTC wall-clock
        right = _typed(kind, literal)

        def run(record: dict[str, Any]) -> bool:
            left = _typed(kind, record.get(column))
            if right is None:
                return (left is None) == (op == "=")
            if left is None:
                return False  # SQL semantics: the translator must add "or is null" itself
            if kind == "string":
                assert op in {"=", "!="} or self.dialect != "soql", "SOQL must not get ordered text tests"
                if op in {"=", "!="}:
                    return self.text_eq(left, right) == (op == "=")
            return {
                "=": left == right, "!=": left != right, "<": left < right,
                "<=": left <= right, ">": left > right, ">=": left >= right,
            }[op]  # fmt: skip

        return run

    def atom(self) -> Callable[[dict[str, Any]], bool]:
        if self.peek() == ("punct", "("):
            self.take()
            inner = self.expr()
            self.take(")")
            return inner
        if self.is_word("substringof"):
            self.take()
            self.take("(")
            needle = self.take()[1][1:-1].replace("''", "'")
            self.take(",")
            column = self.take()[1]
            self.take(")")
            self.take("eq")
            self.take("true")
            return lambda r: r.get(column) is not None and needle in r[column]
        column = self.take()[1]
        kind, text = self.peek()
        if kind == "op" or (self.dialect == "odata_v2" and text in _ODATA_OPS):
            self.take()
            return self.compare(column, _ODATA_OPS.get(text, text), self.literal(column))
        word = text.lower()
        self.take()
        if word == "in":
            self.take("(")
            tests = [self.compare(column, "=", self.literal(column))]
            while self.peek() == ("punct", ","):
                self.take()
                tests.append(self.compare(column, "=", self.literal(column)))
            self.take(")")
            return lambda r: any(t(r) for t in tests)
        if word == "like":
            regex = _like(self.take()[1][1:-1])
            return lambda r: r.get(column) is not None and regex.fullmatch(r[column]) is not None
        if word == "between":
            low = self.compare(column, ">=", self.literal(column))
            self.take("and")
            high = self.compare(column, "<=", self.literal(column))
            return lambda r: low(r) and high(r)
        if word == "is":
            negate = self.is_word("not")
            if negate:
                self.take()
            self.take("null")
            return lambda r: (r.get(column) is None) != negate
        raise AssertionError(f"reference cannot read operator {text!r}")


def params_reference(params: dict[str, str]) -> Callable[[dict[str, Any]], bool]:
    tests = []
    server = Reference.__new__(Reference)
    server.dialect = "params"
    for key, value in params.items():
        (canonical, op) = next(k for k, v in PARAMS.items() if v == key)
        column, kind = COLUMNS[canonical]
        if op == "in":
            options = [server.compare(column, "=", _typed(kind, v)) for v in value.split(",")]
            tests.append(lambda r, options=options: any(o(r) for o in options))
            continue
        literal = _typed(kind, value)
        tests.append(server.compare(column, op, literal))
    return lambda r: all(t(r) for t in tests)


def server_returns(result: Any, record: dict[str, Any]) -> bool:
    if result.dialect in _TOKENS:
        return result.where is None or Reference(result.dialect, result.where).tree(record)
    if result.dialect in {"workday", "ukg_rest"}:
        return params_reference(result.params)(record)
    assert result.params == {}
    return True


def canonical_record(record: dict[str, Any]) -> dict[str, Any]:
    back = {product: canonical for canonical, product in STATUS}
    out = {canonical: record[column] for canonical, (column, _) in COLUMNS.items()}
    out["employment_status"] = back.get(out["employment_status"], out["employment_status"])
    return out


@pytest.mark.parametrize("product", PRODUCTS)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(node=FILTERS, records=st.lists(RECORDS, min_size=1, max_size=4))
def test_pushdown_then_post_filter_equals_matches(product: str, node: Filter, records: list[dict[str, Any]]) -> None:
    result = translate_filters(node, product, stream=STREAM)
    for record in records:
        expected = not result.empty and matches(record, result.filter)
        assert expected == matches(canonical_record(record), node), "typing/renaming changed the meaning"
        got = not result.empty and server_returns(result, record) and result.matches(record)
        assert got == expected, (result.where, result.params, record)
