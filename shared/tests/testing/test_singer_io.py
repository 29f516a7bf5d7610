"""The kit's fast Singer writer and page decoder produce exactly what the SDK's simplejson/json paths produce."""

from __future__ import annotations

import datetime as dt
import gc
import io
import json
import typing as t
from contextlib import redirect_stdout
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.io_base import SingerWriter
from singer_sdk.pagination import SinglePagePaginator
from singer_sdk.singerlib import RecordMessage, StateMessage

from xlr8_kit import singer_io
from xlr8_kit.rest import KitRESTStream, KitTap, MarkedPage, kit_config_schema
from xlr8_kit.singer_io import (
    BLOCK_LINES,
    IsoClock,
    KitSingerWriter,
    RawNumbers,
    decimal_keeps_text,
    json_array_length,
    loads_exact,
    loads_marked,
    loads_with,
    record_line,
)

EXTRACTED = dt.datetime(2026, 12, 4, 15, 0, 1, 250, tzinfo=dt.UTC)
#: ``EXTRACTED`` as ``time.time_ns`` reads it (plus nanoseconds the microsecond clock drops).
EXTRACTED_NS = (EXTRACTED - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1) * 1000 + 999

RECORDS = [
    {"Id": "001", "Name": "Acme", "AnnualRevenue": Decimal("1250000.50"), "Employees": 120, "Active": True},
    {"Id": "002", "Name": None, "Rate": Decimal("1E+2"), "Tiny": Decimal("-0.0000001"), "Big": 2**80},
    {"Name": "Zoë Ångström 😀 \u2028", "Note": 'quote " back \\ slash / tab \t nl \n ctrl \x01 del \x7f'},
    {"Nested": {"Street": "1 Main", "Geo": [Decimal("51.5"), Decimal("-0.12")], "Tags": ["a", None, 3]}},
    {"Float": 1e16, "Small": 1e-7, "Plain": 0.5},  # floats: the SDK's encoder writes them
    {"When": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "Day": dt.date(2024, 1, 2)},  # the SDK's too
    {},
    {"Name": "x\ud800y", "\udc00": ["\udfff\ud83d", "😀"]},  # lone surrogates (json.loads keeps them): the SDK's
]


@pytest.mark.parametrize("record", RECORDS)
@pytest.mark.parametrize("version", [None, 1733324400000])
def test_record_lines_match_the_sdk_byte_for_byte(record: dict, version: int | None) -> None:
    message = RecordMessage(stream="Account", record=record, version=version, time_extracted=EXTRACTED)
    assert KitSingerWriter().serialize_message(message) == SingerWriter().serialize_message(message)


def test_floats_and_dates_are_left_to_the_sdk_encoder() -> None:
    assert record_line(RecordMessage(stream="s", record=RECORDS[4])) is None
    assert record_line(RecordMessage(stream="s", record={"x": [{"d": dt.date(2024, 1, 2)}]})) is None
    assert record_line(RecordMessage(stream="s", record={"x": {1: "a"}})) is None  # simplejson coerces keys
    assert record_line(RecordMessage(stream="s", record=RECORDS[3])) is not None


def test_records_are_written_in_blocks_and_before_any_other_message() -> None:
    writer = KitSingerWriter()
    out = io.StringIO()
    with redirect_stdout(out):
        for n in range(BLOCK_LINES + 3):
            writer.write_message(RecordMessage(stream="s", record={"n": n}))
        assert out.getvalue().count("\n") == BLOCK_LINES  # one block written, three held
        writer.write_message(StateMessage(value={"bookmarks": {}}))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [m["record"]["n"] for m in lines[:-1]] == list(range(BLOCK_LINES + 3))
    assert lines[-1] == {"type": "STATE", "value": {"bookmarks": {}}}


@pytest.mark.parametrize(
    "body",
    [
        b'{"records":[{"a":1.50,"b":123456789012345678901234567890,"c":1e400,"d":-0.0,"e":1E5,"f":"x\\u00e9"}]}',
        b'[{"x": NaN, "y": Infinity}]',  # not JSON, but json.loads accepts it: so must we
        '{"s": "caf\u00e9"}'.encode(),
    ],
)
def test_pages_decode_as_json_loads_with_decimal(body: bytes) -> None:
    found, expected = loads_exact(body), json.loads(body, parse_float=Decimal)
    assert repr(found) == repr(expected)


class _FailingStream(KitRESTStream):
    name = "things"
    xlr8_entity = "account"
    path = "/things"
    url_base = "http://127.0.0.1:9"
    primary_keys = ("id",)
    schema: t.ClassVar[dict] = th.PropertiesList(th.Property("id", th.IntegerType)).to_dict()

    def get_records(self, context: t.Any) -> t.Iterator[dict]:
        yield from ({"id": n} for n in range(3))
        raise RuntimeError("vendor went away")


class _FailingTap(KitTap):
    name = "tap-failing"
    product_id = "salesforce"
    config_jsonschema: t.ClassVar[dict] = kit_config_schema(th.PropertiesList())

    def discover_streams(self) -> list[KitRESTStream]:
        return [_FailingStream(self)]

    def build_authenticator(self, runtime: t.Any) -> None:
        return None


def test_records_held_by_the_writer_reach_stdout_when_a_sync_fails() -> None:
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(RuntimeError, match="vendor went away"):
        _FailingTap(config={}, parse_env_config=False).sync_all()
    records = [m for m in map(json.loads, out.getvalue().splitlines()) if m["type"] == "RECORD"]
    assert [m["record"] for m in records] == [{"id": 0}, {"id": 1}, {"id": 2}]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'[1, {"a": [1, 2]}, "x", null]', 4),
        (b"[]", 0),
        (b'{"message": "not rows"}', 0),
        (b"[NaN, 1.5]", 2),  # msgspec refuses NaN: the standard library counts it
        ("[1, 2]".encode("utf-16"), 2),
    ],
)
def test_json_array_length_counts_what_json_loads_would_build(body, expected):
    assert json_array_length(body) == expected
    parsed = json.loads(body)
    assert (len(parsed) if isinstance(parsed, list) else 0) == expected


