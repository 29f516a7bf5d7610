"""A key column known unique in this process (``Store._unique_keys``) is profiled without counting its values again.
The profile must be the one the general grouping writes: keys repeated across and within BATCH files, a key missing
from some records, keys that were repeated before this process, a retype that merges keys, a rolled-back upsert."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from truths_testkit import query, run_target, schema_msg

from target_xlr8_truths.columns import Column
from target_xlr8_truths.duckdb_store import DuckDBStore
from target_xlr8_truths.profiles import profile_rows
from target_xlr8_truths.spool import Spool
from target_xlr8_truths.store import Batch, RunContext, StreamInfo

RUN = RunContext("proj", "6f1c2a9e-5a4d-4b8e-9c1f-0a5d5a4d0b01", "run-1", None, dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
PROFILED = (
    "column_name, inferred_type, original_dtype, total_count, null_count, distinct_count, min_value, max_value, "
    "mean_value, distinct_values, value_distribution, min_date, max_date, sample_values, is_likely_key, "
    "is_categorical, filter_category, filter_priority"
)


def _general(path: Path, table: str) -> list[tuple[Any, ...]]:
    """Every column's profile as the general grouping measures it now (no key, nothing known)."""
    opened = DuckDBStore(str(path), RUN, Spool(path.parent / "spool-check"))
    try:
        rows = profile_rows(opened, table, opened.table_columns(table))
    finally:
        opened.close()
    return sorted(tuple(row) for row in rows)


def _landed_profiles(path: Path, table: str) -> list[tuple[Any, ...]]:
    return sorted(query(path, f"SELECT {PROFILED} FROM _column_profiles WHERE table_name = ?", [table]))


