"""``xlr8_kit.streaming``: the incremental readers give what a whole parse gives, however the bytes are cut."""

from __future__ import annotations

import base64
import binascii
import codecs
import csv
import io
import json
import typing as t
from decimal import Decimal
from itertools import chain

import pytest
import requests

from xlr8_kit import xmlsafe
from xlr8_kit.http.session import ResilientSession
from xlr8_kit.singer_io import loads_exact
from xlr8_kit.streaming import (
    Base64Stream,
    ChunkReader,
    JsonArrayItems,
    JsonStreamError,
    StreamedBodyError,
    body_chunks,
    body_complete,
    send_streamed,
)
from xlr8_kit.testing.fake_time import FakeTime
from xlr8_kit.testing.faultserver import FaultServer, Reply

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


def tricky_entries(count: int) -> list[dict[str, object]]:
    """Entries whose strings hold what a splitter could mistake for structure, nested groups and decimals."""
    texts = ["}", "},{", '"}]', "\\", '\\"}', ']},{"ID": 1}', "Zoë ✓ 𝄞", ""]
    return [
        {
            "ID": f"E{i:05d}",
            "Note": texts[i % len(texts)] * (i % 3),
            "Amount": Decimal(f"{i}.{i % 100:02d}"),
            "Groups": [{"Role": texts[(i + 1) % len(texts)], "Level": i % 4}] * (i % 3),
            "Empty": {},
        }
        for i in range(count)
    ]


@pytest.mark.parametrize("size", [999, 4096, 65_536, 10**7])
def test_json_items_in_batches_equal_a_whole_parse(size: int) -> None:
    """Long arrays are decoded a run of items per call; the result is what one whole parse gives."""
    document = json.dumps({"Report_Entry": tricky_entries(3000), "After": 1}, default=str).encode()
    document = document.replace(b'"Amount": "', b'"Amount": ').replace(b'", "Groups"', b', "Groups"')
    expected = loads_exact(document)["Report_Entry"]
    assert isinstance(expected[5]["Amount"], Decimal)
    assert list(JsonArrayItems(pieces(document, size), "Report_Entry")) == expected


@pytest.mark.parametrize("size", [1, 7, 4096, 65_536])
def test_json_blocks_are_the_items_in_non_empty_lists(size: int) -> None:
    """``blocks`` gives the items ``__iter__`` gives, in order, as non-empty lists (runs decoded by one call)."""
    document = json.dumps({"Report_Entry": tricky_entries(600), "After": 1}, default=str).encode()
    blocks = list(JsonArrayItems(pieces(document, size), "Report_Entry").blocks())
    assert all(type(block) is list and block for block in blocks)
    assert [item for block in blocks for item in block] == loads_exact(document)["Report_Entry"]
    if size > 4096:
        assert max(map(len, blocks)) > 1
    whole = list(JsonArrayItems(pieces(DOCUMENT, size), "Report_Entry").blocks())
    assert [item for block in whole for item in block] == loads_exact(DOCUMENT)["Report_Entry"]
    assert list(JsonArrayItems([b'{"Report_Entry": {"ID": "only"}}'], "Report_Entry").blocks()) == [[{"ID": "only"}]]


@pytest.mark.parametrize("cut", [100, 20_000, 45_001])
def test_json_blocks_of_a_cut_document_are_a_prefix_then_the_error(cut: int) -> None:
    document = json.dumps({"Report_Entry": tricky_entries(600)}, default=str).encode()
    got: list[object] = []
    with pytest.raises(JsonStreamError) as caught:
        got.extend(chain.from_iterable(JsonArrayItems(pieces(document[:cut], 8192), "Report_Entry").blocks()))
    assert caught.value.truncated
    assert got == loads_exact(document)["Report_Entry"][: len(got)]
    one_by_one: list[object] = []
    with pytest.raises(JsonStreamError):
        one_by_one.extend(JsonArrayItems(pieces(document[:cut], 8192), "Report_Entry"))
    assert one_by_one == got


