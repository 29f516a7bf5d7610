"""BATCH files of a long read: the first holds ``FIRST_FILE_RECORDS`` (the target starts loading early), each next one
twice the one before up to ``batch_size`` (fewer files for the target and Meltano to handle per run), over the REST
and Bulk paths against the emulator. Each file is named by a BATCH message followed by the STATE that covers exactly
the records named so far, and the files hold the records a RECORD run writes, in order."""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import pytest

from xlr8_kit.batching import FIRST_FILE_RECORDS

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
            assert message["type"] == "STATE"  # each file's STATE right after its BATCH message
            [url] = before["manifest"]
            lines = Path(url.removeprefix("file://")).read_text().splitlines()
            files.append(lines)
            named += [json.loads(line)["SystemModstamp"] for line in lines]
            bookmark = message["value"]["bookmarks"]["Account"]
            assert bookmark["replication_key_value"] == max(named)  # no further than the records named
    assert [len(lines) for lines in files] == [10_000, 20_000, 5_000]
    assert not by_batch.of_type("RECORD")
    records = by_record.records("Account")
    assert len(records) == ROWS
    assert [_exact(line) for lines in files for line in lines] == [_exact(json.dumps(r)) for r in records]
    assert by_batch.state["bookmarks"]["Account"] == by_record.state["bookmarks"]["Account"]
