"""``EntryDecoder`` (issue 14 goal 2) gives what the old path gives: ``decode_entry`` and then the SDK's type
conformance under the entity's discovered schema (values, their types, key order, errors), the written Edm.Decimal
texts are the text the writer writes for the conformed record, and a page parsed with a value conformance would
change without the declared type saying so (a number not finite as a float, a NaN literal) is left to the old path.
"""

from __future__ import annotations

import logging
import typing as t
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel

from xlr8_kit.odata import paging
from xlr8_kit.odata.edmx import EdmProperty, EntityType
from xlr8_kit.odata.types import EntryDecoder, decode_entry, entity_jsonschema
from xlr8_kit.singer_io import KitSingerWriter

LOGGER = logging.getLogger("test")

EDM_TYPES = [
    "Edm.String",
    "Edm.Guid",
    "Edm.Int32",
    "Edm.Int64",
    "Edm.Byte",
    "Edm.Decimal",
    "Edm.Double",
    "Edm.Single",
    "Edm.Boolean",
    "Edm.DateTime",
    "Edm.DateTimeOffset",
    "Edm.Time",
    "Edm.Date",
    "Edm.TimeOfDay",
    "Edm.Binary",
    "Edm.GeographyPoint",
    "Collection(Edm.String)",
    "SFOData.Address",
]

# Values as a JSON parse gives them (strings, integers, booleans, nulls, Decimals for fractions, containers), the
# usual wire forms of each type, and the edges conformance acts on.
WIRE_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([0, 1, -1, 2]),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**9), max_value=10**9),
    st.sampled_from([Decimal("1E+400"), Decimal("-1e999"), Decimal("0.0000001"), Decimal("1E+2")]),
    st.text(max_size=8),
    st.sampled_from(
        [
            "12.50",
            "-0.00",
            "0.0000001",
            "1E+2",
            "1e400",
            "NaN",
            "-Infinity",
            "sNaN",
            " 7.5 ",
            "1_000.5",
            "00012.5",
            "true",
            " TRUE ",
            "false",
            "yes",
            "/Date(1718409600000)/",
            "/Date(1718442000000+0000)/",
            "/Date(-5)/",
            "2026-01-05T09:30:00Z",
            "PT09H30M05S",
            "PT1H",
            "2026-01-05",
            "09:30:00",
            "42",
            "x",
        ]
    ),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers() | st.text(max_size=3), max_size=2),
    st.lists(st.integers() | st.text(max_size=3), max_size=2),
)


@st.composite
def entity_and_entries(draw: st.DrawFn) -> tuple[EntityType, list[dict[str, t.Any]]]:
    types = draw(st.lists(st.sampled_from(EDM_TYPES), min_size=1, max_size=6))
    properties = {f"p{i}": EdmProperty(name=f"p{i}", edm_type=edm) for i, edm in enumerate(types)}
    entity = EntityType(namespace="N", name="E", keys=("p0",), properties=properties, navigation={})
    names = [*properties, "__metadata", "nav", "extra"]
    entries = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        keys = draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)))
        entries.append({key: draw(WIRE_VALUES) for key in keys})
    return entity, entries


