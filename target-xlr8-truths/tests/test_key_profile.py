"""The profile of a stream's key column takes a cheaper path (``profiles._key_distribution``): it must write exactly
the profile the general grouping writes, for unique keys of every kind and for a key column that repeats a value."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from target_xlr8_truths.duckdb_store import DuckDBStore
from target_xlr8_truths.profiles import _distribution, _key_distribution, profile_rows
from target_xlr8_truths.spool import Spool
from target_xlr8_truths.store import RunContext

RUN = RunContext("proj", "6f1c2a9e-5a4d-4b8e-9c1f-0a5d5a4d0b01", "run-1", None, dt.datetime(2024, 3, 1, tzinfo=dt.UTC))

CASES = {
    # integers whose text order is not their numeric order (0, 1, 10, 100, 1000, 1001, ...), negatives, a NULL
    "integers": ("BIGINT", "SELECT CASE WHEN i = 7 THEN NULL ELSE (i * 37) % 1501 - 200 END FROM range(1501) t(i)"),
    "text": ("VARCHAR", "SELECT 'id-' || ((i * 7919) % 3001) FROM range(3001) t(i)"),
    "decimals": ("DECIMAL(18,2)", "SELECT CAST(i AS DECIMAL(18,2)) / 4 FROM range(700) t(i)"),
    "timestamps": ("TIMESTAMP", "SELECT TIMESTAMP '2024-01-01' + to_seconds(i * 3601) FROM range(500) t(i)"),
    "fewer than the top": ("BIGINT", "SELECT i FROM range(12) t(i)"),
    "one value repeated": ("BIGINT", "SELECT CASE WHEN i = 400 THEN 3 ELSE i END FROM range(1000) t(i)"),
    "only nulls": ("BIGINT", "SELECT NULL FROM range(5) t(i)"),
    "empty": ("BIGINT", "SELECT 1 WHERE FALSE"),
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    made = DuckDBStore(str(tmp_path / "truths.duckdb"), RUN, Spool(tmp_path / "spool"))
    yield made
    made.close()


@pytest.mark.parametrize("case", list(CASES))
def test_a_key_columns_profile_is_the_general_one(store: DuckDBStore, case: str) -> None:
    kind, values = CASES[case]
    store.execute(f'CREATE TABLE "t" ("k" {kind}, "other" VARCHAR)')
    store.execute(f"INSERT INTO \"t\" SELECT v, 'x' FROM ({values}) AS s(v)")
    general = _distribution(store, '"t"', '"k"')
    assert _key_distribution(store, '"t"', '"k"') == general
    columns = {"k": store.table_columns("t")["k"], "other": "VARCHAR"}
    assert profile_rows(store, "t", columns, key="k") == profile_rows(store, "t", columns)
    if case == "integers":  # the top values are the first by text, as the general grouping orders them
        assert [v for v, _ in general[1][:6]] == ["-1", "-10", "-100", "-101", "-102", "-103"]
        assert general[0] == 1500


def test_a_column_without_values_is_profiled_as_the_grouping_would(store: DuckDBStore) -> None:
    """Columns whose every value is NULL skip the grouping: the same distinct count and distribution as the grouping
    gives, and a column holding one value is still grouped."""
    store.execute('CREATE TABLE "t" ("k" BIGINT, "none" VARCHAR, "one" VARCHAR, "stamp" TIMESTAMP, "n" DOUBLE)')
    store.execute(
        "INSERT INTO \"t\" SELECT i, NULL, CASE WHEN i = 3 THEN 'only' END, NULL, CASE WHEN i > 7 THEN i END "
        "FROM range(10) t(i)"
    )
    columns = store.table_columns("t")
    rows = profile_rows(store, "t", columns, key="k")
    for row in rows:
        distinct, distribution = _distribution(store, '"t"', f'"{row[0]}"')
        assert (row[5], row[10]) == (distinct, json.dumps(dict(distribution))), row[0]
    assert [row[5] for row in rows] == [10, 0, 1, 0, 2]