def test_loads_with_gives_what_json_loads_gives_with_the_same_float_hook():
    seen: list[str] = []

    def hook(text: str) -> tuple[str, str]:
        seen.append(text)
        return ("f", text)

    body = b'{"a": [1.50, 1e5, -0.0, 12345678901234567890123, 2.5E+3], "b": "x\\u00e9"}'
    assert loads_with(body, hook) == json.loads(body, parse_float=hook)
    assert seen == ["1.50", "1e5", "-0.0", "2.5E+3"] * 2
    assert loads_with(b"[NaN, 1.0]", hook) == json.loads(b"[NaN, 1.0]", parse_float=hook)


@pytest.mark.parametrize("record", RECORDS)
@pytest.mark.parametrize("version", [None, 1733324400000])
@pytest.mark.parametrize("stream", ["Account", "Zoë's"])
def test_record_emitter_writes_the_sdk_line(record: dict, version: int | None, stream: str, monkeypatch: t.Any) -> None:
    monkeypatch.setattr("xlr8_kit.singer_io.utc_now", lambda: EXTRACTED)
    monkeypatch.setattr("xlr8_kit.singer_io.IsoClock", lambda: IsoClock(lambda: EXTRACTED_NS))
    out = io.StringIO()
    writer = KitSingerWriter()
    with redirect_stdout(out):
        writer.record_emitter(stream, version)(record)
        writer.flush()
    message = RecordMessage(stream=stream, record=record, version=version, time_extracted=EXTRACTED)
    assert out.getvalue() == SingerWriter().serialize_message(message) + "\n"


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@given(st.lists(st.integers(min_value=0, max_value=4_102_444_800 * 10**9), min_size=1, max_size=5))
def test_iso_clock_writes_what_utc_now_isoformat_writes(readings: list[int]) -> None:
    """For any clock readings, in any order (a second boundary, a zero fraction, the clock going back)."""
    readings = [*readings, readings[0] // 10**9 * 10**9, readings[0] // 10**9 * 10**9 + 999]
    ticks = iter(readings)
    clock = IsoClock(lambda: next(ticks))
    for ns in readings:
        assert clock() == (EPOCH + dt.timedelta(microseconds=ns // 1000)).isoformat().encode()


@given(
    st.integers(min_value=0, max_value=4_102_444_800),
    st.lists(st.integers(min_value=0, max_value=10**9 - 1), max_size=40),
    st.lists(st.integers(min_value=0, max_value=4_102_444_800 * 10**9), max_size=3),
)
def test_iso_clock_stamps_write_what_calls_in_a_row_write(second: int, within: list[int], others: list[int]) -> None:
    """A page's stamps at once: reads within one second (the pattern), and with other seconds or zero fractions
    among them (each alone), as the calls would write them for the same readings, in order."""
    same = [second * 10**9 + ns for ns in within]
    for readings in (same, same + others, same + others + same):  # the clock may go back
        stamps = IsoClock(iter(readings).__next__).stamps(len(readings))
        assert stamps == [(EPOCH + dt.timedelta(microseconds=ns // 1000)).isoformat().encode() for ns in readings]
        clock = IsoClock(iter(readings).__next__)
        assert stamps == [clock() for _ in readings]


def test_iso_clock_reads_the_clock_utc_now_reads() -> None:
    before = dt.datetime.now(dt.UTC)
    read = dt.datetime.fromisoformat(IsoClock()().decode())
    assert before <= read <= dt.datetime.now(dt.UTC)


class _LoopStream(KitRESTStream):
    """Incremental, with records the fast encoder refuses (a float, a date), one the stream drops, an unknown
    property and a boolean column given as an integer: everything the loops must treat alike."""

    name = "loop_things"
    xlr8_entity = "account"
    path = "/things"
    url_base = "http://127.0.0.1:9"
    primary_keys = ("id",)
    replication_key = "updated"
    is_sorted = True
    STATE_MSG_FREQUENCY = 3
    schema: t.ClassVar[dict] = th.PropertiesList(
        th.Property("id", th.IntegerType),
        th.Property("updated", th.DateTimeType),
        th.Property("active", th.BooleanType),
        th.Property("amount", th.NumberType),
        th.Property("seen", th.DateType),
        th.Property("tags", th.ArrayType(th.StringType)),
    ).to_dict()

    def get_records(self, context: t.Any) -> t.Iterator[dict]:
        for n in range(11):
            record: dict[str, t.Any] = {"id": n, "updated": f"2026-01-{n + 1:02d}T00:00:00+00:00", "active": n % 2}
            if n == 4:
                record["amount"] = 1.25  # a float: the SDK's encoder writes it
            if n == 5:
                record["seen"] = dt.date(2026, 1, 5)
            if n == 6:
                record["unknown"] = "dropped with a warning"
            if n == 7:
                record["amount"] = Decimal("NaN")
            record["tags"] = ["a", str(n)]
            yield record

    def post_process(self, row: dict, context: t.Any = None) -> dict | None:
        return None if row["id"] == 8 else row


class _LoopTap(KitTap):
    name = "tap-loop"
    product_id = "salesforce"
    config_jsonschema: t.ClassVar[dict] = kit_config_schema(th.PropertiesList())

    def discover_streams(self) -> list[KitRESTStream]:
        return [_LoopStream(self)]

    def build_authenticator(self, runtime: t.Any) -> None:
        return None


def _sync_lines(monkeypatch: t.Any, *, sdk_loop: bool) -> tuple[list[dict], bool]:
    monkeypatch.setenv("XLR8_TAP_SDK_RECORD_LOOP", "1" if sdk_loop else "0")
    out = io.StringIO()
    tap = _LoopTap(config={}, parse_env_config=False)
    used_plain = tap.streams["loop_things"]._plain_record_loop
    with redirect_stdout(out):
        tap.sync_all()
    messages = [json.loads(line) for line in out.getvalue().splitlines()]
    for message in messages:
        message.pop("time_extracted", None)  # clocks: the only thing allowed to differ
        for bookmark in message.get("value", {}).get("bookmarks", {}).values():
            bookmark.pop("replication_key_signpost", None)
    return messages, used_plain


def test_plain_record_loop_writes_what_the_sdk_loop_writes(monkeypatch: t.Any) -> None:
    plain, used_plain = _sync_lines(monkeypatch, sdk_loop=False)
    sdk, used_sdk_plain = _sync_lines(monkeypatch, sdk_loop=True)
    assert used_plain
    assert not used_sdk_plain
    assert plain == sdk
    records = [m["record"] for m in plain if m["type"] == "RECORD"]
    assert [r["id"] for r in records] == [0, 1, 2, 3, 4, 5, 6, 7, 9, 10]
    assert records[1]["active"] is True
    assert records[7]["amount"] is None
    assert "unknown" not in records[6]
    states = [m["value"] for m in plain if m["type"] == "STATE"]
    assert len(states) >= 4  # every third record, then the final one
    assert states[-1]["bookmarks"]["loop_things"]["replication_key_value"] == "2026-01-11T00:00:00+00:00"


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": [{"a": 1.5, "b": 1e400, "c": 12345678901234567890, "d": "x\\u00e9"}], "total": 2}',
        '{"s": "caf\u00e9", "n": 0.1}'.encode("utf-16"),
        b'{"x": NaN, "y": -Infinity}',
    ],
)
def test_response_json_is_what_requests_gives_parsed_once(body: bytes) -> None:
    import requests

    from xlr8_kit.singer_io import response_json

    response = requests.Response()
    response._content = body
    response.status_code = 200
    try:
        expected: t.Any = repr(response.json())
    except ValueError:
        expected = ValueError
    if expected is ValueError:  # requests (over simplejson) refuses NaN and Infinity: so does the default
        with pytest.raises(ValueError, match="not JSON"):
            response_json(response)
    else:
        first = response_json(response)
        assert repr(first) == expected
        assert response_json(response) is first  # the paginator reads the body the records came from
    exact = response_json(response, Decimal, allow_nan=True)
    assert repr(exact) == repr(json.loads(body, parse_float=Decimal))
    assert response_json(response, Decimal, allow_nan=True) is exact


@pytest.mark.parametrize("body", [b'[{"a": NaN}, {"a": 1.5}]', b'{"items": [1.5, NaN], "status": 500}'])
def test_response_json_after_the_classifier_parsed_the_body(body: bytes) -> None:
    """A body the classifier's probe cannot vouch for (NaN) is parsed whole by ``parsed_json`` and kept on the
    response; the stream's own parse of it is another shape and must not be taken for (or overwrite) it."""
    import requests

    from xlr8_kit.http.classify import parsed_json
    from xlr8_kit.singer_io import response_json

    response = requests.Response()
    response._content = body
    response.status_code = 200
    classified = repr(parsed_json(response))
    exact = response_json(response, Decimal, allow_nan=True)
    assert repr(exact) == repr(json.loads(body, parse_float=Decimal))
    assert repr(parsed_json(response)) == classified


@pytest.mark.parametrize(
    ("body", "plain"),
    [
        (b'{"records": [{"a": 1.50, "b": {"c": [1, null, true, "x\\u00e9"]}}], "done": true}', True),
        (b'{"big": 123456789012345678901234567890, "tiny": 1e-400}', True),
        ("[1, 2.5]".encode("utf-16"), True),  # msgspec refuses UTF-16: the standard library parses it, still plain
        (b'[{"x": NaN, "y": 1.5}]', False),  # a NaN literal is a float: not plain
        (b"NaN", False),
        (b'"text"', True),
    ],
)
def test_loads_marked_is_loads_with_and_says_when_the_value_is_plain(body: bytes, plain: bool) -> None:
    from xlr8_kit.singer_io import _is_plain, loads_marked

    value, marked = loads_marked(body, Decimal)
    assert repr(value) == repr(json.loads(body, parse_float=Decimal))
    assert marked is plain
    if isinstance(value, dict | list):
        assert _is_plain(value) is plain


class _PlainSourceStream(KitRESTStream):
    """Nested objects from a source that says its records are plain: the writer must not walk them again."""

    name = "plain_things"
    xlr8_entity = "account"
    path = "/things"
    url_base = "http://127.0.0.1:9"
    primary_keys = ("id",)
    replication_key = "updated"
    is_sorted = True
    STATE_MSG_FREQUENCY = 2
    schema: t.ClassVar[dict] = th.PropertiesList(
        th.Property("id", th.IntegerType),
        th.Property("updated", th.DateTimeType),
        th.Property("address", th.ObjectType(th.Property("city", th.StringType), th.Property("lat", th.NumberType))),
    ).to_dict()

    def get_records(self, context: t.Any) -> t.Iterator[dict]:
        for page in range(2):
            self.records_plain = True
            for n in range(page * 3, page * 3 + 3):
                address = {"city": "Zoë", "lat": Decimal("51.50")} if n % 2 else None
                yield {"id": n, "updated": f"2026-01-{n + 1:02d}T00:00:00+00:00", "address": address}


class _PlainSourceTap(_LoopTap):
    name = "tap-plain-source"

    def discover_streams(self) -> list[KitRESTStream]:
        return [_PlainSourceStream(self)]


def test_a_plain_source_spares_the_writer_its_walk_and_writes_what_the_sdk_writes(monkeypatch: t.Any) -> None:
    def sync(sdk_loop: bool) -> list[dict]:
        monkeypatch.setenv("XLR8_TAP_SDK_RECORD_LOOP", "1" if sdk_loop else "0")
        out = io.StringIO()
        with redirect_stdout(out):
            _PlainSourceTap(config={}, parse_env_config=False).sync_all()
        messages = [json.loads(line) for line in out.getvalue().splitlines()]
        for message in messages:
            message.pop("time_extracted", None)
            for bookmark in message.get("value", {}).get("bookmarks", {}).values():
                bookmark.pop("replication_key_signpost", None)
        return messages

    sdk = sync(sdk_loop=True)

    def no_walk(container: t.Any) -> bool:
        raise AssertionError("the writer walked a record its source marked plain")

    monkeypatch.setattr("xlr8_kit.singer_io._is_plain", no_walk)
    assert sync(sdk_loop=False) == sdk
    assert [m["record"]["address"] for m in sdk if m["type"] == "RECORD"][1] == {"city": "Zoë", "lat": 51.5}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=("Cs",))))
def test_any_text_is_escaped_as_simplejson_escapes_it(text: str) -> None:
    message = RecordMessage(stream="s", record={"t": text}, time_extracted=EXTRACTED)
    expected = SingerWriter().serialize_message(message)
    assert KitSingerWriter().serialize_message(message) == expected
    assert KitSingerWriter().serialize_message(message) == expected  # again: its runs' escapes remembered


def test_escaped_runs_are_remembered_within_a_bound(monkeypatch: t.Any) -> None:
    """The second line with the same accented letters reads the remembered escapes; a full memory starts over."""
    runs = singer_io._EscapedRuns(limit=2)
    monkeypatch.setattr(singer_io, "_ESCAPED_RUNS", runs)
    for text in ["Zoë Müller", "Zoë Müller", "José 😀", "\u2028"]:
        message = RecordMessage(stream="s", record={"t": text}, time_extracted=EXTRACTED)
        assert KitSingerWriter().serialize_message(message) == SingerWriter().serialize_message(message)
    assert len(runs) <= 2
    assert runs["é"] == "\\u00e9"
    assert runs["😀"] == "\\ud83d\\ude00"


#: Characters the escaping treats apart: Latin-1, BMP above it, astral (a surrogate pair), line separators a JSON
#: reader may choke on, a BOM, DEL, control characters, and what JSON itself escapes.
_AWKWARD = ["é", "ÿ", "\u0100", "\u2019", "\u2013", "\u2028", "\u2029", "\ufeff", "\uffff", "😀", "\U0010ffff"]
_AWKWARD += ["日本", "\x7f", "\x01", "\n", '"', "\\", "a", " "]
_texts = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=("Cs",))),
    # lone surrogates too (json.loads keeps "\\ud800"): msgspec refuses them, the record falls to the SDK's serializer
    st.lists(st.one_of(st.sampled_from(_AWKWARD), st.characters(categories=("Cs",))), max_size=8).map("".join),
    st.lists(st.sampled_from(_AWKWARD), max_size=24).map("".join),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["t", "é", "n"]), _texts, max_size=3), max_size=6))
