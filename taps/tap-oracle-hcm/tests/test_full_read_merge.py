"""A whole read (``full_read_every_days``) stopped before its first bookmark, its last STATE laid over the stored one
by Meltano's own merge: the next run must still read the whole set. Through the console script, as Meltano runs it.

review23i #6: the whole read removed the bookmark and stamped ``xlr8_full_read_at`` as it started. Meltano's merge
(every STATE of a run with a merge strategy, a failed run's partial state under any) keeps a key the new state
lacks, so the old bookmark came back beside the fresh stamp: the next run read incrementally and the stale columns
flattened from children stayed stale for another period. The kit's ``restart_bookmark`` writes an explicit null."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from meltano.core.utils import merge  # the deep merge Meltano's state store lays a partial state with

from xlr8_kit.exits import EXIT_TERMINATED
from xlr8_kit.testing.singer_cli import BIN, parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.products.oracle_fusion.hcm import OracleHcmEmulator
from xlr8_sandbox.testing import stopped_while_stuck

from .conftest import hcm_config

TAP = "tap-oracle-hcm"
WORKERS = "/hcmRestApi/resources/*/workers"  # the collection, not its describe


def _run(args: list[str], cwd: Path) -> list[dict[str, Any]]:
    done = run_tap_cli(TAP, args, cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    return parse_singer_messages(done.stdout)


def _workers(messages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {m["record"]["PersonNumber"]: m["record"] for m in messages if m["type"] == "RECORD"}


def _last_state(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return next(m["value"] for m in reversed(messages) if m["type"] == "STATE")


def test_a_whole_read_stopped_before_its_first_bookmark_under_meltanos_merge_is_read_whole_next(
    sandbox: Any, emulator: OracleHcmEmulator, url: str, tmp_path: Path
) -> None:
    config = write_json(tmp_path / "config.json", hcm_config(url, resources=["workers"], full_read_every_days=7))
    found = run_tap_cli(TAP, ["--config", config, "--discover"], tmp_path)
    assert found.returncode == 0, found.stderr[-3000:]
    catalog = write_json(tmp_path / "catalog.json", select_streams(json.loads(found.stdout), {"workers"}))
    args = ["--config", config, "--catalog", catalog]
    first = _run(args, tmp_path)
    count = emulator.resources["workers"].count()
    assert len(_workers(first)) == count
    stored = _last_state(first)
    bookmark = stored["bookmarks"]["workers"]
    assert bookmark["replication_key_value"]
    # A week and a day later (the stamp says so), every worker's job has changed in the assignment child; no
    # worker's LastUpdateDate moved, so only a whole read sees it.
    bookmark["xlr8_full_read_at"] = (datetime.now(UTC) - timedelta(days=8)).isoformat()
    assignments = emulator.resources["workers"].children["workRelationships"].children["assignments"]
    rows = assignments.rows
    assignments.rows = lambda relationship: [{**r, "JobCode": "MOVED"} for r in rows(relationship)]
    emulator.change_rows("workers", lambda i, row: row)  # the same workers: a new data version, no page kept
    try:
        # The whole read starts (its bookmark reset in the tap's state), its first page is stuck, and the run is
        # stopped: the tap's last STATE is that reset state.
        stored_path = write_json(tmp_path / "stored.json", stored)
        stall = FaultSpec("stall", seconds=20, times=None)
        run = [str(BIN / TAP), *args, "--state", stored_path]
        code, stopped, err = stopped_while_stuck(sandbox, "oracle_hcm", WORKERS, stall, run)
        assert code == EXIT_TERMINATED, err[-3000:]
        assert not _workers(stopped)
        partial = _last_state(stopped)
        assert datetime.fromisoformat(partial["bookmarks"]["workers"]["xlr8_full_read_at"]) > datetime.now(
            UTC
        ) - timedelta(hours=1)
        merged = merge(copy.deepcopy(partial), copy.deepcopy(stored))
        after = _run([*args, "--state", write_json(tmp_path / "merged.json", merged)], tmp_path)
    finally:
        assignments.rows = rows
        emulator.change_rows("workers", lambda i, row: row)
    workers = _workers(after)
    assert len(workers) == count  # read whole again, not from the old bookmark
    assert {r["JobCode"] for r in workers.values()} == {"MOVED"}
    final = _last_state(after)["bookmarks"]["workers"]
    assert final["replication_key_value"] == max(r["LastUpdateDate"] for r in workers.values())
