"""The kit's compiled conformance returns exactly what the SDK's ``conform_record_data_types`` returns, and warns
exactly when and what it warns, for every value type and schema shape (hypothesis-generated records)."""

from __future__ import annotations

import datetime as dt
import logging
import math
import typing as t
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from singer_sdk.helpers._typing import _warn_unmapped_properties, conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel

from xlr8_kit.conform import Conformer, decimals_finite_as_float
from xlr8_kit.singer_io import _is_plain

SCHEMA: dict[str, t.Any] = {
    "type": "object",
    "properties": {
        "Id": {"type": "string"},
        "Name": {"type": ["null", "string"]},
        "Count": {"type": ["null", "integer"]},
        "Active": {"type": ["null", "boolean"]},  # exclusively boolean: ints and strings become value != 0
        "Flag": {"type": "boolean"},
        "Mixed": {"type": ["boolean", "string"]},  # boolean but not exclusively
        "Amount": {"type": ["null", "number"]},
        "When": {"type": ["null", "string"], "format": "date-time"},
        "Address": {
            "type": ["null", "object"],
            "properties": {"Street": {"type": ["null", "string"]}, "Vip": {"type": ["null", "boolean"]}},
        },
        "Tags": {"type": ["null", "array"], "items": {"type": ["null", "string"]}},
        "Lines": {
            "type": ["null", "array"],
            "items": {"type": "object", "properties": {"Qty": {"type": "number"}, "Ok": {"type": "boolean"}}},
        },
        "Orgs": {  # objects without an exclusively boolean property: flat items are copied in one C pass
            "type": ["array", "null"],
            "items": {"type": "object", "properties": {"Street": {"type": ["string", "null"]}, "Qty": {}}},
        },
        "Ref": {  # an object without an exclusively boolean property (a Workday reference): flat ones are copied
            "type": ["object", "null"],
            "properties": {"Street": {"type": ["string", "null"]}, "Qty": {}},
            "additionalProperties": False,
        },
        "Blob": {"type": ["null", "object"]},  # an object without properties: kept as it is
        "Any": {},
        # deeper shapes: objects in lists in objects, lists of lists, items the SDK trips on or keeps
        "Deep": {
            "type": ["null", "object"],
            "properties": {
                "Lines": {
                    "type": ["array", "null"],
                    "items": {
                        "type": ["object", "null"],
                        "properties": {"Qty": {"type": ["null", "number"]}, "Ok": {"type": ["null", "boolean"]}},
                    },
                },
                "Street": {"type": "string"},
                "Address": {"type": "object", "properties": {"Vip": {"type": "boolean"}}},
                "Extra": {"anyOf": [{"type": "object"}, {"type": "null"}]},
            },
            "additionalProperties": False,
        },
        "Open": {"type": "object", "properties": {"Street": {"type": "string"}}, "additionalProperties": True},
        "Grid": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
        "Flags": {"type": ["array", "null"], "items": {"type": ["boolean", "null"]}},
        "Bags": {"type": "array", "items": {"type": "object"}},  # dict items: the SDK raises (no properties)
        "Odd": {"type": "array", "items": {}},  # items the SDK cannot type
        "Nums": {"type": "array", "items": {"type": "number"}},
        "Tuple": {"type": "array", "items": {"type": "string"}, "prefixItems": [{"type": "string"}]},
    },
}

