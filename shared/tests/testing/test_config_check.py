"""``xlr8_kit.config_check.proven_valid`` never calls a config valid that jsonschema's ``Draft7Validator`` (what
``KitTap._validate_config`` asks when it cannot prove it) finds an error in, and proves the taps' usual configs
valid (so their runs skip importing jsonschema)."""

from __future__ import annotations

import copy
import importlib
import typing as t
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator

from xlr8_kit.config_check import proven_valid

ROOT = Path(__file__).resolve().parents[3]

NAMES = ["a", "b", "c"]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.sampled_from([0.0, 1.0, -2.0, 1.5, float("nan"), float("inf")]),
    st.sampled_from([Decimal("0.2"), Decimal("5"), Decimal("-1.5"), Decimal("NaN"), Decimal("Infinity")]),
    st.sampled_from(["", "x", "1", "2026-01-01"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(NAMES), inner, max_size=3)),
    max_leaves=8,
)
TYPE_NAMES = ["string", "boolean", "integer", "number", "null", "object", "array"]
types = st.one_of(
    st.sampled_from([*TYPE_NAMES, "bogus"]),
    st.lists(st.sampled_from([*TYPE_NAMES, "bogus"]), min_size=1, max_size=3, unique=True),
)


def _schemas(inner: st.SearchStrategy[t.Any]) -> st.SearchStrategy[t.Any]:
    keyword = st.one_of(
        st.tuples(st.just("type"), types),
        st.tuples(st.just("enum"), st.lists(scalars, min_size=1, max_size=3)),
        st.tuples(st.just("const"), scalars),
        st.tuples(st.sampled_from(["minimum", "maximum"]), st.sampled_from([-1, 0, 1, 1.5, "1", True])),
        st.tuples(st.just("properties"), st.dictionaries(st.sampled_from(NAMES), inner, max_size=3)),
        st.tuples(st.just("required"), st.lists(st.sampled_from(NAMES), max_size=2, unique=True)),
        st.tuples(st.just("additionalProperties"), st.one_of(st.booleans(), inner)),
        st.tuples(st.just("items"), st.one_of(st.booleans(), inner, st.lists(inner, max_size=2))),
        st.tuples(st.sampled_from(["anyOf", "oneOf", "allOf"]), st.lists(inner, min_size=1, max_size=2)),
        st.tuples(st.just("patternProperties"), st.just({"^a": {"type": "string"}})),
        st.tuples(st.just("not"), inner),
        st.tuples(st.sampled_from(["description", "default", "format", "secret", "title"]), st.just("date")),
        st.tuples(st.sampled_from(["minLength", "pattern"]), st.sampled_from([1, "^x"])),
    )
    return st.one_of(st.booleans(), st.lists(keyword, max_size=4).map(dict))


schemas = st.recursive(st.just({}), _schemas, max_leaves=6)


def _errors(schema: t.Any, instance: t.Any) -> list[str]:
    try:
        return [error.message for error in Draft7Validator(schema).iter_errors(instance)]
    except (ArithmeticError, TypeError):
        # jsonschema itself raises comparing Decimal('NaN') with a bound (decimal.InvalidOperation), so it can be no
        # judge of that case: hypothesis drops it (it found {'anyOf': [{'minimum': -1}, {}]} with NaN once in ~10 runs)
        reject()


@settings(max_examples=3000, deadline=None)
@given(schema=schemas, instance=values)
def test_proven_valid_only_where_jsonschema_finds_no_error(schema: t.Any, instance: t.Any) -> None:
    if proven_valid(schema, instance):
        assert _errors(schema, instance) == []


def tap_schemas() -> list[tuple[str, dict[str, t.Any]]]:
    """Every tap's settings schema with the SDK's built-in settings, as ``KitTap._kit_config_errors`` checks."""
    found = []
    for source in sorted(ROOT.glob("taps/tap-*/src/xlr8_tap_*/tap.py")):
        module = importlib.import_module(f"{source.parent.name}.tap")
        name = next(line.split("(")[0].removeprefix("class ") for line in source.read_text().splitlines()
                    if line.startswith("class Tap"))  # fmt: skip
        tap = getattr(module, name)
        schema = copy.deepcopy(tap.config_jsonschema)
        tap.append_builtin_config(schema)
        found.append((name, schema))
    return found