def _batch(where: Path, name: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    path = where / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return {"type": "BATCH", "stream": "items", "manifest": [f"file://{path}"],
            "encoding": {"format": "jsonl", "compression": "none"}}  # fmt: skip


SCHEMA = schema_msg("items", {"id": {"type": ["null", "integer"]}, "name": {"type": ["null", "string"]}}, ["id"])


def _table(path: Path) -> str:
    return str(query(path, "SELECT table_name FROM _schema_metadata WHERE is_current")[0][0])


@pytest.fixture
def batch_config(tmp_path: Path, config: dict[str, Any]) -> dict[str, Any]:
    """The target's config, reading BATCH files from ``tmp_path``."""
    config["batch_locations"] = [str(tmp_path)]
    return config


def test_keys_repeated_across_and_within_files_and_missing_keys(
    tmp_path: Path, store: Path, batch_config: dict[str, Any]
) -> None:
    files = [
        [{"id": i, "name": f"a{i}"} for i in range(150)],
        [{"id": i, "name": f"b{i}"} for i in range(100, 220)] + [{"id": 105, "name": "b-again"}],  # across, within
        [{"id": None, "name": "no key"}, {"id": 7, "name": "c7"}, {"name": "no key either"}],  # the record path
        [{"id": 3, "name": "d3"}, {"id": 1000, "name": "d1000"}],
    ]
    messages = [SCHEMA] + [_batch(tmp_path, f"part-{n}.jsonl", rows) for n, rows in enumerate(files)]
    result = run_target(batch_config, messages, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    table = _table(store)
    landed = dict(query(store, f'SELECT id, name FROM "{table}" WHERE id IS NOT NULL'))
    assert len(landed) == 221
    assert (landed[105], landed[7], landed[3]) == ("b-again", "c7", "d3")
    profiles = _landed_profiles(store, table)
    assert profiles == _general(store, table)
    key = next(p for p in profiles if p[0] == "id")
    assert (key[5], key[14]) == (221, True)  # distinct_count, is_likely_key


def test_keys_repeated_before_this_process_are_counted(
    tmp_path: Path, store: Path, batch_config: dict[str, Any]
) -> None:
    """The table exists with a key repeated (written before, by anyone): this process knows nothing of it."""
    first = run_target(batch_config, [SCHEMA, _batch(tmp_path, "one.jsonl", [{"id": i} for i in range(20)])], tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    table = _table(store)
    con = duckdb.connect(str(store))
    con.execute(f"INSERT INTO \"{table}\" (id, name) VALUES (5, 'twin'), (6, 'twin')")
    con.close()
    second = run_target(batch_config, [SCHEMA, _batch(tmp_path, "two.jsonl", [{"id": 50}, {"id": 51}])], tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    profiles = _landed_profiles(store, table)
    assert profiles == _general(store, table)
    assert next(p for p in profiles if p[0] == "id")[5:6] == (22,)  # 24 keys, 22 distinct


def _info() -> StreamInfo:
    return StreamInfo("items", "prod", "entity", "reality", "t_items", "prod:items", "items", ["id"])


def _rows_batch(kind: str, ids: list[Any]) -> Batch:
    rows = [{"id": value, "__xlr8_seq": n} for n, value in enumerate(ids)]
    return Batch(_info(), [Column("id", "id", kind)], rows, [], len(rows), (None, None), False)


def _profile_of_key(opened: DuckDBStore) -> tuple[Any, ...]:
    with opened.transaction():
        opened.refresh_profiles(_info())
    mine = opened.fetchall(f"SELECT {PROFILED} FROM _column_profiles WHERE column_name = 'id'")
    general = [tuple(r) for r in profile_rows(opened, "t_items", opened.table_columns("t_items")) if r[0] == "id"]
    assert mine == general
    return mine[0]


def test_a_retype_that_merges_keys_is_counted(tmp_path: Path) -> None:
    opened = DuckDBStore(str(tmp_path / "truths.duckdb"), RUN, Spool(tmp_path / "spool"))
    opened.ensure_layout()
    try:
        opened.write_batch(_rows_batch("integer", [2**53, 2**53 + 1, 4]))
        assert opened._unique_keys == {"t_items": "id"}  # created here: known unique
        opened.write_batch(_rows_batch("double", [1.5]))  # BIGINT -> DOUBLE: 2**53 + 1 becomes 2**53
        assert opened._unique_keys == {}
        assert _profile_of_key(opened)[3:6] == (4, 0, 3)  # total, nulls, distinct
    finally:
        opened.close()


class _Refused(Exception):
    pass


def test_a_rolled_back_upsert_leaves_the_keys_it_had_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The upsert deletes a repeated key's rows, a profile inside the batch counts the keys unique, the batch rolls
    back: the repeated rows are back, and the end-of-run profile counts them."""
    opened = DuckDBStore(str(tmp_path / "truths.duckdb"), RUN, Spool(tmp_path / "spool"), profile_interval_seconds=0)
    opened.ensure_layout()
    try:
        opened.execute('CREATE TABLE "t_items" ("id" BIGINT)')
        opened.execute('INSERT INTO "t_items" VALUES (1), (2), (2), (3)')
        opened._last_profiled["t_items"] = -1e9  # the profile is due at the batch
        learnt: list[dict[str, str]] = []

        def refuse() -> None:
            learnt.append(dict(opened._unique_keys))
            raise _Refused

        monkeypatch.setattr(opened, "before_commit", refuse)
        with pytest.raises(_Refused):
            opened.write_batch(_rows_batch("integer", [2, 9]))
        assert learnt == [{"t_items": "id"}]  # inside the batch the keys were unique
        assert opened._unique_keys == {}
        assert _profile_of_key(opened)[3:6] == (4, 0, 3)
    finally:
        opened.close()


def test_missing_keys_are_not_counted_as_values(tmp_path: Path) -> None:
    """Rows without a key (the record path keeps the batch's last one) stay out of the distinct count."""
    opened = DuckDBStore(str(tmp_path / "truths.duckdb"), RUN, Spool(tmp_path / "spool"))
    opened.ensure_layout()
    try:
        opened.write_batch(_rows_batch("integer", [1, None, 2, None, 3]))
        opened.write_batch(_rows_batch("integer", [None, 3, 4]))
        assert opened._unique_keys == {"t_items": "id"}
        assert opened.fetchall('SELECT COUNT(*), COUNT("id") FROM "t_items"') == [(6, 4)]
        assert _profile_of_key(opened)[3:6] == (6, 2, 4)
    finally:
        opened.close()


def test_a_profile_that_counts_a_repeated_key_teaches_nothing(tmp_path: Path) -> None:
    """A profile learns the keys unique only when it counted them so; each later profile counts again."""
    opened = DuckDBStore(str(tmp_path / "truths.duckdb"), RUN, Spool(tmp_path / "spool"), profile_interval_seconds=0)
    opened.ensure_layout()
    try:
        opened.execute('CREATE TABLE "t_items" ("id" BIGINT)')
        opened.execute('INSERT INTO "t_items" VALUES (1), (2), (2), (3)')
        for more in ([50], [51]):
            opened._last_profiled["t_items"] = -1e9  # the profile is due at each batch
            opened.write_batch(_rows_batch("integer", more))
            assert opened._unique_keys == {}
        assert _profile_of_key(opened)[3:6] == (6, 0, 5)
    finally:
        opened.close()
