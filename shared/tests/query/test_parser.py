"""Parsing the universal query language: precedence, literals, quoting, clear syntax errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xlr8_kit.query import (
    And,
    Between,
    Compare,
    Contains,
    In,
    Or,
    Query,
    QuerySyntaxError,
    format_filter,
    format_query,
    parse_filter,
    parse_query,
)


def test_issue_example() -> None:
    q = parse_query(
        "employee where hire_date >= 2024-01-01 and employment_status = active fields employee_id, hire_date limit 100"
    )
    assert q == Query(
        "employee",
        And((Compare("hire_date", ">=", date(2024, 1, 1)), Compare("employment_status", "=", "active"))),
        ("employee_id", "hire_date"),
        100,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a = 1 or b = 2 and c = 3", Or((Compare("a", "=", 1), And((Compare("b", "=", 2), Compare("c", "=", 3)))))),
        ("(a = 1 or b = 2) and c = 3", And((Or((Compare("a", "=", 1), Compare("b", "=", 2))), Compare("c", "=", 3)))),
        ("((a = 1))", Compare("a", "=", 1)),
        (
            "(a = 1 and (b = 2 or (c = 3 and d = 4)))",
            And((Compare("a", "=", 1), Or((Compare("b", "=", 2), And((Compare("c", "=", 3), Compare("d", "=", 4))))))),
        ),
        ("x BETWEEN 1 AND 5 AND y = 2", And((Between("x", 1, 5), Compare("y", "=", 2)))),
        ("x in ()", In("x", ())),
        ("x IN ('a', \"b\", 3, null)", In("x", ("a", "b", 3, None))),
        ("name contains 'O''Br'", Contains("name", "O'Br")),
        ('name contains "say \\"hi\\""', Contains("name", 'say "hi"')),
        ("name = 'back\\\\slash'", Compare("name", "=", "back\\slash")),
        ('name = "it\'s"', Compare("name", "=", "it's")),
        ("a <> b", Compare("a", "!=", "b")),
        ("a != -2.50", Compare("a", "!=", Decimal("-2.50"))),
        (
            "a = true and b = FALSE and c = Null",
            And((Compare("a", "=", True), Compare("b", "=", False), Compare("c", "=", None))),
        ),
        ("where a = '2024-01-01'", Compare("a", "=", "2024-01-01")),
        ("Project__c.Name = x", Compare("Project__c.Name", "=", "x")),
    ],
)
def test_filter_precedence_and_literals(text: str, expected: object) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2024-03-01T10:00:00Z", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("2024-03-01T10:00:00+02:00", datetime(2024, 3, 1, 10, tzinfo=timezone(timedelta(hours=2)))),
        ("2024-03-01T10:00:00-0530", datetime(2024, 3, 1, 10, tzinfo=timezone(-timedelta(hours=5, minutes=30)))),
        ("2024-03-01T10:00", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("2024-03-01T10:00:00.123Z", datetime(2024, 3, 1, 10, 0, 0, 123000, tzinfo=UTC)),
    ],
)
def test_datetimes_keep_their_offset_and_naive_means_utc(text: str, moment: datetime) -> None:
    node = parse_filter(f"t >= {text}")
    assert isinstance(node, Compare)
    assert node.value == moment
    assert isinstance(node.value, datetime)
    assert node.value.utcoffset() == moment.utcoffset()


def test_query_parts_are_optional() -> None:
    assert parse_query("people") == Query("people")
    assert parse_query("people limit 5") == Query("people", limit=5)
    assert parse_query("people fields a,b") == Query("people", fields=("a", "b"))
    assert parse_query("hire_date >= 2024-01-01") == Query(None, Compare("hire_date", ">=", date(2024, 1, 1)))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty query"),
        ("employee where", "expected a field name at position 14, found end of query"),
        ("employee where a = ", "expected a value at position"),
        ("employee where a ~ 1", "unexpected character '~' at position 17"),
        ("employee where a = 1 b = 2", "expected end of query"),
        ("employee where (a = 1", "expected ')'"),
        ("employee where a between 1 or 2", "'and' in 'between ... and ...'"),
        ("employee where a in (1, 2", "expected ')'"),
        ("employee where a contains 5", "contains needs a text value"),
        ("employee limit -1", "non-negative whole number"),
        ("employee limit 2.5", "non-negative whole number"),
        ("employee where a = 'open", "unexpected character"),
        ("employee where a = 2024-02-30", "invalid date '2024-02-30'"),
        ("employee where a", "an operator after 'a'"),
    ],
)
def test_syntax_errors_name_the_position(text: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError, match=None) as err:
        parse_query(text)
    assert message in str(err.value)


_fields = st.sampled_from(["a", "b", "c_d", "Name__c"])
_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-1000, max_value=1000),
    st.dates(),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))])),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=8),
)
_leaf = st.one_of(
    st.builds(Compare, _fields, st.sampled_from(["=", "!=", "<", "<=", ">", ">="]), _values),
    st.builds(In, _fields, st.lists(_values, max_size=3).map(tuple)),
    st.builds(Between, _fields, _values, _values),
    st.builds(Contains, _fields, st.text(max_size=6)),
)
_filters = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
    ),
    max_leaves=8,
)


def _normal(node: object) -> object:
    """Nested same-kind groups print with parentheses and parse back nested: compare modulo flattening."""
    if isinstance(node, And | Or):
        items: list[object] = []
        for item in node.items:
            item = _normal(item)
            if type(item) is type(node):
                items.extend(item.items)  # type: ignore[attr-defined]
            else:
                items.append(item)
        return type(node)(tuple(items))  # type: ignore[arg-type]
    return node


@settings(max_examples=300, deadline=None)
@given(_filters)
def test_format_then_parse_gives_the_same_filter(node: object) -> None:
    text = format_filter(node)  # type: ignore[arg-type]
    assert _normal(parse_filter(text)) == _normal(node)
    assert parse_query(format_query(Query("employee", parse_filter(text), ("a",), 3))).where == parse_filter(text)
