"""BATCH files load in their own, larger DuckDB buffer pool (``duckdb_batch_memory_limit``) and record batches in
``duckdb_memory_limit``: the pool in force inside each transaction, the rows each batch landed, and how the two
settings combine."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from target_xlr8_truths.columns import Column
from target_xlr8_truths.duckdb_store import DuckDBStore
from target_xlr8_truths.spool import Spool
from target_xlr8_truths.store import Batch, RowLines, RunContext, StreamInfo
from target_xlr8_truths.target import batch_pool, memory_bytes

RUN = RunContext("proj", "6f1c2a9e-5a4d-4b8e-9c1f-0a5d5a4d0b01", "run-1", None, dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
COLUMNS = [Column("id", "id", "integer"), Column("v", "v", "text")]
INFO = StreamInfo("items", "proj", "item", "reality", "items", "proj:items", "proj item", ["id"])
RECORD_POOL, BATCH_POOL = "128MB", "192MB"


class PoolRecordingStore(DuckDBStore):
    """Notes the buffer pool DuckDB reports inside each batch transaction, just before it commits."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pools: list[str] = []

    def before_commit(self) -> None:
        row = self.con.execute("SELECT current_setting('memory_limit')").fetchone()
        assert row is not None
        self.pools.append(str(row[0]))


def reported(limit: str) -> str:
    """What DuckDB reports for a pool of ``limit`` (it rounds and spells sizes its own way)."""
    con = duckdb.connect(config={"memory_limit": limit})
    try:
        row = con.execute("SELECT current_setting('memory_limit')").fetchone()
        assert row is not None
        return str(row[0])
    finally:
        con.close()


def file_batch(path: Path, ids: range) -> Batch:
    path.write_text("".join(json.dumps({"id": i, "v": f"file-{i}"}) + "\n" for i in ids))
    stamp = dt.datetime(2024, 3, 2, tzinfo=dt.UTC)
    return Batch(INFO, COLUMNS, [], [], 0, (stamp, stamp), False, files=[str(path)], extracted=stamp)


def rows_batch(ids: range) -> Batch:
    rows = RowLines()
    for seq, i in enumerate(ids, start=1):
        rows.append({"id": i, "v": f"row-{i}", "__xlr8_seq": seq})
    return Batch(INFO, COLUMNS, rows, [], len(ids), (None, None), False)


def test_batch_files_load_in_the_batch_pool_and_record_batches_in_the_record_pool(tmp_path: Path) -> None:
    store = PoolRecordingStore(
        str(tmp_path / "truths.duckdb"), RUN, Spool(tmp_path / "spool"), 300.0, RECORD_POOL, BATCH_POOL
    )
    try:
        store.ensure_layout()
        loaded = [
            store.write_batch(file_batch(tmp_path / "a.jsonl", range(0, 300))),
            store.write_batch(file_batch(tmp_path / "b.jsonl", range(300, 500))),
            store.write_batch(rows_batch(range(100, 150))),  # upserts rows a file landed
            store.write_batch(file_batch(tmp_path / "c.jsonl", range(140, 160))),  # and a file upserts those again
            store.write_batch(rows_batch(range(500, 510))),
        ]
        small, large = reported(RECORD_POOL), reported(BATCH_POOL)
        assert small != large
        assert store.pools == [large, large, small, large, small]
        # between batches the pool is the one of the last batch (it changes only when the kind of batch does)
        assert store.con.execute("SELECT current_setting('memory_limit')").fetchone() == (small,)
        assert loaded == [300, 200, 50, 20, 10]
        rows = store.fetchall('SELECT id, v FROM "items" ORDER BY id')
    finally:
        store.close()
    expected = {i: f"file-{i}" for i in range(500)}
    expected.update({i: f"row-{i}" for i in range(100, 150)})
    expected.update({i: f"file-{i}" for i in range(140, 160)})
    expected.update({i: f"row-{i}" for i in range(500, 510)})
    assert rows == sorted(expected.items())