def test_json_items_with_literals_msgspec_refuses_fall_back_per_item() -> None:
    entries = [{"ID": i, "Value": float("nan") if i == 1500 else i / 4} for i in range(3000)]
    document = json.dumps({"Report_Entry": entries}).encode()
    got = list(JsonArrayItems(pieces(document, 8192), "Report_Entry"))
    whole = loads_exact(document)["Report_Entry"]  # NaN is a float there too (json's parse_constant)
    assert len(got) == 3000
    assert got[1500]["Value"] != got[1500]["Value"]  # NaN
    assert got[:1500] + got[1501:] == whole[:1500] + whole[1501:]
    assert got[2999]["Value"] == Decimal("749.75")


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


# --- over real sockets (the kit's fault server) ------------------------------------------------------------------

REPORT = json.dumps(
    {"Report_Entry": [{"ID": f"E{i:05d}", "Amount": f"{i}.50"} for i in range(10_000)]}
).encode()  # > 2 x PEEK_BYTES


def _stream(session: ResilientSession, url: str) -> tuple[list[t.Any], requests.Response]:
    response = send_streamed(session, session.prepare_request(requests.Request("GET", url)))
    return list(JsonArrayItems(body_chunks(response, what="report"), "Report_Entry")), response


@pytest.mark.parametrize("how", ["content-length", "chunked"])
def test_cut_body_is_resumed_after_the_bytes_read(
    server: FaultServer, make_session: t.Callable[..., ResilientSession], fake_time: FakeTime, how: str
) -> None:
    cut = Reply(body=REPORT, truncate_to=len(REPORT) // 2, chunked=how == "chunked")
    server.script("/report", cut, Reply(body=REPORT))
    items, _ = _stream(make_session(), server.url + "/report")
    assert items == loads_exact(REPORT)["Report_Entry"]
    assert server.count("/report") == 2
    assert len(fake_time.sleeps) == 1


def test_body_that_changed_when_asked_again_is_an_error(
    server: FaultServer, make_session: t.Callable[..., ResilientSession]
) -> None:
    changed = REPORT.replace(b"E00000", b"X00000")
    server.script("/report", Reply(body=REPORT, truncate_to=len(REPORT) // 2), Reply(body=changed))
    with pytest.raises(StreamedBodyError, match="changed between attempts"):
        _stream(make_session(), server.url + "/report")


def test_cuts_beyond_max_attempts_fail_and_never_end_the_document_early(
    server: FaultServer, make_session: t.Callable[..., ResilientSession]
) -> None:
    server.script("/report", Reply(body=REPORT, truncate_to=len(REPORT) // 2), repeat_last=True)
    with pytest.raises(StreamedBodyError, match=r"broke off after .* 3 times"):
        _stream(make_session(max_attempts=3), server.url + "/report")
    assert server.count("/report") == 3


def test_close_delimited_body_that_stops_early_is_truncated_not_short(
    server: FaultServer, make_session: t.Callable[..., ResilientSession]
) -> None:
    """Without Content-Length HTTP cannot see the cut: the parser does (the document has no end)."""
    server.script("/report", Reply(body=REPORT[: len(REPORT) // 2], close_delimited=True))
    with pytest.raises(JsonStreamError) as caught:
        _stream(make_session(), server.url + "/report")
    assert caught.value.truncated


def test_small_body_is_judged_whole_and_errors_are_read(
    server: FaultServer, make_session: t.Callable[..., ResilientSession]
) -> None:
    server.script("/small", Reply(body={"Report_Entry": [{"ID": "1"}]}), Reply(status=404, body={"error": "no"}))
    items, response = _stream(make_session(), server.url + "/small")
    assert items == [{"ID": "1"}]
    assert body_complete(response)
    missing = send_streamed(
        make_session(), make_session().prepare_request(requests.Request("GET", server.url + "/small"))
    )
    assert missing.status_code == 404
    assert missing.json() == {"error": "no"}