def test_a_page_of_any_text_is_written_as_the_sdk_writes_each_record(page: list[dict[str, str]]) -> None:
    """The page emitter's escaping (DEL on the whole page, each non-ASCII line cut around its characters, or the
    codec for a line of many) writes the SDK's line for every record, byte for byte."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("xlr8_kit.singer_io.IsoClock", lambda: IsoClock(lambda: EXTRACTED_NS))
        patch.setattr("xlr8_kit.singer_io.utc_now", lambda: EXTRACTED)
        out = io.StringIO()
        writer = KitSingerWriter()
        with redirect_stdout(out):
            writer.record_page_emitter("Zoë\u2019s", None)(page, True)
            writer.flush()
    sdk = SingerWriter()
    expected = "".join(
        sdk.serialize_message(RecordMessage(stream="Zoë\u2019s", record=record, time_extracted=EXTRACTED)) + "\n"
        for record in page
    )
    assert out.getvalue() == expected


def test_lines_of_a_few_characters_are_cut_around_them_and_others_go_through_the_codec(monkeypatch: t.Any) -> None:
    """A line holding a few non-ASCII characters is escaped by its plan, without the codec's error handler (the
    fast path is taken); a line of more than ``_PLAN_CHARACTERS`` goes through the codec; both as the SDK."""
    runs = singer_io._EscapedRuns()
    plans = singer_io._EscapePlans()
    monkeypatch.setattr(singer_io, "_ESCAPED_RUNS", runs)
    monkeypatch.setattr(singer_io, "_ESCAPE_PLANS", plans)
    few = ["Director\u2019s Aide \u2013 Ops", "José Müller 😀", "Zoë", "plain"]
    for text in few:
        message = RecordMessage(stream="s", record={"t": text}, time_extracted=EXTRACTED)
        assert KitSingerWriter().serialize_message(message) == SingerWriter().serialize_message(message)
    assert not runs
    assert "\u2019\u2013".encode() in plans
    assert plans["\u2019\u2013".encode()] == ((b"\xe2", 3, b"\\u2019"), (b"\xe2", 3, b"\\u2013"))
    assert "éü😀".encode() in plans  # the writer's own lookups, not this test's
    accents = ((b"\xc3", 2, b"\\u00e9"), (b"\xc3", 2, b"\\u00fc"))
    assert plans["éü😀".encode()] == (*accents, (b"\xf0", 4, b"\\ud83d\\ude00"))
    many = "日本語のテキストです"
    message = RecordMessage(stream="s", record={"t": many}, time_extracted=EXTRACTED)
    assert KitSingerWriter().serialize_message(message) == SingerWriter().serialize_message(message)
    assert many.encode() in plans
    assert plans[many.encode()] is None
    assert runs[many] == "".join(f"\\u{ord(char):04x}" for char in many)


@pytest.mark.parametrize(
    "raw",
    [
        b'"\xe2\x80a\x99"',  # the bytes of "\u2019" parted by an ASCII byte: its plan finds one character
        b'"\xe2\x80\x99\x99"',  # a stray continuation byte after a whole character
        b'"a\x99\xe2\x80"',  # a continuation byte first, a cut character last
        b'"\xed\xa0\x80"',  # a surrogate encoded in UTF-8
        b'"\xc0\x80"',  # an overlong NUL
    ],
)
def test_escaping_bytes_that_are_not_utf8_raises_as_decoding_them_does(raw: bytes) -> None:
    with pytest.raises(UnicodeDecodeError):
        raw.decode()
    with pytest.raises(UnicodeDecodeError):
        singer_io._ascii_bytes(raw)


@pytest.mark.parametrize("is_sorted", [True, False])
def test_the_plain_state_step_leaves_the_state_the_sdk_increment_leaves(is_sorted: bool, monkeypatch: t.Any) -> None:
    from singer_sdk.exceptions import InvalidStreamSortException

    monkeypatch.setattr(_LoopStream, "is_sorted", is_sorted)

    def fresh() -> KitRESTStream:
        stream = _LoopTap(config={}, parse_env_config=False).streams["loop_things"]
        stream.get_context_state(None)["replication_key_value"] = "2026-01-02T00:00:00+00:00"
        return stream

    fast, sdk = fresh(), fresh()
    step = fast._plain_state_step()
    assert step.__name__ == "step"  # the kit's own step, not the SDK's increment
    values = ["2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00", "2026-01-03T00:00:00+00:00", None, 7]
    for n, value in enumerate(values):
        record = {"id": n, "updated": value}
        try:
            step(record)
        except TypeError:  # an integer against a string bookmark: the SDK's comparison fails alike
            with pytest.raises(TypeError):
                sdk._increment_stream_state(record, context=None)
        else:
            sdk._increment_stream_state(record, context=None)
        assert fast.stream_state == sdk.stream_state
    late = {"id": 9, "updated": "2026-01-01T00:00:00+00:00"}
    if is_sorted:
        with pytest.raises(InvalidStreamSortException):
            step(late)
        with pytest.raises(InvalidStreamSortException):
            sdk._increment_stream_state(late, context=None)
    else:  # unsorted: the progress marker keeps the latest value
        step(late)
        sdk._increment_stream_state(late, context=None)
        assert "progress_markers" in fast.stream_state
    assert fast.stream_state == sdk.stream_state
    step({})
    assert fast.stream_state == sdk.stream_state


@settings(max_examples=600, deadline=None)
@given(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(min_value=-1e17, max_value=1e17),
        st.sampled_from([1e-4, -1e-4, 9.999999999999999e-5, 1e16, -1e16, 9999999999999998.0, 0.0, -0.0, 5e-324]),
    )
)
def test_floats_the_encoders_write_alike_take_the_fast_line_and_give_the_sdk_line(value: float) -> None:
    from xlr8_kit.singer_io import _float_alike, _is_plain

    for record in ({"x": value, "id": "1"}, {"n": {"x": [value, Decimal("1.5")]}}):
        message = RecordMessage(stream="s", record=record, version=None, time_extracted=EXTRACTED)
        assert KitSingerWriter().serialize_message(message) == SingerWriter().serialize_message(message)
        assert _is_plain(record) is _float_alike(value)
        if _is_plain(record):
            assert record_line(message) == SingerWriter().serialize_message(message)


@pytest.mark.parametrize("expression", ["$.data[*]", "$.employees[*]", "$[*]", "$", "$.data", "$.a.b[*]"])
@pytest.mark.parametrize(
    "data",
    [
        {"data": [{"a": 1}, {"a": 2}], "employees": [], "next": "x"},
        {"data": {"a": 1}},  # an object, not an array: the SDK wraps it (with its deprecation warning)
        {"data": None},
        {"data": "text"},
        {"other": [1]},
        {"a": {"b": [{"c": 1}]}},
        [{"a": 1}, {"a": 2}],
        [],
    ],
)
def test_extract_records_is_extract_jsonpath(expression: str, data: t.Any) -> None:
    import warnings

    from singer_sdk.helpers.jsonpath import extract_jsonpath

    from xlr8_kit.singer_io import extract_records

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = list(extract_jsonpath(expression, data))
        got = list(extract_records(expression, data))
    assert got == expected
    assert all(a is b for a, b in zip(got, expected, strict=True))  # the same records, not copies


_NUMBER_TEXTS = st.from_regex(r"\A-?(0|[1-9][0-9]{0,12})(\.[0-9]{1,12})?([eE][-+]?[0-9]{1,3})?\Z") | st.from_regex(
    r"\A-?0\.0{0,9}[0-9]{1,4}\Z"
)


@given(_NUMBER_TEXTS)
def test_raw_numbers_write_the_text_written_for_the_decimal(text: str) -> None:
    numbers = RawNumbers(Decimal, decimal_keeps_text, limit=4)
    assert bytes(numbers[text]) == str(Decimal(text)).encode()  # msgspec writes a Decimal as its str
    if decimal_keeps_text(text):
        assert str(Decimal(text)) == text


def test_raw_numbers_are_bounded_and_found_again() -> None:
    numbers = RawNumbers(Decimal, decimal_keeps_text, limit=3)
    first = numbers["1.5"]
    assert numbers["1.5"] is first
    for text in ("2.5", "3.5", "4.5"):
        numbers[text]
    assert len(numbers) <= 3
    assert bytes(numbers["1e2"]) == b"1E+2"


@pytest.mark.parametrize(
    ("body", "plain"),
    [
        (b'{"records": [{"a": 1.50, "b": 1e400, "c": 12, "d": "x\\u00e9", "e": [0.0000001, {"f": -2.5}]}]}', True),
        (b'{"records": [{"x": NaN, "y": 1.5}]}', False),  # msgspec refuses NaN: Decimals and floats, as loads_marked
    ],
)
def test_raw_numbers_pages_write_the_lines_of_decimal_pages(body: bytes, plain: bool, monkeypatch: t.Any) -> None:
    numbers = RawNumbers(Decimal, decimal_keeps_text)
    raw_value, raw_plain = numbers.loads_marked(body)
    decimal_value, decimal_plain = loads_marked(body, Decimal)
    assert raw_plain is decimal_plain is plain
    if not plain:
        assert repr(raw_value) == repr(decimal_value)
        return
    out = io.BytesIO()
    monkeypatch.setattr("sys.stdout", SimpleNamespace(buffer=out, flush=lambda: None))
    lines = []
    for value in (raw_value, decimal_value):
        writer = KitSingerWriter()
        emit = writer.record_emitter("s", None)
        for record in value["records"]:
            emit(record, True)
        writer.flush()
        lines.append(out.getvalue().replace(b"\n", b"").split(b'"time_extracted"')[0])
        out.seek(0)
        out.truncate()
    assert lines[0] == lines[1]
    assert b'"a":1.50,' in lines[0]
    assert b'"e":[1E-7,{"f":-2.5}]' in lines[0]


class _WrittenOnlyStream(_PlainSourceStream):
    """Notes what ``records_written_only`` said while its records were read."""

    name = "written_only"
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    seen: t.ClassVar[list[bool]] = []

    def get_records(self, context: t.Any) -> t.Iterator[dict]:
        _WrittenOnlyStream.seen.append(self.records_written_only)
        yield from super().get_records(context)


class _WrittenOnlyProcessed(_WrittenOnlyStream):
    name = "written_only_processed"

    def post_process(self, row: dict, context: t.Any = None) -> dict | None:
        return row


class _WrittenOnlyConformed(_WrittenOnlyStream):
    name = "written_only_conformed"
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.RECURSIVE


class _WrittenOnlyTap(_LoopTap):
    name = "tap-written-only"

    def discover_streams(self) -> list[KitRESTStream]:
        return [_WrittenOnlyStream(self), _WrittenOnlyProcessed(self), _WrittenOnlyConformed(self)]


# Conformance does not make a read less "written only": the loop conforms only records not marked conformed, and a
# stream gives raw numbers only in records it marks so (KitRESTStream.records_written_only). Streams sync by name:
# written_only, written_only_conformed, written_only_processed.
@pytest.mark.parametrize(("sdk_loop", "expected"), [(False, [True, True, False]), (True, [False, False, False])])
def test_records_are_written_only_in_the_plain_loop_without_post_process(
    sdk_loop: bool, expected: list[bool], monkeypatch: t.Any
) -> None:
    monkeypatch.setenv("XLR8_TAP_SDK_RECORD_LOOP", "1" if sdk_loop else "0")
    _WrittenOnlyStream.seen.clear()
    tap = _WrittenOnlyTap(config={}, parse_env_config=False)
    with redirect_stdout(io.StringIO()):
        tap.sync_all()
    assert _WrittenOnlyStream.seen == expected
    assert not any(stream.records_written_only for stream in tap.streams.values())


class _SelfConformingStream(_PlainSourceStream):
    """Conformance in force; the first page is vouched for (and holds what conformance would change, so the
    output shows whether the loop conformed it), the second is not."""

    name = "self_conforming"
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.RECURSIVE
    schema: t.ClassVar[dict] = th.PropertiesList(
        th.Property("id", th.IntegerType),
        th.Property("updated", th.DateTimeType),
        th.Property("flag", th.BooleanType),
    ).to_dict()

    def get_records(self, context: t.Any) -> t.Iterator[dict]:
        for page in (0, 1):
            self._conformer.vouched = page == 0
            self.records_plain = True
            yield {"id": page, "updated": f"2026-01-0{page + 1}T00:00:00+00:00", "flag": 1}


class _SelfConformingTap(_LoopTap):
    name = "tap-self-conforming"

    def discover_streams(self) -> list[KitRESTStream]:
        return [_SelfConformingStream(self)]


@pytest.mark.parametrize(("sdk_loop", "flags"), [(False, [1, True]), (True, [1, True])])
def test_both_loops_conform_only_records_not_vouched_for(
    sdk_loop: bool, flags: list[t.Any], monkeypatch: t.Any
) -> None:
    """A record the stream vouches for (``Conformer.vouched``) is written as the stream gave it (here deliberately
    one conformance would change, to see it), by the plain loop and by the SDK's (its conformance is the kit's
    ``Conformer``); the next record, not vouched for, is conformed."""
    monkeypatch.setenv("XLR8_TAP_SDK_RECORD_LOOP", "1" if sdk_loop else "0")
    out = io.StringIO()
    with redirect_stdout(out):
        _SelfConformingTap(config={}, parse_env_config=False).sync_all()
    records = [json.loads(line)["record"] for line in out.getvalue().splitlines() if '"RECORD"' in line]
    assert [repr(record["flag"]) for record in records] == list(map(repr, flags))  # 1 == True: compare the texts


class _MarkedThenUnmarkedStream(_SelfConformingStream):
    """Pages through ``request_records``: a ``MarkedPage`` vouched conformed, then a plain list that is not (both
    hold what conformance changes, to see which the loop conformed)."""

    name = "marked_then_unmarked"
    read_ahead_pages = True  # the kit's ``request_records``: pages from ``_request_pages``, marks set per page

    def get_records(self, context: t.Any) -> t.Iterable[dict]:
        return self.request_records(context)

    def get_new_paginator(self) -> SinglePagePaginator:
        return SinglePagePaginator()  # predicts nothing: the pages come from ``_request_pages``

    def _request_pages(self, context: t.Any, paginator: t.Any = None) -> t.Iterator[list[dict[str, t.Any]]]:
        yield MarkedPage([self._row(0)], plain=True, conformed=True)
        yield [self._row(1)]

    @staticmethod
    def _row(n: int) -> dict[str, t.Any]:
        return {"id": n, "updated": f"2026-01-0{n + 1}T00:00:00+00:00", "flag": 1}


class _MarkedThenUnmarkedTap(_LoopTap):
    name = "tap-marked-then-unmarked"

    def discover_streams(self) -> list[KitRESTStream]:
        return [_MarkedThenUnmarkedStream(self)]


@pytest.mark.parametrize("sdk_loop", [False, True])
def test_a_page_that_is_not_marked_is_conformed_after_one_vouched_for(sdk_loop: bool, monkeypatch: t.Any) -> None:
    """``request_records`` sets the marks of a ``MarkedPage`` for its records only: the plain page after it is
    conformed (its 1 becomes True), and nothing stays vouched for once the stream ends."""
    monkeypatch.setenv("XLR8_TAP_SDK_RECORD_LOOP", "1" if sdk_loop else "0")
    tap = _MarkedThenUnmarkedTap(config={}, parse_env_config=False)
    out = io.StringIO()
    with redirect_stdout(out):
        tap.sync_all()
    records = [json.loads(line)["record"] for line in out.getvalue().splitlines() if '"RECORD"' in line]
    # repr: 1 == True in Python, and conformance turns one into the other
    assert [(record["id"], repr(record["flag"])) for record in records] == [(0, "1"), (1, "True")]
    stream = tap.streams["marked_then_unmarked"]
    assert not stream._conformer.vouched
    assert not stream.records_plain


class _BlocksStream(_SelfConformingStream):
    """Records in blocks through ``records_of_blocks``: one vouched for, one not, each holding what conformance
    changes; the blocks note whether the mark was set while their records were taken."""

    name = "blocks"
    seen: t.ClassVar[list[bool]] = []

    def get_records(self, context: t.Any) -> t.Iterator[dict]:
        return self.records_of_blocks(self._blocks())

    def _blocks(self) -> t.Iterator[tuple[t.Iterable[dict], bool]]:
        for n, vouched in ((0, True), (1, False)):
            yield self._taken(n), vouched

    def _taken(self, n: int) -> t.Iterator[dict]:
        _BlocksStream.seen.append(self._conformer.vouched)
        yield {"id": n, "updated": f"2026-01-0{n + 1}T00:00:00+00:00", "flag": 1}


class _BlocksTap(_LoopTap):
    name = "tap-blocks"

    def discover_streams(self) -> list[KitRESTStream]:
        return [_BlocksStream(self)]


@pytest.mark.parametrize("sdk_loop", [False, True])
def test_records_of_blocks_marks_each_block_and_clears_the_mark(sdk_loop: bool, monkeypatch: t.Any) -> None:
    """The vouched block is written as given, the next one conformed (its 1 becomes True); the mark is cleared
    after the last block, and when the reading stops early."""
    monkeypatch.setenv("XLR8_TAP_SDK_RECORD_LOOP", "1" if sdk_loop else "0")
    _BlocksStream.seen.clear()
    tap = _BlocksTap(config={}, parse_env_config=False)
    out = io.StringIO()
    with redirect_stdout(out):
        tap.sync_all()
    records = [json.loads(line)["record"] for line in out.getvalue().splitlines() if '"RECORD"' in line]
    assert [(record["id"], repr(record["flag"])) for record in records] == [(0, "1"), (1, "True")]
    assert _BlocksStream.seen == [True, False]
    stream = tap.streams["blocks"]
    assert not stream._conformer.vouched
    early = stream.records_of_blocks(stream._blocks())
    next(early)
    assert stream._conformer.vouched
    early.close()
    assert not stream._conformer.vouched


class _FreezeSeenStream(_PlainSourceStream):
    """Notes how many objects the garbage collector had frozen while its records were read."""

    name = "freeze_seen"
    seen: t.ClassVar[list[int]] = []

    def get_records(self, context: t.Any) -> t.Iterator[dict]:
        _FreezeSeenStream.seen.append(gc.get_freeze_count())
        yield from super().get_records(context)


class _FreezeTap(_LoopTap):
    name = "tap-freeze"

    def discover_streams(self) -> list[KitRESTStream]:
        return [_FreezeSeenStream(self)]


@pytest.mark.parametrize("frozen_before", [False, True])
def test_the_plain_loop_reads_with_the_heap_frozen_and_hands_it_back(frozen_before: bool, monkeypatch: t.Any) -> None:
    # The calls are what is checked: the frozen count itself drops whenever a frozen object is freed by its
    # reference count, so comparing counts before and after is not a fact about the loop.
    monkeypatch.setenv("XLR8_TAP_SDK_RECORD_LOOP", "0")
    _FreezeSeenStream.seen.clear()
    calls: list[str] = []
    real_freeze, real_unfreeze = gc.freeze, gc.unfreeze

    def freeze() -> None:
        calls.append("freeze")
        real_freeze()

    def unfreeze() -> None:
        calls.append("unfreeze")
        real_unfreeze()

    tap = _FreezeTap(config={}, parse_env_config=False)
    real_unfreeze()  # a known start: an earlier command in this worker may have frozen its start-up objects
    if frozen_before:
        real_freeze()
    monkeypatch.setattr(gc, "freeze", freeze)
    monkeypatch.setattr(gc, "unfreeze", unfreeze)
    try:
        with redirect_stdout(io.StringIO()):
            tap.sync_all()
    finally:
        real_unfreeze()
    assert _FreezeSeenStream.seen[0] > 0  # the records were read with a frozen heap
    if frozen_before:
        assert calls == []  # someone else's frozen heap stays as they left it
    else:
        assert calls == ["freeze", "unfreeze"]
        assert gc.get_freeze_count() == 0


def test_the_user_agent_and_versions_are_the_sdks() -> None:
    """``KitRESTStream.user_agent`` and ``KitTap``'s versions (read from the ``Version`` header alone) are what the
    SDK's own lookups give; a ``user_agent`` setting wins, as in the SDK (even when empty)."""
    from singer_sdk.helpers._packaging import get_sdk_version
    from singer_sdk.plugin_base import PluginBase

    stream = _LoopTap(config={}, parse_env_config=False).streams["loop_things"]
    assert stream.user_agent == f"singer-sdk/{get_sdk_version()}"
    assert _LoopTap.get_sdk_version() == PluginBase.get_sdk_version.__func__(_LoopTap)  # type: ignore[attr-defined]
    for agent in ("xlr8-probe/1", ""):
        assert _LoopTap(config={"user_agent": agent}, parse_env_config=False).streams["loop_things"].user_agent == agent


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("Metadata-Version: 2.1\nName: x\nVersion: 1.2.3\n\nVersion: 9\n", "1.2.3"),  # the body is not a header
        ("Name: x\nVersion:\t 0.1.0 \n", "0.1.0 "),  # leading blanks dropped, as the email parser does
        ("Name: x\n\nVersion: 1\n", None),
        ("Version: 1\nVersion: 2\n", None),
        ("Version: 1\n .post1\n", None),  # folded: the SDK's lookup reads it
        ("Version: 1\r\nName: x\r\n", "1"),
    ],
)
def test_metadata_version_reads_the_version_header(text: str, version: str | None) -> None:
    from xlr8_kit.rest import _metadata_version

    assert _metadata_version(text) == version
    if version is not None:
        import email

        assert email.message_from_string(text)["Version"] == version  # what importlib.metadata reads


