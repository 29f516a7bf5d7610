"""The plain loop reading pages (``KitRESTStream.plain_record_pages``) and the writer's page emitter
(``KitSingerWriter.record_page_emitter``) write what the record-by-record loop and emitter write: the same lines,
STATE messages where they were, the same final state, whichever pages the state step declines."""

from __future__ import annotations

import datetime as dt
import gc
import io
import json
import tempfile
import typing as t
from contextlib import redirect_stdout
from decimal import Decimal
from itertools import chain
from pathlib import Path

import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from singer_sdk import typing as th
from singer_sdk.helpers._batch import BatchConfig
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.pagination import SinglePagePaginator
from singer_sdk.streams import RESTStream

from xlr8_kit import batching
from xlr8_kit.rest import LOOP_GC_THRESHOLD, KitRESTStream, KitTap, MarkedPage, kit_config_schema
from xlr8_kit.singer_io import IsoClock, KitSingerWriter

EXTRACTED_NS = 1_796_396_401_000_250_999
EXTRACTED = dt.datetime(2026, 12, 4, 15, 0, 1, 250, tzinfo=dt.UTC)

plain_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.text(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.builds(msgspec.Raw, st.sampled_from([b"1.5", b"-0.25", b"100"])),
)
plain_records = st.dictionaries(
    st.text(max_size=5), st.one_of(plain_values, st.lists(plain_values, max_size=2)), max_size=4
)


def _lines(emit_with: t.Callable[[KitSingerWriter], None]) -> str:
    out = io.StringIO()
    writer = KitSingerWriter()
    with redirect_stdout(out):
        emit_with(writer)
        writer.flush()
    return out.getvalue()


@settings(max_examples=200, deadline=None)
@given(
    pages=st.lists(st.lists(plain_records, max_size=5), max_size=4),
    plain=st.booleans(),
    version=st.sampled_from([None, 7]),
)
@example(pages=[[{"a": "DEL \x7f alone"}, {"b": "é"}, {"c": "plain"}]], plain=True, version=None)
def test_the_page_emitter_writes_the_lines_of_the_record_emitter(
    pages: list[list[dict[str, t.Any]]], plain: bool, version: int | None
) -> None:

    def by_record(writer: KitSingerWriter) -> None:
        emit = writer.record_emitter("Zoë", version)
        for page in pages:
            for record in page:
                emit(record, plain)

    def by_page(writer: KitSingerWriter) -> None:
        emit_page = writer.record_page_emitter("Zoë", version)
        for page in pages:
            emit_page(page, plain)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("xlr8_kit.singer_io.IsoClock", lambda: IsoClock(lambda: EXTRACTED_NS))
        patch.setattr("xlr8_kit.singer_io.utc_now", lambda: EXTRACTED)
        assert _lines(by_page) == _lines(by_record)


def test_a_page_the_encoder_refuses_goes_record_by_record(monkeypatch: t.Any) -> None:
    """A value msgspec cannot encode (an object) in the third record: the two before it are written, then the error."""
    monkeypatch.setattr("xlr8_kit.singer_io.IsoClock", lambda: IsoClock(lambda: EXTRACTED_NS))
    page: list[dict[str, t.Any]] = [{"a": 1}, {"a": "é\x7f"}, {"a": object()}, {"a": 4}]
    results = []
    for method in ("record_page_emitter", "record_emitter"):
        out = io.StringIO()
        writer = KitSingerWriter()
        with redirect_stdout(out):
            emit = getattr(writer, method)("s", None)
            try:
                if method == "record_page_emitter":
                    emit(page, True)
                else:
                    for record in page:
                        emit(record, True)
            except TypeError as exc:
                error: str | None = str(exc)
            else:
                error = None
            writer.flush()
        results.append((out.getvalue(), error))
    assert results[0] == results[1]
    assert results[0][1] is not None
    assert results[0][0].count("\n") == 2


