"""The kit's fast Singer writer and page decoder produce exactly what the SDK's simplejson/json paths produce."""

from __future__ import annotations

import datetime as dt
import io
import json
import typing as t
from contextlib import redirect_stdout
from decimal import Decimal

import pytest
from singer_sdk import typing as th
from singer_sdk.io_base import SingerWriter
from singer_sdk.singerlib import RecordMessage, StateMessage

from xlr8_kit.rest import KitRESTStream, KitTap, kit_config_schema
from xlr8_kit.singer_io import BLOCK_LINES, KitSingerWriter, json_array_length, loads_exact, loads_with, record_line

EXTRACTED = dt.datetime(2026, 12, 4, 15, 0, 1, 250, tzinfo=dt.UTC)

RECORDS = [
    {"Id": "001", "Name": "Acme", "AnnualRevenue": Decimal("1250000.50"), "Employees": 120, "Active": True},
    {"Id": "002", "Name": None, "Rate": Decimal("1E+2"), "Tiny": Decimal("-0.0000001"), "Big": 2**80},
    {"Name": "Zoë Ångström 😀 \u2028", "Note": 'quote " back \\ slash / tab \t nl \n ctrl \x01 del \x7f'},
    {"Nested": {"Street": "1 Main", "Geo": [Decimal("51.5"), Decimal("-0.12")], "Tags": ["a", None, 3]}},
    {"Float": 1e16, "Small": 1e-7, "Plain": 0.5},  # floats: the SDK's encoder writes them
    {"When": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "Day": dt.date(2024, 1, 2)},  # the SDK's too
    {},
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