def test_one_pool_serves_both_when_no_batch_pool_is_given(tmp_path: Path) -> None:
    store = PoolRecordingStore(str(tmp_path / "truths.duckdb"), RUN, Spool(tmp_path / "spool"), 300.0, RECORD_POOL)
    try:
        store.ensure_layout()
        store.write_batch(file_batch(tmp_path / "a.jsonl", range(10)))
        store.write_batch(rows_batch(range(10, 20)))
        assert store.fetchall('SELECT COUNT(*), COUNT(DISTINCT id) FROM "items"') == [(20, 20)]
    finally:
        store.close()
    assert store.pools == [reported(RECORD_POOL)] * 2


@pytest.mark.parametrize(
    ("memory", "batch", "pool"),
    [
        ("96MB", "128MB", "128MB"),  # the defaults (160MB for BATCH files peaked 291 MB upserting, 128MB for
        # record batches 262-318 MB at 1M Account-width records)
        ("128MB", "128MB", "128MB"),
        ("128MB", "160MB", "160MB"),  # a larger BATCH pool when asked for
        ("384MB", "160MB", "384MB"),  # a pool raised for a large machine is never lowered for BATCH loads
        ("160MB", "160MB", "160MB"),
        ("1GB", "1.5 GiB", "1.5 GiB"),
        ("50%", "160MB", "50%"),  # a size DuckDB reads but this target cannot compare: one pool for both
    ],
)
def test_the_batch_pool_is_the_larger_of_the_two_settings(memory: str, batch: str, pool: str) -> None:
    assert batch_pool(memory, batch) == pool


def test_memory_sizes_read_as_duckdb_reads_them() -> None:
    forms = ("160MB", "1.5 GiB", "2gb", "500KiB", "1TB", "512M", "1G", "300 megabytes", "2 gigabyte", "1t", "64mib")
    for text in (*forms, "900000k", "900000 kilobytes"):
        con = duckdb.connect(config={"memory_limit": text})
        try:
            row = con.execute("SELECT current_setting('memory_limit')").fetchone()
        finally:
            con.close()
        assert row is not None
        value, unit = str(row[0]).split()
        scale = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}[unit]
        bytes_ = memory_bytes(text)
        assert bytes_ is not None
        assert abs(float(value) - bytes_ / scale) < 0.1, (text, row)  # DuckDB shows one decimal place
    assert memory_bytes("lots") is None
    assert memory_bytes("75%") is None


def test_the_target_opens_its_store_with_both_pools(tmp_path: Path) -> None:
    from target_xlr8_truths.target import TargetXlr8Truths

    base = {"project_id": "1B4E28BA-2FA1-11D2-883F-0016D3CCA427", "duckdb_path": str(tmp_path / "t.duckdb")}
    for settings, pools in [
        ({}, {False: "96MB", True: "128MB"}),
        ({"duckdb_batch_memory_limit": "160MB"}, {False: "96MB", True: "160MB"}),
        ({"duckdb_memory_limit": "128MB"}, {False: "128MB", True: "128MB"}),
        ({"duckdb_memory_limit": "100MB", "duckdb_batch_memory_limit": "150MB"}, {False: "100MB", True: "150MB"}),
        ({"duckdb_memory_limit": "384MB"}, {False: "384MB", True: "384MB"}),
    ]:
        target = TargetXlr8Truths(config={**base, **settings, "spool_dir": str(tmp_path / "spool")})
        store = target._open_store()
        try:
            assert isinstance(store, DuckDBStore)
            assert store._pools == pools, settings
        finally:
            store.close()


#: The target's CLI in a child process, printing the pool DuckDB reports inside each batch transaction (stderr).
_CLI_REPORTING_POOLS = """
import sys
from target_xlr8_truths.duckdb_store import DuckDBStore
from target_xlr8_truths.target import TargetXlr8Truths

def before_commit(self):
    row = self.con.execute("SELECT current_setting('memory_limit')").fetchone()
    print("POOL", row[0], file=sys.stderr, flush=True)

DuckDBStore.before_commit = before_commit
sys.argv[0] = "target-xlr8-truths"
TargetXlr8Truths.cli()
"""