SECOND_NS = 1_796_396_401 * 10**9


@pytest.mark.parametrize(
    "readings",
    [
        [SECOND_NS + 250_999, SECOND_NS + 251_000, SECOND_NS + 999_999_999, SECOND_NS + 10**9 + 7_000],  # a second
        [SECOND_NS + 250_999, SECOND_NS + 999, SECOND_NS + 300_000, SECOND_NS + 400_000],  # a zero fraction
        [SECOND_NS + 250_999, SECOND_NS + 251_000, SECOND_NS + 300_000, SECOND_NS + 400_000],  # one pattern
    ],
)
@pytest.mark.parametrize("stream", ["s", "100%s %d%%"])
def test_page_lines_are_those_of_the_record_emitter_whatever_the_clock_reads(readings: list[int], stream: str) -> None:
    """``IsoClock.around``'s one formatting (reads in one second, no zero fraction) and its stamps otherwise; a
    stream name holding ``%`` is written as it is."""
    pages: list[list[dict[str, t.Any]]] = [[{"a": 1, "b": "é"}, {"a": 2}, {"a": 3, "c": None}], [{"a": 4}]]

    def by_record(writer: KitSingerWriter) -> None:
        emit = writer.record_emitter(stream, 7)
        for record in chain.from_iterable(pages):
            emit(record, True)

    def by_page(writer: KitSingerWriter) -> None:
        emit_page = writer.record_page_emitter(stream, 7)
        for page in pages:
            emit_page(page, True)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("xlr8_kit.singer_io.IsoClock", lambda: IsoClock(iter(readings).__next__))
        written = _lines(by_page)
        assert written == _lines(by_record)
    stamps = [json.loads(line)["time_extracted"] for line in written.splitlines()]
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    assert stamps == [(epoch + dt.timedelta(microseconds=ns // 1000)).isoformat() for ns in readings]
    assert {json.loads(line)["stream"] for line in written.splitlines()} == {stream}


def test_the_page_emitter_writes_once_a_block_of_lines_is_held() -> None:
    """Held lines stay bounded: pages are written out once ``BLOCK_LINES`` lines are held, not at the end only."""
    from xlr8_kit.singer_io import BLOCK_LINES

    out = io.StringIO()
    writer = KitSingerWriter()
    with redirect_stdout(out):
        emit_page = writer.record_page_emitter("s", None)
        page = [{"a": n} for n in range(BLOCK_LINES // 2 + 1)]
        emit_page(page, True)
        assert out.getvalue() == ""
        emit_page(page, True)
        assert out.getvalue().count("\n") == 2 * len(page)
        emit_page(page, True)
        writer.flush()
    assert out.getvalue().count("\n") == 3 * len(page)


class _PagedStream(KitRESTStream):
    """Incremental, no post_process, no conformance: the plain loop may read its pages. The page state step
    declines every page whose first record's ``n`` is odd (those go record by record)."""

    name = "paged"
    path = "/paged"
    url_base = "http://127.0.0.1:9"
    primary_keys = ("id",)
    replication_key = "updated"
    is_sorted = True
    STATE_MSG_FREQUENCY = 3
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    schema: t.ClassVar[dict] = th.PropertiesList(
        th.Property("id", th.IntegerType),
        th.Property("updated", th.StringType),
        th.Property("amount", th.NumberType),
        th.Property("name", th.StringType),
    ).to_dict()
    pages: t.ClassVar[list[list[dict[str, t.Any]]]] = []
    use_pages: t.ClassVar[bool] = True
    pages_plain: t.ClassVar[bool] = True

    def get_records(self, context: t.Any) -> t.Iterator[dict]:
        for page in self._pages():
            yield from page

    def _pages(self) -> t.Iterator[list[dict[str, t.Any]]]:
        for page in self.pages:
            self.records_plain = self.pages_plain
            yield [dict(record) for record in page]

    def plain_record_pages(self) -> t.Iterator[list[dict[str, t.Any]]] | None:
        return self._pages() if self.use_pages else None

    def _plain_state_page_step(self) -> t.Callable[[list[dict[str, t.Any]]], t.Callable[[], None] | None]:
        step = self._plain_state_step()

        def plan(page: list[dict[str, t.Any]]) -> t.Callable[[], None] | None:
            if page[0]["id"] % 2:
                return None
            return lambda: [step(record) for record in page] and None

        return plan


class _PagedTap(KitTap):
    name = "tap-paged"
    product_id = "salesforce"
    config_jsonschema: t.ClassVar[dict] = kit_config_schema(th.PropertiesList())

    def discover_streams(self) -> list[KitRESTStream]:
        return [_PagedStream(self)]

    def build_authenticator(self, runtime: t.Any) -> None:
        return None


def _sync(use_pages: bool, pages: list[list[dict[str, t.Any]]]) -> list[dict[str, t.Any]]:
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_PagedStream, "pages", pages)
        patch.setattr(_PagedStream, "use_pages", use_pages)
        patch.setattr("xlr8_kit.singer_io.IsoClock", lambda: IsoClock(lambda: EXTRACTED_NS))
        patch.setenv("XLR8_TAP_SDK_RECORD_LOOP", "0")
        tap = _PagedTap(config={}, parse_env_config=False)
        assert tap.streams["paged"]._plain_record_loop
        with redirect_stdout(out):
            tap.sync_all()
    messages = [json.loads(line) for line in out.getvalue().splitlines()]
    for message in messages:
        for bookmark in message.get("value", {}).get("bookmarks", {}).values():
            bookmark.pop("replication_key_signpost", None)
    return messages


def _pages_of(sizes: list[int], name: str = "é") -> tuple[list[list[dict[str, t.Any]]], int]:
    """Pages of the given sizes, two records to an hour, and how many records they hold."""
    pages, n = [], 0
    for size in sizes:
        page = []
        for _ in range(size):
            stamp = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=n // 2)
            page.append({"id": n, "updated": stamp.isoformat(), "amount": Decimal(n) / 4, "name": f"{name}{n}"})
            n += 1
        pages.append(page)
    return pages, n


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 7), max_size=6))
def test_the_loop_over_pages_writes_what_the_record_loop_writes(sizes: list[int]) -> None:
    pages, n = _pages_of(sizes)
    by_page = _sync(True, pages)
    by_record = _sync(False, pages)
    assert by_page == by_record
    assert sum(m["type"] == "RECORD" for m in by_page) == n


class _ThresholdStream(_PagedStream):
    seen: t.ClassVar[list[tuple[int, int, int]]] = []

    def _pages(self) -> t.Iterator[list[dict[str, t.Any]]]:
        self.seen.append(gc.get_threshold())
        yield from super()._pages()


class _ThresholdTap(_PagedTap):
    def discover_streams(self) -> list[KitRESTStream]:
        return [_ThresholdStream(self)]


@pytest.mark.parametrize("before", [(700, 10, 10), (500_000, 5, 5), (0, 10, 10)])
def test_the_loop_collects_the_youngest_generation_less_often_and_hands_the_threshold_back(
    before: tuple[int, int, int],
) -> None:
    saved = gc.get_threshold()
    _ThresholdStream.seen.clear()
    try:
        gc.set_threshold(*before)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(_PagedStream, "pages", [[{"id": 0, "updated": "2026-01-01", "amount": None, "name": "a"}]])
            patch.setenv("XLR8_TAP_SDK_RECORD_LOOP", "0")
            tap = _ThresholdTap(config={}, parse_env_config=False)
            with redirect_stdout(io.StringIO()):
                tap.sync_all()
        after = gc.get_threshold()
    finally:
        gc.set_threshold(*saved)
    assert after == before
    expected = before if before[0] in (0, 500_000) else (LOOP_GC_THRESHOLD, *before[1:])
    assert _ThresholdStream.seen == [expected]


# -- pages and blocks the stream vouches for, under conformance (``pages_of_blocks``, ``request_record_pages``) ------


class _BlockPagedStream(_PagedStream):
    """Conformance in force, the kit's own state steps (``_plain_state_page_step`` not replaced), records in blocks
    (``records_of_blocks`` / ``pages_of_blocks``). A block is a list or, ``lazy``, a generator; one vouched for holds
    what conformance keeps, one not holds integers under a boolean (conformance makes them booleans)."""

    name = "block_paged"
    path = "/block_paged"
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.ROOT_ONLY
    schema: t.ClassVar[dict] = th.PropertiesList(
        th.Property("id", th.IntegerType),
        th.Property("updated", th.StringType),
        th.Property("flag", th.BooleanType),
        th.Property("amount", th.NumberType),
    ).to_dict()
    blocks: t.ClassVar[list[tuple[list[dict[str, t.Any]], bool, bool]]] = []
    _plain_state_page_step = KitRESTStream._plain_state_page_step  # the kit's own

    def get_records(self, context: t.Any) -> t.Iterable[dict]:
        return self.records_of_blocks(self._blocks())

    def plain_record_pages(self) -> t.Iterator[t.Iterable[dict[str, t.Any]]] | None:
        return self.pages_of_blocks(self._blocks()) if self.use_pages else None

    def _blocks(self) -> t.Iterator[tuple[t.Iterable[dict[str, t.Any]], bool]]:
        for records, vouched, lazy in self.blocks:
            self.records_plain = True
            copied = [dict(record) for record in records]
            yield (iter(copied) if lazy else copied), vouched


class _UnsortedBlockPagedStream(_BlockPagedStream):
    name = "block_paged_unsorted"
    is_sorted = False


class _BlockPagedTap(KitTap):
    name = "tap-block-paged"
    product_id = "salesforce"
    config_jsonschema: t.ClassVar[dict] = kit_config_schema(th.PropertiesList())

    def discover_streams(self) -> list[KitRESTStream]:
        return [_BlockPagedStream(self), _UnsortedBlockPagedStream(self)]

    def build_authenticator(self, runtime: t.Any) -> None:
        return None


def _masked(text: str) -> list[dict[str, t.Any]]:
    messages = [json.loads(line) for line in text.splitlines()]
    for message in messages:
        for bookmark in message.get("value", {}).get("bookmarks", {}).values():
            bookmark.pop("replication_key_signpost", None)
    return messages


def _sync_blocks(
    use_pages: bool, blocks: list[tuple[list[dict[str, t.Any]], bool, bool]], stream: str
) -> tuple[str, int]:
    """The tap's stdout (lines as written) and how many records went through the page emitter whole."""
    out = io.StringIO()
    whole: list[int] = []
    page_emitter = KitSingerWriter.record_page_emitter

    def counting(writer: KitSingerWriter, name: str, version: int | None) -> t.Callable[..., None]:
        emit_page = page_emitter(writer, name, version)

        def counted(records: list[dict[str, t.Any]], plain: bool = False) -> None:
            whole.append(len(records))
            emit_page(records, plain)

        return counted

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_BlockPagedStream, "blocks", blocks)
        patch.setattr(_BlockPagedStream, "use_pages", use_pages)
        patch.setattr(KitSingerWriter, "record_page_emitter", counting)
        patch.setattr("xlr8_kit.singer_io.IsoClock", lambda: IsoClock(lambda: EXTRACTED_NS))
        patch.setenv("XLR8_TAP_SDK_RECORD_LOOP", "0")
        tap = _BlockPagedTap(config={}, parse_env_config=False)
        for other in tap.streams.values():
            other.selected = other.name == stream
        assert tap.streams[stream]._plain_record_loop
        with redirect_stdout(out):
            tap.sync_all()
        assert not tap.streams[stream]._conformer.vouched  # no mark outlives the stream
    return out.getvalue(), sum(whole)