def _typed(value: t.Any) -> t.Any:
    """A value compared with its type, however deep (``1 == True == Decimal(1)`` must not pass)."""
    if isinstance(value, dict):
        return ("dict", [(k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    if isinstance(value, msgspec.Raw):
        return ("raw", bytes(value))
    return (type(value).__name__, repr(value))


def _old(entity: EntityType, entry: dict[str, t.Any], level: TypeConformanceLevel) -> tuple[str, t.Any]:
    """decode_entry, then the SDK's conformance under the discovered schema; or the error it raises."""
    try:
        record = decode_entry(entity, entry)
        return "ok", conform_record_data_types("s", record, entity_jsonschema(entity), level, LOGGER)
    except Exception as exc:  # the error is part of what must not change
        return type(exc).__name__, str(exc)


_WRITER = msgspec.json.Encoder(decimal_format="number")


def _decoded(
    entity: EntityType, entries: list[dict[str, t.Any]], *, written: bool = False
) -> tuple[list[dict[str, t.Any]], list[dict[str, t.Any]] | None]:
    """The entries as a page's parse gives them (the decoder vouches only for what ``page_rows`` read), and the
    decoder's records for them (None: it leaves them to the old path)."""
    rows = paging.page_rows(_Response(_WRITER.encode({"d": {"results": entries}})))
    return rows, EntryDecoder(entity, written=written).page(rows)


@settings(max_examples=600, deadline=None)
@given(entity_and_entries(), st.sampled_from([TypeConformanceLevel.RECURSIVE, TypeConformanceLevel.ROOT_ONLY]))
def test_a_page_the_decoder_vouches_for_is_the_old_path_conformed(
    case: tuple[EntityType, list[dict[str, t.Any]]], level: TypeConformanceLevel
) -> None:
    entity, entries = case
    rows, records = _decoded(entity, entries)
    old = [_old(entity, row, level) for row in rows]
    if records is None:
        return  # the stream takes the old path itself
    # _typed keeps key order: the records' keys come in the old order too
    assert [("ok", _typed(record)) for record in records] == [(kind, _typed(value)) for kind, value in old]


@settings(max_examples=600, deadline=None)
@given(entity_and_entries())
def test_written_decimals_write_the_conformed_records_text(case: tuple[EntityType, list[dict[str, t.Any]]]) -> None:
    entity, entries = case
    rows, records = _decoded(entity, entries, written=True)
    old = [_old(entity, row, TypeConformanceLevel.RECURSIVE) for row in rows]
    if records is None:
        return
    assert all(kind == "ok" for kind, _ in old)
    for record, (_, expected) in zip(records, old, strict=True):
        assert _WRITER.encode(record) == _WRITER.encode(expected)
        for name in entity.keys:  # keys stay values (a stream reads them)
            assert not isinstance(record.get(name), msgspec.Raw)


def test_usual_pages_are_vouched_for_and_their_edges_are_not() -> None:
    """The property tests above are not vacuous: usual entries take the decoder, and each edge it leaves to the old
    path is one the old path changes or raises on."""
    properties = {
        "id": EdmProperty(name="id", edm_type="Edm.String"),
        "n": EdmProperty(name="n", edm_type="Edm.Int32"),
        "amount": EdmProperty(name="amount", edm_type="Edm.Decimal"),
        "active": EdmProperty(name="active", edm_type="Edm.Boolean"),
        "at": EdmProperty(name="at", edm_type="Edm.DateTime"),
        "ratio": EdmProperty(name="ratio", edm_type="Edm.Double"),
    }
    entity = EntityType(namespace="N", name="E", keys=("id",), properties=properties, navigation={})
    usual = {
        "__metadata": {"uri": "u"},
        "id": "A",
        "n": 3,
        "amount": "12.50",
        "active": True,
        "at": "/Date(1718409600000)/",
        "ratio": "0.5",
        "nav": {"__deferred": {}},
    }
    decoder = EntryDecoder(entity, written=True)
    records = decoder.page([usual, {**usual, "amount": "NaN", "ratio": "Infinity"}])
    at = "2024-06-15T00:00:00Z"
    assert records == [
        {"id": "A", "n": 3, "amount": msgspec.Raw(b"12.50"), "active": True, "at": at, "ratio": 0.5},
        {"id": "A", "n": 3, "amount": None, "active": True, "at": at, "ratio": None},
    ]
    assert decoder.plain is False  # a float property: the writer checks each record
    for edge in ({"active": 1}, {"amount": "sNaN"}, {"n": True}, {"amount": "x"}):
        assert decoder.page([{**usual, **edge}]) is None


class _Response:
    def __init__(self, content: bytes) -> None:
        self.content = content
        self.headers: dict[str, str] = {}
        self.url = "http://host/odata/v2/E"


_TWO_STRINGS = EntityType(
    namespace="N",
    name="E",
    keys=("id",),
    properties={name: EdmProperty(name=name, edm_type="Edm.String") for name in ("id", "x")},
    navigation={},
)


@pytest.mark.parametrize(
    "body", [b'{"d": {"results": [{"id": "A", "x": 1e400}]}}', b'{"d": {"results": [{"id": "A", "x": NaN}]}}']
)
def test_a_page_holding_a_value_conformance_changes_unannounced_goes_the_old_way(body: bytes) -> None:
    entity = _TWO_STRINGS
    usual = paging.page_rows(_Response(b'{"d": {"results": [{"id": "A", "x": 1.5}]}}'))
    assert EntryDecoder(entity).page(usual) == [{"id": "A", "x": Decimal("1.5")}]
    rows = paging.page_rows(_Response(body))
    decoder = EntryDecoder(entity)
    assert decoder.page(rows) is None
    assert decoder.page(paging.page_rows(_Response(body))) is None  # the same body parsed again
    # the mark is the page's own: usual pages parsed before and after it are vouched for, also by the same decoder
    later = paging.page_rows(_Response(b'{"d": {"results": [{"id": "B", "x": 2.5}]}}'))
    assert decoder.page(usual) == [{"id": "A", "x": Decimal("1.5")}]
    assert decoder.page(later) == [{"id": "B", "x": Decimal("2.5")}]


def test_an_unusual_page_parsed_on_another_thread_marks_that_page_alone() -> None:
    """Pages are parsed on worker threads (read-ahead, windows), several at once: each page's mark is its own."""
    from concurrent.futures import ThreadPoolExecutor

    entity = _TWO_STRINGS
    bodies = [
        b'{"d": {"results": [{"id": "%d", "x": %s}]}}' % (i, b"1e400" if i % 3 == 0 else b"1.5") for i in range(60)
    ]
    with ThreadPoolExecutor(4) as pool:
        pages = list(pool.map(lambda body: paging.page_rows(_Response(body)), bodies))
    decoder = EntryDecoder(entity)
    for i, rows in enumerate(pages):
        if i % 3 == 0:
            assert decoder.page(rows) is None, i
        else:
            assert decoder.page(rows) == [{"id": str(i), "x": Decimal("1.5")}], i


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.text(max_size=5)
        | st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: float(d) if abs(d) < 1e300 else 1.5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
        max_leaves=8,
    )
)
def test_a_page_is_parsed_as_json_loads_parses_it(value: t.Any) -> None:
    import json

    body = json.dumps({"d": {"results": [{"v": value}]}}).encode()
    assert _typed(paging._payload(_Response(body))) == _typed(json.loads(body, parse_float=Decimal))


def test_the_writer_writes_a_raw_decimal_as_the_decimal() -> None:
    writer = KitSingerWriter()
    writer.flush = lambda: None  # type: ignore[method-assign]
    emit = writer.record_emitter("s", None)
    for text in ("12.50", "-0.00", "1E+2", "0.0000001", "123456789012345678901234567890.123"):
        emit({"a": Decimal(text)}, True)
        emit({"a": msgspec.Raw(str(Decimal(text)).encode())}, True)
    pending = b"".join(writer._pending).replace(b"\n", b"\n\n").split(b"\n\n")
    lines = [line.split(b',"time_extracted"')[0] for line in pending if line]
    assert lines[0::2] == lines[1::2]


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.from_regex(r"-?[0-9]{1,25}(\.[0-9]{0,12})?", fullmatch=True),
        st.from_regex(r"-?0\.0{4,8}[0-9]{1,3}", fullmatch=True),
        st.decimals(allow_nan=False, allow_infinity=False).map(str),
        st.sampled_from(["-0", "0", "0.000000", "-0.0000000", "1" * 320, "1" * 200 + ".5", "+1.5", "1.", ".5"]),
    )
)
def test_a_written_decimal_is_the_writers_text_for_the_conformed_decimal(text: str) -> None:
    from xlr8_kit.odata.types import _WrittenDecimals

    prop = EdmProperty(name="amount", edm_type="Edm.Decimal")
    old = _old(
        EntityType(namespace="N", name="E", keys=(), properties={"amount": prop}, navigation={}),
        {"amount": text},
        TypeConformanceLevel.RECURSIVE,
    )
    written = _WrittenDecimals(prop)

    def outcome() -> tuple[str, t.Any]:
        try:
            return "ok", _WRITER.encode({"amount": written[text]})
        except Exception as exc:  # the error is part of what must not change
            return type(exc).__name__, str(exc)

    expected = ("ok", _WRITER.encode(old[1])) if old[0] == "ok" else old
    assert outcome() == expected
    assert outcome() == expected  # from the memo