TAP_SCHEMAS = tap_schemas()


def _setting_value(spec: dict[str, t.Any]) -> st.SearchStrategy[t.Any]:
    """Values of the setting's own type (valid or out of range/enum), or any other."""
    own: list[st.SearchStrategy[t.Any]] = [values]
    if "enum" in spec:
        own.append(st.sampled_from([*spec["enum"], "not-one-of-them"]))
    kinds = spec.get("type") or []
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if "string" in kinds:
        own.append(st.text(max_size=5))
    if "integer" in kinds or "number" in kinds:
        own.append(st.integers(-10, 100_000))
    if "object" in kinds:
        own.append(st.dictionaries(st.sampled_from(list(spec.get("properties") or {}) or NAMES), values, max_size=3))
    return st.one_of(own)


@pytest.mark.parametrize(("tap", "schema"), TAP_SCHEMAS, ids=[name for name, _ in TAP_SCHEMAS])
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_a_taps_settings_proven_valid_only_where_jsonschema_agrees(
    tap: str, schema: dict[str, t.Any], data: st.DataObject
) -> None:
    properties = schema["properties"]
    names = data.draw(st.lists(st.sampled_from(sorted(properties)), max_size=6, unique=True))
    config = {name: data.draw(_setting_value(properties[name])) for name in names}
    if proven_valid(schema, config):
        assert _errors(schema, config) == [], tap


@pytest.mark.parametrize(("tap", "schema"), TAP_SCHEMAS, ids=[name for name, _ in TAP_SCHEMAS])
def test_a_taps_usual_config_is_proven_valid(tap: str, schema: dict[str, t.Any]) -> None:
    """Every required setting with a value of its type and every setting that has a default at its default (as
    Meltano passes them): proven valid, so the run never imports jsonschema."""
    properties = schema["properties"]
    config: dict[str, t.Any] = {name: spec["default"] for name, spec in properties.items() if "default" in spec}
    for name in schema.get("required", []):
        config.setdefault(name, _example(properties[name]))
    config["http"] = {"max_attempts": 3, "backoff_base": Decimal("0.5")}  # a config file's fractions: Decimal
    assert _errors(schema, config) == []
    assert proven_valid(schema, config), tap


def _example(spec: dict[str, t.Any]) -> t.Any:
    if "enum" in spec:
        return spec["enum"][0]
    kinds = spec.get("type") or ["string"]
    kind = kinds if isinstance(kinds, str) else kinds[0]
    return {"string": "x", "integer": 1, "number": 1.5, "boolean": True, "object": {}, "array": []}[kind]


@pytest.mark.parametrize(
    ("schema", "instance"),
    [
        ({"type": "integer"}, True),  # a boolean is not an integer
        ({"type": "number"}, False),
        ({"enum": [1]}, True),  # nor equal to 1 for enum
        ({"const": 0}, False),
        ({"required": ["a"]}, {"b": 1}),
        ({"properties": {"a": {"type": "string"}}, "additionalProperties": False}, {"a": "x", "b": 1}),
        ({"additionalProperties": {"type": "string"}}, {"b": 1}),
        ({"minimum": 1}, 0.5),
        ({"maximum": 1}, 2),
        ({"items": {"type": "string"}}, ["x", 1]),
        ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, 1.5),
        ({"type": ["bogus", "string"]}, "x"),  # jsonschema raises on an unknown type name
        ({"type": "integer"}, Decimal("5")),  # a Decimal is a number, never an integer
        ({"minimum": 1}, Decimal("0.5")),
        ({"maximum": 1}, Decimal("NaN")),
    ],
)
def test_what_jsonschema_refuses_is_never_proven_valid(schema: dict[str, t.Any], instance: t.Any) -> None:
    assert not proven_valid(schema, instance)


def test_integral_floats_are_draft_7_integers() -> None:
    assert proven_valid({"type": "integer"}, 3.0)
    assert _errors({"type": "integer"}, 3.0) == []
    assert not proven_valid({"type": "integer"}, 3.5)
