"""A BATCH file's bookkeeping kept between batches instead of rescanned (``DuckDBStore._TableFacts``): the row
count written to ``_schema_metadata`` and the key range that lets the upsert skip its DELETE over the whole table.
Whatever the order of files, record batches, hard deletes, rolled-back batches and other transactions, the table
must hold exactly one row per key (the last one written) and ``row_count`` must be its ``COUNT(*)``."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from target_xlr8_truths.columns import Column
from target_xlr8_truths.duckdb_store import DuckDBStore
from target_xlr8_truths.spool import Spool
from target_xlr8_truths.store import Batch, RowLines, RunContext, StreamInfo

RUN = RunContext("proj", "6f1c2a9e-5a4d-4b8e-9c1f-0a5d5a4d0b01", "run-1", None, dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
INFO = StreamInfo("items", "proj", "item", "reality", "items", "proj:items", "proj item", ["id"])
STAMP = dt.datetime(2024, 3, 2, tzinfo=dt.UTC)
#: text keys across the code point range: DuckDB orders UTF-8 bytes, Python code points (the same order)
TEXT_KEYS = st.sampled_from(["", "a", "b", "ab", "z", "é", "\uffff", "\U00010000", "A", "0", "~", "a\u0301", "\x7f"])


class _Rollback(Exception):
    pass


class RecordingStore(DuckDBStore):
    """Notes every statement, and rolls a batch back at its commit when told to."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.statements: list[str] = []
        self.fail = False

    def execute(self, sql: str, params: Any = None) -> None:
        self.statements.append(sql)
        super().execute(sql, params)

    def fetchall(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        self.statements.append(sql)
        return super().fetchall(sql, params)

    def before_commit(self) -> None:
        if self.fail:
            raise _Rollback


def _columns(kind: str) -> list[Column]:
    return [
        Column("id", "id", kind),
        Column("v", "v", "text"),
        Column("_sdc_deleted_at", "_sdc_deleted_at", "timestamp"),
    ]


def _file_batch(path: Path, kind: str, rows: list[tuple[Any, str, bool]], hard_delete: bool) -> Batch:
    path.write_text(
        "".join(
            json.dumps({"id": key, "v": value, "_sdc_deleted_at": "2024-03-02T00:00:00+00:00" if gone else None}) + "\n"
            for key, value, gone in rows
        )
    )
    return Batch(INFO, _columns(kind), [], [], 0, (STAMP, STAMP), hard_delete, files=[str(path)], extracted=STAMP)


def _rows_batch(kind: str, rows: list[tuple[Any, str, bool]]) -> Batch:
    lines = RowLines()
    for seq, (key, value, _) in enumerate(rows, start=1):
        lines.append({"id": key, "v": value, "_sdc_deleted_at": None, "__xlr8_seq": seq})
    return Batch(INFO, _columns(kind), lines, [], len(rows), (None, None), False)


def _check(store: DuckDBStore, model: dict[Any, tuple[str, bool]], plan: Any) -> None:
    landed = store.fetchall('SELECT "id", "v", "_sdc_deleted_at" IS NOT NULL FROM "items"')
    assert sorted(landed) == sorted((key, value, gone) for key, (value, gone) in model.items()), plan
    counted = store.fetchall("SELECT row_count FROM _schema_metadata WHERE table_name = 'items' AND is_current = TRUE")
    assert counted == [(sum(not gone for _, gone in model.values()),)], plan  # rows marked deleted are not rows


step = st.tuples(
    st.sampled_from(["file", "file", "file", "hard", "rows", "outside"]),
    st.lists(st.tuples(st.integers(0, 40), st.booleans()), min_size=0, max_size=6),
    st.booleans(),  # committed (False: rolled back at its commit)
)


def _run(kind: str, keys: list[Any], plan: list[tuple[str, list[tuple[int, bool]], bool]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = RecordingStore(str(Path(tmp) / "truths.duckdb"), RUN, Spool(Path(tmp) / "spool"))
        store.ensure_layout()
        model: dict[Any, tuple[str, bool]] = {}
        try:
            for number, (operation, picks, commit) in enumerate(plan):
                rows = [
                    (keys[index % len(keys)], f"{operation}-{number}-{n}", gone)
                    for n, (index, gone) in enumerate(picks)
                ]
                if operation == "outside":  # another transaction (retention, an erasure) deletes rows
                    if not model:
                        continue
                    gone_keys = list(dict.fromkeys(key for key, _, _ in rows if key in model))
                    with store.transaction():
                        for key in gone_keys:
                            store.execute('DELETE FROM "items" WHERE "id" = ?', [key])
                    for key in gone_keys:
                        del model[key]
                    continue
                if not rows and operation == "rows":
                    continue
                if operation == "rows":
                    batch = _rows_batch(kind, rows)
                else:
                    batch = _file_batch(Path(tmp) / f"f{number}.jsonl", kind, rows, operation == "hard")
                store.fail = not commit
                try:
                    store.write_batch(batch)
                except _Rollback:
                    assert not commit
                    continue
                finally:
                    store.fail = False
                last = {key: (value, gone) for key, value, gone in rows}  # the last row of a key wins
                for key, (value, gone) in last.items():
                    if operation == "hard" and gone:
                        model.pop(key, None)
                    else:
                        model[key] = (value, gone and operation != "rows")  # records: never marked here
                _check(store, model, plan)
        finally:
            store.close()


#: Orders the random plans may miss, each the one a broken bookkeeping gets wrong (F: a file, R: records)
EXAMPLES = [
    [("file", [(0, False)], True), ("file", [(0, False)], True)],  # a key again: DELETE skipped, count not less it
    [("file", [(0, False)], True), ("file", [(40, False)], True), ("file", [(0, False)], True)],  # range of F2 only
    [("file", [(40, False)], True), ("file", [(0, False)], True), ("file", [(40, False)], True)],  # range of F2 only
    [("file", [(0, False)], True), ("rows", [(40, False)], True), ("file", [(40, False)], True)],  # R not in range
    [("file", [(0, False), (1, False)], True), ("outside", [(0, False)], True), ("file", [(40, False)], True)],
    [("file", [(0, False)], True), ("file", [(40, False)], False), ("file", [(40, False)], True)],  # rolled back
    [("file", [(0, False)], True), ("hard", [(5, False), (5, True), (0, True)], True), ("file", [(7, False)], True)],
]


@settings(max_examples=30, deadline=None)
@given(st.lists(step, min_size=1, max_size=10))
@example(EXAMPLES[0])
@example(EXAMPLES[1])
@example(EXAMPLES[2])
@example(EXAMPLES[3])
@example(EXAMPLES[4])
@example(EXAMPLES[5])
@example(EXAMPLES[6])
def test_integer_keys_land_once_and_row_count_is_the_count(plan: list[Any]) -> None:
    _run("integer", list(range(41)), plan)


@settings(max_examples=30, deadline=None)
@given(st.lists(step, min_size=1, max_size=10), st.lists(TEXT_KEYS, min_size=1, max_size=8, unique=True))
@example(EXAMPLES[1], ["\uffff", "\U00010000", "a"])  # U+FFFF, U+10000: UTF-16 orders them the other way
@example(EXAMPLES[3], ["\U00010000", "\uffff", "a"])
def test_text_keys_land_once_and_row_count_is_the_count(plan: list[Any], keys: list[str]) -> None:
    _run("text", keys, plan)


def test_files_outside_the_landed_keys_skip_the_table_scans(tmp_path: Path) -> None:
    """Files whose keys lie above (a Bulk read in Id order) or below every landed key need neither the upsert's
    DELETE nor a COUNT(*) of the table once the first file is counted; a file reaching back into them does."""
    store = RecordingStore(str(tmp_path / "truths.duckdb"), RUN, Spool(tmp_path / "spool"))
    store.ensure_layout()
    try:
        for number in (2, 3, 1, 0):  # above, then below, every landed key
            rows = [(f"003{number:03d}{i:05d}", f"v{number}", False) for i in range(50)]
            store.write_batch(_file_batch(tmp_path / f"f{number}.jsonl", "text", rows, False))
        whole = 'SELECT COUNT(*), COUNT("_sdc_deleted_at") FROM "items"'
        scans = [s for s in store.statements if " AND EXISTS " in s or s == whole]
        assert scans == [whole], scans  # the first file only: nothing is known yet
        store.statements.clear()
        back = [("003001" + f"{i:05d}", "again", False) for i in range(10, 12)]
        store.write_batch(_file_batch(tmp_path / "back.jsonl", "text", back, False))
        assert any(" AND EXISTS " in s for s in store.statements)
        assert store.fetchall('SELECT COUNT(*), COUNT(DISTINCT "id") FROM "items"') == [(200, 200)]
        assert store.fetchall("SELECT row_count FROM _schema_metadata WHERE table_name = 'items'") == [(200,)]
        assert store.fetchall('SELECT "v" FROM "items" WHERE "id" = \'00300100010\'') == [("again",)]
    finally:
        store.close()


def test_rows_a_re_read_set_marked_leave_the_count_whatever_the_file_s_columns(tmp_path: Path) -> None:
    """review26c L4: a file whose columns lack ``_sdc_deleted_at`` (the table has it) re-reads a set an earlier run
    landed and marks the set's older rows deleted; the kept count took no note of them, so ``row_count`` still
    counted them as current until a later recount."""
    info = StreamInfo(
        "items", "proj", "item", "reality", "items", "proj:items", "proj item", ["id"], replace_by=["grp"]
    )
    marked = [
        Column("id", "id", "text"),
        Column("grp", "grp", "text"),
        Column("_sdc_deleted_at", "_sdc_deleted_at", "timestamp"),
    ]
    runs = [
        [(marked, [("a1", "g1"), ("a2", "g1")])],
        # the second run: a file of set g2 (its counts kept), then g1 re-read by a file without the mark column
        [(marked, [("b1", "g2")]), (marked[:2], [("a3", "g1")])],
    ]
    for run, files in enumerate(runs):
        store = DuckDBStore(str(tmp_path / "truths.duckdb"), RUN, Spool(tmp_path / f"spool{run}"))
        store.ensure_layout()
        try:
            for number, (columns, rows) in enumerate(files):
                path = tmp_path / f"r{run}-f{number}.jsonl"
                path.write_text("".join(json.dumps({"id": key, "grp": grp}) + "\n" for key, grp in rows))
                batch = Batch(info, columns, [], [], 0, (STAMP, STAMP), False, files=[str(path)], extracted=STAMP)
                store.write_batch(batch)
            landed = store.fetchall('SELECT "id", "_sdc_deleted_at" IS NOT NULL FROM "items" ORDER BY "id"')
            counted = store.fetchall("SELECT row_count FROM _schema_metadata WHERE table_name = 'items' AND is_current")
        finally:
            store.close()
    assert landed == [("a1", True), ("a2", True), ("a3", False), ("b1", False)]  # g1 re-read: a1, a2 marked
    assert counted == [(2,)]  # a3 and b1