block_shapes = st.lists(st.tuples(st.integers(0, 7), st.booleans(), st.booleans()), max_size=6)


@settings(max_examples=80, deadline=None)
@given(shapes=block_shapes, unsorted=st.booleans(), data=st.data())
def test_the_loop_over_vouched_blocks_writes_what_the_record_loop_writes(
    shapes: list[tuple[int, bool, bool]], unsorted: bool, data: st.DataObject
) -> None:
    """Blocks of any size crossing the STATE frequency (3), vouched or not, lists or generators, sorted data or
    unsorted (whose first record the SDK's own increment takes): the same lines, STATE where it was, the same
    final state, records conformed where they were."""
    blocks, n = [], 0
    for size, vouched, lazy in shapes:
        records = []
        for _ in range(size):
            hour = n if not unsorted else data.draw(st.integers(0, 9), label="hour")
            stamp = (dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=hour)).isoformat()
            flag: t.Any = data.draw(st.sampled_from([True, False, None] if vouched else [1, 0, True, None]))
            records.append({"id": n, "updated": stamp, "flag": flag, "amount": Decimal(n) / 4})
            n += 1
        blocks.append((records, vouched, lazy))
    stream = "block_paged_unsorted" if unsorted else "block_paged"
    by_page, _ = _sync_blocks(True, blocks, stream)
    by_record, none_whole = _sync_blocks(False, blocks, stream)
    assert none_whole == 0
    assert by_page == by_record  # the texts: 1 and True compare equal in Python, not in JSON
    assert sum(m["type"] == "RECORD" for m in _masked(by_page)) == n