#: Decimals around the largest float (about 1.7976931348623157e308): finite or not as a float on either side of
#: the kit's shortcut (``adjusted() < 308``), and tiny ones that become 0.0.
FLOAT_EDGE_DECIMALS = [
    Decimal("9.999999999999999999E+307"),
    Decimal("1E+308"),
    Decimal("-1.7976931348623157E+308"),
    Decimal("1.7976931348623158E+308"),
    Decimal("1.8E+308"),
    Decimal("-9E+308"),
    Decimal("1E-400"),
    Decimal("-0"),
    Decimal("sNaN"),
]

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.text(max_size=3),
    st.sampled_from(
        [Decimal("1.50"), Decimal("NaN"), Decimal("-Infinity"), Decimal("1E+400"), Decimal("0"), Decimal("sNaN")]
    ),
    st.sampled_from(FLOAT_EDGE_DECIMALS),
    st.sampled_from([0.0, 1.5, float("nan"), float("inf")]),
    st.sampled_from([dt.datetime(2024, 1, 2, 3, 4, 5), dt.datetime(2024, 1, 2, tzinfo=dt.UTC), dt.date(2024, 1, 2)]),
    st.sampled_from([dt.time(1, 2), dt.timedelta(seconds=5), b"\x00", b"\x01\x02"]),
)
NESTED = st.dictionaries(st.sampled_from(["Street", "Vip", "Qty", "Ok", "Extra"]), SCALARS, max_size=3)
PLAINISH = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.text(max_size=2), st.just(Decimal("1.5")))
NESTED_PLAIN = st.dictionaries(st.sampled_from(["Street", "Vip", "Qty", "Ok"]), PLAINISH, max_size=3)
INNER = st.one_of(SCALARS, NESTED, NESTED_PLAIN, st.lists(PLAINISH, max_size=2))
DEEPER = st.dictionaries(
    st.sampled_from(["Lines", "Street", "Address", "Extra", "Vip"]),
    st.one_of(INNER, st.lists(st.one_of(NESTED_PLAIN, INNER), max_size=3)),
    max_size=4,
)
ORG_ITEMS = st.lists(st.dictionaries(st.sampled_from(["Street", "Qty"]), st.one_of(SCALARS, NESTED_PLAIN)), max_size=3)
VALUES = st.one_of(
    SCALARS,
    NESTED,
    NESTED_PLAIN,
    DEEPER,
    ORG_ITEMS,
    st.lists(st.one_of(SCALARS, NESTED, NESTED_PLAIN, DEEPER), max_size=3),
)
NAMES = st.sampled_from([*SCHEMA["properties"], "Unknown", "Other"])
RECORDS = st.dictionaries(NAMES, VALUES, max_size=8)
LEVELS = st.sampled_from(list(TypeConformanceLevel))


class _Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _both(record: dict[str, t.Any], level: TypeConformanceLevel, schema: dict[str, t.Any]) -> None:
    logger = logging.getLogger("conform-test")
    logger.propagate = False
    said: list[list[str]] = []
    for conform in (
        lambda r: conform_record_data_types("s", r, schema, level, logger),
        Conformer("s", schema, level, logger),
    ):
        _warn_unmapped_properties.cache_clear()  # the SDK warns once per process; each side gets its first time
        captured = _Captured()
        logger.addHandler(captured)
        try:
            result: t.Any = conform(dict(record))
        except Exception as exc:  # a schema the SDK refuses must be refused alike
            result = f"raised {type(exc).__name__}: {exc}"
        finally:
            logger.removeHandler(captured)
        said.append([repr(result), *captured.lines])  # repr: NaN == NaN, and the key order counts too
    assert said[1] == said[0]


@settings(max_examples=1500, deadline=None)
@given(record=RECORDS, level=LEVELS)
def test_same_result_and_warnings_as_the_sdk(record: dict[str, t.Any], level: TypeConformanceLevel) -> None:
    _both(record, level, SCHEMA)


@settings(max_examples=300, deadline=None)
@given(record=RECORDS)
def test_same_with_additional_properties_allowed(record: dict[str, t.Any]) -> None:
    _both(record, TypeConformanceLevel.RECURSIVE, {**SCHEMA, "additionalProperties": True})


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"Active": 1, "Flag": "x", "Mixed": 1, "Count": 1}, {"Active": True, "Flag": True, "Mixed": 1, "Count": 1}),
        ({"Active": 0, "Flag": None, "Amount": Decimal("NaN")}, {"Active": False, "Flag": None, "Amount": None}),
        ({"Active": Decimal("2.5")}, {"Active": Decimal("2.5")}),  # the SDK keeps numbers even under a boolean
        ({"Address": {"Vip": 1, "Street": "a"}}, {"Address": {"Vip": True, "Street": "a"}}),
        ({"Orgs": [{"Street": "a", "Qty": Decimal("NaN")}]}, {"Orgs": [{"Street": "a", "Qty": None}]}),
        ({"Orgs": [{"Street": "a"}, {"Qty": 1.5}]}, {"Orgs": [{"Street": "a"}, {"Qty": 1.5}]}),
    ],
)
def test_known_conversions(record: dict[str, t.Any], expected: dict[str, t.Any]) -> None:
    got = Conformer("s", SCHEMA, TypeConformanceLevel.RECURSIVE, logging.getLogger("x"))(record)
    assert got == expected
    assert got is not record  # a new dict, as the SDK returns, so later changes to one never show in the other


