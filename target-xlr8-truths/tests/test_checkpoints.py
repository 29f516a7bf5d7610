"""The store checkpoints less often than DuckDB's default (``CHECKPOINT_THRESHOLD``): committed BATCH files may sit in
the WAL only, and a crash there loses none of them and lands each row once on the rerun."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from truths_testkit import P8, held_target, killed, query, run_target, schema_msg, state_msg

TABLE = f"{P8}_singer_items"
ROWS_PER_FILE = 10_000
WRITTEN = 1709287200  # the files are older than the run, so the target keeps them (a rerun reads them again)
DUCKDB_DEFAULT_THRESHOLD = 16 * 2**20


def _file(directory: Path, index: int) -> Path:
    """About 10 MiB of WAL per file: at DuckDB's default threshold the third file's commit checkpoints."""
    path = directory / f"part-{index}.jsonl"
    first = index * ROWS_PER_FILE
    path.write_text(
        "".join(json.dumps({"id": i, "v": f"{i:010d}" * 100}) + "\n" for i in range(first, first + ROWS_PER_FILE))
    )
    os.utime(path, (WRITTEN, WRITTEN))
    return path


def _messages(files: list[Path]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [schema_msg("items", {"id": {"type": "integer"}, "v": {"type": "string"}}, ["id"])]
    for index, path in enumerate(files):
        messages.append({"type": "BATCH", "stream": "items", "manifest": [f"file://{path}"],
                         "encoding": {"format": "jsonl", "compression": "none"}})  # fmt: skip
        messages.append(state_msg({"bookmarks": {"items": {"file": index}}}))
    return messages


def test_files_committed_to_the_wal_only_survive_a_kill_and_land_once_on_rerun(
    tmp_path: Path, config: dict[str, Any], store: Path
) -> None:
    batches = tmp_path / "batches"
    batches.mkdir()
    files = [_file(batches, index) for index in range(4)]
    settings = {**config, "batch_locations": [str(batches)]}
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(settings))
    marker = tmp_path / "holding"
    proc = held_target(cfg, _messages(files), {"XLR8_TRUTHS_HOLD_BEFORE_COMMIT": f"{marker}:4"}, marker,
                       "the fourth file's commit")  # fmt: skip
    # three files committed, the fourth inside its transaction: the three are in the WAL, not yet checkpointed
    wal = store.with_name(store.name + ".wal")
    assert wal.exists(), "the committed files were checkpointed"
    assert wal.stat().st_size > DUCKDB_DEFAULT_THRESHOLD
    emitted = killed(proc)

    assert query(store, f'SELECT COUNT(*), COUNT(DISTINCT id), MIN(id), MAX(id) FROM "{TABLE}"') == [
        (3 * ROWS_PER_FILE, 3 * ROWS_PER_FILE, 0, 3 * ROWS_PER_FILE - 1)
    ]
    relayed = [state["bookmarks"]["items"]["file"] for state in emitted]
    assert set(relayed) <= {0, 1, 2}  # never the uncommitted fourth file's
    last = relayed[-1] if relayed else -1

    # the tap resends every file after the last STATE relayed: rows already committed come twice and are upserted
    rerun = run_target(settings, _messages(files)[:1] + _messages(files)[1 + 2 * (last + 1) :], tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert query(store, f'SELECT COUNT(*), COUNT(DISTINCT id), MIN(id), MAX(id) FROM "{TABLE}"') == [
        (4 * ROWS_PER_FILE, 4 * ROWS_PER_FILE, 0, 4 * ROWS_PER_FILE - 1)
    ]
    assert query(store, f'SELECT v FROM "{TABLE}" WHERE id = 35000') == [("0000035000" * 100,)]
    resent = (3 - last) * ROWS_PER_FILE
    assert rerun.summary["streams"]["items"] == {"received": resent, "loaded": resent, "dead_lettered": 0}
    assert query(store, "SELECT SUM(rows_loaded) FROM _truths_ledger") == [(3 * ROWS_PER_FILE + resent,)]
    assert not wal.exists() or wal.stat().st_size == 0  # the clean exit checkpointed everything