def test_the_decoder_serves_only_a_schema_conformance_reads_alike() -> None:
    """A catalog's schema that drops annotations keeps the decoder; one that types a property otherwise (the loop
    then conforms to that type) or adds or drops a property does not."""
    import copy
    from types import SimpleNamespace

    from xlr8_kit.odata.stream import conformed_decoder

    properties = {
        "id": EdmProperty(name="id", edm_type="Edm.String"),
        "amount": EdmProperty(name="amount", edm_type="Edm.Decimal", precision=15, scale=2),
    }
    entity = EntityType(namespace="N", name="E", keys=("id",), properties=properties, navigation={})
    discovered = entity_jsonschema(entity)
    assert "x-edm-precision" in discovered["properties"]["amount"]

    def decoder_for(in_force: dict[str, t.Any]) -> EntryDecoder | None:
        stream = SimpleNamespace(effective_schema=in_force, records_written_only=False)
        return conformed_decoder(stream, entity, discovered)  # type: ignore[arg-type]

    assert decoder_for(discovered) is not None
    annotations_dropped = copy.deepcopy(discovered)
    del annotations_dropped["properties"]["amount"]["x-edm-precision"]
    assert decoder_for(annotations_dropped) is not None
    retyped = copy.deepcopy(discovered)
    retyped["properties"]["amount"]["type"] = ["boolean", "null"]
    assert decoder_for(retyped) is None
    fewer = copy.deepcopy(discovered)
    del fewer["properties"]["amount"]
    assert decoder_for(fewer) is None
    more = copy.deepcopy(discovered)
    more["properties"]["extra"] = {"type": ["string", "null"]}
    assert decoder_for(more) is None