@pytest.mark.parametrize(("stream", "expected_whole"), [("block_paged", 5), ("block_paged_unsorted", 4)])
def test_vouched_list_blocks_are_written_whole_and_the_others_record_by_record(
    stream: str, expected_whole: int
) -> None:
    """Not a loop that never takes the page path: of blocks vouched / not / vouched but lazy, only the first is
    written by the page emitter (cut at the STATE message after the third record; unsorted, its first record goes
    alone, for the SDK's increment to make the progress markers), and the one not vouched is conformed (its 1
    becomes true)."""
    stamps = [f"2026-01-01T0{h}:00:00+00:00" for h in range(9)]
    blocks = [
        ([{"id": i, "updated": stamps[i], "flag": True, "amount": None} for i in range(5)], True, False),
        ([{"id": 5, "updated": stamps[5], "flag": 1, "amount": None}], False, False),
        ([{"id": i, "updated": stamps[i], "flag": False, "amount": None} for i in (6, 7)], True, True),
    ]
    text, whole = _sync_blocks(True, blocks, stream)
    assert whole == expected_whole
    assert text == _sync_blocks(False, blocks, stream)[0]
    records = [m["record"] for m in _masked(text) if m["type"] == "RECORD"]
    assert [r["flag"] for r in records] == [True] * 5 + [True, False, False]
    assert '"flag":1' not in text
    last = [m for m in _masked(text) if m["type"] == "STATE"][-1]["value"]["bookmarks"][stream]
    assert last["replication_key_value"] == stamps[7]


