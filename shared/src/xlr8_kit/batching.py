"""BATCH files written by the kit: JSON lines encoded by msgspec, state only ever behind what a BATCH message names.

The SDK's own JSON-lines batcher (singer-sdk 0.54.9, pinned) encodes every record with simplejson (pure Python for
Decimals), always gzips whatever ``encoding.compression`` says, and writes the records as the stream produced them:
without the catalog's projection, the type conformance or the stream maps that RECORD messages go through. Here:

- each record goes through the stream's own ``_generate_record_messages`` (projection, conformance, stream map), so
  a file holds exactly the ``record`` of the RECORD messages the stream would have written; on the kit's plain
  record loop (``xlr8_kit.rest``) the loop itself writes the files (``BatchSink``): the pages the stream reads,
  encoded a page at a time, with the state advanced a page at a time, as it writes RECORD lines;
- records of the plain types (``xlr8_kit.singer_io._is_plain``: str, int, bool, None, Decimal, nested dicts/lists)
  are encoded by msgspec in one call per block; any other record by the SDK's ``serialize_json``. Both decode
  (``json.loads(parse_float=Decimal)``, DuckDB's reader) to the same values;
- ``encoding.compression`` is honoured: ``none`` (or unset) writes plain ``.jsonl``, ``gzip`` writes ``.jsonl.gz``;
- a local file is written under a temporary name and renamed when complete, so a target never reads half a file,
  and a failure removes it;
- the SDK emits STATE right after each BATCH message, and the stream's bookmark then covers exactly the records of
  the files already named (the record loop is suspended at the last record of the file). Here that STATE is held
  until the read goes on past the file (its next record): the STATE after the read's last file covers the whole
  read, and the read's announcements (ACTIVATE_VERSION, ``_xlr8_sets_read``), which go out only once the read
  ended, must come before it (a target stopped between the two kept the STATE and lost them for good: the next
  run starts past those records). A stream in a
  parent/child relation syncs with RECORD messages instead: a child's STATE would otherwise carry the parent's
  bookmark past records still in an unwritten file, and a child would write one file per parent record;
- a resumable stop (``AbortedSyncPausedException``: the SDK's dry-run record limit, ``--test``) names the records
  read so far in a last file before it propagates. (The SDK writes its STATE just before raising it, so in a dry run
  that STATE precedes the last BATCH message; the SDK's targets hold STATE until a drain, after the file is loaded.)
"""

from __future__ import annotations

import copy
import gzip
import logging
import os
import typing as t
import uuid
from contextlib import ExitStack, suppress
from pathlib import Path
from urllib.parse import unquote, urlparse

import msgspec
from singer_sdk.exceptions import AbortedSyncPausedException
from singer_sdk.singerlib.json import serialize_json

from xlr8_kit.batch_files import owner_tag, private_dir, remove_stale
from xlr8_kit.singer_io import _is_plain, sdk_record

LOGGER = logging.getLogger(__name__)

if t.TYPE_CHECKING:
    from singer_sdk import Stream
    from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig
    from singer_sdk.helpers.types import TapState

    _StreamBase = Stream
else:
    _StreamBase = object

#: Records encoded by one msgspec call (bounded memory, few Python-level steps).
ENCODE_BLOCK = 1000
#: Records in a stream's first BATCH file when ``batch_size`` is larger: the target starts loading early, and each
#: later file doubles up to ``batch_size``, so a long stream costs the target and Meltano fewer per-file steps
#: (``file_sizes``).
FIRST_FILE_RECORDS = 10_000
#: Bytes held before one write to the file.
WRITE_BYTES = 1 << 20

_ENCODER = msgspec.json.Encoder(decimal_format="number")


def encode_lines(records: list[dict[str, t.Any]], plain: bool = False) -> bytes:
    """JSON lines for ``records``, in order: msgspec for plain records, the SDK's serializer for the rest (and for
    any record msgspec refuses, such as a string holding a lone surrogate). ``plain``: the caller knows every record
    is plain (``_is_plain`` is not asked again), as the kit's plain loop knows for a stream's vouched pages."""
    if plain:
        try:
            return _ENCODER.encode_lines(records)
        except (UnicodeEncodeError, msgspec.EncodeError, OverflowError, TypeError):
            pass  # one record at a time below, as for records not known plain
    out = bytearray()
    pending: list[dict[str, t.Any]] = []

    def flush_plain() -> None:
        if not pending:
            return
        try:
            out.extend(_ENCODER.encode_lines(pending))
        except (UnicodeEncodeError, msgspec.EncodeError, OverflowError, TypeError):
            for record in pending:
                out.extend(_sdk_line(record))
        pending.clear()

    for record in records:
        if plain or _is_plain(record):
            pending.append(record)
        else:
            flush_plain()
            out.extend(_sdk_line(record))
    flush_plain()
    return bytes(out)


