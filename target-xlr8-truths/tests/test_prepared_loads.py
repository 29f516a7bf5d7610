"""BATCH files of one stream load through one prepared INSERT (bound once, reading the spool's link to the file at
hand): each file still lands its own rows, PII and nested JSON rewritten by the file's functions, its own write
time, and a file refused on the way (its transaction rolled back, the functions registered in it gone) leaves the
next file's load working."""

from __future__ import annotations

import base64
import os
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

from test_fast_paths import _both_paths, _encode, _landed, _paths
from truths_testkit import annotation, query, run_target, schema_msg, state_msg

STREAM = "workers"
PROPS: dict[str, Any] = {
    "Id": {"type": "string"},
    "Name": {"type": ["null", "string"]},
    "SSN": {"type": ["null", "string"]},  # national_id: encrypted inside the INSERT
    "Address": {"type": ["null", "object"], "properties": {"Lat": {"type": ["null", "number"]}}},  # rewritten
}
#: Four files; the first holds a row without its key, which the fast path refuses (the record path dead-letters it)
#: after the INSERT was prepared, and registered its functions, in the file's transaction: its rollback takes them.
FILES: list[list[dict[str, Any]]] = [
    [{"Id": "F0-0", "Name": "zero", "SSN": "000-00-0000"}, {"Name": "no key", "SSN": "000-00-0001"}],
    [{"Id": f"F1-{i}", "Name": f"one {i}", "SSN": f"111-11-{i:04d}", "Address": {"Lat": Decimal(f"1.{i}5")}}
     for i in range(3)],
    [{"Id": f"F2-{i}", "Name": f"two {i}", "SSN": f"222-22-{i:04d}", "Address": {"Lat": Decimal(f"2.{i}5")}}
     for i in range(4)],
    [{"Id": "F1-1", "Name": "three wins", "SSN": "333-33-0000", "Address": {"Lat": Decimal("3.25")}},
     {"Id": "F3-1", "Name": None, "SSN": None, "Address": None}],
]  # fmt: skip
#: Each file's write time (the rows' ``_sdc_extracted_at``): a different one per file.
WRITTEN = [1709287200 + 3600 * index for index in range(len(FILES))]


def _build(batches: Path) -> list[dict[str, Any]]:
    note = annotation("workday", STREAM, "worker", keys=["Id"])
    note["canonical_fields"] = {"SSN": "national_id"}
    messages: list[dict[str, Any]] = [schema_msg(STREAM, PROPS, ["Id"], note)]
    for index, records in enumerate(FILES):
        path = batches / f"part-{index}.jsonl"
        path.write_text(_encode(records))
        os.utime(path, (WRITTEN[index], WRITTEN[index]))
        messages.append({"type": "BATCH", "stream": STREAM, "manifest": [f"file://{path}"],
                         "encoding": {"format": "jsonl", "compression": "none"}})  # fmt: skip
    return [*messages, state_msg({"done": True})]


def test_files_of_one_shape_land_their_own_rows_through_one_prepared_insert(
    tmp_path: Path, config: dict[str, Any]
) -> None:
    landed = []
    key = b""
    for exact, store, run in _both_paths(tmp_path, config, _build):
        assert run.summary["streams"][STREAM] == {"received": 11, "loaded": 10, "dead_lettered": 1}, run.stderr[-3000:]
        paths = _paths(run.stderr)[STREAM]
        assert paths.get("batch_files_duckdb", 0) == (0 if exact else 3), run.stderr[-3000:]
        assert paths["batch_files_records"] == (4 if exact else 1)
        key = base64.b64decode(Path(config["pii_key_file"]).read_text().strip())
        landed.append(_landed(store, key))
    fast, exact = landed
    assert fast == exact
    store = tmp_path / "fast" / "truths.duckdb"
    table = str(query(store, "SELECT table_name FROM _schema_metadata WHERE is_current")[0][0])
    rows = {
        row[0]: row[1:]
        for row in query(
            store,
            f'SELECT id, name, ssn, CAST(address AS VARCHAR), epoch(_sdc_extracted_at)::BIGINT FROM "{table}"',
        )
    }
    assert sorted(rows) == ["F0-0", "F1-0", "F1-1", "F1-2", "F2-0", "F2-1", "F2-2", "F2-3", "F3-1"]
    from test_privacy import engine_decrypt

    for row_id, (name, ssn, address, written) in rows.items():
        index = 3 if row_id == "F1-1" else int(row_id[1])
        assert written == WRITTEN[index], row_id  # the file's own time, not the first file's
        if row_id == "F1-1":
            assert (name, engine_decrypt(ssn, key), address) == ("three wins", "333-33-0000", '{"Lat":"3.25"}')
        elif row_id.startswith(("F1", "F2")):
            i = int(row_id[3:])
            assert engine_decrypt(ssn, key) == f"{index}{index}{index}-{index}{index}-{i:04d}", row_id
            assert address == f'{{"Lat":"{index}.{i}5"}}', row_id  # rewritten as the record path writes it


#: Loaded first by the target CLI (``sitecustomize`` on PYTHONPATH): the store's connection counted each time DuckDB
#: binds a BATCH file's INSERT (a statement reading ``read_json``: an INSERT, or the PREPARE of one).
_COUNT_BINDS = """
import sys
from target_xlr8_truths import duckdb_store

class Counting:
    def __init__(self, con):
        self._con = con
    def __getattr__(self, name):
        return getattr(self._con, name)
    def execute(self, sql, *args, **kwargs):
        if "read_json(" in sql and sql.lstrip().upper().startswith(("INSERT", "PREPARE")):
            sys.stderr.write("XLR8_TEST_BIND\\n")
        return self._con.execute(sql, *args, **kwargs)

init = duckdb_store.DuckDBStore.__init__
def __init__(self, *args, **kwargs):
    init(self, *args, **kwargs)
    self.con = Counting(self.con)
duckdb_store.DuckDBStore.__init__ = __init__
"""


def test_a_streams_batch_files_bind_their_insert_once(tmp_path: Path, config: dict[str, Any]) -> None:
    """DuckDB bound the INSERT again for every file (12-13 ms of CPU for 29 Contacts columns); now once per stream
    shape, and again after a refused file's rollback."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(textwrap.dedent(_COUNT_BINDS))
    batches = tmp_path / "batches"
    batches.mkdir()
    settings = {**config, "batch_locations": [str(batches)]}
    env = {"PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")])}
    run = run_target(settings, _encode(_build(batches)), tmp_path, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    paths = _paths(run.stderr)[STREAM]
    assert (paths.get("batch_files_duckdb"), paths.get("batch_files_records")) == (3, 1), run.stderr[-3000:]
    # file 1's bind is rolled back with it (refused); files 2 to 4 share one
    assert run.stderr.count("XLR8_TEST_BIND") == 2, run.stderr[-3000:]