class _MarkedPagesStream(_BlockPagedStream):
    """Pages through the kit's ``request_records`` (``read_ahead_pages``, ``get_records`` not replaced): the
    default ``plain_record_pages`` is ``request_record_pages``, which sets each page's marks."""

    name = "marked_pages"
    read_ahead_pages = True
    pages: t.ClassVar[list[tuple[list[dict[str, t.Any]], bool]]] = []

    get_records = RESTStream.get_records  # type: ignore[assignment]
    plain_record_pages = KitRESTStream.plain_record_pages

    def get_new_paginator(self) -> SinglePagePaginator:
        return SinglePagePaginator()  # predicts nothing: the pages come from ``_request_pages``

    def _request_pages(self, context: t.Any, paginator: t.Any = None) -> t.Iterator[list[dict[str, t.Any]]]:
        for records, marked in self.pages:
            copied = [dict(record) for record in records]
            yield MarkedPage(copied, plain=True, conformed=True) if marked else copied


class _MarkedPagesTap(_BlockPagedTap):
    def discover_streams(self) -> list[KitRESTStream]:
        return [_MarkedPagesStream(self)]


@pytest.mark.parametrize("use_pages", [True, False])
def test_marked_pages_are_written_whole_by_default(use_pages: bool) -> None:
    stamps = [f"2026-01-01T0{h}:00:00+00:00" for h in range(9)]
    pages = [
        ([{"id": i, "updated": stamps[i], "flag": True, "amount": None} for i in range(3)], True),
        ([{"id": 3, "updated": stamps[3], "flag": 1, "amount": None}], False),
        ([{"id": 4, "updated": stamps[4], "flag": None, "amount": Decimal("1.5")}], True),
    ]
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_MarkedPagesStream, "pages", pages)
        patch.setattr("xlr8_kit.singer_io.IsoClock", lambda: IsoClock(lambda: EXTRACTED_NS))
        if not use_pages:
            patch.setattr(_MarkedPagesStream, "plain_record_pages", lambda self: None)
        patch.setenv("XLR8_TAP_SDK_RECORD_LOOP", "0")
        tap = _MarkedPagesTap(config={}, parse_env_config=False)
        stream = tap.streams["marked_pages"]
        assert (stream.plain_record_pages() is not None) is use_pages
        with redirect_stdout(out):
            tap.sync_all()
    records = [m["record"] for m in _masked(out.getvalue()) if m["type"] == "RECORD"]
    assert [repr(r["flag"]) for r in records] == ["True", "True", "True", "True", "None"]
    assert not stream._conformer.vouched
    assert not stream.records_plain


