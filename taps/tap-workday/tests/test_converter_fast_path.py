"""The report converter's object step (entry copied, only changing fields replaced) gives what converting every
field gives: values, key order and errors, for text and non-text fields, unknown keys and nested objects."""

from __future__ import annotations

import typing as t

from hypothesis import given, settings
from hypothesis import strategies as st

from xlr8_tap_workday import discovery


def _reference(schema: dict[str, t.Any]) -> t.Callable[[t.Any], t.Any]:
    """``discovery.converter`` before its object fast path."""
    types = schema.get("type")
    kinds = {types} if isinstance(types, str) else set(types or [])
    if "array" in kinds:
        item = _reference(schema.get("items", {}))
        return lambda value: (
            None if value is None else [item(v) for v in (value if isinstance(value, list) else [value])]
        )
    if "object" in kinds:
        fields = {name: _reference(spec) for name, spec in schema.get("properties", {}).items()}

        def one(k: str, v: t.Any) -> t.Any:
            """``fields[k](v)``, a misfit named by its field (its path inside a group), never by its value."""
            try:
                return fields[k](v) if k in fields else v
            except discovery.ReportValueError as exc:
                raise discovery.ReportValueError(f"{k}.{exc.field}", exc.kind) from None
            except (ValueError, TypeError, ArithmeticError):
                raise discovery.ReportValueError(k, discovery._KIND_NAMES.get(fields[k], "value of its type")) from None

        return lambda value: (
            (None if value is None else value)
            if not isinstance(value, dict)
            else {k: one(k, v) for k, v in value.items()}
        )
    return discovery.converter(schema)


INNER = {"type": ["object", "null"], "properties": {"Code": {"type": ["string", "null"]}, "N": {"type": ["number"]}}}
SCHEMA = {
    "type": "object",
    "properties": {
        "Name": {"type": ["string", "null"]},
        "Other": {"type": ["string", "null"]},
        "Hired": {"type": ["string", "null"], "format": "date"},
        "Flag": {"type": ["boolean", "null"]},
        "Count": {"type": ["integer", "null"]},
        "Amount": {"type": ["number", "null"]},
        "Org": INNER,
        "Groups": {"type": ["array", "null"], "items": INNER},
    },
}
LEAF = st.one_of(
    st.none(),
    st.text(max_size=4),
    st.sampled_from(["1", "0", "yes", "2024-03-01-08:00", "1,234", "1.5", "x", " 7 ", "2024-13-01"]),
    st.integers(-3, 3),
    st.booleans(),
    st.just({"Descriptor": "D"}),
)
VALUE = st.recursive(
    LEAF,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["Code", "N", "Z"]), inner)),
)
KEYS = ["Name", "Other", "Hired", "Flag", "Count", "Amount", "Org", "Groups", "Extra"]


def _outcome(convert: t.Callable[[t.Any], t.Any], value: t.Any) -> object:
    try:
        out = convert(value)
    except Exception as exc:  # the error is part of the contract
        return ("error", type(exc).__name__, str(exc))
    return ("ok", repr(out))


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.dictionaries(st.sampled_from(KEYS), VALUE), VALUE))
def test_object_fast_path_is_every_field(value: t.Any) -> None:
    assert _outcome(discovery.converter(SCHEMA), value) == _outcome(_reference(SCHEMA), value)


