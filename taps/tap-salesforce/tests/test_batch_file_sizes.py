"""BATCH files of a long read: the first holds ``FIRST_FILE_RECORDS`` (the target starts loading early), each next one
twice the one before up to ``batch_size`` (fewer files for the target and Meltano to handle per run), over the REST
and Bulk paths against the emulator. Each file is named by a BATCH message followed by the STATE that covers exactly
the records named so far, and the files hold the records a RECORD run writes, in order."""

from __future__ import annotations

import copy
import itertools
import json
import typing as t
from pathlib import Path

import pytest

from xlr8_kit.batching import FIRST_FILE_RECORDS
from xlr8_kit.testing.singer_cli import select_streams
from xlr8_tap_salesforce.tap import TapSalesforce

ROWS = 35_000


def _exact(line: str) -> t.Any:
    """A JSON text's value, numbers kept as their text."""
    return json.loads(line, parse_float=str, parse_int=str)


@pytest.mark.parametrize("api_type", ["rest", "bulk"])
def test_batch_files_grow_from_the_first_file_to_batch_size(sf: t.Any, tmp_path: Path, api_type: str) -> None:
    assert FIRST_FILE_RECORDS == 10_000  # the sizes below
    with sf.start_sandbox({"Account": ROWS}) as sandbox:
        config = sf.password_config(sandbox, objects=["Account"], api_type=api_type)
        by_record = sf.run_tap(config)
        storage = {"root": tmp_path.as_uri()}
        batch_config = {
            "encoding": {"format": "jsonl", "compression": "none"},
            "storage": storage,
            "batch_size": 20_000,
        }
        by_batch = sf.run_tap({**config, "batch_config": batch_config})
    files: list[list[str]] = []
    named: list[str] = []  # SystemModstamp of every record named so far
    for before, message in zip(by_batch.messages, by_batch.messages[1:], strict=False):
        if before["type"] == "BATCH":
            [url] = before["manifest"]
            lines = Path(url.removeprefix("file://")).read_text().splitlines()
            files.append(lines)
            named += [json.loads(line)["SystemModstamp"] for line in lines]
            if api_type == "rest":
                assert message["type"] == "STATE"  # each file's STATE right after its BATCH message
                bookmark = message["value"]["bookmarks"]["Account"]
                assert bookmark["replication_key_value"] == max(named)  # no further than the records named
            elif message["type"] == "STATE":  # Bulk rows come unsorted: the bookmark moves once, at the job's end
                bookmark = message["value"]["bookmarks"]["Account"]
                assert bookmark.get("replication_key_value", "") <= max(named)
    assert [len(lines) for lines in files] == [10_000, 20_000, 5_000]
    assert not by_batch.of_type("RECORD")
    records = by_record.records("Account")
    assert len(records) == ROWS
    assert [_exact(line) for lines in files for line in lines] == [_exact(json.dumps(r)) for r in records]
    assert by_batch.state["bookmarks"]["Account"] == by_record.state["bookmarks"]["Account"]


def _deselected(catalog: dict[str, t.Any], streams: set[str]) -> dict[str, str]:
    """Selects exactly ``streams`` in ``catalog`` (in place), each less one property it offers (the first optional
    one by name); returns the property deselected per stream."""
    select_streams(catalog, streams)
    dropped: dict[str, str] = {}
    for stream in catalog["streams"]:
        if stream["tap_stream_id"] not in streams:
            continue
        entries = sorted(
            (e for e in stream["metadata"] if e["breadcrumb"][:1] == ["properties"]), key=lambda e: e["breadcrumb"]
        )
        entry = next(e for e in entries if e["metadata"].get("inclusion") == "available")
        entry["metadata"]["selected"] = False
        dropped[stream["tap_stream_id"]] = entry["breadcrumb"][1]
    return dropped


def test_batch_files_grow_per_stream_on_the_sdk_record_loop(sf: t.Any, tmp_path: Path) -> None:
    """A property deselected turns the kit's plain loop off (``KitRESTStream._plain_record_loop``): the files are
    written by ``KitBatchingMixin.get_batches`` over the SDK's record loop. Sizes grow from ``FIRST_FILE_RECORDS``
    to ``batch_size`` and stop there, and start again for the next stream; each BATCH is followed by the STATE of
    exactly the records named; every record once, projected as its RECORD line (review 19c: only the kit's
    hypothesis test guarded this path, a flat ``get_batches`` passed the test above)."""
    assert FIRST_FILE_RECORDS == 10_000  # the sizes below
    counts = {"Account": 65_000, "Contact": 15_000}
    with sf.start_sandbox(counts) as sandbox:
        config = sf.password_config(sandbox, objects=list(counts), api_type="rest")
        catalog = TapSalesforce(config=config, parse_env_config=False).catalog_dict
        dropped = _deselected(catalog, set(counts))
        by_record = sf.run_tap(config, catalog=copy.deepcopy(catalog))
        batch_config = {
            "encoding": {"format": "jsonl", "compression": "none"},
            "storage": {"root": tmp_path.as_uri()},
            "batch_size": 30_000,
        }
        by_batch = sf.run_tap({**config, "batch_config": batch_config}, catalog=copy.deepcopy(catalog))
    assert not by_batch.of_type("RECORD")
    sizes: dict[str, list[int]] = {}
    named: dict[str, list[str]] = {}  # per stream, SystemModstamp of every record named so far
    lines_of: dict[str, list[str]] = {}
    for before, message in itertools.pairwise(by_batch.messages):
        if before["type"] == "BATCH":
            assert message["type"] == "STATE"  # each file's STATE right after its BATCH message
            stream = before["stream"]
            [url] = before["manifest"]
            lines = Path(url.removeprefix("file://")).read_text().splitlines()
            sizes.setdefault(stream, []).append(len(lines))
            lines_of.setdefault(stream, []).extend(lines)
            named.setdefault(stream, []).extend(json.loads(line)["SystemModstamp"] for line in lines)
            bookmark = message["value"]["bookmarks"][stream]
            assert bookmark["replication_key_value"] == max(named[stream])  # no further than the records named
    assert sizes == {"Account": [10_000, 20_000, 30_000, 5_000], "Contact": [10_000, 5_000]}
    for stream, count in counts.items():
        records = by_record.records(stream)
        assert len(records) == count
        assert dropped[stream] not in records[0]  # projected out, in the RECORD lines as in the files
        assert [_exact(line) for line in lines_of[stream]] == [_exact(json.dumps(r)) for r in records]
        assert by_batch.state["bookmarks"][stream] == by_record.state["bookmarks"][stream]
