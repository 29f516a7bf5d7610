"""BATCH files written by the kit: JSON lines encoded by msgspec, state only ever behind what a BATCH message names.

The SDK's own JSON-lines batcher (singer-sdk 0.54.9, pinned) encodes every record with simplejson (pure Python for
Decimals), always gzips whatever ``encoding.compression`` says, and writes the records as the stream produced them:
without the catalog's projection, the type conformance or the stream maps that RECORD messages go through. Here:

- each record goes through the stream's own ``_generate_record_messages`` (projection, conformance, stream map), so
  a file holds exactly the ``record`` of the RECORD messages the stream would have written;
- records of the plain types (``xlr8_kit.singer_io._is_plain``: str, int, bool, None, Decimal, nested dicts/lists)
  are encoded by msgspec in one call per block; any other record by the SDK's ``serialize_json``. Both decode
  (``json.loads(parse_float=Decimal)``, DuckDB's reader) to the same values;
- ``encoding.compression`` is honoured: ``none`` (or unset) writes plain ``.jsonl``, ``gzip`` writes ``.jsonl.gz``;
- a local file is written under a temporary name and renamed when complete, so a target never reads half a file,
  and a failure removes it;
- the SDK emits STATE right after each BATCH message, and the stream's bookmark then covers exactly the records of
  the files already named (the record loop is suspended at the last record of the file). A stream in a
  parent/child relation syncs with RECORD messages instead: a child's STATE would otherwise carry the parent's
  bookmark past records still in an unwritten file, and a child would write one file per parent record;
- a resumable stop (``AbortedSyncPausedException``: the SDK's dry-run record limit, ``--test``) names the records
  read so far in a last file before it propagates. (The SDK writes its STATE just before raising it, so in a dry run
  that STATE precedes the last BATCH message; the SDK's targets hold STATE until a drain, after the file is loaded.)
"""

from __future__ import annotations

import gzip
import os
import typing as t
import uuid
from pathlib import Path
from urllib.parse import unquote, urlparse

import msgspec
from singer_sdk.exceptions import AbortedSyncPausedException
from singer_sdk.singerlib.json import serialize_json

from xlr8_kit.singer_io import _is_plain

if t.TYPE_CHECKING:
    from singer_sdk import Stream
    from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig

    _StreamBase = Stream
else:
    _StreamBase = object

#: Records encoded by one msgspec call (bounded memory, few Python-level steps).
ENCODE_BLOCK = 1000
#: Bytes held before one write to the file.
WRITE_BYTES = 1 << 20

_ENCODER = msgspec.json.Encoder(decimal_format="number")


def encode_lines(records: list[dict[str, t.Any]]) -> bytes:
    """JSON lines for ``records``, in order: msgspec for plain records, the SDK's serializer for the rest (and for
    any record msgspec refuses, such as a string holding a lone surrogate)."""
    out = bytearray()
    plain: list[dict[str, t.Any]] = []

    def flush_plain() -> None:
        if not plain:
            return
        try:
            out.extend(_ENCODER.encode_lines(plain))
        except (UnicodeEncodeError, msgspec.EncodeError, OverflowError, TypeError):
            for record in plain:
                out.extend(_sdk_line(record))
        plain.clear()

    for record in records:
        if _is_plain(record):
            plain.append(record)
        else:
            flush_plain()
            out.extend(_sdk_line(record))
    flush_plain()
    return bytes(out)


def _sdk_line(record: dict[str, t.Any]) -> bytes:
    return (serialize_json(record) + "\n").encode()


def _local_root(root: str) -> Path | None:
    """The directory of a ``file://`` URL or plain path; None for any other storage (fsspec handles those)."""
    parsed = urlparse(root)
    if parsed.scheme == "" or (parsed.scheme == "file" and parsed.netloc in ("", "localhost")):
        return Path(unquote(parsed.path) if parsed.scheme else root).expanduser().resolve()
    return None


class BatchFileWriter:
    """Writes one stream's batch files (one per ``batch_size`` records) and returns each file's URL."""

    def __init__(self, tap_name: str, stream_name: str, batch_config: BatchConfig) -> None:
        self.config = batch_config
        self.gzip = batch_config.encoding.compression == "gzip"
        prefix = batch_config.storage.prefix or ""
        self.stem = f"{prefix}{tap_name}--{stream_name}-{uuid.uuid4()}"
        self.local = _local_root(batch_config.storage.root)

    def write(self, index: int, records: t.Iterable[dict[str, t.Any]]) -> str | None:
        """Write one file from ``records`` (already projected and conformed); None when there was no record."""
        name = f"{self.stem}-{index}" + (".json.gz" if self.gzip else ".jsonl")  # the SDK names gzip files .json.gz
        if self.local is None:
            with self.config.storage.open(name, "wb") as raw:
                written = self._write_to(raw, records)
            return self.config.storage.get_url(name) if written else None
        self.local.mkdir(parents=True, exist_ok=True)
        final = self.local / name
        partial = self.local / f".{name}.partial"
        try:
            with open(partial, "wb") as raw:
                written = self._write_to(raw, records)
            if not written:
                partial.unlink()
                return None
            os.replace(partial, final)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return final.as_uri()

    def _write_to(self, raw: t.IO[bytes], records: t.Iterable[dict[str, t.Any]]) -> int:
        out = t.cast("t.IO[bytes]", gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6)) if self.gzip else raw
        count = 0
        block: list[dict[str, t.Any]] = []
        pending = bytearray()
        try:
            for record in records:
                block.append(record)
                count += 1
                if len(block) >= ENCODE_BLOCK:
                    pending.extend(encode_lines(block))
                    block.clear()
                    if len(pending) >= WRITE_BYTES:
                        out.write(pending)
                        pending.clear()
            pending.extend(encode_lines(block))
            out.write(pending)
        finally:
            if self.gzip:
                out.close()
        return count


class KitBatchingMixin(_StreamBase):
    """BATCH mode for a kit stream (mixed into ``KitRESTStream``); see the module docstring."""

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
        with self.get_batch_counter() as counter:
            for encoding, manifest in self.get_batches(batch_config, context):
                counter.increment()
                self._write_batch_message(encoding=encoding, manifest=manifest)
                self._write_state_message()  # covers exactly the records of the files named so far
        self._write_state_message()  # a stream without records still reports its (finalized) state

    def get_batches(
        self, batch_config: BatchConfig, context: t.Any = None
    ) -> t.Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        writer = BatchFileWriter(self.tap_name, self.name, batch_config)
        records = iter(self._sync_records(context, write_messages=False))
        # On the kit's plain record loop (xlr8_kit.rest) the record message would carry the conformed record
        # itself: no projection, identity stream map. Anything else builds the messages.
        conform = getattr(self, "_conformer", None) if getattr(self, "_plain_record_loop", False) else None
        size = max(1, int(batch_config.batch_size))
        index = 0
        exhausted = False
        paused: AbortedSyncPausedException | None = None

        def one_file() -> t.Iterator[dict[str, t.Any]]:
            nonlocal exhausted, paused
            taken = 0
            while taken < size:
                try:
                    record = next(records, None)
                except AbortedSyncPausedException as exc:  # a resumable stop: name what was read, then stop
                    paused = exc
                    record = None
                if record is None:
                    exhausted = True
                    return
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
