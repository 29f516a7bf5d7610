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

import pytest
from test_fast_paths import _both_paths, _encode, _landed, _paths
from test_privacy import engine_decrypt
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


def _hooked(tmp_path: Path, code: str) -> dict[str, str]:
    """The environment that runs ``code`` first in the target CLI (``sitecustomize`` on PYTHONPATH)."""
    hook = tmp_path / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(textwrap.dedent(code))
    return {"PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")])}


#: The spool's links made but not followed, as on a ``nosymfollow`` mount (where following one fails with ELOOP):
#: each link leads nowhere.
_UNFOLLOWED_LINKS = """
import os
from target_xlr8_truths import duckdb_store

class Os:
    def __getattr__(self, name):
        return getattr(os, name)
    def symlink(self, target, link, *args, **kwargs):
        os.symlink(str(target) + ".unfollowed", link, *args, **kwargs)

duckdb_store.os = Os()
"""


def test_a_spool_whose_links_are_not_followed_loads_each_file_by_its_own_statement(
    tmp_path: Path, config: dict[str, Any]
) -> None:
    """review23g 1: on a ``nosymfollow`` spool the link was made, DuckDB could not follow it, and every BATCH file
    failed the run (base loaded them); the store now checks the link leads to the file, else reads each file by
    its own statement for the rest of the run, said once."""
    batches = tmp_path / "batches"
    batches.mkdir()
    settings = {**config, "batch_locations": [str(batches)], "duckdb_path": str(tmp_path / "truths.duckdb")}
    run = run_target(settings, _encode(_build(batches)), tmp_path, env=_hooked(tmp_path, _UNFOLLOWED_LINKS))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.summary["streams"][STREAM] == {"received": 11, "loaded": 10, "dead_lettered": 1}, run.stderr[-3000:]
    paths = _paths(run.stderr)[STREAM]
    assert (paths.get("batch_files_duckdb"), paths.get("batch_files_records")) == (3, 1), run.stderr[-3000:]
    assert run.stderr.count("symbolic links are not followed") == 1, run.stderr[-3000:]


#: Each BATCH file removed once its link is made, before DuckDB reads it (a read error of the file itself).
_FILE_GONE = """
import contextlib, os
from target_xlr8_truths import duckdb_store

linked = duckdb_store.DuckDBStore._linked

@contextlib.contextmanager
def _linked(self, path):
    with linked(self, path) as link:
        if link is not None:
            os.unlink(path)
        yield link

duckdb_store.DuckDBStore._linked = _linked
"""


def test_a_batch_files_read_error_names_the_file_not_the_spools_link(tmp_path: Path, config: dict[str, Any]) -> None:
    """review23g 2: DuckDB's error named the spool's link (gone with the process), not the BATCH file."""
    batches = tmp_path / "batches"
    batches.mkdir()
    settings = {**config, "batch_locations": [str(batches)], "duckdb_path": str(tmp_path / "truths.duckdb")}
    run = run_target(settings, _encode(_build(batches)), tmp_path, env=_hooked(tmp_path, _FILE_GONE))
    assert run.returncode == 1, run.stderr[-3000:]
    failed = [line for line in run.stderr.splitlines() if "was not loaded" in line]
    assert failed, run.stderr[-3000:]
    assert f'IOException: IO Error: No files found that match the pattern "{batches / "part-0.jsonl"}"' in failed[0]
    assert "spool" not in failed[0], failed[0]


def test_stores_sharing_a_spool_directory_keep_their_own_links(tmp_path: Path) -> None:
    """review23g 3: two targets sharing one spool directory (one volume, the same PID in two containers) used one
    fixed link name, so one could repoint the other's link between its link and its read: the other's rows loaded
    instead, silently. Each store now has its own name, and never removes a link it did not make."""
    import datetime as dt

    from target_xlr8_truths.duckdb_store import DuckDBStore
    from target_xlr8_truths.spool import Spool
    from target_xlr8_truths.store import RunContext

    run = RunContext(
        "proj", "6f1c2a9e-5a4d-4b8e-9c1f-0a5d5a4d0b01", "run-1", None, dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    )
    spool = Spool(tmp_path / "spool")
    stores = [DuckDBStore(str(tmp_path / f"{name}.duckdb"), run, spool) for name in ("a", "b")]
    files = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for file in files:
        file.write_text(file.name)
    try:
        with stores[0]._linked(str(files[0])) as first, stores[1]._linked(str(files[1])) as second:
            assert first is not None
            assert second is not None
            assert first != second
            assert (first.read_text(), second.read_text()) == ("a.jsonl", "b.jsonl")
    finally:
        for store in stores:
            store.close()
        spool.close()