# -- BATCH: the plain loop writing the files itself (``xlr8_kit.batching.BatchSink``) --------------------------------


def _sync_batch(
    pages: list[list[dict[str, t.Any]]], size: int, *, use_pages: bool, sdk_loop: bool, plain: bool = True
) -> tuple[list[t.Any], list[bytes]]:
    """Messages (a BATCH message as its file's position) and each file's bytes, in the order they were named."""
    out = io.StringIO()
    with tempfile.TemporaryDirectory() as root, pytest.MonkeyPatch.context() as patch:
        patch.setattr(_PagedStream, "pages", pages)
        patch.setattr(_PagedStream, "use_pages", use_pages)
        patch.setattr(_PagedStream, "pages_plain", plain)
        patch.setenv("XLR8_TAP_SDK_RECORD_LOOP", "1" if sdk_loop else "0")
        batch = {"encoding": {"format": "jsonl", "compression": "none"}, "storage": {"root": root}, "batch_size": size}
        tap = _PagedTap(config={"batch_config": batch}, parse_env_config=False)
        assert tap.streams["paged"]._plain_record_loop is not sdk_loop
        with redirect_stdout(out):
            tap.sync_all()
        messages: list[t.Any] = []
        files: list[bytes] = []
        for line in out.getvalue().splitlines():
            message = json.loads(line)
            if message["type"] == "BATCH":
                for url in message["manifest"]:
                    files.append(Path(url.removeprefix("file://")).read_bytes())
                messages.append(("BATCH", len(files)))
                continue
            for bookmark in message.get("value", {}).get("bookmarks", {}).values():
                bookmark.pop("replication_key_signpost", None)
            messages.append(message)
        assert sorted(p.name for p in Path(root).iterdir() if p.name.startswith(".")) == []  # no partial file left
    return messages, files


