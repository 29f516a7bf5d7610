"""``webhook_events`` reads the receiver's store ``READ_BATCH`` rows at a time: the records and the STATE are the
store's events in ``seq`` order across batch boundaries (full and incremental, through the tap's console script),
and the memory the read holds does not grow with the store (it held every event at once before)."""

from __future__ import annotations

import json
import sqlite3
import tracemalloc
from pathlib import Path

from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_tap_common.tap import TapCommon
from xlr8_tap_common.webhooks import JOURNAL_SIZE_LIMIT, READ_BATCH, EventStore, read_events

from .conftest import common_config, stored_events

STREAM = "webhook_events"
EVENTS = 2 * READ_BATCH + 345  # two whole batches and a part


def _store_rows(path: Path, after: int) -> list[dict]:
    """The events as the store holds them, read here without the tap's code."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT seq, event_id, event_type, signed_at, received_at, payload FROM webhook_events WHERE seq > ? "
            "ORDER BY seq",
            (after,),
        ).fetchall()
    return [
        {"seq": s, "event_id": e, "event_type": k, "signed_at": t, "received_at": r.replace("Z", "+00:00"),
         "payload": json.loads(p)}
        for s, e, k, t, r, p in rows
    ]  # fmt: skip


def test_records_and_state_are_the_stores_events_across_read_batches(url: str, tmp_path: Path) -> None:
    assert READ_BATCH == 1000  # EVENTS spans three batches
    events = tmp_path / "events.db"
    stored_events(events, range(EVENTS))
    config = common_config(url, webhook_store_path=str(events))
    found = TapCommon(config=config, parse_env_config=False).catalog_dict
    args = ["--config", write_json(tmp_path / "tap.json", config),
            "--catalog", write_json(tmp_path / "catalog.json", select_streams(found, {STREAM}))]  # fmt: skip
    for after in (0, READ_BATCH - 1, READ_BATCH, EVENTS - 1, EVENTS):
        state = {"bookmarks": {STREAM: {"replication_key": "seq", "replication_key_value": after}}}
        extra = ["--state", write_json(tmp_path / f"state-{after}.json", state)] if after else []
        run = run_tap_cli("tap-common", [*args, *extra], tmp_path)
        assert run.returncode == 0, run.stderr[-2000:]
        messages = parse_singer_messages(run.stdout)
        records = [m["record"] for m in messages if m["type"] == "RECORD"]
        assert records == _store_rows(events, after), after
        assert len(records) == EVENTS - after
        final = [m for m in messages if m["type"] == "STATE"][-1]["value"]["bookmarks"][STREAM]
        assert final["replication_key_value"] == EVENTS, after


def _peak_while_reading(path: Path) -> tuple[int, int]:
    """(events read, the most memory Python held at once while reading them), one event kept at a time."""
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_events(path))
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_read_holds_a_batch_not_the_store(tmp_path: Path) -> None:
    """Ten times the events, about the same peak (a read that holds them all peaks about ten times higher)."""
    small, large = tmp_path / "small.db", tmp_path / "large.db"
    stored_events(small, range(2 * READ_BATCH))
    stored_events(large, range(20 * READ_BATCH))
    small_count, small_peak = _peak_while_reading(small)
    large_count, large_peak = _peak_while_reading(large)
    assert (small_count, large_count) == (2 * READ_BATCH, 20 * READ_BATCH)
    assert large_peak < 2 * small_peak, (small_peak, large_peak)


def test_events_delivered_during_a_read_are_the_next_reads_and_the_wal_is_not_held(tmp_path: Path) -> None:
    """The receiver commits while the tap is part-way through a read: those events are not in this read (its end
    is the largest seq at its start) and are all in the next, and between chunks the read holds no snapshot, so the
    receiver's checkpoint copies its whole WAL (a held snapshot stopped it short and the WAL grew, review21e 4)."""
    path = tmp_path / "events.db"
    stored_events(path, range(EVENTS))
    receiver = EventStore(path)
    try:
        assert receiver._conn.execute("PRAGMA journal_size_limit").fetchone()[0] == JOURNAL_SIZE_LIMIT
        reading = read_events(path)
        first = [next(reading)["seq"] for _ in range(READ_BATCH + 500)]  # the caller is between chunks here
        for n in range(100):
            assert receiver.add(f"during-{n}", "x", 1_767_600_000, b'{"n": %d}' % n)
        busy, frames, copied = receiver._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert (busy, copied) == (0, frames), (busy, frames, copied)
        rest = [event["seq"] for event in reading]
        assert first + rest == list(range(1, EVENTS + 1))
        assert [e["event_id"] for e in read_events(path, EVENTS)] == [f"during-{n}" for n in range(100)]
    finally:
        receiver.close()