#: A vendor's page whose JSON holds lone surrogates: msgspec refuses the body, ``json.loads`` (the fallback) keeps them.
_SURROGATE_BODY = (
    b'[{"id": 0, "updated": "2026-01-01T00:00:00+00:00", "name": "ok"},'
    b' {"id": 1, "updated": "2026-01-02T00:00:00+00:00", "name": "half \\ud800 pair"},'
    b' {"id": 2, "updated": "2026-01-03T00:00:00+00:00", "name": "\\udc00\\u00e9"}]'
)


class _SurrogateStream(KitRESTStream):
    name = "surrogate_things"
    xlr8_entity = "account"
    path = "/things"
    url_base = "http://127.0.0.1:9"
    primary_keys = ("id",)
    replication_key = "updated"
    is_sorted = True
    schema: t.ClassVar[dict] = th.PropertiesList(
        th.Property("id", th.IntegerType),
        th.Property("updated", th.DateTimeType),
        th.Property("name", th.StringType),
    ).to_dict()

    def get_records(self, context: t.Any) -> t.Iterator[dict]:
        records, plain = loads_marked(_SURROGATE_BODY, Decimal)
        self.records_plain = plain  # msgspec refused the body, yet json.loads built only plain values
        yield from records


class _SurrogateTap(_LoopTap):
    name = "tap-surrogate"

    def discover_streams(self) -> list[KitRESTStream]:
        return [_SurrogateStream(self)]