def test_plain_record_is_copied_not_shared() -> None:
    record = {"Id": "1", "Name": "n", "Count": 3}
    got = Conformer("s", SCHEMA, TypeConformanceLevel.RECURSIVE, logging.getLogger("x"))(record)
    assert got == record
    assert got is not record


@settings(max_examples=1000, deadline=None)
@given(record=RECORDS, level=LEVELS)
def test_a_record_marked_plain_is_plain(record: dict[str, t.Any], level: TypeConformanceLevel) -> None:
    """The mark lets the writer skip its own plain-value check, so it must never say plain when it is not."""
    _warn_unmapped_properties.cache_clear()
    logger = logging.getLogger("conform-test")
    conformer = Conformer("s", SCHEMA, level, logger)
    try:
        out, plain = conformer.marked(dict(record))
    except Exception:
        return
    assert repr(out) == repr(conformer(dict(record)))
    if plain:
        assert _is_plain(out)


DECIMALS = st.one_of(
    st.sampled_from(FLOAT_EDGE_DECIMALS),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.builds(lambda digits, exponent: Decimal(f"{digits}E{exponent}"), st.integers(-99, 99), st.integers(-400, 400)),
)


@settings(max_examples=1000, deadline=None)
@given(values=st.lists(st.one_of(DECIMALS, st.none(), st.sampled_from([0, "1", 1.5, True])), max_size=6))
def test_decimals_finite_as_float_only_when_the_sdk_keeps_each(values: list[t.Any]) -> None:
    """True only for Decimals (and None) the SDK keeps as they are (``math.isfinite``); and True for the usual."""
    if decimals_finite_as_float(values):
        assert all(value is None or (type(value) is Decimal and math.isfinite(value)) for value in values)
    elif all(
        value is None or (type(value) is Decimal and value.is_finite() and abs(value) < 10**300) for value in values
    ):
        raise AssertionError(f"refused plain finite Decimals: {values!r}")


REPORT_SCHEMA: dict[str, t.Any] = {
    "type": "object",
    "properties": {
        "Id": {"type": ["string", "null"]},
        "Count": {"type": ["integer", "null"]},
        "Amount": {"type": ["number", "null"]},
        "Active": {"type": ["boolean", "null"]},  # exclusively boolean
        "When": {"type": ["string", "null"], "format": "date"},
        "Any": {},
    },
}
COLUMN_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=2), DECIMALS, st.sampled_from([1.5, float("nan")])
)


@settings(max_examples=1000, deadline=None)
@given(
    columns=st.dictionaries(
        st.sampled_from([*REPORT_SCHEMA["properties"], "Unknown"]),
        st.lists(COLUMN_VALUES, min_size=3, max_size=3),
        min_size=1,
        max_size=5,
    ),
    level=LEVELS,
)
def test_columns_kept_are_records_the_sdk_returns_as_they_are(
    columns: dict[str, list[t.Any]], level: TypeConformanceLevel
) -> None:
    """``keeps_columns`` says True only when the SDK's conformance returns every record of those columns equal
    to itself (same key order, same values) and the record is plain: what ``vouched`` lets ``marked`` skip."""
    logger = logging.getLogger("conform-test")
    logger.propagate = False
    conformer = Conformer("s", REPORT_SCHEMA, level, logger)
    if not conformer.keeps_columns(columns):
        return
    for index in range(3):
        record = {name: values[index] for name, values in columns.items()}
        assert repr(conform_record_data_types("s", dict(record), REPORT_SCHEMA, level, logger)) == repr(record)
        assert _is_plain(record)
        conformer.vouched = True
        assert conformer.marked(record) == (record, True)
        conformer.vouched = False
        assert repr(conformer.marked(record)[0]) == repr(record)