def _pulled_files(pages: list[list[dict[str, t.Any]]], size: int, plain: bool) -> list[bytes]:
    """The files of ``get_batches`` on the plain loop: the path the kit took before ``BatchSink`` (records pulled
    one at a time from the loop, conformed and encoded in blocks)."""
    with tempfile.TemporaryDirectory() as root, pytest.MonkeyPatch.context() as patch:
        patch.setattr(_PagedStream, "pages", pages)
        patch.setattr(_PagedStream, "pages_plain", plain)
        patch.setenv("XLR8_TAP_SDK_RECORD_LOOP", "0")
        batch = {"encoding": {"format": "jsonl", "compression": "none"}, "storage": {"root": root}, "batch_size": size}
        stream = _PagedTap(config={"batch_config": batch}, parse_env_config=False).streams["paged"]
        assert stream._plain_record_loop
        with redirect_stdout(io.StringIO()):
            named = [url for _, urls in stream.get_batches(BatchConfig.from_dict(batch)) for url in urls]
        return [Path(url.removeprefix("file://")).read_bytes() for url in named]


names = st.one_of(st.just("é"), st.just("half \ud800 a surrogate"), st.text(max_size=3))


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 7), max_size=6),
    size=st.integers(1, 8),
    plain=st.booleans(),
    name=names,
)
def test_batch_files_from_pages_are_those_of_the_record_loop_and_of_the_sdk_loop(
    sizes: list[int], size: int, plain: bool, name: str
) -> None:
    """Pages cut at file ends (and the state step declining some): the same files, BATCH and STATE messages in
    the same order with the same state, as the plain loop record by record and the SDK's own loop and batcher; the
    same files as the records pulled from the plain loop (``get_batches``, the kit's path before the sink)."""
    pages, n = _pages_of(sizes, name)
    _same_files_and_state_on_every_path(
        pages, size, plain, expected=[size] * (n // size) + ([n % size] if n % size else [])
    )


def _same_files_and_state_on_every_path(
    pages: list[list[dict[str, t.Any]]], size: int, plain: bool, *, expected: list[int]
) -> None:
    """The plain loop over pages, record by record, the SDK's loop and ``get_batches`` write the same files (of
    ``expected`` records each) and the same BATCH and STATE messages; every STATE's bookmark is the last value of the
    files named before it."""
    by_page = _sync_batch(pages, size, use_pages=True, sdk_loop=False, plain=plain)
    assert by_page == _sync_batch(pages, size, use_pages=False, sdk_loop=False, plain=plain)
    assert by_page == _sync_batch(pages, size, use_pages=True, sdk_loop=True, plain=plain)
    messages, files = by_page
    assert files == _pulled_files(pages, size, plain)
    assert [len(f.splitlines()) for f in files] == expected
    assert not [m for m in messages if type(m) is dict and m["type"] == "RECORD"]
    named: list[str] = []
    for message in messages:
        if type(message) is tuple:
            named += [json.loads(line)["updated"] for line in files[message[1] - 1].splitlines()]
        elif message["type"] == "STATE":
            assert message["value"]["bookmarks"]["paged"].get("replication_key_value") == (named[-1] if named else None)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 9), max_size=7),
    first=st.integers(1, 4),
    size=st.integers(1, 12),
    plain=st.booleans(),
)
def test_batch_files_grow_from_the_first_file_to_batch_size_on_every_path(
    sizes: list[int], first: int, size: int, plain: bool
) -> None:
    """``batch_size`` above ``FIRST_FILE_RECORDS``: the first file holds ``FIRST_FILE_RECORDS``, each next one twice
    the one before, up to ``batch_size`` (``batching.file_sizes``), with its BATCH and STATE messages, the same on
    every path (pages cut where a file ends)."""
    pages, n = _pages_of(sizes)
    expected, file_size = [], min(first, size)
    while sum(expected) < n:
        expected.append(min(file_size, n - sum(expected)))
        file_size = min(size, file_size * 2)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batching, "FIRST_FILE_RECORDS", first)
        _same_files_and_state_on_every_path(pages, size, plain, expected=expected)