def _sdk_line(record: dict[str, t.Any]) -> bytes:
    """The SDK serializer's line for ``record``, as the SDK loop's record (``sdk_record``: no struct, no Raw)."""
    return (serialize_json(sdk_record(record)) + "\n").encode()


def file_sizes(batch_size: int) -> t.Iterator[int]:
    """Records per BATCH file, file after file: ``FIRST_FILE_RECORDS`` (or ``batch_size`` when smaller), doubling up
    to ``batch_size``. The target loads a file only once it is complete, so small first files keep it from idling
    while the tap reads; at 500,000 Contacts its CPU per run fell 17% with 50,000-record files instead of 10,000
    (fewer commits, checkpoint checks and STATE relays), so the later files grow."""
    most = max(1, int(batch_size))
    size = min(most, FIRST_FILE_RECORDS)
    while True:
        yield size
        size = min(most, size * 2)


def _local_root(root: str) -> Path | None:
    """The directory of a ``file://`` URL or plain path; None for any other storage (fsspec handles those)."""
    parsed = urlparse(root)
    if parsed.scheme == "" or (parsed.scheme == "file" and parsed.netloc in ("", "localhost")):
        return Path(unquote(parsed.path) if parsed.scheme else root).expanduser().resolve()
    return None


#: Batch folders this process made private and cleared of killed runs' files (once each).
_PREPARED: set[Path] = set()


def prepare_folder(directory: Path) -> int:
    """Once per process and folder, before its first file: the folder 0700 (``private_dir``) and the files killed
    runs left in it removed (``remove_stale``); returns how many were."""
    if directory in _PREPARED:
        return 0
    private_dir(directory)
    _PREPARED.add(directory)
    return remove_stale(directory)


def private_file(path: Path) -> t.IO[bytes]:
    """``path`` opened for writing, readable by its owner alone (0600; a directory created for it 0700): a batch
    file holds the records in clear, personal data included, and was 0644 under the usual umask (audit25e F20)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)  # a file left by an earlier run under the same name keeps its mode otherwise
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


class BatchFileWriter:
    """Writes one stream's batch files (sized by ``file_sizes``) and returns each file's URL."""

    def __init__(self, tap_name: str, stream_name: str, batch_config: BatchConfig) -> None:
        self.config = batch_config
        self.gzip = batch_config.encoding.compression == "gzip"
        prefix = batch_config.storage.prefix or ""
        self.stem = f"{prefix}{tap_name}--{stream_name}-{uuid.uuid4()}{owner_tag()}"
        self.local = _local_root(batch_config.storage.root)
        if self.local is not None:
            removed = prepare_folder(self.local)
            if removed:
                LOGGER.info("Removed %d batch file(s) left in %s by killed runs", removed, self.local)

    def open(self, index: int) -> BatchFile:
        """File number ``index``, created when its first lines arrive."""
        name = f"{self.stem}-{index}" + (".json.gz" if self.gzip else ".jsonl")  # the SDK names gzip files .json.gz
        return BatchFile(self, name)

    def write(self, index: int, records: t.Iterable[dict[str, t.Any]]) -> str | None:
        """Write one file from ``records`` (already projected and conformed); None when there was no record."""
        file = self.open(index)
        try:
            block: list[dict[str, t.Any]] = []
            for record in records:
                block.append(record)
                if len(block) >= ENCODE_BLOCK:
                    file.add(encode_lines(block), len(block))
                    block.clear()
            file.add(encode_lines(block), len(block))
        except BaseException:
            file.discard()
            raise
        return file.finish()


class BatchFile:
    """One batch file: lines added in blocks, then ``finish`` (a local file is renamed into place only then, so a
    target never reads half a file) or ``discard`` (a failure: a local file is removed)."""

    def __init__(self, writer: BatchFileWriter, name: str) -> None:
        self.writer = writer
        self.name = name
        self.records = 0
        self._pending = bytearray()
        self._files = ExitStack()
        self._out: t.IO[bytes] | None = None
        self._partial: Path | None = None

    def add(self, lines: bytes, records: int) -> None:
        """``records`` records' JSON lines, in order."""
        self.records += records
        self._pending += lines
        if len(self._pending) >= WRITE_BYTES:
            self._write()

    def _write(self) -> None:
        if self._out is None:
            writer = self.writer
            raw: t.IO[bytes]
            if writer.local is None:
                raw = self._files.enter_context(writer.config.storage.open(self.name, "wb"))
            else:
                self._partial = writer.local / f".{self.name}.partial"
                raw = self._files.enter_context(private_file(self._partial))
            if writer.gzip:
                raw = t.cast(
                    "t.IO[bytes]", self._files.enter_context(gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6))
                )
            self._out = raw
        self._out.write(self._pending)
        self._pending.clear()

    def finish(self) -> str | None:
        """The file's URL once complete; None (nothing created) when it holds no record."""
        if not self.records:
            return None
        writer = self.writer
        try:
            self._write()
            self._files.close()
            if self._partial is None:
                return writer.config.storage.get_url(self.name)
            assert writer.local is not None
            final = writer.local / self.name
            os.replace(self._partial, final)
        except BaseException:
            self.discard()
            raise
        return final.as_uri()

    def discard(self) -> None:
        """Give the file up (a failure): closed, and a local one removed."""
        self._pending.clear()
        self._files.close()
        if self._partial is not None:
            self._partial.unlink(missing_ok=True)