def test_usual_report_columns_are_kept_and_misfits_are_not() -> None:
    conformer = Conformer("s", REPORT_SCHEMA, TypeConformanceLevel.RECURSIVE, logging.getLogger("x"))
    usual = {
        "Id": ("a", "b"),
        "Count": [1, None],
        "Amount": [Decimal("1.5"), None],
        "Active": [True, None],
        "When": ["2026-01-31", None],
    }
    assert conformer.keeps_columns(usual)
    assert not conformer.keeps_columns({**usual, "Active": [1, None]})  # the SDK makes the 1 a True
    assert not conformer.keeps_columns({**usual, "Amount": [Decimal("NaN"), None]})  # the SDK makes it null
    assert not conformer.keeps_columns({**usual, "Amount": [Decimal("1E+400")]})
    assert not conformer.keeps_columns({**usual, "Unknown": ["x", "y"]})  # the SDK drops it and warns
    assert not conformer.keeps_columns({**usual, "Count": [1.5, None]})  # a float: not plain
    none = Conformer("s", REPORT_SCHEMA, TypeConformanceLevel.NONE, logging.getLogger("x"))
    assert not none.keeps_columns(usual)


ROW_VALUES = st.one_of(
    COLUMN_VALUES,
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-4, 9.9e-5, 1e16, 9.999999999999998e15, -2.5e-7, 20211.18]),
    st.sampled_from([[], {}, ["x"], {"a": 1}, dt.date(2024, 1, 2)]),
)
ROWS = st.lists(
    st.dictionaries(st.sampled_from([*REPORT_SCHEMA["properties"], "Unknown"]), ROW_VALUES, max_size=6),
    max_size=4,
)


@settings(max_examples=1500, deadline=None)
@given(rows=ROWS, level=LEVELS)
def test_rows_vouched_for_are_rows_the_sdk_returns_as_they_are(
    rows: list[dict[str, t.Any]], level: TypeConformanceLevel
) -> None:
    """``vouches_records`` says conformed only when the SDK's conformance returns every row equal to itself (same
    key order, same values and types), and plain only when the kit's writer would find every row plain: what a
    ``MarkedPage`` lets the loop and the writer skip."""
    logger = logging.getLogger("conform-test")
    logger.propagate = False
    conformer = Conformer("s", REPORT_SCHEMA, level, logger)
    conformed, plain = conformer.vouches_records(rows)
    if plain:
        assert conformed
    if not conformed:
        return
    for row in rows:
        assert repr(conform_record_data_types("s", dict(row), REPORT_SCHEMA, level, logger)) == repr(row)
        assert repr(conformer.marked(row)[0]) == repr(row)
        if plain:
            assert _is_plain(row)


def test_usual_rows_are_vouched_for_and_misfits_are_not() -> None:
    conformer = Conformer("s", REPORT_SCHEMA, TypeConformanceLevel.RECURSIVE, logging.getLogger("x"))
    usual = [
        {"Id": "a", "Count": 1, "Amount": 20211.18, "Active": True, "When": "2026-01-31"},
        {"Id": "b", "Count": None, "Amount": Decimal("1.5"), "Active": None, "When": None, "Any": 0.0},
    ]
    assert conformer.vouches_records(usual) == (True, True)
    assert conformer.vouches_records([]) == (True, True)
    assert conformer.vouches_records([{"Id": "a"}, {"Count": 2}]) == (True, True)
    assert conformer.vouches_records([*usual, {"Amount": 1e17}]) == (True, False)  # written 1e+17 by simplejson
    assert conformer.vouches_records([*usual, {"Amount": 1e-5}]) == (True, False)  # written 1e-05 by simplejson
    assert conformer.vouches_records([*usual, {"Active": 1}]) == (False, False)  # the SDK makes the 1 a True
    assert conformer.vouches_records([*usual, {"Active": "x"}]) == (False, False)
    assert conformer.vouches_records([*usual, {"Amount": float("nan")}]) == (False, False)  # the SDK makes it null
    assert conformer.vouches_records([*usual, {"Amount": float("-inf")}]) == (False, False)
    assert conformer.vouches_records([*usual, {"Amount": Decimal("NaN")}]) == (False, False)
    assert conformer.vouches_records([*usual, {"Amount": Decimal("1E+400")}]) == (False, False)
    assert conformer.vouches_records([*usual, {"Unknown": "x"}]) == (False, False)  # the SDK drops it and warns
    assert conformer.vouches_records([*usual, {"Any": [1]}]) == (False, False)  # nested: not judged here
    none = Conformer("s", REPORT_SCHEMA, TypeConformanceLevel.NONE, logging.getLogger("x"))
    assert none.vouches_records(usual) == (False, False)


