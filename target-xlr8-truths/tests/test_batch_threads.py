"""BATCH files that each fit in DuckDB's JSON reader buffer load on one DuckDB thread (the reader gives such a file to
one thread anyway; a second one only held its own buffers in the pool); larger files and record batches keep every
thread. The rows land as before."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

from test_fast_paths import _encode, _paths
from truths_testkit import annotation, query, record_msg, run_target, schema_msg, state_msg

STREAM = "accounts"
PROPS: dict[str, Any] = {"Id": {"type": "string"}, "Name": {"type": ["null", "string"]}}
#: The reader's buffer in the test's target (``_READER_BUFFER``, 32 MiB): lowered so that a file of a few rows
#: outgrows it; DuckDB's own reader is unchanged.
BUFFER = 400

#: Loaded first by the target CLI (``sitecustomize`` on PYTHONPATH): DuckDB opened with 4 threads whatever the
#: machine's cores, the reader's buffer at ``BUFFER`` bytes, and each statement that reads a file (a BATCH file's
#: INSERT, or a record batch's stage) said on stderr with DuckDB's threads as it runs.
_THREADS_SEEN = """
import sys
import duckdb
from target_xlr8_truths import duckdb_store

duckdb_store._READER_BUFFER = {buffer}
connect = duckdb.connect

class Seeing:
    def __init__(self, con):
        self._con = con
    def __getattr__(self, name):
        return getattr(self._con, name)
    def execute(self, sql, *args, **kwargs):
        text = sql.lstrip().upper()
        if text.startswith("EXECUTE __XLR8_LOAD_") or ("read_json(" in sql and not text.startswith("PREPARE")):
            threads = self._con.execute("SELECT current_setting('threads')").fetchone()[0]
            sys.stderr.write(f"XLR8_TEST_THREADS {{threads}}\\n")
        return self._con.execute(sql, *args, **kwargs)

def _connect(*args, config=None, **kwargs):
    return Seeing(connect(*args, config={{**(config or {{}}), "threads": 4}}, **kwargs))

duckdb_store.duckdb.connect = _connect
"""


def _batch(path: Path, records: list[dict[str, Any]]) -> dict[str, Any]:
    path.write_text(_encode(records))
    return {"type": "BATCH", "stream": STREAM, "manifest": [f"file://{path}"],
            "encoding": {"format": "jsonl", "compression": "none"}}  # fmt: skip


def test_batch_files_within_the_readers_buffer_load_on_one_thread_and_the_rest_on_all(
    tmp_path: Path, config: dict[str, Any]
) -> None:
    """Two small files (one thread each), one larger than the buffer (every thread), then records (every thread),
    then a small file again (one thread): each lands its rows, and the run ends with DuckDB's threads as it opened."""
    batches = tmp_path / "batches"
    batches.mkdir()
    small = [[{"Id": f"S{n}-{i}", "Name": f"small {n} {i}"} for i in range(2)] for n in range(3)]
    large = [{"Id": f"L-{i}", "Name": f"large {i} " + "x" * 40} for i in range(12)]
    assert len(_encode(large)) > BUFFER > max(len(_encode(s)) for s in small)
    messages = [
        schema_msg(STREAM, PROPS, ["Id"], annotation("salesforce", STREAM, "account", keys=["Id"])),
        _batch(batches / "small-0.jsonl", small[0]),
        _batch(batches / "small-1.jsonl", small[1]),
        state_msg({"file": 2}),
        _batch(batches / "large.jsonl", large),
        state_msg({"file": 3}),
        record_msg(STREAM, {"Id": "R-0", "Name": "record"}),
        state_msg({"record": 1}),
        _batch(batches / "small-2.jsonl", small[2]),
        state_msg({"file": 4}),
    ]
    settings = {**config, "batch_locations": [str(batches)]}
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(textwrap.dedent(_THREADS_SEEN.format(buffer=BUFFER)))
    env = {"PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")])}
    run = run_target(settings, _encode(messages), tmp_path, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.summary["streams"][STREAM] == {"received": 19, "loaded": 19, "dead_lettered": 0}, run.stderr[-3000:]
    paths = _paths(run.stderr)[STREAM]
    assert paths.get("batch_files_duckdb") == 4, run.stderr[-3000:]
    seen = [line.split()[1] for line in run.stderr.splitlines() if line.startswith("XLR8_TEST_THREADS ")]
    assert seen == ["1", "1", "4", "4", "1"], run.stderr[-3000:]
    store = Path(settings["duckdb_path"])
    table = str(query(store, "SELECT table_name FROM _schema_metadata WHERE is_current")[0][0])
    landed = dict(query(store, f'SELECT id, name FROM "{table}"'))
    expected = {r["Id"]: r["Name"] for r in [*small[0], *small[1], *large, *small[2]]}
    assert landed == {**expected, "R-0": "record"}
    relayed = [json.loads(line) for line in run.stdout.splitlines() if line]
    assert relayed == [{"file": 2}, {"file": 3}, {"record": 1}, {"file": 4}], run.stdout
