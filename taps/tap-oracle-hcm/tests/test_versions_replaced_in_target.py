"""``tap-oracle-hcm | target-xlr8-truths`` (the real CLIs) over two runs: what a run no longer reads must not stay
live in the store. An effective-dated row is read as of one date, so a superseded version is never read again
(audit25a F1: 45 of 220 assignments kept two current rows)."""

from __future__ import annotations

import json
import subprocess
import typing as t
from datetime import timedelta
from pathlib import Path

from xlr8_kit.testing.meltano_e2e import truths_table
from xlr8_kit.testing.singer_cli import BIN, piped, select_streams, write_json

from .conftest import hcm_config

STREAMS = ["workers", "workers_emails", "workers_workRelationships_assignments"]


def _run(tmp: Path, url: str, state: dict[str, t.Any] | None, name: str) -> dict[str, t.Any]:
    """One ``tap | target`` run; returns the target's last STATE."""
    config = write_json(tmp / "tap.json", hcm_config(url, resources=["workers"], max_concurrent_requests=1))
    discovered = subprocess.run(
        [str(BIN / "tap-oracle-hcm"), "--config", config, "--discover"], capture_output=True, text=True, check=True
    )
    catalog = write_json(tmp / "catalog.json", select_streams(json.loads(discovered.stdout), STREAMS))
    target = write_json(
        tmp / "target.json",
        {
            "project_id": "1B4E28BA-2FA1-11D2-883F-0016D3CCA427",
            "duckdb_path": str(tmp / "truths.duckdb"),
            "pii_key_file": str(tmp / "pii.key"),
            "pii_key_create": True,
            "pii_policy": {"default": "drop"},
        },
    )
    args = [str(BIN / "tap-oracle-hcm"), "--config", config, "--catalog", catalog]
    if state is not None:
        args += ["--state", write_json(tmp / f"state-{name}.json", state)]
    loaded = piped(args, [str(BIN / "target-xlr8-truths"), "--config", target], tmp / f"tap-{name}.err")
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    states = [json.loads(line) for line in loaded.stdout.splitlines() if line.strip()]
    return states[-1] if states else {}


def _rows(store: Path, stream: str, sql: str) -> list[tuple[t.Any, ...]]:
    import duckdb

    with duckdb.connect(str(store), read_only=True) as conn:
        table = truths_table(conn, "oracle_hcm", stream)
        return conn.execute(sql.replace("{table}", f'"{table}"')).fetchall()


def test_a_superseded_assignment_version_is_marked_deleted_one_live_row_per_assignment(
    emulator: t.Any, url: str, tmp_path: Path
) -> None:
    store = tmp_path / "truths.duckdb"
    state = _run(tmp_path, url, None, "1")
    emulator.ctx.clock.advance(timedelta(days=120))  # some workers change job: a new assignment version
    _run(tmp_path, url, state, "2")
    stream = "workers_workRelationships_assignments"
    live = _rows(
        store,
        stream,
        "SELECT assignment_id, count(*), list(job_code ORDER BY effective_start_date) FROM {table} "
        "WHERE _sdc_deleted_at IS NULL GROUP BY assignment_id",
    )
    assert live
    assert [row for row in live if row[1] != 1] == []
    superseded = _rows(
        store, stream, "SELECT assignment_id, action_code FROM {table} WHERE _sdc_deleted_at IS NOT NULL"
    )
    assert superseded, "no version was superseded across the run: the test shows nothing"
    changed = {row[0] for row in superseded}
    current = _rows(
        store,
        stream,
        "SELECT assignment_id, action_code FROM {table} WHERE _sdc_deleted_at IS NULL AND action_code = 'JOB_CHANGE'",
    )
    assert changed <= {row[0] for row in current}  # each replaced by its new version
    workers = _rows(store, "workers", "SELECT count(*), count(*) FILTER (_sdc_deleted_at IS NULL) FROM {table}")
    assert workers[0][0] == workers[0][1] == len(live)


def test_a_child_deleted_between_runs_is_marked_deleted_cut_children_included(
    emulator: t.Any, url: str, tmp_path: Path
) -> None:
    """audit25a F7: a full-table child stream's rows are upserted by key, so a deleted email stayed live for good.
    Worker 1 loses its second email (expanded whole in the page), worker 0 one of its 30 (cut: read whole from its
    own URL), worker 2 its only one: a parent answering no children sends no rows, but the read announces the
    workers it read whole (``_xlr8_sets_read``), so worker 2's email is marked deleted too (empty26: it stayed)."""
    store = tmp_path / "truths.duckdb"
    emails = emulator.resources["workers"].children["emails"]
    listed = emails.rows
    gone: list[int] = []
    alone: list[int] = []

    def with_second(worker: dict[str, t.Any]) -> list[dict[str, t.Any]]:
        rows = listed(worker)
        if worker["__e"].index == 1:
            rows = [*rows, {**rows[0], "EmailAddressId": rows[0]["EmailAddressId"] + 900_000, "EmailType": "H1"}]
        return rows

    def after_deletes(worker: dict[str, t.Any]) -> list[dict[str, t.Any]]:
        rows, index = listed(worker), worker["__e"].index
        if index == 0:
            gone.insert(0, rows[5]["EmailAddressId"])
            return rows[:5] + rows[6:]
        if index == 1:
            gone.append(rows[0]["EmailAddressId"] + 900_000)
        if index == 2:
            alone.append(rows[0]["EmailAddressId"])
            return []
        return rows

    emulator.set_cut_children_every(10)
    try:
        emails.rows = with_second
        emulator.change_rows("workers", lambda i, row: row)  # a new data version: no page kept
        state = _run(tmp_path, url, None, "1")
        emails.rows = after_deletes
        emulator.change_rows("workers", lambda i, row: row)
        _run(tmp_path, url, state, "2")
    finally:
        emails.rows = listed
        emulator.set_cut_children_every(0)
    assert len(set(gone)) == 2
    rows = _rows(
        store, "workers_emails", "SELECT email_address_id, person_id, _sdc_deleted_at IS NOT NULL FROM {table}"
    )
    deleted = {row[0] for row in rows if row[2]}
    assert alone
    assert deleted == set(gone) | set(alone)  # worker 2's only email too: its set is now empty
    live = [row for row in rows if not row[2]]
    assert len(live) > 100  # every other email live, the cut workers' 30 too
    cut = {row[1] for row in rows if row[0] == gone[0]}  # worker 0: 29 left of 30
    assert len([row for row in live if row[1] in cut]) == emulator.CUT_EMAILS - 1
    assert not set(alone) & {row[0] for row in live}