@pytest.mark.parametrize(
    "record",
    [
        {"Orgs": [{"Street": "a", "Other": 1}]},  # an unmapped nested property: dropped, and the SDK warns
        {"Orgs": [{"Street": "a"}, {"Qty": Decimal("1E+400")}]},
        {"Orgs": [{"Street": "a", "Qty": {"x": 1}}]},
        {"Orgs": [{"Street": "a", "Qty": True}, {}]},
    ],
)
def test_object_items_of_a_list_as_the_sdk_conforms_them(record: dict[str, t.Any]) -> None:
    for level in TypeConformanceLevel:
        _both(record, level, SCHEMA)


#: Records of varying keys, as a report that leaves empty fields out gives them: mostly plain scalars and lists of
#: flat objects, so that ``keeps_records`` says True often enough to be tested.
TEXTISH = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.text(max_size=2))
ORG_ITEM = st.dictionaries(st.sampled_from(["Street", "Qty"]), TEXTISH, max_size=2) | st.dictionaries(
    st.sampled_from(["Street", "Qty", "Other"]), PLAINISH, max_size=2
)
REPORTISH = st.dictionaries(
    NAMES,
    st.one_of(PLAINISH, st.lists(ORG_ITEM, max_size=3), st.lists(PLAINISH, max_size=2), SCALARS),
    max_size=6,
)
OFTEN_PLAIN = st.one_of(*[TEXTISH] * 6, PLAINISH, SCALARS, st.lists(PLAINISH, max_size=1))
LISTS = st.one_of(
    st.lists(ORG_ITEM, max_size=3),
    st.lists(TEXTISH, max_size=2),
    st.lists(PLAINISH),
    st.lists(NESTED_PLAIN, max_size=2),
)
ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "Id": OFTEN_PLAIN,
        "Name": OFTEN_PLAIN,
        "Active": st.one_of(st.booleans(), st.none(), OFTEN_PLAIN),
        "Amount": st.one_of(PLAINISH, DECIMALS),
        "Orgs": st.one_of(LISTS, LISTS, OFTEN_PLAIN),
        "Tags": st.one_of(LISTS, OFTEN_PLAIN),
        "Nums": st.one_of(st.lists(PLAINISH, max_size=2), OFTEN_PLAIN),
        "Lines": st.one_of(st.lists(TEXTISH, max_size=1), OFTEN_PLAIN, OFTEN_PLAIN, LISTS),
        "Ref": st.one_of(ORG_ITEM, ORG_ITEM, NESTED_PLAIN, OFTEN_PLAIN),
        "Address": st.one_of(ORG_ITEM, NESTED_PLAIN, OFTEN_PLAIN),
    },
)
#: Entries ``keeps_records`` must vouch for (at the RECURSIVE level).
KEPT = st.fixed_dictionaries(
    {},
    optional={
        "Id": TEXTISH,
        "Active": st.one_of(st.booleans(), st.none()),
        "Amount": PLAINISH,
        "Orgs": st.lists(st.dictionaries(st.sampled_from(["Street", "Qty"]), TEXTISH, max_size=2), max_size=3),
        "Tags": st.lists(TEXTISH, max_size=2),
        "Count": TEXTISH,
        "Ref": st.one_of(st.none(), st.dictionaries(st.sampled_from(["Street", "Qty"]), TEXTISH, max_size=2)),
    },
)
BLOCKS = st.lists(st.one_of(KEPT, KEPT, ENTRY, REPORTISH, RECORDS), min_size=1, max_size=4)