def test_a_full_date_time_memo_that_misses_is_retired_and_the_texts_stay_the_same() -> None:
    """A change stamp (unique per row) fills its memo and then misses on every row: after a page of such rows the
    decoder reads it without the memo (its misses stop counting); a column whose values repeat keeps its memo, full
    or not. Every page gives ``decode_entry``'s records (nulls, a pre-1970 instant), and a stamp that does not
    decode still leaves the page to the old path, which raises."""
    from xlr8_kit.odata import types

    properties = {
        "id": EdmProperty(name="id", edm_type="Edm.String"),
        "stamp": EdmProperty(name="stamp", edm_type="Edm.DateTime"),
        "created": EdmProperty(name="created", edm_type="Edm.DateTimeOffset"),
        "hired": EdmProperty(name="hired", edm_type="Edm.DateTime"),
    }
    entity = EntityType(namespace="N", name="E", keys=("id",), properties=properties, navigation={})
    decoder = EntryDecoder(entity)
    stamp_memo = decoder._steps["stamp"].__self__
    created_memo = decoder._steps["created"].__self__
    created_pool = types._STEP_MEMO + 500  # fills its memo, then ~95% of values are found in it

    def entry(row: int) -> dict[str, t.Any]:
        return {
            "__metadata": {"uri": "u"},
            "id": str(row),
            "stamp": None if row % 97 == 0 else f"/Date({1_600_000_000_000 + row * 1_003}+0000)/",
            "created": f"/Date({1_400_000_000_000 + (row * 7_919 % created_pool) * 86_400_000})/",
            "hired": "/Date(-86400000)/" if row % 89 == 0 else f"/Date({(row % 50) * 86_400_000})/",
        }

    pages = [[entry(row) for row in range(start, start + 1000)] for start in range(0, 14_000, 1000)]
    for page in pages:
        assert decoder.page(page) == [decode_entry(entity, e) for e in page]
    assert len(stamp_memo) == 0  # retired: its texts are let go
    assert len(created_memo) == types._STEP_MEMO
    retired_misses = stamp_memo.misses
    assert retired_misses > 0
    assert decoder._steps["created"] == created_memo.__getitem__  # mostly found: kept

    more = [entry(row) for row in range(20_000, 21_000)]
    assert decoder.page(more) == [decode_entry(entity, e) for e in more]
    assert stamp_memo.misses == retired_misses  # no lookups any more
    assert len(stamp_memo) == 0
    # review22e 1: the page's nulls (rows 20_079, 20_176, ...) no longer send its column value by value
    assert decoder._page_texts["stamp"].keys() == {e["stamp"] for e in more if e["stamp"] is not None}
    # review22e 4: a page without nulls is written as a column, and gives the same records
    clean = [{**entry(row), "stamp": f"/Date({1_700_000_000_000 + row * 1_009})/"} for row in range(30_000, 31_000)]
    assert decoder.page(clean) == [decode_entry(entity, e) for e in clean]
    assert decoder._page_texts["stamp"].keys() == {e["stamp"] for e in clean}
    assert stamp_memo.misses == retired_misses
    bad = [*more[:3], {**more[3], "stamp": "/Date(x)/"}]
    assert decoder.page(bad) is None
    with pytest.raises(types.ODataValueError, match="stamp"):
        decode_entry(entity, bad[3])


