"""A BATCH file commits whole or not at all. A failure that is not the file's content (the disk cannot take the
WAL, a file gone) stops the run naming the stream and the file, with nothing of the file committed and no STATE
after it; a file whose content needs the record path is loaded there in one commit. Before, both cases committed
part of the file in ``batch_size_rows`` pieces before dying, and a keyless stream's rerun loaded that part twice."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from truths_testkit import (
    P8,
    PROJECT,
    TARGET_EXE,
    held_target,
    killed,
    lines_of,
    postgres_rows,
    query,
    run_target,
    schema_msg,
    state_msg,
)

TABLE = f"{P8}_singer_items"
WRITTEN = 1709287200  # older than the run: the target keeps the files, so the rerun reads them again
ROWS = 50_000
WAL_LIMIT = 4 * 2**20  # RLIMIT_FSIZE: one file's commit fits in the WAL, the second file's does not


def _file(directory: Path, index: int, rows: int, bad: bool = False) -> Path:
    """``rows`` narrow rows with ids from ``index * rows``; ``bad``: the last holds a fraction as its id (a schema
    violation DuckDB's reader loads, so the file takes the record path, which dead-letters that row)."""
    path = directory / f"part-{index}.jsonl"
    first = index * rows
    lines = [{"id": i, "v": f"v{i:026x}"} for i in range(first, first + rows)]
    if bad:
        lines[-1]["id"] = 0.5
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    os.utime(path, (WRITTEN, WRITTEN))
    return path


def _messages(files: list[Path], first: int = 0) -> list[dict[str, Any]]:
    """A keyless stream (a rerun cannot upsert away a row loaded twice): each file's BATCH, then a STATE naming it."""
    messages: list[dict[str, Any]] = [schema_msg("items", {"id": {"type": "integer"}, "v": {"type": "string"}}, [])]
    for index, path in enumerate(files[first:], first):
        messages.append({"type": "BATCH", "stream": "items", "manifest": [f"file://{path}"],
                         "encoding": {"format": "jsonl", "compression": "none"}})  # fmt: skip
        messages.append(state_msg({"bookmarks": {"items": {"file": index}}}))
    return messages


def _limited_run(
    settings: dict[str, Any], messages: list[dict[str, Any]], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """The target CLI with files limited to ``WAL_LIMIT`` bytes: a write past it fails with EFBIG (File too large),
    as on a full disk."""
    cfg = tmp_path / "limited.json"
    cfg.write_text(json.dumps(settings))

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails instead of the process being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (WAL_LIMIT, resource.RLIM_INFINITY))

    return subprocess.run(
        [TARGET_EXE, "--config", str(cfg)], input=lines_of(messages), capture_output=True, text=True, timeout=300,
        preexec_fn=limit, check=False,
    )  # fmt: skip


def _relayed(stdout: str) -> list[int]:
    return [json.loads(line)["bookmarks"]["items"]["file"] for line in stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("bad", [False, True], ids=["duckdb's reader", "record path"])
def test_e2_a_batch_file_the_disk_cannot_take_stops_the_run_with_none_of_it_committed_and_the_rerun_lands_it_once(
    tmp_path: Path, config: dict[str, Any], store: Path, bad: bool
) -> None:
    """The second file's commit cannot be written (RLIMIT_FSIZE): read by DuckDB, the failure used to send the file
    down the record path, and read record by record (``bad``), each 10,000-row piece committed alone, until the WAL
    could take no more; part of the file stayed with no STATE after it. Now the run stops at that file, exit 1, one
    ERROR naming the stream and the file, the rows of the files before it each once, their STATE relayed."""
    batches = tmp_path / "batches"
    batches.mkdir()
    files = [_file(batches, index, ROWS, bad=bad and index == 1) for index in range(4)]
    settings = {**config, "batch_locations": [str(batches)]}

    failed = _limited_run(settings, _messages(files), tmp_path)
    assert failed.returncode == 1, failed.stderr[-3000:]
    relayed = _relayed(failed.stdout)
    assert relayed == [0], failed.stderr[-3000:]  # the first file's commit fits, the second's cannot
    assert query(store, f'SELECT COUNT(*), COUNT(DISTINCT id), MAX(id) FROM "{TABLE}"') == [(ROWS, ROWS, ROWS - 1)]
    assert query(store, "SELECT SUM(rows_loaded) FROM _truths_ledger") == [(ROWS,)]
    assert query(store, "SELECT COUNT(*) FROM _dead_letters") == [(0,)]
    errors = [line for line in failed.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1, failed.stderr[-3000:]
    assert f"stream items: BATCH file {files[1]} was not loaded" in errors[0]
    assert "File too large" in errors[0]
    assert "nothing of it was committed" in errors[0]
    assert ("record by record" in failed.stderr) == bad  # an I/O error is no reason to change path

    rerun = run_target(settings, _messages(files, first=relayed[-1] + 1), tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert _relayed(rerun.stdout) == [1, 2, 3]
    landed = 4 * ROWS - int(bad)
    assert query(store, f'SELECT COUNT(*), COUNT(DISTINCT id) FROM "{TABLE}"') == [(landed, landed)]
    assert query(store, "SELECT COUNT(*) FROM _dead_letters") == [(int(bad),)]
    assert rerun.summary["streams"]["items"] == {"received": 3 * ROWS, "loaded": 3 * ROWS - int(bad),
                                                 "dead_lettered": int(bad)}  # fmt: skip


def test_e2_a_file_killed_mid_way_through_the_record_path_leaves_none_of_it_and_the_rerun_lands_each_row_once(
    tmp_path: Path, config: dict[str, Any], store: Path
) -> None:
    """A file whose content sends it down the record path is loaded in batches of ``batch_size_rows`` (1,000 here)
    that commit together: the target killed inside the file's third batch (``XLR8_TRUTHS_HOLD_BEFORE_COMMIT`` 4:
    the first file's commit is the 1st) leaves none of the file's rows, where before its first two batches stayed,
    with no STATE after them."""
    batches = tmp_path / "batches"
    batches.mkdir()
    rows = 3_500
    files = [_file(batches, index, rows, bad=index == 1) for index in range(3)]
    settings = {**config, "batch_locations": [str(batches)], "batch_size_rows": 1_000}
    cfg = tmp_path / "held.json"
    cfg.write_text(json.dumps(settings))
    marker = tmp_path / "holding"
    proc = held_target(cfg, _messages(files), {"XLR8_TRUTHS_HOLD_BEFORE_COMMIT": f"{marker}:4"}, marker, "commit 4")
    emitted = killed(proc)

    assert [state["bookmarks"]["items"]["file"] for state in emitted] == [0]
    assert query(store, f'SELECT COUNT(*), COUNT(DISTINCT id), MAX(id) FROM "{TABLE}"') == [(rows, rows, rows - 1)]
    assert query(store, "SELECT SUM(rows_loaded) FROM _truths_ledger") == [(rows,)]

    rerun = run_target(settings, _messages(files, first=1), tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "BATCH file loaded record by record (stream items: FastPathRefused: " in rerun.stderr
    assert _relayed(rerun.stdout) == [1, 2]
    landed = 3 * rows - 1
    assert query(store, f'SELECT COUNT(*), COUNT(DISTINCT id) FROM "{TABLE}"') == [(landed, landed)]
    assert query(store, "SELECT COUNT(*), MIN(error) FROM _dead_letters") == [(1, "schema violation (type)")]
    assert rerun.summary["streams"]["items"] == {"received": 2 * rows, "loaded": 2 * rows - 1, "dead_lettered": 1}


def test_e3_sigterm_while_a_file_loads_record_by_record_waits_for_the_whole_file_then_relays_its_state(
    tmp_path: Path, config: dict[str, Any], store: Path
) -> None:
    """SIGTERM once a 200,000-row file has started down the record path: the target finishes the file (one
    commit), relays the STATE after it and exits 0 (E3). Before, it shut down between two 10,000-row batches of
    the file, leaving those committed with no STATE after them."""
    batches = tmp_path / "batches"
    batches.mkdir()
    rows = 200_000
    files = [_file(batches, 0, rows, bad=True)]
    settings = {**config, "batch_locations": [str(batches)]}
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(settings))
    messages = [*_messages(files), state_msg({"bookmarks": {"items": {"file": "after"}}})]
    proc = subprocess.Popen(
        [TARGET_EXE, "--config", str(cfg)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proc.stdin is not None
    assert proc.stderr is not None
    proc.stdin.write(lines_of(messages))
    proc.stdin.flush()  # stdin stays open: the run ends by the signal, not at the end of its input
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "BATCH file loaded record by record" in line:
            break
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    stderr = "".join(seen) + err
    assert proc.returncode == 0, stderr[-3000:]
    assert "Termination signal 15: finishing the open batch transaction first" in stderr
    assert [json.loads(line)["bookmarks"]["items"]["file"] for line in out.splitlines()] == [0]
    assert query(store, f'SELECT COUNT(*), COUNT(DISTINCT id) FROM "{TABLE}"') == [(rows - 1, rows - 1)]
    assert query(store, "SELECT COUNT(*) FROM _dead_letters") == [(1,)]


def test_e2_postgres_a_file_killed_mid_way_leaves_none_of_it_and_the_rerun_lands_each_row_once(
    tmp_path: Path, postgres_dsn: str
) -> None:
    """delivery=postgres loads every BATCH file record by record: its batches are savepoints of one transaction,
    so the target killed inside the file's third batch leaves none of it (before, its first two batches stayed)."""
    batches = tmp_path / "batches"
    batches.mkdir()
    rows = 3_500
    files = [_file(batches, index, rows) for index in range(2)]
    schema = f"t_{tmp_path.name.lower().replace('-', '_')[:40]}"
    settings = {"project_id": PROJECT, "delivery": "postgres", "postgres_dsn": postgres_dsn,
                "postgres_schema": schema, "batch_locations": [str(batches)], "batch_size_rows": 1_000}  # fmt: skip
    cfg = tmp_path / "held.json"
    cfg.write_text(json.dumps(settings))
    marker = tmp_path / "holding"
    proc = held_target(cfg, _messages(files), {"XLR8_TRUTHS_HOLD_BEFORE_COMMIT": f"{marker}:3"}, marker, "batch 3")
    assert killed(proc) == []

    def landed() -> list[tuple[Any, ...]]:
        return postgres_rows(postgres_dsn, schema, TABLE, "COUNT(*), COUNT(DISTINCT id)") or [(0, 0)]

    assert landed() == [(0, 0)]
    rerun = run_target(settings, _messages(files), tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert _relayed(rerun.stdout) == [0, 1]
    assert landed() == [(2 * rows, 2 * rows)]


@pytest.mark.parametrize(
    ("bad", "what"),
    [
        (b'{"id": 2, "v": "CANARY-\n', "is not valid JSON"),
        (b'["CANARY", 2]\n', "is not a JSON object"),
        (b'{"id": 2, "v": "CANARY-\xff\xfe"}\n', "is not valid UTF-8"),
    ],
    ids=["malformed", "not an object", "not utf-8"],
)
def test_f3_a_batch_file_line_the_record_path_cannot_read_is_named_by_file_and_number_never_by_content(
    tmp_path: Path, config: dict[str, Any], store: Path, bad: bytes, what: str
) -> None:
    """DuckDB's reader refuses such a file, so it takes the record path, which failed with the decoder's bare text
    (``Expecting value: line 1 column 16``, ``'list' object has no attribute 'get'``, ``'utf-8' codec can't
    decode…``), naming neither the file nor the stream. Now one ERROR names both and the line, quotes none of it,
    and nothing of the file lands."""
    batches = tmp_path / "batches"
    batches.mkdir()
    path = batches / "part-0.jsonl"
    path.write_bytes(b"".join(json.dumps({"id": i, "v": f"v{i}"}).encode() + b"\n" for i in range(2)) + b"\n" + bad)
    os.utime(path, (WRITTEN, WRITTEN))
    run = run_target({**config, "batch_locations": [str(batches)]}, _messages([path]), tmp_path)
    assert run.returncode == 1, run.stderr[-3000:]
    assert run.states == []
    errors = [line for line in run.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1, run.stderr[-3000:]
    assert f"stream items: BATCH file {path} line 4 {what}; nothing of the file was committed" in errors[0]
    assert "CANARY" not in run.stderr
    tables = f"SELECT COUNT(*) FROM information_schema.tables WHERE table_name = '{TABLE}'"
    assert query(store, tables) == [(0,)]  # its creation rolled back with the rest of the file


def test_a_failed_run_removes_the_batch_files_it_was_sent_and_only_those(store: Path, tmp_path: Path) -> None:
    """audit25e F20: a run that stopped (here: a stream with personal data and no PII key) left every file the tap
    had written, records in clear, for good. Removed now: the files of the BATCH messages received and of those
    already waiting in the input, once the tap wrote them for this run (a file older than the run, or outside
    ``batch_locations``, is never touched). The tap never reads a file again: its rerun reads the source."""
    batches, outside = tmp_path / "batches", tmp_path / "outside"
    batches.mkdir()
    outside.mkdir()
    files = {}
    for name, folder in (("landed", batches), ("waiting", batches), ("old", batches), ("outside", outside)):
        files[name] = folder / f"{name}.jsonl"
        files[name].write_text(json.dumps({"id": 1, "ssn": "987-65-4329"}) + "\n")
    os.utime(files["old"], (1709287200, 1709287200))

    def batch(stream: str, *names: str) -> dict[str, Any]:
        return {"type": "BATCH", "stream": stream, "manifest": [files[n].as_uri() for n in names],
                "encoding": {"format": "jsonl", "compression": "none"}}  # fmt: skip

    plain = {"id": {"type": "integer"}}
    messages = [
        schema_msg("plain", plain, ["id"]),
        batch("plain", "landed"),
        schema_msg("people", {**plain, "ssn": {"type": "string"}}, ["id"]),  # stops the run: no PII key
        batch("people", "waiting", "old"),
        batch("people", "outside"),
    ]
    config = {"project_id": PROJECT, "duckdb_path": str(store), "batch_locations": [str(batches)]}
    run = run_target(config, messages, tmp_path)
    assert run.returncode != 0
    assert "no PII key is configured" in run.stderr
    assert sorted(p.name for p in batches.iterdir()) == ["old.jsonl"]
    assert files["outside"].exists()


def test_partial_batch_files_of_a_killed_run_go_when_the_target_starts(tmp_path: Path, config: dict[str, Any]) -> None:
    """A tap or target SIGKILLed mid-run leaves a ``.partial`` BATCH file (records in clear) that no BATCH message
    names; a target's start removes those under its batch_locations (in a tap's own folder beneath them) whose
    writer and the writer's parent run are gone and that went unwritten for STALE_PARTIAL_IDLE_SECONDS. It keeps the
    killed run's complete file (a later target may still be sent it: review26c M1), a live run's files, a partial
    written lately (its writer may live in another pid namespace), and any other file; it names the complete files'
    folders and the command that removes them (``xlr8 batches clean``)."""
    from xlr8_kit.batch_files import STALE_PARTIAL_IDLE_SECONDS
    from xlr8_kit.testing.batch_residue import killed_run_files

    folder = tmp_path / "batches" / "tap-things"
    complete, partial = sorted(killed_run_files(folder), key=lambda p: p.name.endswith(".partial"))
    idle = time.time() - STALE_PARTIAL_IDLE_SECONDS - 60
    os.utime(complete, (idle, idle))
    recent = killed_run_files(tmp_path / "batches" / "tap-other")
    live = folder / f"tap-things--things-00000000-0000-0000-0000-000000000000~{os.getpid()}~{os.getppid()}-0.jsonl"
    live.write_text('{"id": 3}\n')
    other = folder / "notes.jsonl"
    other.write_text("{}\n")
    for path in (partial, live, other):
        os.utime(path, (idle, idle))
    schema = schema_msg("items", {"id": {"type": "integer"}}, ["id"])
    run = run_target({**config, "batch_locations": [str(tmp_path / "batches")]}, [schema], tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Removed 1 BATCH file(s) left in batch_locations by killed runs" in run.stderr
    # the complete files of ended runs (this one's, tap-other's) are kept, and the operator told how to remove them
    assert "2 complete BATCH file(s) of runs that ended are kept in batch_locations" in run.stderr
    assert f"`xlr8 batches clean --older-than <age> --dry-run {folder.parent / 'tap-other'} {folder}`" in run.stderr
    assert not partial.exists()
    assert complete.exists()
    assert all(p.exists() for p in recent)
    assert live.exists()
    assert other.exists()


def test_a_batch_file_written_by_a_tap_that_has_ended_is_loaded_later(tmp_path: Path, config: dict[str, Any]) -> None:
    """review26c M1: "tap > messages.jsonl" now, "target < messages.jsonl" later. The tap and its shell are gone
    when the target starts; the target loads the tap's file (was: removed it as a killed run's, then failed on the
    missing file, exit 1, the extract lost) and removes it only once loaded."""
    dead = []
    for _ in range(2):
        shell = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True, check=True)
        dead.append(int(shell.stdout))
    folder = tmp_path / "batches" / "tap-things"
    folder.mkdir(parents=True)
    file = folder / f"tap-things--items-00000000-0000-0000-0000-000000000000~{dead[0]}~{dead[1]}-0.jsonl"
    file.write_text('{"id": 1}\n{"id": 2}\n')
    messages = [
        schema_msg("items", {"id": {"type": "integer"}}, ["id"]),
        {"type": "BATCH", "stream": "items", "encoding": {"format": "jsonl", "compression": "none"},
         "manifest": [file.as_uri()]},
        state_msg({"bookmarks": {"items": {"replication_key_value": 2}}}),
    ]  # fmt: skip
    run = run_target({**config, "batch_locations": [str(tmp_path / "batches")]}, messages, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "killed runs" not in run.stderr
    assert run.summary["streams"]["items"]["loaded"] == 2
    assert '"replication_key_value": 2' in run.stdout
    assert not file.exists()


def test_batches_clean_skips_the_folders_a_running_target_reads(tmp_path: Path, config: dict[str, Any]) -> None:
    """review27c H1: a replay (``tap > out.jsonl`` days ago, ``target < out.jsonl`` now) of a tap and shell long
    gone: its start-up WARNING names the files, and `xlr8 batches clean` run while it goes on removed the file still
    ahead in its input (closed, old, writer and parent dead); the target then failed on it. A running target holds
    each batch location (a shared flock): clean skips the folder, says so and exits 1; the target lands both files;
    once it has ended the same command removes them."""
    import sys

    dead = [int(subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True, check=True).stdout)
            for _ in range(2)]  # fmt: skip
    folder = tmp_path / "batches" / "tap-things"
    folder.mkdir(parents=True)
    files = []
    for i in range(2):
        file = folder / f"tap-things--items-00000000-0000-0000-0000-000000000000~{dead[0]}~{dead[1]}-{i}.jsonl"
        file.write_text(f'{{"id": {2 * i + 1}}}\n{{"id": {2 * i + 2}}}\n')
        then = time.time() - 3 * 86400
        os.utime(file, (then, then))
        files.append(file)

    def batch(file: Path) -> dict[str, Any]:
        return {"type": "BATCH", "stream": "items", "encoding": {"format": "jsonl", "compression": "none"},
                "manifest": [file.as_uri()]}  # fmt: skip

    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({**config, "batch_locations": [str(tmp_path / "batches")]}))
    clean = [str(Path(sys.executable).parent / "xlr8"), "batches", "clean", "--older-than", "2d", str(folder)]
    err = tmp_path / "stderr.txt"
    with err.open("w") as err_out:
        proc = subprocess.Popen([TARGET_EXE, "--config", str(cfg)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=err_out, text=True)  # fmt: skip
        assert proc.stdin is not None
        proc.stdin.write(lines_of([schema_msg("items", {"id": {"type": "integer"}}, ["id"]), batch(files[0])]))
        proc.stdin.flush()
        deadline = time.monotonic() + 120  # the WARNING is logged once the target holds its batch locations
        while "complete BATCH file(s) of runs that ended" not in err.read_text():
            assert proc.poll() is None, err.read_text()[-2000:]
            assert time.monotonic() < deadline, err.read_text()[-2000:]
            time.sleep(0.05)
        during = subprocess.run(clean, capture_output=True, text=True, check=False)
        assert during.returncode == 1, during.stdout + during.stderr
        assert f"skipped {folder}: a running target or mapper reads BATCH files there" in during.stderr
        assert "0 file(s) removed" in during.stdout
        assert all(file.exists() for file in files)
        proc.stdin.write(lines_of([batch(files[1]), state_msg({"bookmarks": {"items": {"file": 1}}})]))
        proc.stdin.close()
        out = proc.stdout.read() if proc.stdout else ""
        assert proc.wait(timeout=300) == 0, err.read_text()[-2000:]
    assert '"file": 1' in out
    assert query(Path(config["duckdb_path"]), f'SELECT id FROM "{TABLE}" ORDER BY id') == [(1,), (2,), (3,), (4,)]
    after = subprocess.run(clean, capture_output=True, text=True, check=False)
    assert after.returncode == 0, after.stdout + after.stderr
    assert after.stdout.splitlines()[:2] == [f"removed {files[0]}", f"removed {files[1]}"]
    assert not any(file.exists() for file in files)