@settings(max_examples=1500, deadline=None)
@given(records=BLOCKS, level=LEVELS)
def test_records_kept_are_records_the_sdk_returns_as_they_are(
    records: list[dict[str, t.Any]], level: TypeConformanceLevel
) -> None:
    """``keeps_records`` says True only when the SDK's conformance returns each record equal to itself (same key
    order, same values, however deep) and the record is plain: what ``vouched`` lets ``marked`` skip."""
    logger = logging.getLogger("conform-test")
    logger.propagate = False
    conformer = Conformer("s", SCHEMA, level, logger)
    if not conformer.keeps_records(records):
        return
    for record in records:
        assert repr(conform_record_data_types("s", dict(record), SCHEMA, level, logger)) == repr(record)
        assert _is_plain(record)  # what the writer needs of a record vouched plain
        assert repr(conformer.marked(record)[0]) == repr(record)
        conformer.vouched = True
        assert conformer.marked(record) == (record, True)
        conformer.vouched = False


@settings(max_examples=300, deadline=None)
@given(records=st.lists(KEPT, max_size=4))
def test_plain_report_records_are_kept(records: list[dict[str, t.Any]]) -> None:
    conformer = Conformer("s", SCHEMA, TypeConformanceLevel.RECURSIVE, logging.getLogger("x"))
    assert conformer.keeps_records(records)


def test_usual_report_records_are_kept_and_misfits_are_not() -> None:
    """Records of different keys, with a list of flat objects, are vouched for; each misfit is not."""
    conformer = Conformer("s", SCHEMA, TypeConformanceLevel.RECURSIVE, logging.getLogger("x"))
    usual = [
        {"Id": "1", "Amount": Decimal("1.5"), "Active": True, "Orgs": [{"Street": "a", "Qty": 1}, {"Street": "b"}]},
        {"Id": "2", "Name": "x", "Active": None, "Orgs": [], "Tags": ["a", None], "Count": 3, "Ref": {"Qty": 2}},
        {"Id": "3", "Flag": False, "Ref": {"Street": "a", "Qty": None}},
    ]
    assert conformer.keeps_records(usual)
    assert conformer.keeps_records([])

    def changed(index: int, **values: t.Any) -> list[dict[str, t.Any]]:
        return [{**record, **values} if at == index else record for at, record in enumerate(usual)]

    for misfit in (
        changed(2, Active=1),  # the SDK makes the 1 a True
        changed(1, Amount=Decimal("NaN")),  # the SDK makes it null
        changed(0, Amount=Decimal("1E+400")),
        changed(1, Unknown="x"),  # the SDK drops it and warns
        changed(1, Count=1e17),  # a float simplejson writes 1e+17: not plain
        changed(2, Orgs=[{"Street": "a", "Other": 1}]),  # an unmapped nested property
        changed(2, Orgs=[{"Street": "a"}, "b"]),  # mixed items
        changed(0, Orgs=[{"Street": Decimal("1")}]),  # a Decimal in an object item: checked by the walk
        changed(2, Nums=[Decimal("1")]),  # a Decimal item: checked by the walk
        changed(2, Lines=[{"Qty": 1}]),  # items with an exclusively boolean property
        changed(2, Flags=[True]),  # items under a boolean schema
        changed(2, Name=["a"]),  # a list where the schema has no items: kept but not known plain
        changed(2, Address={"Street": "a"}),  # a nested object with an exclusively boolean property
        changed(2, Ref={"Street": "a", "Other": 1}),  # an unmapped nested property: dropped, and the SDK warns
        changed(2, Ref={"Street": Decimal("1")}),  # a Decimal in a nested object: checked by the walk
        changed(2, Ref={"Street": {"x": 1}}),  # an object in a nested object
        changed(2, Blob={"Street": "a"}),  # an object whose schema has no properties: kept but not known plain
    ):
        assert not conformer.keeps_records(misfit), misfit
    assert not Conformer("s", SCHEMA, TypeConformanceLevel.ROOT_ONLY, logging.getLogger("x")).keeps_records(usual)
    assert not Conformer("s", SCHEMA, TypeConformanceLevel.NONE, logging.getLogger("x")).keeps_records(usual)
