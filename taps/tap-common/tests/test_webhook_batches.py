"""``webhook_events`` in BATCH mode, through the console scripts as Meltano runs them: its files are the kit's, as
every other stream's (``xlr8_kit.batching``). The first holds ``FIRST_FILE_RECORDS`` events, each next one twice
the one before up to ``batch_size``; plain ``.jsonl`` when ``compression`` is ``none``; each BATCH message followed
by the STATE covering exactly the events named so far; the files hold the records a RECORD run writes, in order;
and ``target-xlr8-truths`` lands every event once. (It wrote the SDK's flat, always gzipped files before.)"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import duckdb

from xlr8_kit.batching import FIRST_FILE_RECORDS
from xlr8_kit.testing.meltano_e2e import truths_table
from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_tap_common.tap import TapCommon

from .conftest import common_config, stored_events

BIN = Path(sys.executable).parent
STREAM = "webhook_events"
EVENTS = 65_000
BATCH_SIZE = 30_000
PROJECT = "6f1c2a9e-5a4d-4b8e-9c1f-0a5d5a4d0b01"


def test_webhook_events_batch_files_grow_to_batch_size_and_land_every_event(url: str, tmp_path: Path) -> None:
    assert FIRST_FILE_RECORDS == 10_000  # the sizes below
    store = tmp_path / "events.db"
    stored_events(store, range(EVENTS))
    batches = tmp_path / "batches"
    config = common_config(url, webhook_store_path=str(store))
    found = TapCommon(config=config, parse_env_config=False).catalog_dict
    catalog = write_json(tmp_path / "catalog.json", select_streams(found, {STREAM}))
    by_record = run_tap_cli("tap-common", ["--config", write_json(tmp_path / "tap.json", config), "--catalog", catalog],
                            tmp_path)  # fmt: skip
    assert by_record.returncode == 0, by_record.stderr[-2000:]
    batch_config = {"encoding": {"format": "jsonl", "compression": "none"}, "storage": {"root": batches.as_uri()},
                    "batch_size": BATCH_SIZE}  # fmt: skip
    tap_config = write_json(tmp_path / "tap-batch.json", {**config, "batch_config": batch_config})
    by_batch = run_tap_cli("tap-common", ["--config", tap_config, "--catalog", catalog], tmp_path)
    assert by_batch.returncode == 0, by_batch.stderr[-2000:]

    messages = parse_singer_messages(by_batch.stdout)
    assert not [m for m in messages if m["type"] == "RECORD"]
    files: list[list[str]] = []
    named: list[int] = []  # seq of every event named so far
    for before, message in itertools.pairwise(messages):
        if before["type"] == "BATCH":
            assert message["type"] == "STATE"  # each file's STATE right after its BATCH message
            [file_url] = before["manifest"]
            assert file_url.endswith(".jsonl")  # compression "none": plain JSON lines
            lines = Path(file_url.removeprefix("file://")).read_text().splitlines()
            files.append(lines)
            named += [json.loads(line)["seq"] for line in lines]
            assert message["value"]["bookmarks"][STREAM]["replication_key_value"] == max(named)  # not past them
    assert [len(lines) for lines in files] == [10_000, 20_000, 30_000, 5_000]
    records = [m["record"] for m in parse_singer_messages(by_record.stdout) if m["type"] == "RECORD"]
    assert [json.loads(line) for lines in files for line in lines] == records
    assert messages[-1]["type"] == "STATE"
    assert messages[-1]["value"]["bookmarks"][STREAM]["replication_key_value"] == EVENTS

    truths = tmp_path / "truths.duckdb"
    target_config = write_json(tmp_path / "target.json", {"project_id": PROJECT, "duckdb_path": str(truths),
                                                          "batch_locations": [str(batches)]})  # fmt: skip
    landed = subprocess.run(
        [str(BIN / "target-xlr8-truths"), "--config", target_config],
        input=by_batch.stdout,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert landed.returncode == 0, landed.stderr[-2000:]
    relayed = [json.loads(line) for line in landed.stdout.splitlines() if line.strip()]
    assert relayed[-1]["bookmarks"][STREAM]["replication_key_value"] == EVENTS
    with duckdb.connect(str(truths), read_only=True) as conn:
        table = truths_table(conn, "common", STREAM)
        rows = conn.execute(f'SELECT count(*), count(DISTINCT "event_id"), max("seq") FROM "{table}"').fetchall()
    assert rows == [(EVENTS, EVENTS, EVENTS)]
