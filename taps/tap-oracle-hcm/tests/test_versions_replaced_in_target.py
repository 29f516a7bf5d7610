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
from xlr8_kit.testing.singer_cli import BIN, select_streams, write_json

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
    with (tmp / f"tap-{name}.err").open("w") as tap_err:
        tap = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=tap_err)
        loaded = subprocess.run(
            [str(BIN / "target-xlr8-truths"), "--config", target],
            stdin=tap.stdout,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert tap.stdout is not None
        tap.stdout.close()
        assert tap.wait(timeout=60) == 0, (tmp / f"tap-{name}.err").read_text()[-3000:]
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
