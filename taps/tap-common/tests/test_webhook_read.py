"""``webhook_events`` reads the receiver's store ``READ_BATCH`` rows at a time: the records and the STATE are the
store's events in ``seq`` order across batch boundaries (full and incremental, through the tap's console script),
and the memory the read holds does not grow with the store (it held every event at once before)."""

from __future__ import annotations

import json
import sqlite3
import tracemalloc
from pathlib import Path

import pytest

from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_tap_common.tap import TapCommon
from xlr8_tap_common.webhooks import JOURNAL_SIZE_LIMIT, READ_BATCH, EventStore, read_events, store_position

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
    store_id, _ = store_position(events)
    for after in (0, READ_BATCH - 1, READ_BATCH, EVENTS - 1, EVENTS):
        bookmark = {"replication_key": "seq", "replication_key_value": after, "store_id": store_id}
        state = {"bookmarks": {STREAM: bookmark}}
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


def _cli_read(tmp_path: Path, url: str, events: Path, state: dict | None, name: str) -> tuple[list[dict], dict, str]:
    """One ``tap-common`` run of ``webhook_events`` (console script): its records, its last STATE, its stderr."""
    config = common_config(url, webhook_store_path=str(events))
    found = TapCommon(config=config, parse_env_config=False).catalog_dict
    args = ["--config", write_json(tmp_path / "tap.json", config),
            "--catalog", write_json(tmp_path / "catalog.json", select_streams(found, {STREAM}))]  # fmt: skip
    if state is not None:
        args += ["--state", write_json(tmp_path / f"state-{name}.json", state)]
    run = run_tap_cli("tap-common", args, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    messages = parse_singer_messages(run.stdout)
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    return records, [m for m in messages if m["type"] == "STATE"][-1]["value"], run.stderr


def _delete_store(tmp_path: Path) -> None:
    """The receiver's store gone with its WAL and shared-memory files (a new volume, the file deleted)."""
    for leftover in tmp_path.glob("events.db*"):
        leftover.unlink()


def _next_run_is_incremental(tmp_path: Path, url: str, events: Path, state: dict, without_ids: bool = False) -> None:
    """The run after a re-read reads the same store incrementally again: one new event lands, nothing twice."""
    stored_events(events, [500])
    if without_ids:
        _without_ids(events)
    last, _, stderr = _cli_read(tmp_path, url, events, state, "last")
    assert [r["event_id"] for r in last] == ["evt-000500"]
    assert "reading it from its first event" not in stderr


@pytest.mark.parametrize("new_events", [3, 8])
def test_a_recreated_store_is_read_from_its_first_event(url: str, tmp_path: Path, new_events: int) -> None:
    """The receiver's store is recreated (new volume, file deleted) after a run read it up to seq 5: the new store
    numbers its events from 1 again. Every one of them lands, whether it holds fewer events than the bookmark (3)
    or more (8: only the store's id tells): the bookmark skipped seq 1..5 of it before, for good, exit 0."""
    events = tmp_path / "events.db"
    stored_events(events, range(5))
    first, state, _ = _cli_read(tmp_path, url, events, None, "first")
    assert [r["seq"] for r in first] == [1, 2, 3, 4, 5]
    assert state["bookmarks"][STREAM]["replication_key_value"] == 5
    _delete_store(tmp_path)
    stored_events(events, range(100, 100 + new_events))
    again, state, stderr = _cli_read(tmp_path, url, events, state, "again")
    assert again == _store_rows(events, 0)
    assert [r["event_id"] for r in again] == [f"evt-{n:06d}" for n in range(100, 100 + new_events)]
    assert state["bookmarks"][STREAM]["replication_key_value"] == new_events
    assert "webhook_store_path" in stderr
    assert "reading it from its first event" in stderr
    _next_run_is_incremental(tmp_path, url, events, state)


def test_pruned_events_and_a_state_from_before_store_ids_keep_the_bookmark(url: str, tmp_path: Path) -> None:
    """The same store is never taken for another: events pruned up to and past the bookmark (the largest seq it
    issued stays), and a bookmark written before stores had an id, on a store from then (given its id later), go on
    from the bookmark."""
    events = tmp_path / "events.db"
    stored_events(events, range(6))
    _without_ids(events)  # made by a receiver from before store ids...
    EventStore(events).close()  # ...then opened by one that gives it an id
    with sqlite3.connect(events) as conn:
        conn.execute("DELETE FROM webhook_events WHERE seq >= 3")  # pruned, the newest ones too
    state = {"bookmarks": {STREAM: {"replication_key": "seq", "replication_key_value": 6}}}  # no store id yet
    records, state, stderr = _cli_read(tmp_path, url, events, state, "pruned")
    assert records == []
    assert "reading it from its first event" not in stderr
    stored_events(events, [7])
    records, state, _ = _cli_read(tmp_path, url, events, state, "next")
    assert [(r["seq"], r["event_id"]) for r in records] == [(7, "evt-000007")]
    assert state["bookmarks"][STREAM]["replication_key_value"] == 7


def test_a_bookmark_from_before_store_ids_on_a_store_created_since_is_read_from_its_first_event(
    url: str, tmp_path: Path
) -> None:
    """The receiver upgraded by redeploying it on a new volume: it creates a store (with an id), which holds 8 events
    when the upgraded tap first runs with a state from before store ids (bookmark 5, no id): that bookmark cannot be
    this store's, so every event lands (before: seq 6..8 only, exit 0). The runs after it are incremental."""
    events = tmp_path / "events.db"
    stored_events(events, range(100, 108))
    state = {"bookmarks": {STREAM: {"replication_key": "seq", "replication_key_value": 5}}}
    records, state, stderr = _cli_read(tmp_path, url, events, state, "upgraded")
    assert [r["seq"] for r in records] == list(range(1, 9))
    assert "(the bookmark is from before store ids, the store was created since)" in stderr
    assert "webhook_store_path" in stderr
    _next_run_is_incremental(tmp_path, url, events, state)


def _without_ids(path: Path) -> None:
    """The store as a receiver from before store ids left it (no ``store_meta``)."""
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE store_meta")


@pytest.mark.parametrize("how", ["restored_from_an_older_backup", "recreated_by_a_receiver_without_ids"])
def test_a_store_grown_past_the_bookmark_with_other_events_is_read_from_its_first_event(
    url: str, tmp_path: Path, how: str
) -> None:
    """A run read the store up to seq 5; then the store became another one that already holds more than 5 events
    when the next run starts: the same store restored from a backup taken at seq 3 (same id, then 5 new events), or
    a store without an id recreated by a receiver from before ids (8 events). Neither the id nor the largest seq
    tells; the event at the bookmark's seq does (the state keeps its id): every event lands. Before, seq 1..5 of it
    were skipped for good, exit 0."""
    events, backup = tmp_path / "events.db", tmp_path / "backup.db"
    stored_events(events, range(3))
    with sqlite3.connect(events) as source, sqlite3.connect(backup) as copy:
        source.backup(copy)
    stored_events(events, range(3, 5))
    if how == "recreated_by_a_receiver_without_ids":
        _without_ids(events)
    first, state, _ = _cli_read(tmp_path, url, events, None, "first")
    assert [r["seq"] for r in first] == [1, 2, 3, 4, 5]
    _delete_store(tmp_path)
    if how == "restored_from_an_older_backup":
        backup.rename(events)
        stored_events(events, range(200, 205))
        expected = [*range(3), *range(200, 205)]
    else:
        stored_events(events, range(100, 108))
        _without_ids(events)
        expected = list(range(100, 108))
    again, state, stderr = _cli_read(tmp_path, url, events, state, "again")
    assert [r["event_id"] for r in again] == [f"evt-{n:06d}" for n in expected]
    assert again == _store_rows(events, 0)
    assert "(its event at seq 5 is not the one read there): reading it from its first event" in stderr
    assert "webhook_store_path" in stderr
    assert state["bookmarks"][STREAM]["replication_key_value"] == len(expected)
    _next_run_is_incremental(tmp_path, url, events, state, without_ids=how == "recreated_by_a_receiver_without_ids")