#: A store keeping one prepared load: every new shape drops the one before (said on stderr).
_ONE_KEPT = """
import sys
from target_xlr8_truths import duckdb_store

duckdb_store._LOADS_KEPT = 1
drop = duckdb_store.DuckDBStore._drop_load
def _drop_load(self, load):
    sys.stderr.write("XLR8_TEST_DROPPED\\n")
    drop(self, load)
duckdb_store.DuckDBStore._drop_load = _drop_load
"""
#: Symbolic links not made at all (a file system without them).
_NO_LINKS = """
import os
from target_xlr8_truths import duckdb_store

class Os:
    def __getattr__(self, name):
        return getattr(os, name)
    def symlink(self, *args, **kwargs):
        raise OSError(1, "symbolic links not supported here")

duckdb_store.os = Os()
"""


def _two_streams(batches: Path) -> list[dict[str, Any]]:
    """Two PII streams' BATCH files in turn, one stream's schema then widened: three shapes, alternating."""
    messages: list[dict[str, Any]] = []
    for stream in ("alpha", "beta"):
        note = annotation("workday", stream, "worker", keys=["Id"])
        note["canonical_fields"] = {"SSN": "national_id"}
        messages.append(schema_msg(stream, PROPS, ["Id"], note))
    wide = {**PROPS, "Dept": {"type": ["null", "string"]}}
    for index in range(6):
        stream = ("alpha", "beta")[index % 2]
        if index == 4:
            note = annotation("workday", "alpha", "worker", keys=["Id"])
            note["canonical_fields"] = {"SSN": "national_id"}
            messages.append(schema_msg("alpha", wide, ["Id"], note))
        path = batches / f"{stream}-{index}.jsonl"
        extra = {"Dept": "D"} if index >= 4 and stream == "alpha" else {}
        path.write_text(_encode([
            {"Id": f"{stream}-{index}-{i}", "Name": f"{stream} {i}", "SSN": f"{index}{i}-0000",
             "Address": {"Lat": Decimal(f"{index}.{i}5")}, **extra}
            for i in range(2 + index % 3)
        ]))  # fmt: skip
        os.utime(path, (WRITTEN[0] + index, WRITTEN[0] + index))
        messages.append({"type": "BATCH", "stream": stream, "manifest": [f"file://{path}"],
                         "encoding": {"format": "jsonl", "compression": "none"}})  # fmt: skip
    return [*messages, state_msg({"done": True})]


@pytest.mark.parametrize("hook", [_NO_LINKS, _ONE_KEPT], ids=["no-links", "one-load-kept"])
def test_the_per_file_statement_and_dropped_loads_land_what_the_exact_path_lands(
    tmp_path: Path, config: dict[str, Any], hook: str
) -> None:
    """review23g 5: the statement per file (no links) and a prepared load dropped for a newer shape, run by no test
    before, land the rows the exact path lands."""
    dumps = []
    for label, env in (("fast", _hooked(tmp_path, hook)), ("exact", {"XLR8_TRUTHS_EXACT_PATH": "1"})):
        where = tmp_path / label
        batches = where / "batches"
        batches.mkdir(parents=True)
        settings = {**config, "batch_locations": [str(batches)], "duckdb_path": str(where / "truths.duckdb")}
        run = run_target(settings, _encode(_two_streams(batches)), where, env=env)
        assert run.returncode == 0, run.stderr[-3000:]
        if label == "fast":
            paths = _paths(run.stderr)
            assert sum(p.get("batch_files_duckdb", 0) for p in paths.values()) == 6, run.stderr[-3000:]
            if hook is _ONE_KEPT:
                assert run.stderr.count("XLR8_TEST_DROPPED") >= 4, run.stderr[-3000:]
        key = base64.b64decode(Path(config["pii_key_file"]).read_text().strip())  # made by the first run
        tables = [
            r[0]
            for r in query(
                where / "truths.duckdb", "SELECT table_name FROM _schema_metadata WHERE is_current ORDER BY 1"
            )
        ]
        dump = {}
        for table in tables:
            names = [r[0] for r in query(where / "truths.duckdb", f'DESCRIBE "{table}"')]
            rows = []
            for row in query(where / "truths.duckdb", f'SELECT * FROM "{table}"'):
                values = dict(zip(names, row, strict=True))
                for name, value in values.items():
                    if isinstance(value, str) and value.startswith("ENC256:"):
                        values[name] = engine_decrypt(value, key)
                rows.append(tuple(sorted((k, repr(v)) for k, v in values.items()
                                         if not k.startswith("_sdc_") or k == "_sdc_extracted_at")))  # fmt: skip
            dump[table] = sorted(rows)
        dumps.append(dump)
    fast, exact = dumps
    assert len(fast) == 2
    assert sum(len(rows) for rows in fast.values()) == 18
    assert fast == exact