def test_a_retired_iso_change_stamp_is_read_value_by_value_not_as_a_column() -> None:
    """review22e 2: a change stamp in ISO text (v4 ``Edm.DateTimeOffset``, S/4HANA) never fills a page's column
    (``_datetime_column`` reads only ``/Date(ms)/``), so once retired it is read by ``_DatetimeTexts.text`` alone:
    no join, scan and per-row miss on every page. A ``/Date(ms)/`` stamp beside it still is read as a column, and
    both give ``decode_entry``'s records."""
    from xlr8_kit.odata import types

    properties = {
        "id": EdmProperty(name="id", edm_type="Edm.String"),
        "changed": EdmProperty(name="changed", edm_type="Edm.DateTimeOffset"),
        "stamp": EdmProperty(name="stamp", edm_type="Edm.DateTime"),
    }
    entity = EntityType(namespace="N", name="E", keys=("id",), properties=properties, navigation={})
    decoder = EntryDecoder(entity)
    changed_memo = decoder._steps["changed"].__self__

    def entry(row: int) -> dict[str, t.Any]:
        second, milli = divmod(row * 1_003, 1000)
        return {
            "id": str(row),
            "changed": f"2024-01-{1 + second // 86_400:02d}T{second // 3600 % 24:02d}:{second // 60 % 60:02d}:"
            f"{second % 60:02d}.{milli:03d}Z",
            "stamp": f"/Date({1_600_000_000_000 + row * 1_003})/",
        }

    for start in range(0, 16_000, 1000):
        page = [entry(row) for row in range(start, start + 1000)]
        assert decoder.page(page) == [decode_entry(entity, e) for e in page]
    assert len(changed_memo) == 0  # retired
    assert "changed" not in decoder._page_texts
    assert decoder._steps["changed"] == changed_memo.text
    assert decoder._page_texts["stamp"].keys() == {e["stamp"] for e in page}
    assert types._datetime_column([page[0]["changed"]]) is None
