"""delivery=postgres with many target processes at once on one schema: same table and different tables, no lost
or doubled rows, no torn rows, one current metadata row per table, a unique key index (issue 23)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest
from truths_testkit import PROJECT, TARGET_EXE, annotation, lines_of, record_msg, schema_msg, state_msg

from target_xlr8_truths.layout import LEDGER_TABLE
from target_xlr8_truths.naming import project_prefix
from target_xlr8_truths.postgres_store import advisory_key, key_index_name

OTHER = "0b0e7a11-0000-4000-8000-00000000000b"
WRITERS = 4  # processes of one project writing the same table
SHARED_KEYS = 120  # every writer upserts these keys
OWN_KEYS = 40  # and these of its own


def employees(writer: int, project_tag: str) -> list[dict[str, Any]]:
    props = {
        "Id": {"type": "string"},
        "Writer": {"type": "integer"},
        "Stamp": {"type": "string"},
        "DeptCode": {"type": ["null", "string"]},
    }
    note = annotation("ukg_pro", "employees", "employee", "reality", ["Id"], references={"DeptCode": "department"})
    out: list[dict[str, Any]] = [schema_msg("employees", props, ["Id"], note)]
    shared = [f"E{k:04d}" for k in range(SHARED_KEYS)]
    own = [f"W{writer}-{k:03d}" for k in range(OWN_KEYS)]
    # writers walk the shared keys from different starting points so their batches overlap in time and keys
    start = writer * SHARED_KEYS // WRITERS
    for key in shared[start:] + shared[:start] + own:
        out.append(record_msg("employees", {"Id": key, "Writer": writer, "Stamp": f"{project_tag}:{writer}:{key}"}))
    out.append(state_msg({"bookmarks": {"employees": {"writer": writer}}}))
    return out


def departments() -> list[dict[str, Any]]:
    props = {"Code": {"type": "string"}, "Name": {"type": ["null", "string"]}}
    note = annotation("ukg_pro", "departments", "department", "configuration", ["Code"], hub="Code")
    rows = [record_msg("departments", {"Code": f"D{k}", "Name": f"Dept {k}"}) for k in range(30)]
    return [schema_msg("departments", props, ["Code"], note), *rows]


def config(dsn: str, schema: str, project: str, tmp: Path) -> dict[str, Any]:
    return {
        "project_id": project,
        "delivery": "postgres",
        "postgres_dsn": dsn,
        "postgres_schema": schema,
        "batch_size_rows": 10,  # many small transactions, so writers interleave
        "pii_key_file": str(tmp / "pii.key"),
        "pii_key_create": True,
    }


def pg(dsn: str, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return list(conn.execute(sql.encode(), params).fetchall())


def test_advisory_keys_are_stable_and_distinct() -> None:
    assert advisory_key("s", "p", "t") == advisory_key("s", "p", "t")
    assert len({advisory_key("s", p, t) for p in ("a", "b") for t in ("x", "y")}) == 4
    assert len(key_index_name("x" * 80, ["Id"])) <= 63


@pytest.mark.slow
def test_concurrent_targets_on_one_schema_lose_and_double_nothing(postgres_dsn: str, tmp_path: Path) -> None:
    schema = f"conc_{tmp_path.name.lower().replace('-', '_')[-20:]}"
    jobs: list[tuple[str, list[dict[str, Any]]]] = [(PROJECT, employees(w, "a")) for w in range(WRITERS)]
    jobs.append((OTHER, employees(0, "b")))  # another project, its own table of the same stream
    jobs.append((OTHER, departments()))  # and a different table of that project
    jobs.append((PROJECT, departments()))
    processes = []
    for n, (project, messages) in enumerate(jobs):
        cfg = tmp_path / f"target-{n}.json"
        cfg.write_text(json.dumps(config(postgres_dsn, schema, project, tmp_path)))
        feed = tmp_path / f"in-{n}.jsonl"
        feed.write_text(lines_of(messages))
        with feed.open("rb") as stdin:
            processes.append(
                subprocess.Popen(
                    [TARGET_EXE, "--config", str(cfg)],
                    stdin=stdin,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=dict(os.environ),
                )
            )
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode()[-3000:]

    a, b = project_prefix(PROJECT), project_prefix(OTHER)
    listed = pg(postgres_dsn, "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema])
    tables = {r[0] for r in listed}
    a_emp = next(t for t in tables if t.startswith(a) and t.endswith("employees"))
    b_emp = next(t for t in tables if t.startswith(b) and t.endswith("employees"))
    a_dept = next(t for t in tables if t.startswith(a) and t.endswith("departments"))
    b_dept = next(t for t in tables if t.startswith(b) and t.endswith("departments"))

    rows = pg(postgres_dsn, f'SELECT id, writer, stamp FROM "{schema}"."{a_emp}"')
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)) == SHARED_KEYS + WRITERS * OWN_KEYS  # nothing lost, nothing doubled
    for key, writer, stamp in rows:  # every row whole: written by one writer, never a mix
        assert stamp == f"a:{writer}:{key}"
        if key.startswith("W"):
            assert key.startswith(f"W{writer}-")
    other = pg(postgres_dsn, f'SELECT id, stamp FROM "{schema}"."{b_emp}"')
    assert sorted(r[0] for r in other) == sorted(
        [f"E{k:04d}" for k in range(SHARED_KEYS)] + [f"W0-{k:03d}" for k in range(OWN_KEYS)]
    )
    assert all(stamp.startswith("b:0:") for _, stamp in other)
    for dept in (a_dept, b_dept):
        assert pg(postgres_dsn, f'SELECT COUNT(*), COUNT(DISTINCT code) FROM "{schema}"."{dept}"') == [(30, 30)]

    # one current metadata row per (project, table); ledger counts every row each writer sent
    current = pg(
        postgres_dsn,
        f'SELECT LOWER(project), table_name, COUNT(*) FROM "{schema}"._schema_metadata WHERE is_current '
        "GROUP BY 1, 2 ORDER BY 2",
    )
    assert sorted(n for *_, n in current) == [1, 1, 1, 1]
    loaded = pg(
        postgres_dsn,
        f'SELECT SUM(rows_loaded) FROM "{schema}".{LEDGER_TABLE} WHERE table_name = %s',
        [a_emp],
    )
    assert loaded == [(WRITERS * (SHARED_KEYS + OWN_KEYS),)]
    # profile and mapping ids are counted per schema: concurrent finalisation must not reuse one
    for meta in ("_column_profiles", "_column_mappings"):
        assert pg(postgres_dsn, f'SELECT COUNT(*) = COUNT(DISTINCT id) FROM "{schema}".{meta}') == [(True,)]
    # the key index exists and is unique on every keyed data table
    indexes = pg(postgres_dsn, "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = %s", [schema])
    for table in (a_emp, b_emp, a_dept, b_dept):
        assert any(t == table and "UNIQUE" in d for t, d in indexes), (table, indexes)
