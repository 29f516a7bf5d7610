"""The per-batch bookkeeping that got cheaper must answer and write what it did before: ``table_columns`` kept
between batches answers what the catalog answers after any change (including rolled-back ones), and the ledger's
UPDATE-first write leaves the rows the upsert left."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from target_xlr8_truths.columns import Column
from target_xlr8_truths.duckdb_store import DuckDBStore
from target_xlr8_truths.layout import LEDGER_TABLE
from target_xlr8_truths.spool import Spool
from target_xlr8_truths.store import Batch, RunContext, Store, StreamInfo

RUN = RunContext("proj", "6f1c2a9e-5a4d-4b8e-9c1f-0a5d5a4d0b01", "run-1", None, dt.datetime(2024, 3, 1, tzinfo=dt.UTC))


def _store(where: Path, run: RunContext = RUN, kind: type[DuckDBStore] = DuckDBStore) -> DuckDBStore:
    store = kind(str(where / "truths.duckdb"), run, Spool(where / "spool"))
    store.ensure_layout()
    return store


def _catalog(store: DuckDBStore, table: str) -> dict[str, str]:
    """What the catalog says now (the uncached query every store dialect answers with)."""
    return Store.table_columns(store, table)


class _Rollback(Exception):
    pass


#: (operation, column index, commit) steps on tables "t" and "u"
steps = st.lists(
    st.tuples(
        st.sampled_from(["create", "add", "widen", "rename", "drop", "insert", "ask"]),
        st.integers(0, 3),
        st.booleans(),
    ),
    min_size=1,
    max_size=14,
)


@settings(max_examples=40, deadline=None)
@given(steps)
def test_kept_table_columns_answer_what_the_catalog_answers(plan: list[tuple[str, int, bool]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = _store(Path(tmp))
        try:
            for operation, index, commit in plan:
                table = "t" if index % 2 == 0 else "u"
                present = _catalog(store, table)
                try:
                    with store.transaction():
                        store.table_columns(table)  # asked inside the transaction, as a batch does
                        if operation == "create" and not present:
                            store.evolve_table(table, [Column("id", "id", "integer")])
                        elif operation == "add" and present:
                            store.evolve_table(table, [Column(f"c{index}", f"c{index}", "integer")])
                        elif operation == "widen" and f"c{index}" in present:
                            store.evolve_table(table, [Column(f"c{index}", f"c{index}", "text")])
                        elif operation == "rename" and present:
                            other = "v" if table != "v" else "w"
                            if not _catalog(store, other):
                                store.execute(f'ALTER TABLE "{table}" RENAME TO "{other}"')
                                store.table_columns(other)
                        elif operation == "drop" and present:
                            store.execute(f'DROP TABLE "{table}"')
                        elif operation == "insert" and present:
                            store.fetchall(f'INSERT INTO "{table}" ("id") VALUES (1) RETURNING 1')
                        store.table_columns(table)
                        if not commit:
                            raise _Rollback
                except _Rollback:
                    pass
                for name in ("t", "u", "v", "w"):
                    assert store.table_columns(name) == _catalog(store, name), (plan, name)
                expected = [(name, list(_catalog(store, name).items())) for name in ("w", "v", "u", "t")]
                if plan[-1][2]:
                    store._columns.pop("v", None)  # half known: the scan answers the rest
                else:
                    store._columns.clear()  # one scan answers all four
                fresh = store.tables_columns(["w", "v", "u", "t"])
                assert [(name, list(cols.items())) for name, cols in fresh.items()] == expected, plan
                assert [(name, list(store.table_columns(name).items())) for name in ("w", "v", "u", "t")] == expected
        finally:
            store.close()


def test_a_rolled_back_column_is_forgotten(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with store.transaction():
        store.evolve_table("t", [Column("id", "id", "integer")])
    assert list(store.table_columns("t")) == ["id"]
    seen: list[list[str]] = []

    def add_then_fail() -> None:
        with store.transaction():
            store.evolve_table("t", [Column("id", "id", "integer"), Column("x", "x", "text")])
            seen.append(list(store.table_columns("t")))
            raise _Rollback

    with pytest.raises(_Rollback):
        add_then_fail()
    assert seen == [["id", "x"]]
    assert list(store.table_columns("t")) == ["id"]
    store.close()


class _UpsertOnly(DuckDBStore):
    """The ledger write as it was: the UPDATE is never run (it finds nothing), so every batch takes the upsert."""

    def fetchall(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        if sql.startswith(f"UPDATE {LEDGER_TABLE} "):
            return []
        return super().fetchall(sql, params)


def _info(stream: str) -> StreamInfo:
    return StreamInfo(stream, "prod", "entity", "reality", f"t_{stream}", f"prod:{stream}", stream, ["id"])


moments = st.none() | st.datetimes(
    min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1), timezones=st.just(dt.UTC)
)
batches = st.lists(
    st.tuples(
        st.sampled_from(["a", "b"]),
        st.sampled_from(["run-1", "run-2"]),
        st.integers(0, 10**6),
        st.integers(0, 10**6),
        st.integers(0, 5),
        moments,
        moments,
        st.booleans(),
    ),
    min_size=1,
    max_size=10,
)


@settings(max_examples=40, deadline=None)
@given(batches)
def test_the_ledger_holds_what_the_upsert_wrote(plan: list[tuple[Any, ...]]) -> None:
    """Batches of two streams over two runs, some rolled back: every ledger row equals the one the upsert alone
    wrote (``updated_at`` is the write's own clock, compared as present)."""
    with tempfile.TemporaryDirectory() as tmp:
        new, old = _store(Path(tmp) / "new"), _store(Path(tmp) / "old", kind=_UpsertOnly)
        try:
            for stream, run_id, received, loaded, dead, start, end, commit in plan:
                info = _info(stream)
                letters: list[Any] = [None] * dead
                batch = Batch(info, [], [], letters, received, (start, end), False)
                for store in (new, old):
                    store.run = RunContext(RUN.project, RUN.project_id, run_id, None, RUN.started_at)
                    try:
                        with store.transaction():
                            store._write_ledger(info, received, loaded, batch)
                            if not commit:
                                raise _Rollback
                    except _Rollback:
                        pass
            query = f"SELECT * EXCLUDE (updated_at), updated_at IS NOT NULL FROM {LEDGER_TABLE} ORDER BY ALL"
            assert new.fetchall(query) == old.fetchall(query), plan
        finally:
            new.close()
            old.close()


def test_one_catalog_scan_answers_each_table(tmp_path: Path) -> None:
    """``tables_columns`` (the start-up's one scan): each table's own columns in their order, a missing table empty,
    another schema's table of the same name not seen, and the answers kept for ``table_columns``."""
    store = _store(tmp_path)
    try:
        store.execute('CREATE TABLE "t" ("z" BIGINT, "a" VARCHAR, "m" DOUBLE)')
        store.execute('CREATE TABLE "u" ("b" DATE)')
        store.execute("CREATE SCHEMA other")
        store.execute('CREATE TABLE other."u" ("elsewhere" BIGINT)')
        store.execute('CREATE TABLE other."gone" ("elsewhere" BIGINT)')
        store.execute('ALTER TABLE "t" ADD COLUMN "c" BOOLEAN')
        scanned: list[str] = []
        store.fetchall = lambda sql, params=None: scanned.append(sql) or DuckDBStore.fetchall(store, sql, params)  # type: ignore[method-assign]
        found = store.tables_columns(["u", "gone", "t"])
        assert [(name, list(cols.items())) for name, cols in found.items()] == [
            ("u", [("b", "DATE")]),
            ("gone", []),
            ("t", [("z", "BIGINT"), ("a", "VARCHAR"), ("m", "DOUBLE"), ("c", "BOOLEAN")]),
        ]
        assert len(scanned) == 1
        assert [store.table_columns(name) for name in ("u", "gone", "t")] == list(found.values())
        assert len(scanned) == 1  # kept
        for name in ("u", "gone", "t"):
            assert list(store.table_columns(name).items()) == list(_catalog(store, name).items())
    finally:
        store.close()
