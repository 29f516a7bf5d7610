"""``xlr8_kit.streaming``: the incremental readers give what a whole parse gives, however the bytes are cut."""

from __future__ import annotations

import base64
import binascii
import codecs
import csv
import io
import json
from decimal import Decimal

import pytest

from xlr8_kit import xmlsafe
from xlr8_kit.singer_io import loads_exact
from xlr8_kit.streaming import Base64Stream, ChunkReader, JsonArrayItems, JsonStreamError

DOCUMENT = json.dumps(
    {
        "Before": {"nested": [1, {"x": "]}"}], "s": 'a\\"b'},
        "Report_Entry": [
            {"ID": "E1", "Amount": 1234.50, "Note": 'quote " and brace } and bracket ]', "Groups": [{"A": "1"}]},
            {"ID": "E2", "Amount": 1e-7, "Unicode": "Zoë ✓ 𝄞", "Empty": {}, "List": []},
            "scalar",
            17,
            None,
            {"ID": "E3", "Deep": [[[["x"]]]], "Flag": True},
        ],
        "After": "tail",
    }
).encode()


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 10_000])
def test_json_items_equal_a_whole_parse_at_any_chunking(size: int) -> None:
    items = JsonArrayItems(pieces(DOCUMENT, size), "Report_Entry")
    assert list(items) == loads_exact(DOCUMENT)["Report_Entry"]
    assert items.found
    assert items.keys == ["Before", "After"]


def test_json_items_keep_exact_decimals() -> None:
    (entry,) = JsonArrayItems([b'{"Report_Entry": [{"a": 0.1, "b": 1.50, "c": 7}]}'], "Report_Entry")
    assert entry == {"a": Decimal("0.1"), "b": Decimal("1.50"), "c": 7}
    assert str(entry["b"]) == "1.50"


def test_json_single_object_member_and_missing_member() -> None:
    assert list(JsonArrayItems([b' {"Report_Entry": {"ID": "only"}} '], "Report_Entry")) == [{"ID": "only"}]
    assert list(JsonArrayItems([b'{"Report_Entry": null}'], "Report_Entry")) == []
    other = JsonArrayItems([b'{"error": "nope"}'], "Report_Entry")
    assert list(other) == []
    assert not other.found
    assert other.keys == ["error"]
    assert list(JsonArrayItems([b"{}"], "Report_Entry")) == []


@pytest.mark.parametrize("cut", [1, 20, len(DOCUMENT) // 2, len(DOCUMENT) - 1])
def test_json_document_that_ends_early_raises_truncated(cut: int) -> None:
    with pytest.raises(JsonStreamError) as caught:
        list(JsonArrayItems(pieces(DOCUMENT[:cut], 5), "Report_Entry"))
    assert caught.value.truncated


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b'{"Report_Entry": [1] } trailing', b'{"Report_Entry" 1}'])
def test_json_not_the_expected_document_raises(body: bytes) -> None:
    with pytest.raises(JsonStreamError) as caught:
        list(JsonArrayItems([body], "Report_Entry"))
    assert not caught.value.truncated


@pytest.mark.parametrize("size", [1, 3, 5, 76, 4096])
def test_base64_stream_equals_b64decode(size: int) -> None:
    raw = bytes(range(256)) * 37
    text = base64.encodebytes(raw).decode("ascii")  # line breaks every 76 characters, as SOAP stacks write it
    decoder = Base64Stream()
    out = b"".join(decoder.feed(text[i : i + size]) for i in range(0, len(text), size))
    decoder.close()
    assert out == raw


def test_base64_stream_refuses_what_validate_refuses() -> None:
    with pytest.raises(binascii.Error):
        Base64Stream().feed("QUJD*UJD")
    decoder = Base64Stream()
    decoder.feed("QUJDRA")
    with pytest.raises(binascii.Error):
        decoder.close()


def test_chunk_reader_feeds_csv_and_locates_decode_errors() -> None:
    text = 'id,name\r\n1,"multi\r\nline"\r\n2,Zoë\r\n'
    data = text.encode("utf-8")
    reader = ChunkReader(pieces(data, 3))
    assert reader.first_byte() == b"i"
    rows = list(csv.reader(io.TextIOWrapper(reader, encoding="utf-8", newline="")))  # type: ignore[arg-type]
    assert rows == list(csv.reader(io.StringIO(text, newline="")))
    bad = b"abc,def\r\n" * 2000 + b"x\xffy"
    reader = ChunkReader(pieces(bad, 1000))
    with pytest.raises(UnicodeDecodeError) as caught:
        io.TextIOWrapper(reader, encoding="utf-8", newline="").read()  # type: ignore[arg-type]
    assert reader.offset_of(caught.value) == bad.index(b"\xff")
    assert codecs.lookup("utf-8")


def test_feed_parser_streams_text_and_refuses_declarations() -> None:
    class Collect:
        def __init__(self) -> None:
            self.text: list[str] = []

        def start(self, tag: str, attrib: dict[str, str]) -> None: ...
        def end(self, tag: str) -> None: ...
        def data(self, text: str) -> None:
            self.text.append(text)

        def close(self) -> str:
            return "".join(self.text)

    body = b"<a><b>" + b"QUJD" * 50_000 + b"</b></a>"
    target = Collect()
    parser = xmlsafe.SafeFeedParser(target)
    for piece in pieces(body, 8192):
        parser.feed(piece)
    assert parser.close() == "QUJD" * 50_000
    assert len(target.text) > 1  # the text node arrived in pieces
    with pytest.raises(xmlsafe.UnsafeXMLError):
        feed_all(xmlsafe.SafeFeedParser(Collect()), b'<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>')
    with pytest.raises(xmlsafe.XMLParseError, match="deeper"):
        feed_all(xmlsafe.SafeFeedParser(Collect(), max_depth=10), b"<a>" * 20 + b" " * 5000)
    with pytest.raises(xmlsafe.XMLParseError, match="not well-formed"):
        feed_all(xmlsafe.SafeFeedParser(Collect()), body[: len(body) // 2])


def feed_all(parser: xmlsafe.SafeFeedParser, body: bytes) -> object:
    for piece in pieces(body, 1000):
        parser.feed(piece)
    return parser.close()
