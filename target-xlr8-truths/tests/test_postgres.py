"""delivery=postgres against a real PostgreSQL server: same layout, same semantics, same transaction rules."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from truths_testkit import P8, PROJECT, PROJECT_LOWER, annotation, record_msg, run_target, schema_msg, state_msg

from target_xlr8_truths import read_truths


def pg(dsn: str, schema: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        return list(conn.execute(sql).fetchall())


@pytest.fixture
def pg_config(postgres_dsn: str, tmp_path: Path) -> dict[str, Any]:
    schema = f"t_{tmp_path.name.lower().replace('-', '_')[:40]}"
    return {"project_id": PROJECT, "delivery": "postgres", "postgres_dsn": postgres_dsn, "postgres_schema": schema}


def messages() -> list[dict[str, Any]]:
    dept = {"Code": {"type": "string"}, "Name": {"type": ["null", "string"]}}
    emp = {
        "Id": {"type": "string"},
        "DeptCode": {"type": ["null", "string"]},
        "Pay": {"type": ["null", "number"]},
        "Start": {"type": ["null", "string"], "format": "date-time"},
        "Extra": {"type": ["null", "object"]},
    }
    out = [
        schema_msg(
            "departments",
            dept,
            ["Code"],
            annotation("ukg_pro", "departments", "department", "configuration", ["Code"], hub="Code"),
        ),
        record_msg("departments", {"Code": "D1", "Name": "One"}),
        schema_msg(
            "employees",
            emp,
            ["Id"],
            annotation("ukg_pro", "employees", "employee", "reality", ["Id"], references={"DeptCode": "department"}),
        ),
    ]
    for i in range(12):
        out.append(
            record_msg(
                "employees",
                {
                    "Id": f"E{i}",
                    "DeptCode": "D1" if i < 9 else "D7",
                    "Pay": 1000.5 + i,
                    "Start": "2024-06-01T08:00:00-05:00",
                    "Extra": {"k": [i]},
                },
            )
        )
    out.append(record_msg("employees", {"Id": "E0", "DeptCode": "D1", "Pay": 1.125}))  # upsert
    out.append(record_msg("employees", {"Id": "bad", "Pay": "x", "Extra": {"password": "hunter22secret"}}))
    out.append(record_msg("employees", {"Id": "nul", "DeptCode": "a\u0000b"}))
    out.append(state_msg({"done": True}))
    return out


def test_postgres_delivery_layout_rows_and_metadata(pg_config: dict[str, Any], tmp_path: Path) -> None:
    dsn, schema = pg_config["postgres_dsn"], pg_config["postgres_schema"]
    run = run_target(pg_config, messages(), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.states == [{"done": True}]
    emp = f"{P8}_ukg_pro_employees"
    rows = pg(dsn, schema, f'SELECT id, pay, start, extra FROM "{emp}" ORDER BY id')
    assert len(rows) == 12
    assert rows[0][1] == Decimal("1.125")
    assert rows[1][1] == Decimal("1001.5")
    assert rows[1][2].isoformat() == "2024-06-01T13:00:00+00:00"
    assert rows[1][3] == {"k": [1]}
    types = dict(
        pg(dsn, schema, f"SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '{emp}'")
    )
    assert types["pay"] == "numeric"
    assert types["start"] == "timestamp with time zone"
    assert types["extra"] == "jsonb"

    meta = pg(
        dsn,
        schema,
        "SELECT project, file_name, entity_type, truth_type, row_count, version, is_current, "
        "columns FROM _schema_metadata ORDER BY file_name",
    )
    assert [(m[0], m[1], m[2], m[3], m[4], m[5], m[6]) for m in meta] == [
        (PROJECT_LOWER, "ukg_pro:departments", "department", "configuration", 1, 1, True),
        (PROJECT_LOWER, "ukg_pro:employees", "employee", "reality", 12, 1, True),
    ]
    assert {"name": "pay", "type": "numeric"} in meta[1][7]

    letters = pg(dsn, schema, "SELECT record_key, error_path, error, payload FROM _dead_letters ORDER BY error_path")
    assert [(json.dumps(r[0]), r[1]) for r in letters] == [('["nul"]', "$.DeptCode"), ('["bad"]', "$.Pay")]
    assert "hunter22secret" not in json.dumps(letters[1][3])
    assert run.summary["streams"]["employees"] == {"received": 15, "loaded": 13, "dead_lettered": 2}

    spoke = pg(
        dsn,
        schema,
        "SELECT hub_table, coverage_pct, spoke_cardinality, hub_cardinality FROM _column_mappings WHERE is_hub = FALSE",
    )
    assert spoke == [(f"{P8}_ukg_pro_departments", 50.0, 2, 1)]
    profile = pg(
        dsn,
        schema,
        f"SELECT inferred_type, distinct_count, is_likely_key FROM _column_profiles "
        f"WHERE table_name = '{emp}' AND column_name = 'id'",
    )
    assert profile == [("text", 12, True)]

    truths = read_truths(PROJECT, postgres_dsn=dsn, postgres_schema=schema, entity="employee")
    assert len(truths) == 1
    assert len(truths[0].content) == 12
    assert truths[0].source_type == "reality"

    # second load: schema evolution (new column, widening) and a version bump
    evolved = [
        schema_msg(
            "employees",
            {"Id": {"type": "string"}, "Pay": {"type": ["null", "string"]}, "Grade": {"type": ["null", "integer"]}},
            ["Id"],
            annotation("ukg_pro", "employees", "employee", "reality", ["Id"]),
        ),
        record_msg("employees", {"Id": "E1", "Pay": "hourly", "Grade": 3}),
    ]
    again = run_target(pg_config, evolved, tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert pg(dsn, schema, f"SELECT pay, grade FROM \"{emp}\" WHERE id = 'E1'") == [("hourly", 3)]
    assert pg(dsn, schema, f"SELECT pay FROM \"{emp}\" WHERE id = 'E2'") == [("1002.500000000",)]
    assert pg(
        dsn,
        schema,
        "SELECT version, is_current FROM _schema_metadata WHERE file_name = 'ukg_pro:employees' ORDER BY version",
    ) == [(1, False), (2, True)]


def test_postgres_bad_dsn_is_redacted(pg_config: dict[str, Any], tmp_path: Path) -> None:
    config = {**pg_config, "postgres_dsn": "postgresql://xlr8:Sup3rS3cretPw@127.0.0.1:1/none"}
    run = run_target(config, messages()[:2], tmp_path)
    assert run.returncode != 0
    assert "postgres_dsn" in run.stderr
    assert "Sup3rS3cretPw" not in run.stderr


def test_postgres_adoption_renames_the_key_index_with_the_table(pg_config: dict[str, Any], tmp_path: Path) -> None:
    """The key index is named after its table: adopted without renaming it, the next write built a second unique
    index on the same key, and a new table under the old name got none (review21e finding 3)."""
    dsn, schema = pg_config["postgres_dsn"], pg_config["postgres_schema"]
    props = {"id": {"type": "integer"}}
    note = {**annotation("common", "events", "webhook_event", keys=["id"]), "formerly_unannotated": True}

    def run(ids: range, with_note: bool) -> str:
        msgs = [schema_msg("events", props, ["id"], note if with_note else None)]
        msgs += [record_msg("events", {"id": n}) for n in ids]
        done = run_target(pg_config, [*msgs, state_msg({"n": ids.stop})], tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stderr

    def indexes() -> dict[str, list[str]]:
        rows = pg(dsn, schema, "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = current_schema() "
                  f"AND tablename LIKE '{P8}%' ORDER BY 1, 2")  # fmt: skip
        found: dict[str, list[str]] = {}
        for table, name in rows:
            found.setdefault(table, []).append(name)
        return found

    run(range(5), False)
    assert "renamed to" in run(range(5, 8), True)
    adopted = indexes()
    assert list(adopted) == [f"{P8}_common_events"]
    assert len(adopted[f"{P8}_common_events"]) == 1, adopted
    assert adopted[f"{P8}_common_events"][0].startswith(f"{P8}_common_events__key_")
    run(range(100, 103), False)  # an old-version tap again: a new table under the old name, with its own index
    again = indexes()
    assert again[f"{P8}_common_events"] == adopted[f"{P8}_common_events"]
    assert len(again.get(f"{P8}_singer_events", [])) == 1, again


def test_postgres_key_change_archive_keeps_its_index_under_its_name(pg_config: dict[str, Any], tmp_path: Path) -> None:
    """``archive_table`` renames through the same ``_rename``: the archive's key index goes with it."""
    dsn, schema = pg_config["postgres_dsn"], pg_config["postgres_schema"]
    props = {"id": {"type": "integer"}, "code": {"type": "string"}}
    config = {**pg_config, "key_change_policy": "new_table_version"}
    for keys, ids in ((["id"], range(3)), (["code"], range(3, 5))):
        msgs = [schema_msg("things", props, keys, annotation("common", "things", "thing", keys=keys))]
        msgs += [record_msg("things", {"id": n, "code": f"c{n}"}) for n in ids]
        done = run_target(config, [*msgs, state_msg({"n": ids.stop})], tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
    rows = pg(dsn, schema, "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = current_schema() "
              f"AND tablename LIKE '{P8}%' ORDER BY 1")  # fmt: skip
    assert [table for table, _ in rows] == [f"{P8}_common_things", f"{P8}_common_things__v1"], rows
    assert all(name.startswith(f"{table}__key_") for table, name in rows), rows


def test_postgres_adoption_moves_the_key_change_archives_and_names_the_product_in_the_ledger(
    pg_config: dict[str, Any], tmp_path: Path
) -> None:
    """As on DuckDB: the archive a key change left of the table the stream landed in without its annotation moves
    with it (``{product table}__v1``, its key index too), and the ledger's rows name the product."""
    dsn, schema = pg_config["postgres_dsn"], pg_config["postgres_schema"]
    config = {**pg_config, "key_change_policy": "new_table_version"}
    props = {"id": {"type": "integer"}, "code": {"type": "string"}}
    note = {**annotation("common", "events", "webhook_event", keys=["id"]), "formerly_unannotated": True}

    def run(keys: list[str], with_note: bool, ids: range) -> None:
        msgs = [schema_msg("events", props, keys, note if with_note else None)]
        msgs += [record_msg("events", {"id": n, "code": f"c{n}"}) for n in ids]
        done = run_target(config, [*msgs, state_msg({"n": ids.stop})], tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]

    run(["id"], False, range(3))
    run(["code"], False, range(3, 5))  # the 3 rows keyed by id go to {P8}_singer_events__v1
    run(["code"], True, range(5, 6))
    rows = pg(dsn, schema, "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = current_schema() "
              f"AND tablename LIKE '{P8}%' ORDER BY 1")  # fmt: skip
    assert [table for table, _ in rows] == [f"{P8}_common_events", f"{P8}_common_events__v1"], rows
    assert all(name.startswith(f"{table}__key_") for table, name in rows), rows
    assert pg(dsn, schema, f'SELECT COUNT(*) FROM "{P8}_common_events__v1"') == [(3,)]
    assert pg(dsn, schema, "SELECT DISTINCT table_name, file_name FROM _schema_metadata ORDER BY 1") == [
        (f"{P8}_common_events", "common:events"),
        (f"{P8}_common_events__v1", "common:events"),
    ]
    assert pg(dsn, schema, "SELECT DISTINCT product FROM _truths_ledger") == [("common",)]


def test_postgres_extended_key_replaces_the_old_key_index(pg_config: dict[str, Any], tmp_path: Path) -> None:
    """A key the target lets extend (more columns) gets its own unique index and loses the old one: left, the old
    one refused every row new only in the added column, failing each run with no STATE."""
    dsn, schema = pg_config["postgres_dsn"], pg_config["postgres_schema"]
    props = {"person": {"type": "string"}, "day": {"type": "string"}, "job": {"type": "string"}}
    runs = (
        (["person", "day"], [("E1", "d1", "A")]),
        (["person", "day", "job"], [("E1", "d1", "A"), ("E1", "d1", "B")]),
    )
    for n, (keys, rows) in enumerate(runs):
        msgs = [schema_msg("totals", props, keys, annotation("common", "totals", "timecard", keys=keys))]
        msgs += [record_msg("totals", dict(zip(props, row, strict=True))) for row in rows]
        done = run_target(pg_config, [*msgs, state_msg({"run": n})], tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        assert json.loads(done.stdout.strip().splitlines()[-1]) == {"run": n}
    table = f"{P8}_common_totals"
    assert pg(dsn, schema, f'SELECT person, day, job FROM "{table}" ORDER BY job') == [
        ("E1", "d1", "A"),
        ("E1", "d1", "B"),
    ]
    indexes = pg(
        dsn,
        schema,
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() "
        f"AND tablename = '{table}' AND indexname LIKE '%__key_%'",
    )
    assert len(indexes) == 1, indexes
    assert "CREATE UNIQUE INDEX" in indexes[0][0], indexes
    assert "(person, day, job)" in indexes[0][0], indexes