#: Values a Workday report gives (text everywhere, lists of subgroup objects), and misfits.
TEXTS = st.one_of(
    st.text(max_size=5),
    st.sampled_from(["1", "0", "Y", "no", "2024-03-01-08:00", "2016-05-01", "1,234", "1.5", " 7 ", "2024-13-01"]),
    st.sampled_from(["12.50", "-0", "1E+3", "NaN", "1_000", "\u00a012\u2003", "\u0661\u0662", "x1"]),
)
GROUP = st.dictionaries(st.sampled_from(["Code", "N", "Z"]), st.one_of(TEXTS, st.none(), LEAF), max_size=3)
FIELD = st.one_of(TEXTS, TEXTS, TEXTS, st.none(), st.lists(GROUP, max_size=3), VALUE)
ENTRY = st.dictionaries(st.sampled_from(KEYS), FIELD, max_size=9)
#: Number texts: blanks of every kind, separators, exponents, non-ASCII digits (``Decimal`` vs ``_number``).
VALID_NUMBERS = st.one_of(
    st.decimals(places=2, allow_nan=False, allow_infinity=False).map(str),
    st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: f" {d:,}"),
)
NUMBER_TEXTS = st.one_of(
    *[VALID_NUMBERS] * 6,
    st.text(alphabet=" \t\n\u00a0\u2003\u3000\x1c\x85_,.+-eE0123456789\u0661", max_size=6),
    st.sampled_from(["1.5", "-0", "1E+3", "NaN", "sNaN", "Infinity", "1_000", "1__0", "_1"]),
)
FLAGS = st.sampled_from(["1", "0", "Y", "no", "true", " 1 ", "FALSE", *["1", "0"] * 4, "2"])
DATES = st.sampled_from(
    ["2024-03-01-08:00", "2016-05-01", "2016-05-01Z", " 2024-03-01", *["2024-01-31"] * 7, "2024-02-30"]
)
FITTING_GROUP = st.fixed_dictionaries({}, optional={"Code": TEXTS, "N": NUMBER_TEXTS, "Z": TEXTS})
FITTING = st.fixed_dictionaries(
    {},
    optional={
        "Name": st.one_of(TEXTS, st.none()),
        "Hired": DATES,
        "Flag": FLAGS,
        "Count": st.sampled_from(["7", " 3", "1,000", "-2", "0", "12", "5", "x"]),
        "Amount": NUMBER_TEXTS,
        "Org": FITTING_GROUP,
        "Groups": st.lists(FITTING_GROUP, max_size=3),
        "Other": TEXTS,
    },
)
BLOCK = st.one_of(st.lists(FITTING, max_size=5), st.lists(st.one_of(FITTING, ENTRY, VALUE), max_size=5))


def _entry_by_entry(convert: t.Callable[[t.Any], t.Any], entries: list[t.Any]) -> list[object]:
    """What converting entry by entry gives: each entry's record, up to the first error (and that error)."""
    done: list[object] = []
    for entry in entries:
        outcome = _outcome(convert, entry)
        done.append(outcome)
        if outcome[0] == "error":
            break
    return done


@settings(max_examples=1500, deadline=None)
@given(BLOCK)
def test_block_converter_gives_what_each_entry_gives(entries: list[t.Any]) -> None:
    """``block_converter`` gives every entry's converted record (values, types and key order), or None; the caller
    then converts entry by entry, so the records and the error are always those of the entry-by-entry path."""
    convert = discovery.converter(SCHEMA)
    expected = _entry_by_entry(convert, entries)
    got = discovery.block_converter(SCHEMA)(entries)
    if got is None:
        return
    assert [("ok", repr(record)) for record in got] == expected
    assert [list(record) for record in got] == [list(entry) for entry in entries]


def test_a_usual_block_is_converted_whole() -> None:
    """The report's usual shape (text, absent fields, subgroups) is taken column by column, memos warm or not."""
    entries = [
        {"Name": "A", "Hired": "2024-03-01-08:00", "Flag": "1", "Amount": "1234.50", "Groups": [{"Code": "x"}] * 3},
        {"Other": None, "Flag": "0", "Count": "7", "Groups": [], "Org": {"Code": "c", "N": "2"}},
        {"Name": "B", "Hired": "2016-05-01", "Amount": " 7 ", "Groups": [{"Code": "y", "N": "1.5"}]},
    ]
    convert_block = discovery.block_converter(SCHEMA)
    for _ in range(2):
        got = convert_block(entries)
        assert got is not None
        assert [repr(record) for record in got] == [repr(discovery.converter(SCHEMA)(entry)) for entry in entries]
    assert convert_block([*entries, {"Amount": "1,234"}]) is not None  # a thousands separator: per value, in C map
    assert convert_block([*entries, {"Flag": "maybe"}]) is None  # a misfit: entry by entry, raising there
    assert convert_block([*entries, {"Name": ["a"]}]) is None  # a list under a text field
    assert convert_block([*entries, None]) is None