def write_batch_message(stream: KitBatchingMixin, encoding: BaseBatchFileEncoding, manifest: list[str]) -> None:
    """The BATCH message naming ``manifest``; when it cannot be written (the target has gone: a broken pipe) its
    local files are removed, since no reader will ever be told of them (audit25e F20: a failed run left them, in
    clear, for good). The records are read again from the source on the next run: no STATE past them went out."""
    try:
        stream._write_batch_message(encoding=encoding, manifest=manifest)
    except BaseException:
        for url in manifest:
            parsed = urlparse(url)
            if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
                Path(unquote(parsed.path)).unlink(missing_ok=True)
        raise


class BatchSink:
    """The kit's plain record loop (``KitRESTStream._sync_plain_records``) writing BATCH files instead of RECORD
    lines: the records it would write, encoded a page (or ``ENCODE_BLOCK`` records) at a time, a file cut after
    ``next_size()`` records (``file_sizes``). At a cut the loop has advanced the state through the file's last
    record; the BATCH message goes out and the STATE is held until records for the next file come
    (``KitBatchingMixin._hold_state``), as ``KitBatchingMixin._sync_batches`` does on the SDK's loop; ``close``
    names the last file after the loop has finalized the state."""

    def __init__(self, stream: KitBatchingMixin, batch_config: BatchConfig, counter: t.Any) -> None:
        self.stream = stream
        self.encoding = batch_config.encoding
        self.writer = BatchFileWriter(stream.tap_name, stream.name, batch_config)
        self.sizes = file_sizes(batch_config.batch_size)
        self.counter = counter
        self.index = 0
        self.file: BatchFile | None = None
        self.block: list[dict[str, t.Any]] = []
        self.block_plain = False

    def next_size(self) -> int:
        """Records in the next file (``file_sizes``): the loop cuts it after that many more records."""
        return next(self.sizes)

    def _current(self) -> BatchFile:
        if self.file is None:
            # The read went on past the files named (records for a next file came): their held STATE goes out
            # now, before the next BATCH message, as on the SDK's loop (``KitBatchingMixin._hold_state``); once per
            # file, not per record.
            self.stream._release_state()
            self.index += 1
            self.file = self.writer.open(self.index)
        return self.file

    def emit(self, record: dict[str, t.Any], plain: bool = False) -> None:
        if plain is not self.block_plain:
            self._flush_block()
            self.block_plain = plain
        self.block.append(record)
        if len(self.block) >= ENCODE_BLOCK:
            self._flush_block()

    def emit_page(self, records: list[dict[str, t.Any]], plain: bool = False) -> None:
        self._flush_block()
        self._current().add(encode_lines(records, plain), len(records))

    def _flush_block(self) -> None:
        if self.block:
            self._current().add(encode_lines(self.block, self.block_plain), len(self.block))
            self.block.clear()

    def cut(self) -> None:
        """Finish the file and name it (BATCH; its STATE held until the next record: ``_hold_state``)."""
        self._flush_block()
        file, self.file = self.file, None
        url = file.finish() if file is not None else None
        if url is not None:
            self.counter.increment()
            write_batch_message(self.stream, self.encoding, [url])
            self.stream._hold_state()  # covers exactly the records of the files named so far

    close = cut

    def discard(self) -> None:
        """A failure: the file being written is given up (never named)."""
        self.block.clear()
        if self.file is not None:
            self.file.discard()
            self.file = None