def _cli_pools(tmp_path: Path, settings: dict[str, Any], messages: str) -> list[str]:
    """One run of the target's CLI on ``messages``: the pool of each batch transaction, in order."""
    import subprocess
    import sys

    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(settings))
    child = subprocess.run(
        [sys.executable, "-c", _CLI_REPORTING_POOLS, "--config", str(cfg)],
        input=messages, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr[-3000:]
    return [line.split(" ", 1)[1] for line in child.stderr.splitlines() if line.startswith("POOL ")]


@pytest.mark.parametrize(("extra", "pool"), [({}, "128MB"), ({"duckdb_batch_memory_limit": "192MB"}, "192MB")])
def test_the_cli_loads_batch_files_into_a_table_that_holds_them_in_the_128mb_pool_unless_told(
    tmp_path: Path, config: dict[str, Any], store: Path, extra: dict[str, Any], pool: str
) -> None:
    """Issue 14 goal 4: BATCH files loaded over a table that already holds their rows (every run after the first)
    peaked at 289-291 MB in a 160MB pool at 200,000 Account-width records and 258-261 MB in 128MB, so by default
    they load in ``duckdb_memory_limit``'s pool; a larger ``duckdb_batch_memory_limit`` is still honoured. Each run
    lands every row once, the second upserting the first's."""
    import os

    from truths_testkit import P8, lines_of, query, schema_msg, state_msg

    batches = tmp_path / "batches"
    batches.mkdir()
    messages: list[dict[str, Any]] = [schema_msg("items", {"id": {"type": "integer"}, "v": {"type": "string"}}, ["id"])]
    for index in range(3):
        path = batches / f"part-{index}.jsonl"
        path.write_text(
            "".join(json.dumps({"id": i, "v": f"v-{i}"}) + "\n" for i in range(index * 1000, index * 1000 + 1000))
        )
        os.utime(path, (1709287200, 1709287200))  # older than the run: kept, so the second run reads them again
        messages.append({"type": "BATCH", "stream": "items", "manifest": [f"file://{path}"],
                         "encoding": {"format": "jsonl", "compression": "none"}})  # fmt: skip
        messages.append(state_msg({"bookmarks": {"items": {"file": index}}}))
    settings = {**config, "batch_locations": [str(batches)], **extra}
    table = f"{P8}_singer_items"
    for _ in range(2):  # into an empty store, then over the rows it holds
        assert _cli_pools(tmp_path, settings, lines_of(messages)) == [reported(pool)] * 3
        assert query(store, f'SELECT COUNT(*), COUNT(DISTINCT id), MIN(id), MAX(id) FROM "{table}"') == [
            (3000, 3000, 0, 2999)
        ]
        assert query(store, f'SELECT v FROM "{table}" WHERE id = 2999') == [("v-2999",)]


@pytest.mark.parametrize(("extra", "pool"), [({}, "96MB"), ({"duckdb_memory_limit": "128MB"}, "128MB")])
def test_the_cli_upserts_record_batches_in_the_96mb_pool_unless_told(
    tmp_path: Path, config: dict[str, Any], store: Path, extra: dict[str, Any], pool: str
) -> None:
    """Issue 14 goal 4: record batches upserting 1M Account-width records over a table that already holds them
    peaked at 262-318 MB in a 128MB pool (a checkpoint rewriting the row groups they deleted from fills it) and
    228-235 MB in 96MB, so ``duckdb_memory_limit`` defaults to 96MB; a set limit is still honoured. Each run lands
    every row once, the second upserting the first's with new values."""
    from truths_testkit import P8, lines_of, query, record_msg, schema_msg, state_msg

    settings = {**config, "batch_size_rows": 1000, **extra}
    table = f"{P8}_singer_items"
    for run in ("a", "b"):  # into an empty store, then over the rows it holds
        messages: list[dict[str, Any]] = [
            schema_msg("items", {"id": {"type": "integer"}, "v": {"type": "string"}}, ["id"])
        ]
        messages += [record_msg("items", {"id": i, "v": f"{run}-{i}"}) for i in range(3000)]
        messages.append(state_msg({"bookmarks": {"items": {"run": run}}}))
        assert _cli_pools(tmp_path, settings, lines_of(messages)) == [reported(pool)] * 3
        assert query(store, f'SELECT COUNT(*), COUNT(DISTINCT id), MIN(id), MAX(id) FROM "{table}"') == [
            (3000, 3000, 0, 2999)
        ]
        landed = f'SELECT COUNT(*) FILTER (WHERE v = ? || CAST(id AS VARCHAR)) FROM "{table}"'
        assert query(store, landed, [f"{run}-"]) == [(3000,)]
