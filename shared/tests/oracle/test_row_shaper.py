"""``row_shaper`` (the parent-row step of ``FusionStream.parse_response``) against the two steps it replaces: every
``Flatten.apply`` in turn, then, if a value is a list, every list-valued attribute not embedded deleted. Rows are
what a JSON decoder builds (dicts, lists, strings, numbers, booleans, nulls), children with and without the
``where`` attributes, non-object rows, nulls and missing children, rule targets that collide with attributes."""

from __future__ import annotations

import copy
import typing as t

from hypothesis import given, settings
from hypothesis import strategies as st

from xlr8_kit.oracle import Flatten
from xlr8_kit.oracle.protocol import row_shaper

NAMES = ["A", "B", "K", "P", "kids", "more"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.sampled_from(["x", "y", "W1", ""]))


def children(depth: int) -> st.SearchStrategy[t.Any]:
    row: st.SearchStrategy[t.Any] = st.dictionaries(st.sampled_from(NAMES[:4]), scalars, max_size=4)
    if depth:
        row = st.builds(lambda r, kids: {**r, "kids": kids} if kids is not None else r, row,
                        st.none() | children(depth - 1))  # fmt: skip
    rows = st.lists(st.one_of(row, row, scalars, st.lists(scalars, max_size=1)), max_size=3)
    return st.one_of(rows, rows, rows, scalars, st.just([]))


parents = st.fixed_dictionaries(
    {"K": scalars},
    optional={
        "kids": children(1),
        "more": children(0),
        "A": scalars,
        "tags": st.lists(scalars, max_size=2),
        "emb": children(0),
    },
)
rules = st.lists(
    st.builds(
        Flatten,
        st.sampled_from(["kids", "more", "kids.kids", "emb", "A"]),
        st.dictionaries(
            st.sampled_from(NAMES[:4]),
            st.sampled_from(["A", "B", "P", "X", "Y", "kids", "tags"]),
            min_size=1,
            max_size=3,
        ),
        st.dictionaries(st.sampled_from(["A", "P"]), scalars, max_size=2),
    ),
    max_size=4,
)


def old_shape(rules: list[Flatten], embedded: set[str], row: dict[str, t.Any]) -> None:
    """``FusionStream.parse_response``'s per-item steps before ``row_shaper``."""
    for rule in rules:
        rule.apply(row)
    if list in set(map(type, row.values())):
        for name in [k for k, v in row.items() if isinstance(v, list) and k not in embedded]:
            del row[name]


@settings(max_examples=600, deadline=None)
@given(rules, st.sets(st.sampled_from(["emb", "kids", "tags"]), max_size=2), st.lists(parents, max_size=4))
def test_row_shaper_equals_flatten_rules_then_list_deletion(
    rules: list[Flatten], embedded: set[str], rows: list[dict[str, t.Any]]
) -> None:
    expected = copy.deepcopy(rows)
    for row in expected:
        old_shape(rules, embedded, row)
    shape = row_shaper(rules, embedded)
    for row in rows:
        shape(row)
    assert rows == expected
    assert [list(row) for row in rows] == [list(row) for row in expected]  # key order too (the RECORD line's)


def test_hcm_worker_primary_rows() -> None:
    """The HCM workers rules on a worker whose primary rows are not the first ones."""
    rules = [
        Flatten("names", {"FirstName": "FirstName"}, {"NameType": "GLOBAL"}),
        Flatten("workRelationships", {"StartDate": "HireDate"}, {"PrimaryFlag": True}),
        Flatten("workRelationships.assignments", {"JobCode": "JobCode"}, {"PrimaryFlag": True}),
    ]
    row = {
        "PersonId": 1,
        "names": [{"FirstName": "L", "NameType": "LOCAL"}, {"FirstName": "G", "NameType": "GLOBAL"}],
        "workRelationships": [
            {"StartDate": "2019", "PrimaryFlag": False, "assignments": [{"JobCode": "J0", "PrimaryFlag": True}]},
            {
                "StartDate": "2020",
                "PrimaryFlag": True,
                "assignments": [{"JobCode": "J1", "PrimaryFlag": False}, {"JobCode": "J2", "PrimaryFlag": True}],
            },
        ],
    }
    row_shaper(rules, ())(row)
    assert row == {"PersonId": 1, "FirstName": "G", "HireDate": "2020", "JobCode": "J2"}


def test_a_first_row_matching_one_where_attribute_of_two_is_not_the_one_picked() -> None:
    """``where`` with two attributes: the first row matches one of them only, a later row matches both."""
    rules = [Flatten("kids", {"B": "B"}, {"A": 1, "P": 2})]
    row = {"K": 0, "kids": [{"A": 1, "P": 3, "B": "first"}, {"A": 1, "P": 2, "B": "later"}]}
    expected = copy.deepcopy(row)
    old_shape(rules, set(), expected)
    row_shaper(rules, ())(row)
    assert row == expected == {"K": 0, "B": "later"}


class Tags(list):  # type: ignore[type-arg]
    """A list of another type (no JSON decoder builds one): the whole-row rule decides."""


def test_values_no_json_decoder_builds_take_the_whole_row_rule() -> None:
    rules = [Flatten("kids", {"A": "A"})]
    for row in ({"kids": [{"A": 1}], "tags": Tags([1]), "t": (1,)}, {"kids": None, "tags": Tags([1])},
                {"kids": Tags([{"A": 1}]), "more": [1]}):  # fmt: skip
        expected = copy.deepcopy(row)
        old_shape(rules, set(), expected)
        row_shaper(rules, ())(row)
        assert row == expected
        assert list(row) == list(expected)
