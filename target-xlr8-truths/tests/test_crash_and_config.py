"""E2 (SIGKILL inside the batch transaction), the DuckDB single-writer lock, unknown layouts, bad settings."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
from truths_testkit import (
    P8,
    TARGET_EXE,
    held_target,
    killed,
    lines_of,
    query,
    record_msg,
    run_target,
    schema_msg,
    state_msg,
)

TABLE = f"{P8}_singer_items"
BATCH = 100


def stream(ids: range) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [schema_msg("items", {"id": {"type": "integer"}, "v": {"type": "string"}}, ["id"])]
    for i in ids:
        messages.append(record_msg("items", {"id": i, "v": f"value-{i}"}))
        if i % BATCH == BATCH - 1:
            messages.append(state_msg({"bookmarks": {"items": {"id": i}}}))
    return messages


def test_e2_sigkill_inside_batch_transaction_then_resume(tmp_path: Path, config: dict[str, Any], store: Path) -> None:
    marker = tmp_path / "holding"
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({**config, "batch_size_rows": BATCH}))
    proc = held_target(cfg, stream(range(1000)), {"XLR8_TRUTHS_HOLD_BEFORE_COMMIT": f"{marker}:3"}, marker,
                       "the third commit")  # fmt: skip
    emitted = killed(proc)

    # the third batch (ids 200-299) was inside its transaction: nothing of it is visible, no STATE covers it
    ids = [r[0] for r in query(store, f'SELECT id FROM "{TABLE}" ORDER BY id')]
    assert ids == list(range(200))
    # STATE relayed only once the batches before it committed; {id: 199} arrived after the second batch drained
    last = emitted[-1]["bookmarks"]["items"]["id"] if emitted else -1
    assert [s["bookmarks"]["items"]["id"] for s in emitted] == [99]
    assert query(store, "SELECT rows_loaded FROM _truths_ledger") == [(200,)]

    # re-run from the last STATE the target emitted: the tap resends everything after it (100-199 again: upserted)
    rerun = run_target(config, stream(range(last + 1, 1000)), tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert query(store, f'SELECT COUNT(*), COUNT(DISTINCT id), MIN(id), MAX(id) FROM "{TABLE}"') == [
        (1000, 1000, 0, 999)
    ]
    assert query(store, f'SELECT v FROM "{TABLE}" WHERE id = 250') == [("value-250",)]


def test_duckdb_locked_by_another_process_names_the_other_modes(tmp_path: Path, config: dict[str, Any],
                                                                store: Path) -> None:  # fmt: skip
    store.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys, time; c = duckdb.connect({str(store)!r}); print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        run = run_target(config, stream(range(5)), tmp_path)
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
    assert run.returncode != 0
    assert "locked by another process" in run.stderr
    assert "'postgres'" in run.stderr
    assert "'upload'" in run.stderr
    assert run.states == []


def test_unknown_metadata_layout_is_refused(tmp_path: Path, config: dict[str, Any], store: Path) -> None:
    store.parent.mkdir(parents=True)
    con = duckdb.connect(str(store))
    con.execute("CREATE TABLE _schema_metadata (id INTEGER, project VARCHAR, name VARCHAR)")
    con.close()
    run = run_target(config, stream(range(5)), tmp_path)
    assert run.returncode != 0
    assert "_schema_metadata exists with an unknown layout" in run.stderr
    assert "file_name" in run.stderr
    assert query(store, "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = ?", [TABLE]) == [(0,)]


def test_existing_engine_store_is_reused(tmp_path: Path, config: dict[str, Any], store: Path) -> None:
    from target_xlr8_truths.layout import ddl

    store.parent.mkdir(parents=True)
    con = duckdb.connect(str(store))
    for statement in ddl("duckdb"):
        con.execute(statement)
    con.execute("SELECT nextval('schema_metadata_seq')")  # the engine registered something already
    con.close()
    run = run_target(config, stream(range(5)), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert query(store, "SELECT id, table_name FROM _schema_metadata") == [(2, TABLE)]


def test_bad_settings_name_the_setting(tmp_path: Path, config: dict[str, Any]) -> None:
    cases = [
        ({**config, "project_id": "not-a-uuid"}, "project_id"),
        ({**config, "delivery": "ftp"}, "delivery"),
        ({**config, "delivery": "postgres"}, "postgres_dsn"),
        ({**config, "delivery": "upload"}, "upload_url"),
        ({k: v for k, v in config.items() if k != "project_id"}, "project_id"),
        ({**config, "duckdb_batch_memory_limit": "lots"}, "duckdb_batch_memory_limit"),
    ]
    for settings, name in cases:
        run = run_target(settings, stream(range(2)), tmp_path)
        assert run.returncode != 0, settings
        assert name in run.stderr, (name, run.stderr[-2000:])
        assert run.states == []


def test_the_project_s_loader_definition_ships_upsert() -> None:
    """review26c M2: a lock file's setting value is Meltano's last configuration layer; the project's must ship the
    one method the target runs, or every run of the project stops at start-up."""
    import yaml

    root = Path(__file__).resolve().parents[2]
    plugin = yaml.safe_load((root / "plugins/loaders/target-xlr8-truths--xlr8.yml").read_text())
    (setting,) = [s for s in plugin["settings"] if s["name"] == "load_method"]
    assert setting["value"] == "upsert"
    assert (
        "load_method" not in (root / "meltano.yml").read_text()
        or "append-only" not in (root / "meltano.yml").read_text()
    )


def test_load_method_other_than_upsert_is_refused_by_name(tmp_path: Path, config: dict[str, Any], store: Path) -> None:
    """audit25e F16: the SDK's standard ``load_method`` was accepted and ignored: 'append-only' (every record kept)
    and 'overwrite' (the table's rows replaced) both landed as upserts. Only 'upsert' runs; the others stop at
    start-up naming the setting, before anything lands or a STATE goes out."""
    for method in ("append-only", "overwrite"):
        run = run_target({**config, "load_method": method}, stream(range(3)), tmp_path)
        assert run.returncode != 0, method
        assert f"setting 'load_method' is '{method}'" in run.stderr, run.stderr[-2000:]
        # review26c M2: old lock files shipped 'append-only'; the error says what to set and how
        assert "set load_method to 'upsert'" in run.stderr
        assert "meltano lock --update" in run.stderr
        assert run.states == []
        assert not store.exists() or not query(store, "SELECT 1 FROM information_schema.tables WHERE table_name = ?",
                                               [TABLE])  # fmt: skip
    again = [*stream(range(3)), record_msg("items", {"id": 1, "v": "again"})]
    run = run_target({**config, "load_method": "upsert"}, again, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert query(store, f'SELECT id, v FROM "{TABLE}" ORDER BY id') == [(0, "value-0"), (1, "again"), (2, "value-2")]


def test_e3_sigterm_drains_relays_final_state_and_exits_clean(
    tmp_path: Path, config: dict[str, Any], store: Path
) -> None:
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({**config, "batch_size_rows": BATCH}))
    proc = subprocess.Popen(
        [TARGET_EXE, "--config", str(cfg)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    messages = stream(range(250))  # STATE after ids 99 and 199; the last 50 records are pending when the signal comes
    proc.stdin.write(lines_of(messages))
    proc.stdin.flush()  # stdin stays open: the target is waiting for more input when it is told to stop
    first = json.loads(proc.stdout.readline())
    assert first == {"bookmarks": {"items": {"id": 99}}}
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    proc.stdin.close()
    assert proc.returncode == 0, err[-3000:]
    states = [first, *(json.loads(line) for line in out.splitlines() if line.strip())]
    last = states[-1]["bookmarks"]["items"]["id"]
    assert last in {99, 199}
    ids = [r[0] for r in query(store, f'SELECT id FROM "{TABLE}" ORDER BY id')]
    assert ids[: last + 1] == list(range(last + 1))  # every record the final STATE covers is committed
    assert "XLR8_TRUTHS_SUMMARY" in err
