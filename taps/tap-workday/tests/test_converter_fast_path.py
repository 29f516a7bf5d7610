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
        return lambda value: (
            (None if value is None else value)
            if not isinstance(value, dict)
            else {k: (fields[k](v) if k in fields else v) for k, v in value.items()}
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
