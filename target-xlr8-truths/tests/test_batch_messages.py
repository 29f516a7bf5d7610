"""A BATCH message may name several files (its ``manifest``; our taps send one, other Singer taps several). They land
together or not at all, and the STATE after the message goes out only after they have. Each file in its own commit,
a failure in file 2 left file 1 landed with no STATE after the message: the rerun, sent the same message, upserted a
keyed stream's rows again and landed a keyless stream's twice (RELIABILITY E2, E12, F5)."""

from __future__ import annotations

import gzip
import json
import os
import resource
import signal
import subprocess
from pathlib import Path
from typing import Any

import duckdb
import pytest
from truths_testkit import (
    P8,
    PROJECT,
    TARGET_EXE,
    Run,
    held_target,
    killed,
    lines_of,
    postgres_rows,
    query,
    run_target,
    schema_msg,
    state_msg,
)

from target_xlr8_truths.layout import ddl

TABLE = f"{P8}_singer_items"
WRITTEN = 1709287200  # older than the run: the target keeps the files, so the rerun reads them again
ROWS = 1_000
COMMIT_LIMIT = 2**20  # RLIMIT_FSIZE: the store's start fits, the WAL of 3 files of COMMIT_ROWS does not
COMMIT_ROWS = 20_000
AFTER = {"bookmarks": {"items": {"message": 1}}}
UNREADABLE = b'{"id": 7, "v": "CANARY-\n'