class KitBatchingMixin(_StreamBase):
    """BATCH mode for a kit stream (mixed into ``KitRESTStream``); see the module docstring."""

    #: The STATE as of the files named so far, held until the read goes on past them (``_hold_state``): this
    #: stream's bookmark entry (its key, a copy), or, when the entry is not found under the bookmarks, the state.
    _xlr8_held_state: tuple[str, dict] | TapState | None = None

    def _hold_state(self) -> None:
        """After a file is named: the STATE covering it waits for the read's next record (``_release_state``).
        When none comes the file was the read's last, and the read's announcements go out before the final STATE
        (``_sync_batches``). Nothing is written to stdout in between (records go to files), so the message order
        is that of the SDK's loop but for the last file's STATE. Only this stream's entry is copied: nothing else
        of the tap state changes while it reads (streams sync one after another), and a copy of the whole state
        per file cost seconds with a large state, such as another stream's many partitions (review27f L6)."""
        entry = self.stream_state  # the stream's entry exists, as ``_write_state_message`` ensures
        bookmarks = self.tap_state.get("bookmarks") or {}
        key = next((k for k, v in bookmarks.items() if v is entry), None)
        self._xlr8_held_state = copy.deepcopy(self.tap_state) if key is None else (key, copy.deepcopy(entry))

    def _release_state(self) -> None:
        """The held STATE out (the read went on past its files, or failed: as the SDK's loop sends it)."""
        held, self._xlr8_held_state = self._xlr8_held_state, None
        if isinstance(held, tuple):
            key, entry = held
            state = self.tap_state
            held = {**state, "bookmarks": {**state["bookmarks"], key: entry}}
        if held is not None:
            self._tap.state_writer.write_state(held)

    def batches_apply(self) -> bool:
        """Whether this stream can sync as BATCH files; otherwise it sends RECORD messages (logged)."""
        if self.parent_stream_type is not None:
            return False
        if any(child.selected or child.has_selected_descendents for child in self.child_streams):
            return False
        return all(stream_map.stream_alias == self.name for stream_map in self.stream_maps)

    def _sync_batches(self, batch_config: BatchConfig, context: t.Any = None) -> None:
        if not self.batches_apply():
            self.logger.info("%s: RECORD messages, not BATCH (parent/child stream or a renaming stream map)", self.name)
            for _ in self._sync_records(context=context):
                pass
            return
        self._xlr8_held_state = None
        begins = getattr(self, "_xlr8_read_begins", None)
        if begins is not None:  # the plain loop below does not pass through ``_sync_records``
            begins()
        try:
            with self.get_batch_counter() as counter:
                if context is None and getattr(self, "_plain_record_loop", False):
                    # The kit's plain loop writes the files itself: pages as the stream reads them, state a page
                    # at a time, and nothing between the stream and the file but the encoder.
                    sink = BatchSink(self, batch_config, counter)
                    try:
                        for _ in self._sync_plain_records(write_messages=False, sink=sink):  # type: ignore[attr-defined]
                            pass
                    finally:
                        sink.discard()
                else:
                    for encoding, manifest in self.get_batches(batch_config, context):
                        counter.increment()
                        write_batch_message(self, encoding, manifest)
                        self._hold_state()  # covers exactly the records of the files named so far
        except BaseException:
            with suppress(OSError):  # the target has gone (broken pipe): the failure raised says what happened
                self._release_state()  # a failed read announces nothing: its STATE goes out as the SDK sends it
            raise
        # The last file's STATE (held, superseded by the final one) never goes out: the read's announcements come
        # first, then the STATE that covers the whole read.
        self._xlr8_held_state = None
        activate = getattr(self, "_xlr8_activate_read_version", None)
        if activate is not None:  # after the last file, as ``xlr8_kit.rest.ActivateAtEndMixin`` holds it
            activate()
        self._write_state_message()  # covers the last file; a stream without records reports its state

    def get_batches(
        self, batch_config: BatchConfig, context: t.Any = None
    ) -> t.Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        writer = BatchFileWriter(self.tap_name, self.name, batch_config)
        records = iter(self._sync_records(context, write_messages=False))
        # On the kit's plain record loop (xlr8_kit.rest) the record message would carry the conformed record
        # itself: no projection, identity stream map. Anything else builds the messages.
        conform = getattr(self, "_conformer", None) if getattr(self, "_plain_record_loop", False) else None
        sizes = file_sizes(batch_config.batch_size)
        index = 0
        exhausted = False
        paused: AbortedSyncPausedException | None = None

        def one_file() -> t.Iterator[dict[str, t.Any]]:
            nonlocal exhausted, paused
            taken, size = 0, next(sizes)
            while taken < size:
                try:
                    record = next(records, None)
                except AbortedSyncPausedException as exc:  # a resumable stop: name what was read, then stop
                    paused = exc
                    record = None
                if record is None:
                    exhausted = True
                    return
                if not taken and self._xlr8_held_state is not None:  # the read goes on past the files named
                    self._release_state()
                taken += 1
                if conform is not None:
                    yield conform(record)
                    continue
                for message in self._generate_record_messages(record):
                    yield message.record

        while not exhausted:
            index += 1
            url = writer.write(index, one_file())
            if url is not None:
                yield batch_config.encoding, [url]
        if paused is not None:
            raise paused
