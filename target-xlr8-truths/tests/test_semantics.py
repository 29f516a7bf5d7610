"""F4 schema evolution, ACTIVATE_VERSION, `_sdc_deleted_at` deletes and BATCH messages (JSONL, gzip or not)."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from truths_testkit import P8, annotation, query, record_msg, run_target, schema_msg, state_msg

TABLE = f"{P8}_singer_items"


def columns(store: Path, table: str = TABLE) -> dict[str, str]:
    rows = query(store, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?", [table])
    return dict(rows)


def test_f4_schema_evolution_adds_and_widens_never_truncates(tmp_path: Path, config: dict[str, Any],
                                                              store: Path) -> None:  # fmt: skip
    v1 = {
        "id": {"type": "integer"},
        "qty": {"type": ["null", "integer"]},
        "day": {"type": ["null", "string"], "format": "date"},
    }
    v2 = {
        **v1,
        "qty": {"type": ["null", "number"], "multipleOf": 1e-9},  # a declared decimal
        "note": {"type": ["null", "string"]},
        "day": {"type": ["null", "string"], "format": "date-time"},
    }
    v3 = {**v2, "qty": {"type": ["null", "string"]}}
    messages = [
        schema_msg("items", v1, ["id"]),
        record_msg("items", {"id": 1, "qty": 5, "day": "2024-01-31"}),
        state_msg({"step": 1}),
        schema_msg("items", v2, ["id"]),
        record_msg("items", {"id": 2, "qty": 2.125, "note": "new column", "day": "2024-02-01T10:00:00Z"}),
        state_msg({"step": 2}),
        schema_msg("items", v3, ["id"]),
        record_msg("items", {"id": 3, "qty": "a dozen"}),
        state_msg({"step": 3}),
    ]
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert [s["step"] for s in run.states] == [3]
    types = columns(store)
    assert types["qty"] == "VARCHAR"
    assert types["note"] == "VARCHAR"
    assert types["day"] == "TIMESTAMP WITH TIME ZONE"
    rows = query(store, f'SELECT id, qty, note, CAST(day AS DATE) FROM "{TABLE}" ORDER BY id')
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (1, "5.000000000", None),
        (2, "2.125000000", "new column"),
        (3, "a dozen", None),
    ]
    assert str(rows[0][3]) == "2024-01-31"
    meta = query(store, "SELECT columns, version FROM _schema_metadata WHERE is_current")
    assert {"name": "note", "type": "VARCHAR"} in json.loads(meta[0][0])
    assert meta[0][1] == 1


def test_f4_primary_key_change_drains_old_sink_first(tmp_path: Path, config: dict[str, Any], store: Path) -> None:
    props = {"id": {"type": "integer"}, "region": {"type": "string"}, "v": {"type": "integer"}}
    messages = [
        schema_msg("items", props, ["id"]),
        record_msg("items", {"id": 1, "region": "eu", "v": 1}),
        schema_msg("items", props, ["id", "region"]),
        record_msg("items", {"id": 1, "region": "us", "v": 2}),
        record_msg("items", {"id": 1, "region": "us", "v": 3}),
    ]
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert query(store, f'SELECT id, region, v FROM "{TABLE}" ORDER BY region') == [(1, "eu", 1), (1, "us", 3)]


def _versioned(version: int, ids: list[int]) -> list[dict[str, Any]]:
    return [
        {"type": "ACTIVATE_VERSION", "stream": "items", "version": version},
        *[record_msg("items", {"id": i, "v": version}, version=version) for i in ids],
        {"type": "ACTIVATE_VERSION", "stream": "items", "version": version},
    ]


def test_activate_version_removes_rows_missing_from_the_new_full_sync(tmp_path: Path, config: dict[str, Any],
                                                                      store: Path) -> None:  # fmt: skip
    schema = schema_msg("items", {"id": {"type": "integer"}, "v": {"type": "integer"}}, ["id"])
    first = run_target({**config, "hard_delete": True}, [schema, *_versioned(100, [1, 2, 3])], tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    second = run_target({**config, "hard_delete": True}, [schema, *_versioned(200, [2, 3, 4])], tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert query(store, f'SELECT id, v FROM "{TABLE}" ORDER BY id') == [(2, 200), (3, 200), (4, 200)]
    assert query(store, "SELECT row_count FROM _schema_metadata WHERE is_current") == [(3,)]


def test_activate_version_soft_deletes_by_default(tmp_path: Path, config: dict[str, Any], store: Path) -> None:
    schema = schema_msg("items", {"id": {"type": "integer"}, "v": {"type": "integer"}}, ["id"])
    assert run_target(config, [schema, *_versioned(100, [1, 2])], tmp_path).returncode == 0
    assert run_target(config, [schema, *_versioned(200, [2])], tmp_path).returncode == 0
    rows = query(store, f'SELECT id, _sdc_deleted_at IS NOT NULL FROM "{TABLE}" ORDER BY id')
    assert rows == [(1, True), (2, False)]


def test_rows_marked_deleted_are_not_read_back_as_truths(tmp_path: Path, config: dict[str, Any], store: Path) -> None:
    """audit25e F4: ``read_truths`` served rows marked deleted beside the live ones (a removed Account, a pay code
    gone from its day) as current truths; they are history, read only when asked for."""
    from target_xlr8_truths import read_truths

    schema = schema_msg("items", {"id": {"type": "integer"}, "v": {"type": "integer"}}, ["id"])
    assert run_target(config, [schema, *_versioned(100, [1, 2, 3])], tmp_path).returncode == 0
    assert run_target(config, [schema, *_versioned(200, [2])], tmp_path).returncode == 0
    (truth,) = read_truths(config["project_id"], duckdb_path=str(store))
    assert [(r["id"], r["v"]) for r in truth.content] == [(2, 200)]
    (history,) = read_truths(config["project_id"], duckdb_path=str(store), include_deleted=True)
    assert sorted(r["id"] for r in history.content) == [1, 2, 3]


def _summary(stderr: str) -> dict[str, Any]:
    (line,) = [x for x in stderr.splitlines() if x.startswith("XLR8_TRUTHS_SUMMARY ")]
    return dict(json.loads(line.split(" ", 1)[1]))


def test_row_count_counts_current_rows_and_deleted_ones_apart(tmp_path: Path, config: dict[str, Any],
                                                              store: Path) -> None:  # fmt: skip
    """audit25e F4 (row_count): ``_schema_metadata.row_count``, ``read_truths``' ``row_count`` and the target's
    summary counted rows marked deleted as rows of the table; they are history, counted apart (``deleted_rows``)."""
    from target_xlr8_truths import read_truths

    schema = schema_msg("items", {"id": {"type": "integer"}, "v": {"type": "integer"}}, ["id"])
    assert run_target(config, [schema, *_versioned(100, [1, 2, 3])], tmp_path).returncode == 0
    second = run_target(config, [schema, *_versioned(200, [2])], tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert query(store, "SELECT row_count FROM _schema_metadata WHERE is_current") == [(1,)]
    (truth,) = read_truths(config["project_id"], duckdb_path=str(store))
    assert (truth.metadata["row_count"], truth.metadata["deleted_rows"]) == (1, 2)
    summary = _summary(second.stderr)
    assert summary["streams"]["items"] == {"received": 1, "loaded": 1, "dead_lettered": 0}
    assert summary["tables"]["items"] == {"rows": 1, "deleted_rows": 2}


def test_batch_row_count_leaves_out_rows_marked_deleted(tmp_path: Path, config: dict[str, Any], store: Path) -> None:
    """The BATCH path keeps its counts between files (no rescan): rows arriving marked deleted, and a marked row
    replaced by a current one of the same key, move the current and deleted counts apart."""
    from target_xlr8_truths import read_truths

    props = {"id": {"type": "integer"}, "_sdc_deleted_at": {"type": ["null", "string"], "format": "date-time"}}
    gone = "2024-05-01T00:00:00Z"
    first, second, third = (tmp_path / f"part-{n}.jsonl" for n in (1, 2, 3))
    first.write_text(
        "".join(json.dumps({"id": i}) + "\n" for i in (1, 2, 3)) + json.dumps({"id": 4, "_sdc_deleted_at": gone}) + "\n"
    )
    second.write_text(json.dumps({"id": 5}) + "\n" + json.dumps({"id": 6, "_sdc_deleted_at": gone}) + "\n")
    third.write_text(json.dumps({"id": 4}) + "\n" + json.dumps({"id": 1, "_sdc_deleted_at": gone}) + "\n")
    messages = [schema_msg("items", props, ["id"]), *(_batch_message([f], "none") for f in (first, second))]
    config = {**config, "batch_locations": [str(tmp_path)]}
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert query(store, "SELECT row_count FROM _schema_metadata WHERE is_current") == [(4,)]  # 1, 2, 3, 5
    assert _summary(run.stderr)["tables"]["items"] == {"rows": 4, "deleted_rows": 2}
    run = run_target(config, [messages[0], _batch_message([third], "none")], tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert query(store, "SELECT row_count FROM _schema_metadata WHERE is_current") == [(4,)]  # 2, 3, 4, 5
    (truth,) = read_truths(config["project_id"], duckdb_path=str(store))
    assert (truth.metadata["row_count"], truth.metadata["deleted_rows"]) == (4, 2)  # 1 and 6
    assert sorted(r["id"] for r in truth.content) == [2, 3, 4, 5]


def test_batch_row_count_leaves_out_the_rows_a_re_read_set_marked(
    tmp_path: Path, config: dict[str, Any], store: Path
) -> None:
    """review26c L4, through the CLI: in a run of BATCH files (counts kept between files, no rescan) a later file
    re-reads a set an earlier run landed (``replace_by``) and its older rows are marked deleted, with and without a
    key the file sends again: ``row_count`` counts current rows only."""
    props = {"person": {"type": "string"}, "day": {"type": "string"}, "code": {"type": "string"}}
    keys = ["person", "day", "code"]
    note = annotation("common", "totals", "timecard", keys=keys)
    note["replace_by"] = ["person", "day"]
    config = {**config, "batch_locations": [str(tmp_path)]}
    runs = [
        [[("E1", "d1", "A"), ("E1", "d1", "B"), ("E2", "d1", "A"), ("E3", "d1", "A"), ("E3", "d1", "B")]],
        [[("E4", "d1", "A")], [("E1", "d1", "C")], [("E3", "d1", "A")]],  # E1: A, B marked; E3: B marked, A again
    ]
    for number, files in enumerate(runs):
        messages: list[dict[str, Any]] = [schema_msg("totals", props, keys, note)]
        for index, rows in enumerate(files):
            path = tmp_path / f"run{number}-{index}.jsonl"
            path.write_text("".join(json.dumps(dict(zip(props, row, strict=True))) + "\n" for row in rows))
            messages.append({**_batch_message([path], "none"), "stream": "totals"})
        run = run_target(config, [*messages, state_msg({"run": number})], tmp_path)
        assert run.returncode == 0, run.stderr[-3000:]
    table = f"{P8}_common_totals"
    current = query(store, f'SELECT person, code FROM "{table}" WHERE _sdc_deleted_at IS NULL ORDER BY 1, 2')
    assert current == [("E1", "C"), ("E2", "A"), ("E3", "A"), ("E4", "A")]
    assert query(store, "SELECT row_count FROM _schema_metadata WHERE is_current") == [(4,)]


def test_sdc_deleted_at_soft_and_hard_deletes(tmp_path: Path, config: dict[str, Any], store: Path) -> None:
    props = {"id": {"type": "integer"}, "_sdc_deleted_at": {"type": ["null", "string"], "format": "date-time"}}
    base = [schema_msg("items", props, ["id"]), record_msg("items", {"id": 1}), record_msg("items", {"id": 2})]
    delete = [record_msg("items", {"id": 2, "_sdc_deleted_at": "2024-05-01T00:00:00Z"})]
    assert run_target(config, base, tmp_path).returncode == 0
    assert run_target(config, delete, tmp_path).returncode != 0  # no SCHEMA: fatal, nothing changed
    assert run_target(config, [base[0], *delete], tmp_path).returncode == 0
    rows = query(store, f'SELECT id, CAST(_sdc_deleted_at AS VARCHAR) FROM "{TABLE}" ORDER BY id')
    assert rows[0] == (1, None)
    assert rows[1][0] == 2
    assert rows[1][1].startswith("2024-05-01")
    assert run_target({**config, "hard_delete": True}, [base[0], *delete], tmp_path).returncode == 0
    assert query(store, f'SELECT id FROM "{TABLE}"') == [(1,)]


def _batch_message(files: list[Path], compression: str) -> dict[str, Any]:
    return {
        "type": "BATCH",
        "stream": "items",
        "encoding": {"format": "jsonl", "compression": compression},
        "manifest": [f"file://{f}" for f in files],
    }


def test_batch_messages_loaded_directly_and_files_deleted(tmp_path: Path, config: dict[str, Any], store: Path) -> None:
    props = {
        "id": {"type": "integer"},
        "price": {"type": ["null", "number"], "multipleOf": 1e-9},  # a declared decimal
        "tags": {"type": ["null", "array"]},
        "at": {"type": ["null", "string"], "format": "date-time"},
    }
    plain = tmp_path / "part-1.jsonl"
    plain.write_text(
        "".join(
            json.dumps({"id": i, "price": i + 0.5, "tags": ["x"], "at": "2024-01-01T00:00:00Z"}) + "\n"
            for i in range(1000)
        )
    )
    zipped = tmp_path / "part-2.jsonl.gz"
    with gzip.open(zipped, "wt") as handle:
        for i in range(1000, 1500):
            handle.write(json.dumps({"id": i, "price": None}) + "\n")
        handle.write(json.dumps({"id": 5, "price": 99.25}) + "\n")  # upsert of a row from the first file
    # a number DuckDB's reader would round (18 significant digits) takes the exact record path
    exact = tmp_path / "part-3.jsonl"
    exact.write_text('{"id": 2000, "price": 12345678901234567.5}\n{"id": 2001, "price": "bad"}\n')
    keyless = tmp_path / "part-4.jsonl"
    keyless.write_text('{"id": 3000, "price": 1}\n{"price": 2}\n')
    messages = [
        schema_msg("items", props, ["id"]),
        _batch_message([plain], "none"),
        _batch_message([zipped], "gzip"),
        _batch_message([exact], "none"),
        _batch_message([keyless], "none"),
        state_msg({"batches": 3}),
    ]
    run = run_target({**config, "batch_locations": [str(tmp_path)]}, messages, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.states == [{"batches": 3}]
    assert run.stderr.count("BATCH file loaded by DuckDB directly") == 2
    assert run.stderr.count("BATCH file loaded record by record (stream items: numbers DuckDB would round)") == 1
    assert run.stderr.count("BATCH file loaded record by record (stream items: FastPathRefused: ") == 1
    assert not plain.exists()
    assert not zipped.exists()
    assert not exact.exists()
    assert not keyless.exists()
    assert query(store, f'SELECT COUNT(*) FROM "{TABLE}"') == [(1502,)]
    assert query(store, f'SELECT price FROM "{TABLE}" WHERE id = 5') == [(Decimal("99.25"),)]
    assert query(store, f'SELECT price FROM "{TABLE}" WHERE id = 2000') == [(Decimal("12345678901234567.5"),)]
    assert query(store, f'SELECT tags FROM "{TABLE}" WHERE id = 7') == [('["x"]',)]
    assert query(store, "SELECT error_path FROM _dead_letters ORDER BY 1") == [("$.id",), ("$.price",)]
    assert run.summary["streams"]["items"] == {"received": 1505, "loaded": 1503, "dead_lettered": 2}
    assert run.summary["tables"]["items"] == {"rows": 1502, "deleted_rows": 0}