def _file(
    directory: Path,
    index: int,
    first: int,
    *,
    fraction: bool = False,
    line: bytes | None = None,
    gz: bool = False,
    rows: int = ROWS,
) -> Path:
    """``rows`` narrow rows with ids from ``first`` and values naming the file. ``fraction``: the middle row's id is
    0.5 (DuckDB's reader refuses the file, the record path dead-letters that row); ``line``: raw bytes in place of
    the middle row; ``gz``: gzipped (its name ends in .gz)."""
    lines = [json.dumps({"id": i, "v": f"f{index}-{i}"}).encode() for i in range(first, first + rows)]
    if fraction:
        lines[rows // 2] = json.dumps({"id": 0.5, "v": f"f{index}-half"}).encode()
    if line is not None:
        lines[rows // 2] = line.rstrip(b"\n")
    body = b"".join(row + b"\n" for row in lines)
    path = directory / f"part-{index}.jsonl{'.gz' if gz else ''}"
    path.write_bytes(gzip.compress(body) if gz else body)
    os.utime(path, (WRITTEN, WRITTEN))
    return path


def _batch(files: list[Path]) -> dict[str, Any]:
    return {"type": "BATCH", "stream": "items", "manifest": [f"file://{path}" for path in files],
            "encoding": {"format": "jsonl", "compression": "none"}}  # fmt: skip


def _messages(
    files: list[Path], keys: list[str], *, one_message: bool = True, more: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """The stream's SCHEMA (``more``: string properties besides id and v), then the files in one BATCH message (or
    one message each), then a STATE."""
    properties = {"id": {"type": "integer"}, "v": {"type": "string"}} | {name: {"type": "string"} for name in more}
    schema = schema_msg("items", properties, keys)
    batches = [_batch(files)] if one_message else [_batch([path]) for path in files]
    return [schema, *batches, state_msg(AFTER)]


def _landed(store: Path) -> list[tuple[Any, ...]]:
    found = query(store, f"SELECT COUNT(*) FROM information_schema.tables WHERE table_name = '{TABLE}'")
    if found != [(1,)]:
        return []
    return query(store, f'SELECT id, v FROM "{TABLE}" ORDER BY id, v')


def _refusing_dead_letters(store: Path) -> None:
    """The store's dead-letter table made to refuse every row (a CHECK no error text passes): the DLQ write fails
    (RELIABILITY F5), as on a full disk or a broken table."""
    store.parent.mkdir(parents=True, exist_ok=True)
    statement = next(s for s in ddl("duckdb") if "_dead_letters" in s)
    con = duckdb.connect(str(store))
    try:
        con.execute(statement.replace("error VARCHAR NOT NULL,", "error VARCHAR NOT NULL CHECK (error = ''),"))
    finally:
        con.close()


def _mended_dead_letters(store: Path) -> None:
    """The refusing table dropped: the next run creates the target's own."""
    con = duckdb.connect(str(store))
    try:
        con.execute("DROP TABLE _dead_letters")
    finally:
        con.close()


@pytest.mark.parametrize("keys", [[], ["id"]], ids=["keyless", "keyed"])
@pytest.mark.parametrize("failure", ["unreadable line", "dead letter refused"])
def test_e2_a_message_whose_second_file_fails_lands_none_of_its_files_and_the_rerun_lands_each_row_once(
    tmp_path: Path, config: dict[str, Any], store: Path, keys: list[str], failure: str
) -> None:
    """A 3-file message whose second file fails: a line no path can read (``InvalidInputLine``), or a row both paths
    refuse (DuckDB's reader for its fraction, the record path dead-letters it) whose dead letter cannot be written.
    The run stops (exit 1, one ERROR naming the file and the message), nothing of the message landed and no STATE
    went out; the rerun of the same message, the cause fixed, lands every row once and relays the STATE. Before,
    file 1 stayed landed, and the keyless rerun landed it twice."""
    batches = tmp_path / "batches"
    batches.mkdir()
    dead = failure == "dead letter refused"
    files = [
        _file(batches, 0, 0),
        _file(batches, 1, ROWS, fraction=dead, line=None if dead else UNREADABLE),
        _file(batches, 2, 2 * ROWS),
    ]
    settings = {**config, "batch_locations": [str(batches)]}
    if dead:
        _refusing_dead_letters(store)

    failed = run_target(settings, _messages(files, keys), tmp_path)
    assert failed.returncode == 1, failed.stderr[-3000:]
    assert failed.states == []
    assert _landed(store) == []
    assert query(store, "SELECT COUNT(*) FROM _truths_ledger") == [(0,)]
    assert query(store, "SELECT COUNT(*) FROM _dead_letters") == [(0,)]
    errors = [line for line in failed.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1, failed.stderr[-3000:]
    assert f"BATCH file {files[1]}" in errors[0]
    assert "It was file 2 of 3 of one BATCH message: none of the message's files was committed." in errors[0]
    assert "CANARY" not in failed.stderr
    assert all(path.exists() for path in files)

    if dead:
        _mended_dead_letters(store)
    else:
        _file(batches, 1, ROWS)  # the tap wrote it again, whole
    rerun = run_target(settings, _messages(files, keys), tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert rerun.states == [AFTER]
    expected = [(i, f"f{i // ROWS}-{i}") for i in range(3 * ROWS) if not (dead and i == ROWS + ROWS // 2)]
    assert _landed(store) == expected
    assert query(store, "SELECT COUNT(*) FROM _dead_letters") == [(int(dead),)]
    assert query(store, "SELECT SUM(rows_loaded), SUM(rows_dead_lettered) FROM _truths_ledger") == [
        (len(expected), int(dead))
    ]
    assert rerun.summary["streams"]["items"] == {"received": 3 * ROWS, "loaded": len(expected),
                                                 "dead_lettered": int(dead)}  # fmt: skip


@pytest.mark.parametrize("keys", [[], ["id"]], ids=["keyless", "keyed"])
def test_a_message_with_a_file_for_the_record_path_lands_what_one_message_per_file_lands(
    tmp_path: Path, config: dict[str, Any], keys: list[str]
) -> None:
    """DuckDB has no savepoints: the message's second file, refused by DuckDB's reader (a fraction as an id), rolls
    back the first file's rows and the message loads again, that file record by record. What lands (rows, dead
    letters, ledger, the run's counts, every bookkeeping table) is what the same files land sent one message each;
    keyed, the third file's rows (gzipped) replace the first file's of the same ids, as a later message's would."""
    batches = tmp_path / "batches"
    batches.mkdir()
    files = [_file(batches, 0, 0), _file(batches, 1, ROWS, fraction=True), _file(batches, 2, -ROWS // 2, gz=True)]
    assert files[2].name.endswith(".gz")

    outcomes = []
    for one_message in (True, False):
        store = tmp_path / f"one-{one_message}" / "truths.duckdb"
        settings = {**config, "duckdb_path": str(store), "batch_locations": [str(batches)]}
        run = run_target(settings, _messages(files, keys, one_message=one_message), tmp_path)
        assert run.returncode == 0, run.stderr[-3000:]
        assert run.states == [AFTER]
        outcomes.append(
            (
                _landed(store),
                query(store, "SELECT stream, table_name, error, error_path, record_key FROM _dead_letters"),
                query(store, "SELECT rows_received, rows_loaded, rows_dead_lettered FROM _truths_ledger"),
                run.summary["streams"]["items"],
                _bookkeeping(store),
            )
        )
        if one_message:
            assert "BATCH message of 3 files (stream items): file 2 needs the record path (FastPathRefused: " in (
                run.stderr
            )
            assert run.stderr.count("BATCH file loaded record by record") == 1
    assert outcomes[0] == outcomes[1]
    rows, letters, _, summary, _ = outcomes[0]
    landed = 3 * ROWS - 1 - (ROWS // 2 if keys else 0)
    assert len(rows) == landed
    assert len(letters) == 1
    assert summary == {"received": 3 * ROWS, "loaded": 3 * ROWS - 1, "dead_lettered": 1}
    if keys:  # the later file won
        assert (0, "f2-0") in rows
        assert (0, "f0-0") not in rows


def test_e2_killed_inside_a_message_s_second_file_leaves_none_of_the_message_and_the_rerun_lands_it_once(
    tmp_path: Path, config: dict[str, Any], store: Path
) -> None:
    """SIGKILL inside the second file's batch, before the commit (``XLR8_TRUTHS_HOLD_BEFORE_COMMIT`` 2): none of the
    message's rows are in the store, where before the first file's stayed with no STATE after them, and the
    keyless rerun landed them twice."""
    batches = tmp_path / "batches"
    batches.mkdir()
    files = [_file(batches, index, index * ROWS) for index in range(3)]
    settings = {**config, "batch_locations": [str(batches)]}
    cfg = tmp_path / "held.json"
    cfg.write_text(json.dumps(settings))
    marker = tmp_path / "holding"
    proc = held_target(cfg, _messages(files, []), {"XLR8_TRUTHS_HOLD_BEFORE_COMMIT": f"{marker}:2"}, marker, "file 2")
    assert killed(proc) == []
    assert _landed(store) == []

    rerun = run_target(settings, _messages(files, []), tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert rerun.states == [AFTER]
    assert _landed(store) == [(i, f"f{i // ROWS}-{i}") for i in range(3 * ROWS)]


def test_e2_postgres_a_message_whose_second_file_fails_lands_none_of_its_files(
    tmp_path: Path, postgres_dsn: str
) -> None:
    """delivery=postgres (every file record by record, each batch a savepoint): the message's transaction holds its
    files, so an unreadable line in file 2 leaves none of them, and the keyless rerun lands each row once."""
    batches = tmp_path / "batches"
    batches.mkdir()
    files = [_file(batches, 0, 0), _file(batches, 1, ROWS, line=UNREADABLE), _file(batches, 2, 2 * ROWS)]
    schema = f"t_{tmp_path.name.lower().replace('-', '_')[:40]}"
    settings = {"project_id": PROJECT, "delivery": "postgres", "postgres_dsn": postgres_dsn,
                "postgres_schema": schema, "batch_locations": [str(batches)]}  # fmt: skip

    def landed() -> list[tuple[Any, ...]]:
        return sorted(postgres_rows(postgres_dsn, schema, TABLE, "id, v") or [])

    failed = run_target(settings, _messages(files, []), tmp_path)
    assert failed.returncode == 1, failed.stderr[-3000:]
    assert failed.states == []
    assert landed() == []
    assert "none of the message's files was committed" in failed.stderr

    _file(batches, 1, ROWS)
    rerun = run_target(settings, _messages(files, []), tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert rerun.states == [AFTER]
    assert landed() == [(i, f"f{i // ROWS}-{i}") for i in range(3 * ROWS)]


#: Every bookkeeping table, without what differs from run to run (ids, run ids, times).
BOOKKEEPING = {
    "_schema_metadata": "file_name, table_name, display_name, entity_type, category, columns, column_count, row_count, "
    "likely_keys, encrypted_columns, truth_type, version, is_current, domain",
    "_truths_fields": "table_name, column_name, canonical_field, pii_action",
    "_truths_ledger": "product, instance, stream, table_name, entity_type, truth_type, rows_received, rows_loaded, "
    "rows_dead_lettered, window_start, window_end",
    "_column_profiles": "table_name, column_name, inferred_type, original_dtype, total_count, null_count, "
    "distinct_count, min_value, max_value, mean_value, distinct_values, value_distribution, sample_values, "
    "is_likely_key, is_categorical, filter_category, filter_priority",
    "_column_mappings": "file_name, table_name, original_column, semantic_type, confidence, is_hub, hub_table, "
    "hub_column, hub_cardinality, spoke_cardinality, coverage_pct, is_subset, is_discovered, join_priority",
    "_dead_letters": "stream, table_name, record_key, error, error_path, payload",
}


def _bookkeeping(store: Path) -> dict[str, list[tuple[Any, ...]]]:
    kept = {name: query(store, f"SELECT {columns} FROM {name}") for name, columns in BOOKKEEPING.items()}
    return {name: sorted(rows, key=repr) for name, rows in kept.items()}


@pytest.mark.parametrize("table", ["new", "existing"])
def test_a_retried_message_keeps_the_bookkeeping_one_message_per_file_keeps_and_the_next_key_change_is_refused(
    tmp_path: Path, config: dict[str, Any], table: str
) -> None:
    """The message's second file, refused by DuckDB's reader, rolls the message back and it loads again. The rolled
    back attempt had taught the store that the table had its ``_schema_metadata`` version for this run, so the retry
    wrote none and no ``_truths_fields`` rows: a new table was invisible to ``read_truths`` and to the next run's key
    check (a changed key was upserted into the table of the old one); an existing table kept no version and no field
    row for the column this run added (``w``). Every bookkeeping table must hold what one message per file leaves,
    and the next run's key change is refused in both."""
    batches = tmp_path / "batches"
    batches.mkdir()
    files = [_file(batches, 0, 0), _file(batches, 1, ROWS, fraction=True), _file(batches, 2, 2 * ROWS)]
    before = _file(batches, 9, 9 * ROWS)
    later = _file(batches, 8, 20 * ROWS)

    outcomes = []
    for one_message in (True, False):
        store = tmp_path / f"one-{one_message}" / "truths.duckdb"
        settings = {**config, "duckdb_path": str(store), "batch_locations": [str(batches)]}
        if table == "existing":  # an earlier run created it without column w
            first = run_target(settings, _messages([before], ["id"]), tmp_path)
            assert first.returncode == 0, first.stderr[-3000:]
        run = run_target(settings, _messages(files, ["id"], one_message=one_message, more=("w",)), tmp_path)
        assert run.returncode == 0, run.stderr[-3000:]
        assert ("file 2 needs the record path" in run.stderr) == one_message
        outcomes.append((_landed(store), _bookkeeping(store), run.summary["streams"]["items"]))

        changed = run_target(settings, _messages([later], ["v"], more=("w",)), tmp_path)
        assert changed.returncode == 1, changed.stderr[-3000:]
        assert "stream items: key properties changed from ['id'] to ['v']" in changed.stderr
        assert changed.states == []
        assert not any(row[0] >= 20 * ROWS for row in _landed(store))
    assert outcomes[0] == outcomes[1]
    kept = outcomes[0][1]
    versions = [(row[11], row[12]) for row in kept["_schema_metadata"]]
    assert sorted(versions) == ([(1, False), (2, True)] if table == "existing" else [(1, True)])
    assert {row[1] for row in kept["_truths_fields"]} >= {"id", "v", "w"}


def test_a_message_of_files_duckdb_s_reader_refuses_loads_at_most_three_times(
    tmp_path: Path, config: dict[str, Any]
) -> None:
    """Each file of a 6-file message holds a row DuckDB's reader refuses. Each refusal restarted the message with
    one more file on the record path: the message loaded 7 times and the record path read 21 files (n(n+1)/2).
    From the second refusal on, every file DuckDB's reader has not loaded takes the record path: the message loads
    at most three times and the record path reads each file at most twice. What lands is what one message per file
    lands."""
    batches = tmp_path / "batches"
    batches.mkdir()
    files = [_file(batches, index, index * ROWS, fraction=True) for index in range(6)]

    outcomes = []
    for one_message in (True, False):
        store = tmp_path / f"one-{one_message}" / "truths.duckdb"
        settings = {**config, "duckdb_path": str(store), "batch_locations": [str(batches)]}
        run = run_target(settings, _messages(files, [], one_message=one_message), tmp_path)
        assert run.returncode == 0, run.stderr[-3000:]
        assert run.states == [AFTER]
        outcomes.append((_landed(store), _bookkeeping(store), run.summary["streams"]["items"]))
        by_records = run.stderr.count("BATCH file loaded record by record")
        if one_message:
            assert run.stderr.count("BATCH message of 6 files (stream items): file") == 2, run.stderr[-3000:]
            assert by_records == 1 + 6  # file 1 in the second attempt, all six in the third
        else:
            assert by_records == 6
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][2] == {"received": 6 * ROWS, "loaded": 6 * ROWS - 6, "dead_lettered": 6}


def test_a_message_whose_commit_fails_stops_with_one_error_naming_the_message(
    tmp_path: Path, config: dict[str, Any], store: Path
) -> None:
    """Every file of a 3-file message loads, and the message's one COMMIT cannot write the WAL (RLIMIT_FSIZE, as a
    full disk). The failure escaped as a bare DuckDB error, without the one ERROR line saying that none of the
    message's files was committed; now it says so, names the stream and the message, and no STATE goes out."""
    batches = tmp_path / "batches"
    batches.mkdir()
    files = [_file(batches, index, index * COMMIT_ROWS, rows=COMMIT_ROWS) for index in range(3)]
    settings = {**config, "batch_locations": [str(batches)]}
    cfg = tmp_path / "limited.json"
    cfg.write_text(json.dumps(settings))

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails instead of the process being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (COMMIT_LIMIT, resource.RLIM_INFINITY))

    proc = subprocess.run(
        [TARGET_EXE, "--config", str(cfg)], input=lines_of(_messages(files, [])), capture_output=True, text=True,
        timeout=120, preexec_fn=limit, check=False,
    )  # fmt: skip
    failed = Run(proc.returncode, proc.stdout, proc.stderr)
    assert failed.returncode == 1, failed.stderr[-3000:]
    assert failed.states == []
    assert _landed(store) == []
    assert failed.stderr.count("BATCH file loaded by DuckDB directly") == 3  # the failure is the commit's
    errors = [line for line in failed.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1, failed.stderr[-3000:]
    assert f"stream items: the BATCH message of 3 files ({files[0]}, ...) was not committed" in errors[0]
    assert "File too large" in errors[0]
    assert "none of the message's files was committed" in errors[0]
    assert "Traceback" not in failed.stderr


def test_the_dead_letter_ceiling_inside_a_message_says_none_of_the_message_was_committed(
    tmp_path: Path, config: dict[str, Any], store: Path
) -> None:
    """``dead_letter_ceiling`` 0 and a 2-file message whose second file holds a row to dead-letter: the run stops,
    and none of the message's files is committed. The error said "earlier batches stay committed", untrue of the
    message's first file; now it says which file of the message and that none of them was committed."""
    batches = tmp_path / "batches"
    batches.mkdir()
    files = [_file(batches, 0, 0), _file(batches, 1, ROWS, fraction=True)]
    settings = {**config, "batch_locations": [str(batches)], "dead_letter_ceiling": 0}

    failed = run_target(settings, _messages(files, []), tmp_path)
    assert failed.returncode == 1, failed.stderr[-3000:]
    assert failed.states == []
    assert _landed(store) == []
    errors = [line for line in failed.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1, failed.stderr[-3000:]
    assert "above setting 'dead_letter_ceiling' (0)" in errors[0]
    assert "earlier batches stay committed" not in errors[0]
    assert "It was file 2 of 2 of one BATCH message: none of the message's files was committed." in errors[0]