@pytest.mark.parametrize("sdk_loop", [False, True])
def test_a_lone_surrogate_from_the_vendor_is_written_escaped_as_the_sdk_writes_it(
    sdk_loop: bool, monkeypatch: t.Any
) -> None:
    """A record holding a lone surrogate (msgspec cannot encode it) is written by the SDK's serializer, ``\\ud800``
    as ``ensure_ascii`` writes it; the page's other records and the state are written as ever."""
    assert loads_marked(_SURROGATE_BODY, Decimal)[1]
    monkeypatch.setenv("XLR8_TAP_SDK_RECORD_LOOP", "1" if sdk_loop else "0")
    out = io.StringIO()
    with redirect_stdout(out):
        _SurrogateTap(config={}, parse_env_config=False).sync_all()
    lines = out.getvalue().splitlines()
    records = [line for line in lines if line.startswith('{"type":"RECORD"')]
    assert len(records) == 3
    assert '"name":"half \\ud800 pair"' in records[1]
    assert '"name":"\\udc00\\u00e9"' in records[2]
    sdk = SingerWriter()
    for line in records:
        message = json.loads(line)
        again = RecordMessage(
            stream=message["stream"],
            record=message["record"],
            time_extracted=dt.datetime.fromisoformat(message["time_extracted"]),
        )
        assert line == sdk.serialize_message(again)
    assert [json.loads(line)["record"]["name"] for line in records] == ["ok", "half \ud800 pair", "\udc00é"]
    state = json.loads([line for line in lines if line.startswith('{"type":"STATE"')][-1])
    assert state["value"]["bookmarks"]["surrogate_things"]["replication_key_value"] == "2026-01-03T00:00:00+00:00"


_SURROGATE_CLI = """
import sys
sys.path.insert(0, {tests!r})
from test_singer_io import _SurrogateTap
_SurrogateTap.cli()
"""


def test_a_lone_surrogate_through_the_tap_cli_exits_0_with_the_state_at_the_last_record(tmp_path: t.Any) -> None:
    """The console-script path (``cli``, exit code, stdout): before, the sync ended with exit 1 at the record."""
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "surrogate_tap.py"
    script.write_text(_SURROGATE_CLI.format(tests=str(Path(__file__).parent)))
    config = tmp_path / "config.json"
    config.write_text("{}")
    run = subprocess.run(
        [sys.executable, str(script), "--config", str(config)], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr[-2000:]
    messages = [json.loads(line) for line in run.stdout.splitlines()]
    names = [m["record"]["name"] for m in messages if m["type"] == "RECORD"]
    assert names == ["ok", "half \ud800 pair", "\udc00é"]
    assert '"name":"half \\ud800 pair"' in run.stdout
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    assert states[-1]["bookmarks"]["surrogate_things"]["replication_key_value"] == "2026-01-03T00:00:00+00:00"
