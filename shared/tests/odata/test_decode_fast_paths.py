"""The OData decode fast paths (issue 14 goal 2) give exactly what the general rules give: a ``/Date(ms)/`` text
written from its day and time of day, and the per-property decode plan of ``decode_entry``."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xlr8_kit.odata import types
from xlr8_kit.odata.edmx import EdmProperty, EntityType
from xlr8_kit.odata.types import ODataValueError, decode_entry, decode_value, isoformat, parse_odata_datetime


def _general(value: str) -> str:
    return isoformat(parse_odata_datetime(value))


def _outcome(convert: object, value: str) -> tuple[str, str]:
    try:
        return "ok", convert(value)  # type: ignore[operator]
    except Exception as exc:  # the same error is part of the contract
        return type(exc).__name__, str(exc)


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.integers(min_value=types._FIRST_MS - 10**9, max_value=types._END_MS + 10**9),
        st.integers(min_value=-(10**17), max_value=10**17),
        st.sampled_from(
            [
                0,
                -1,
                1,
                999,
                1000,
                types._FIRST_MS,
                types._FIRST_MS - 1,
                types._END_MS - 1,
                types._END_MS,
                types._END_MS + 1,
                types._END_MS + types._MS_PER_DAY,
            ]
        ),
    ),
    st.sampled_from(["", "+0000", "-0130", "+0530", "+60", "+00000", "-1"]),
)
def test_date_ms_text_is_the_general_text(ms: int, suffix: str) -> None:
    value = f"/Date({ms}{suffix})/"
    types._forget_datetime_texts()
    expected = _outcome(_general, value)
    assert _outcome(types._datetime_text, value) == expected
    assert _outcome(types._datetime_text, value) == expected  # from the memos


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-05T09:30:00Z",
        "2026-01-05T09:30:00.5+02:00",
        "2026-01-05",
        "/Date(x)/",
        "soon",
        "/Date(1)",
        "/Date(1)/\n",
        "/Date(\u0661\u0662\u0663)/",
        "/Date(\u00b2)/",
        "/Date(+0000)/",
        "/Date(12+000a)/",
        "/Date(12-3456)/",
        "/Date(1+2+0000)/",
        "/Date(-1+0000)/",
        "/Date()/",
        "/Date(1718442000123+0000)/",
        "/Date(1718442000000)/",
    ],
)
def test_other_date_forms_are_the_general_text(value: str) -> None:
    types._forget_datetime_texts()
    assert _outcome(types._datetime_text, value) == _outcome(_general, value)


@settings(max_examples=600, deadline=None)
@given(
    st.text(alphabet="0123456789+-/()Date \n\u0661\u00b2x", max_size=24),
    st.sampled_from(["", "/Date(", "/Date(1", "/Date(1718442000123"]),
    st.sampled_from(["", ")/", "+0000)/", "-0130)/"]),
)
def test_any_text_near_the_wire_form_is_the_general_text(middle: str, head: str, tail: str) -> None:
    """Texts one character off the wire form (offsets of other lengths, signs, blanks, other digits, a newline
    after it) are read as the general rule reads them, or fail as it fails."""
    value = head + middle + tail
    types._forget_datetime_texts()
    assert _outcome(types._datetime_text, value) == _outcome(_general, value)


def _prop(name: str, edm: str) -> EdmProperty:
    return EdmProperty(name=name, edm_type=edm)


ENTITY = EntityType(
    namespace="test",
    name="Thing",
    keys=("id",),
    properties={
        prop.name: prop
        for prop in [
            _prop("id", "Edm.String"),
            _prop("guid", "Edm.Guid"),
            _prop("n", "Edm.Int64"),
            _prop("amount", "Edm.Decimal"),
            _prop("ratio", "Edm.Double"),
            _prop("changed", "Edm.DateTime"),
            _prop("at", "Edm.DateTimeOffset"),
            _prop("start", "Edm.Time"),
            _prop("flag", "Edm.Boolean"),
            _prop("blob", "Edm.Binary"),
        ]
    },
    navigation={},
)


def _old_decode_entry(entity: EntityType, entry: dict[str, object], keep: tuple[str, ...] = ()) -> dict[str, object]:
    """``decode_entry`` before its plan held converters: ``decode_value`` for every declared non-string value."""
    out: dict[str, object] = {}
    for name, value in entry.items():
        prop = entity.properties.get(name)
        if prop is None:
            if name in keep:
                out[name] = value
        elif prop.edm_type in types.OMITTED_TYPES:
            continue
        elif prop.edm_type in ("Edm.String", "Edm.Guid"):
            out[name] = value
        else:
            out[name] = decode_value(prop, value)
    return out


VALUES = {
    "id": st.one_of(st.none(), st.text(max_size=5), st.integers()),
    "guid": st.one_of(st.none(), st.text(max_size=5)),
    "n": st.one_of(st.none(), st.integers(), st.booleans(), st.sampled_from(["12", "x", "-3"])),
    "amount": st.one_of(st.none(), st.sampled_from(["1.50", "2", "x", "1e3"]), st.integers()),
    "ratio": st.one_of(st.none(), st.sampled_from(["1.5", "x"]), st.floats(allow_nan=False)),
    "changed": st.one_of(
        st.none(),
        st.integers(min_value=-(10**15), max_value=10**15).map(lambda ms: f"/Date({ms})/"),
        st.sampled_from(["2026-01-05T09:30:00Z", "nope", "/Date(99999999999999999)/"]),
        st.integers(),
    ),
    "at": st.one_of(st.none(), st.integers(min_value=0, max_value=10**13).map(lambda ms: f"/Date({ms}+0000)/")),
    "start": st.one_of(st.none(), st.sampled_from(["PT09H30M00S", "PT1.5S", "bad"])),
    "flag": st.one_of(st.none(), st.booleans(), st.sampled_from(["true", "False", " TRUE "])),
    "blob": st.one_of(st.none(), st.text(max_size=3)),
    "__metadata": st.just({"uri": "x"}),
    "nav": st.just({"__deferred": {"uri": "y"}}),
}


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional=VALUES), st.sampled_from([(), ("nav",), ("nav", "__metadata")]))
def test_decode_entry_is_decode_value_per_property(entry: dict[str, object], keep: tuple[str, ...]) -> None:
    types._forget_datetime_texts()
    try:
        expected: object = _old_decode_entry(ENTITY, entry, keep)
    except ODataValueError as exc:
        expected = ("error", str(exc))
    try:
        got: object = decode_entry(ENTITY, entry, keep=keep)
    except ODataValueError as exc:
        got = ("error", str(exc))
    assert repr(got) == repr(expected)


def test_a_bad_date_names_the_property() -> None:
    with pytest.raises(ODataValueError, match=r"^changed: cannot read Edm.DateTime value"):
        decode_entry(ENTITY, {"changed": "/Date(99999999999999999)/"})
    assert decode_entry(ENTITY, {"amount": "1.50", "changed": "/Date(1000)/"}) == {
        "amount": Decimal("1.50"),
        "changed": "1970-01-01T00:00:01Z",
    }


_STAMP = EdmProperty(name="stamp", edm_type="Edm.DateTime")
#: Values a page's date-time column may hold: the wire form at the edges of what ``_ms_text`` writes, other
#: suffixes, texts near it, texts holding NULs (the column's separator), ISO text, nulls and non-texts.
COLUMN_VALUES = st.one_of(
    st.builds(
        lambda ms, suffix: f"/Date({ms}{suffix})/",
        st.one_of(
            st.integers(min_value=0, max_value=types._END_MS + 10**9),
            st.sampled_from([0, 1, types._END_MS - 1, types._END_MS, types._END_MS + 1, 10**20]),
        ),
        st.sampled_from(["", "+0000", "-0130", "+60", "+00000"]),
    ),
    st.sampled_from(
        [
            "/Date(1)/\x00\x00/Date(2)/",
            "\x00/Date(1)/\x00",
            "/Date(1)/\x00",
            "\x00",
            "/Date(-1)/",
            "x/Date(1)/",
            "/Date(1)/x",
            "/Date(\u0661)/",
            "/Date(" + "9" * 5000 + ")/",
            "/Date(0000000000000000001)/",
            "2026-01-05T09:30:00Z",
            "soon",
            "",
        ]
    ),
    st.none(),
    st.integers(min_value=0, max_value=10**13),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(COLUMN_VALUES, max_size=8))
def test_a_page_column_of_date_times_is_each_value_s_own_text(values: list[object]) -> None:
    """``_PageTexts`` (a page's change stamps written at once) gives each value's ``_DatetimeTexts.text``, or fails
    as the first value that fails does: a value not whole in the wire form, a NUL that would shift the joined
    column, an ms past year 9999, a null or a number all take the value-by-value way, and only texts are kept as
    keys (a number equal to another, ``1`` and ``True``, never finds another's text)."""
    text = types._DatetimeTexts(_STAMP).text
    types._forget_datetime_texts()
    expected = _outcome(lambda vs: [text(v) for v in vs], values)  # type: ignore[arg-type]
    types._forget_datetime_texts()
    column = types._datetime_column(values)
    if column is not None:
        assert all(type(v) is str for v in values)
        assert ("ok", column) == expected
    texts = types._PageTexts(text)
    texts.fill(values)
    assert set(texts) <= {v for v in values if type(v) is str}
    assert _outcome(lambda vs: [texts[v] for v in vs], values) == expected  # type: ignore[arg-type]


def test_a_nul_in_a_value_does_not_shift_the_column() -> None:
    """Two wire texts joined by the column's own separator inside one value, beside a value that is not a date: the
    joined column holds two wire forms for two values, yet neither value is one."""
    assert types._datetime_column(["/Date(1)/\x00\x00/Date(2)/", "soon"]) is None
    assert types._datetime_column(["/Date(86400001)/", "/Date(0+0000)/"]) == [
        "1970-01-02T00:00:00.001000Z",
        "1970-01-01T00:00:00Z",
    ]
    assert types._datetime_column(["/Date(86400001)/", None]) is None


def test_a_stamp_past_int_s_digit_limit_names_its_field() -> None:
    """review22e 3: a ``/Date(ms)/`` of more than 4,300 digits (past ``int``'s limit for a text) is not read as a
    column (which raised a ``ValueError`` naming nothing): it goes value by value, whose error names the field;
    a page of it goes the general way, which raises that error. Leading zeros past 15 digits give the same text."""
    huge = "/Date(" + "9" * 5000 + ")/"
    assert types._datetime_column(["/Date(1)/", huge]) is None
    texts = types._PageTexts(types._DatetimeTexts(_STAMP).text)
    texts.fill(["/Date(1)/", huge])
    with pytest.raises(ODataValueError, match=r"^stamp: cannot read Edm.DateTime value"):
        texts[huge]
    entity = EntityType(namespace="N", name="E", keys=(), properties={"stamp": _STAMP}, navigation={})
    assert types.EntryDecoder(entity).page([{"stamp": "/Date(1)/"}, {"stamp": huge}]) is None
    with pytest.raises(ODataValueError, match=r"^stamp: cannot read Edm.DateTime value"):
        decode_entry(entity, {"stamp": huge})
    zeros = "/Date(" + "0" * 20 + "1)/"
    texts.fill([zeros])
    assert texts[zeros] == "1970-01-01T00:00:00.001000Z"
