"""``replace_by`` (the ``x-xlr8`` block): a set of rows the tap reads whole, such as a person's day of timecard
totals, is replaced by each run's rows of it, so a row gone from the source stops counting (CLOSING23 "Left": a pay
code a correction removed kept its old total). Through the target CLI, on DuckDB and on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from truths_testkit import P8, PROJECT, annotation, postgres_rows, query, record_msg, run_target, schema_msg, state_msg

from xlr8_kit.vocabulary.annotations import SETS_READ_STREAM

PROPS = {
    "person": {"type": "string"},
    "day": {"type": "string"},
    "code": {"type": "string"},
    "hours": {"type": "number"},
}
KEY = ["person", "day", "code"]
TABLE = f"{P8}_common_totals"


def _messages(rows: list[tuple[str, str, str, int]], run: int, replace_by: bool) -> list[dict[str, Any]]:
    note = annotation("common", "totals", "timecard", keys=KEY)
    if replace_by:
        note["replace_by"] = ["person", "day"]
    out = [schema_msg("totals", PROPS, KEY, note)]
    out += [record_msg("totals", dict(zip(PROPS, row, strict=True))) for row in rows]
    return [*out, state_msg({"run": run})]


#: The first run: E1's day d1 spans the target's batches of 2 rows (A, B | C, E2's A), so it keeps every row.
FIRST = [("E1", "d1", "A", 8), ("E1", "d1", "B", 1), ("E1", "d1", "C", 2), ("E2", "d1", "A", 7)]
#: The second run re-reads E1's day d1, corrected to A alone; E2 is not re-read.
SECOND = [("E1", "d1", "A", 9)]


def _store(
    request: pytest.FixtureRequest, tmp_path: Path, delivery: str, config: dict[str, Any]
) -> Callable[[], list[tuple[Any, ...]]]:
    """``config`` pointed at DuckDB or a real PostgreSQL (a schema per test); returns a reader of the table's rows
    (person, day, code, hours, marked deleted), sorted."""
    if delivery == "postgres":
        schema = f"t_{tmp_path.name.lower().replace('-', '_')[:40]}"
        dsn = request.getfixturevalue("postgres_dsn")
        config.update(delivery="postgres", postgres_dsn=dsn, postgres_schema=schema)
    else:
        config["duckdb_path"] = str(tmp_path / "truths.duckdb")

    def rows() -> list[tuple[Any, ...]]:
        select = "person, day, code, CAST(hours AS INTEGER), _sdc_deleted_at IS NOT NULL"
        if delivery == "postgres":
            found = postgres_rows(config["postgres_dsn"], config["postgres_schema"], TABLE, select)
        else:
            found = query(config["duckdb_path"], f'SELECT {select} FROM "{TABLE}"')
        return sorted(found or [])

    return rows


@pytest.mark.parametrize("hard_delete", [False, True], ids=["marked", "hard_delete"])
@pytest.mark.parametrize("delivery", ["duckdb", "postgres"])
@pytest.mark.parametrize("replace_by", [True, False], ids=["replace_by", "key only"])
def test_a_set_re_read_replaces_its_rows(
    request: pytest.FixtureRequest, tmp_path: Path, delivery: str, hard_delete: bool, replace_by: bool
) -> None:
    config: dict[str, Any] = {"project_id": PROJECT, "hard_delete": hard_delete, "batch_size_rows": 2}
    rows = _store(request, tmp_path, delivery, config)

    for run, sent in enumerate((FIRST, SECOND)):
        done = run_target(config, _messages(sent, run, replace_by), tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        counted = done.summary["streams"]["totals"]
        if run == 0:
            assert rows() == sorted((*row, False) for row in FIRST)  # a set spanning batches keeps every row
            assert "replaced" not in counted
        else:  # review24e 4: the operator is told how many landed rows the re-read sets replaced (E1's A, B, C)
            assert counted.get("replaced") == (3 if replace_by else None), counted
            if replace_by:
                how = "deleted" if hard_delete else "marked deleted"
                assert f"stream totals: 3 row(s) of re-read sets (replace_by person, day) {how}" in done.stderr
    if not replace_by:  # the key alone: B and C keep their old totals
        expected = [("E1", "d1", "A", 9, False), ("E1", "d1", "B", 1, False), ("E1", "d1", "C", 2, False)]
    elif hard_delete:
        expected = [("E1", "d1", "A", 9, False)]
    else:
        expected = [("E1", "d1", "A", 9, False), ("E1", "d1", "B", 1, True), ("E1", "d1", "C", 2, True)]
    assert rows() == sorted([*expected, ("E2", "d1", "A", 7, False)])  # a set not re-read is left as it was


@pytest.mark.parametrize("delivery", ["duckdb", "postgres"])
def test_a_set_column_widened_mid_run_keeps_the_runs_sets(
    request: pytest.FixtureRequest, tmp_path: Path, delivery: str
) -> None:
    """review24e finding 2: a ``replace_by`` column widened mid-run (integer, then text) failed the run (the run's
    set table kept the first type); it is widened too, so day 1, replaced in the first batch, keeps its A row when
    the widened batch brings its B row."""
    config: dict[str, Any] = {"project_id": PROJECT, "batch_size_rows": 2}
    if delivery == "postgres":
        schema = f"t_{tmp_path.name.lower().replace('-', '_')[:40]}"
        config.update(delivery="postgres", postgres_dsn=request.getfixturevalue("postgres_dsn"), postgres_schema=schema)
    else:
        config["duckdb_path"] = str(tmp_path / "truths.duckdb")
    note = annotation("common", "totals", "timecard", keys=KEY)
    note["replace_by"] = ["person", "day"]
    messages = [schema_msg("totals", {**PROPS, "day": {"type": "integer"}}, KEY, note)]
    messages += [record_msg("totals", {"person": "E1", "day": day, "code": "A", "hours": 1}) for day in (1, 2)]
    messages += [
        state_msg({"run": 0}),
        schema_msg("totals", {**PROPS, "day": {"type": ["integer", "string"]}}, KEY, note),
    ]
    messages += [
        record_msg("totals", {"person": "E1", "day": day, "code": code, "hours": 1})
        for day, code in (("d3", "A"), ("1", "B"))
    ]
    done = run_target(config, [*messages, state_msg({"run": 1})], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    select = "person, CAST(day AS VARCHAR), code, _sdc_deleted_at IS NOT NULL"
    if delivery == "postgres":
        found = postgres_rows(config["postgres_dsn"], config["postgres_schema"], TABLE, select)
    else:
        found = query(config["duckdb_path"], f'SELECT {select} FROM "{TABLE}"')
    assert sorted(found or []) == [
        ("E1", "1", "A", False),
        ("E1", "1", "B", False),
        ("E1", "2", "A", False),
        ("E1", "d3", "A", False),
    ]


def _counted_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, batches: int) -> tuple[int, int]:
    """One in-process run of 60 ``replace_by`` rows in ``batches`` batches (of records, or one BATCH file each) into
    a fresh store: the set-table CREATEs and the catalog scans it ran."""
    import io
    import json

    from target_xlr8_truths.duckdb_store import DuckDBStore
    from target_xlr8_truths.target import TargetXlr8Truths

    statements: list[str] = []
    execute, fetchall = DuckDBStore.execute, DuckDBStore.fetchall

    def counted_execute(self: DuckDBStore, sql: str, params: Any = None) -> None:
        statements.append(sql)
        execute(self, sql, params)

    def counted_fetchall(self: DuckDBStore, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        statements.append(sql)
        return fetchall(self, sql, params)

    monkeypatch.setattr(DuckDBStore, "execute", counted_execute)
    monkeypatch.setattr(DuckDBStore, "fetchall", counted_fetchall)
    where = tmp_path / f"{mode}-{batches}".replace(" ", "-")
    where.mkdir()
    rows = [(f"E{n // 3}", f"d{n % 2}", f"C{n}", n) for n in range(60)]
    messages = _messages(rows, 0, replace_by=True)
    config: dict[str, Any] = {"project_id": PROJECT, "duckdb_path": str(where / "truths.duckdb")}
    if mode == "records":
        config["batch_size_rows"] = len(rows) // batches
    else:
        config["batch_locations"] = [str(where)]
        records = [m["record"] for m in messages if m["type"] == "RECORD"]
        messages = [m for m in messages if m["type"] != "RECORD"]
        for n in range(batches):
            part = where / f"part-{n}.jsonl"
            part.write_text("".join(json.dumps(r) + "\n" for r in records[n::batches]))
            messages.insert(-1, {"type": "BATCH", "stream": "totals", "manifest": [f"file://{part}"],
                                 "encoding": {"format": "jsonl", "compression": "none"}})  # fmt: skip
    TargetXlr8Truths(config=config).listen(file_input=io.StringIO("".join(json.dumps(m) + "\n" for m in messages)))
    monkeypatch.undo()
    assert query(config["duckdb_path"], f'SELECT COUNT(*) FROM "{TABLE}" WHERE _sdc_deleted_at IS NULL') == [(60,)]
    creates = sum(s.startswith('CREATE TEMPORARY TABLE IF NOT EXISTS "__xlr8_replaced_') for s in statements)
    return creates, sum("FROM duckdb_columns()" in s for s in statements)


@pytest.mark.parametrize("mode", ["records", "batch files"])
def test_the_run_s_set_table_is_created_once_per_stream_not_per_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """loose24 "left": ``_replace_sets`` ran ``CREATE TEMPORARY TABLE IF NOT EXISTS`` on every batch of a
    ``replace_by`` stream; on DuckDB any DDL empties the column cache, so every batch of a BATCH-file load scanned
    the catalog again (~3 ms). The statement runs once per stream, and a BATCH-file load scans the catalog as often
    for 12 files as for 3 (the record path's staging DDL empties the cache per batch anyway)."""
    few, many = _counted_run(tmp_path, monkeypatch, mode, 3), _counted_run(tmp_path, monkeypatch, mode, 12)
    assert (few[0], many[0]) == (1, 1)
    if mode == "batch files":
        assert few[1] == many[1], (few, many)


def test_a_set_table_made_in_a_batch_rolled_back_is_made_again(tmp_path: Path) -> None:
    """The store's note of the set tables it made is forgotten with a rolled-back batch (its CREATE is gone)."""
    import datetime as dt

    from target_xlr8_truths.duckdb_store import DuckDBStore
    from target_xlr8_truths.spool import Spool
    from target_xlr8_truths.store import RunContext

    run = RunContext(
        "proj", "6f1c2a9e-5a4d-4b8e-9c1f-0a5d5a4d0b01", "run-1", None, dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    )
    store = DuckDBStore(str(tmp_path / "truths.duckdb"), run, Spool(tmp_path / "spool"))
    store.ensure_layout()
    store.execute('CREATE TABLE t ("person" VARCHAR, "day" VARCHAR)')

    def made() -> bool:
        return bool(store.fetchall("SELECT 1 FROM duckdb_tables() WHERE temporary AND table_name = 'sets_t'"))

    def a_batch_that_fails_after_making_it() -> None:
        with store.transaction():
            store._replaced_sets_table("sets_t", '"person", "day"', '"t"')
            assert made()
            raise RuntimeError("the batch fails")

    with pytest.raises(RuntimeError, match="the batch fails"):
        a_batch_that_fails_after_making_it()
    assert not made()
    with store.transaction():
        store._replaced_sets_table("sets_t", '"person", "day"', '"t"')
    assert made()


def _sets_read(stream: str, sets: dict[str, list[Any]], read_start: str | None = None) -> list[dict[str, Any]]:
    """A tap's announcement of sets it read whole (``xlr8_kit.vocabulary.annotations``): SCHEMA and one RECORD."""
    schema = {"type": "object", "properties": {"stream": {"type": "string"}, "sets": {"type": "object"}}}
    record: dict[str, Any] = {"stream": stream, "sets": sets}
    if read_start is not None:
        record["read_start"] = read_start
    return [
        {"type": "SCHEMA", "stream": SETS_READ_STREAM, "schema": schema, "key_properties": []},
        {"type": "RECORD", "stream": SETS_READ_STREAM, "record": record},
    ]


@pytest.mark.parametrize("hard_delete", [False, True], ids=["marked", "hard_delete"])
@pytest.mark.parametrize("delivery", ["duckdb", "postgres"])
def test_a_set_read_whole_with_no_row_left_has_its_rows_deleted(
    request: pytest.FixtureRequest, tmp_path: Path, delivery: str, hard_delete: bool
) -> None:
    """empty26: run 2 re-reads E1's and E2's day d1 and E3's day d2 and announces them read whole; E2's day answered
    no row (its last total gone), so nothing but the announcement names it: its row is marked deleted (removed with
    ``hard_delete``). E1's day is replaced by its rows as ever (its new A kept), E3's day never landed (nothing to
    do), and E1's day d2, not announced, is left as it was. The announcement lands no table."""
    config: dict[str, Any] = {"project_id": PROJECT, "hard_delete": hard_delete, "batch_size_rows": 2}
    rows = _store(request, tmp_path, delivery, config)

    first = [*FIRST, ("E1", "d2", "A", 4)]
    done = run_target(config, _messages(first, 0, True), tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    second = _messages(SECOND, 1, True)
    announced = _sets_read("totals", {"person": ["E1", "E2", "E3"], "day": ["d1"]})
    announced += _sets_read("totals", {"person": ["E3"], "day": ["d2"]})[1:]
    done = run_target(config, [*second[:-1], *announced, second[-1]], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.summary["streams"]["totals"]["replaced"] == 3 + 1  # E1's B and C (and old A), E2's A
    how = "deleted" if hard_delete else "marked deleted"
    assert f"stream totals: 1 row(s) of sets now empty (read whole, no row sent; replace_by person, day) {how}" in (
        done.stderr
    )
    assert SETS_READ_STREAM not in done.summary["streams"]
    if hard_delete:
        expected = [("E1", "d1", "A", 9, False)]
    else:
        expected = [("E1", "d1", "A", 9, False), ("E1", "d1", "B", 1, True), ("E1", "d1", "C", 2, True)]
        expected.append(("E2", "d1", "A", 7, True))
    assert rows() == sorted([*expected, ("E1", "d2", "A", 4, False)])
    if delivery == "duckdb":
        tables = query(config["duckdb_path"], "SELECT table_name FROM information_schema.tables")
        assert not [t for (t,) in tables or [] if "sets_read" in t]


def test_an_announcement_for_other_columns_is_ignored_and_said(tmp_path: Path) -> None:
    """Sets named by columns the stream's SCHEMA does not name as ``replace_by`` delete nothing (a WARNING)."""
    config: dict[str, Any] = {"project_id": PROJECT, "duckdb_path": str(tmp_path / "truths.duckdb")}
    assert run_target(config, _messages(FIRST, 0, True), tmp_path).returncode == 0
    schema = _messages([], 1, True)[0]
    done = run_target(config, [schema, *_sets_read("totals", {"person": ["E2"]})], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "sets read whole announced for columns person, but its SCHEMA names replace_by person, day" in done.stderr
    found = query(config["duckdb_path"], f'SELECT count(*) FROM "{TABLE}" WHERE _sdc_deleted_at IS NULL')
    assert found == [(len(FIRST),)]


@pytest.mark.parametrize("hard_delete", [False, True], ids=["marked", "hard_delete"])
@pytest.mark.parametrize("delivery", ["duckdb", "postgres"])
def test_a_set_whose_only_new_row_was_dead_lettered_keeps_its_landed_row(
    request: pytest.FixtureRequest, tmp_path: Path, delivery: str, hard_delete: bool
) -> None:
    """review26c H2: run 2 re-reads E2's day d1, whose only row has hours the target refuses (dead-lettered), and
    announces the day read whole. The set was read, not found empty: E2's landed row stays current (was: marked
    deleted, or deleted, exit 0), the dead letter is kept, and the skip is said."""
    config: dict[str, Any] = {"project_id": PROJECT, "hard_delete": hard_delete}
    rows = _store(request, tmp_path, delivery, config)

    done = run_target(config, _messages([("E1", "d1", "A", 8), ("E2", "d1", "A", 7)], 0, True), tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    second = _messages([("E2", "d1", "A", "seven-point-five")], 1, True)  # type: ignore[list-item]
    announced = _sets_read("totals", {"person": ["E2"], "day": ["d1"]})
    done = run_target(config, [*second[:-1], *announced, second[-1]], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.summary["streams"]["totals"]["dead_lettered"] == 1
    assert not done.summary["streams"]["totals"].get("replaced")
    assert "1 set(s) with records dead-lettered in this run are not taken as empty" in done.stderr
    assert "now empty" not in done.stderr
    assert rows() == [("E1", "d1", "A", 8, False), ("E2", "d1", "A", 7, False)]


@pytest.mark.parametrize("hard_delete", [False, True], ids=["marked", "hard_delete"])
@pytest.mark.parametrize("delivery", ["duckdb", "postgres"])
def test_a_dead_letter_keeps_its_own_set_and_the_stream_s_emptied_sets_are_still_deleted(
    request: pytest.FixtureRequest, tmp_path: Path, delivery: str, hard_delete: bool
) -> None:
    """review26c H2 per set: run 2 re-reads E1's, E2's and E3's day d1 and announces them read whole. E2's only
    row is dead-lettered (hours the target refuses), E1's and E3's days answered no row. E2's landed row stays
    current; E1's and E3's rows are marked deleted (deleted with ``hard_delete``). Was: one dead letter kept every
    set of the stream, E1's and E3's emptied days included."""
    config: dict[str, Any] = {"project_id": PROJECT, "hard_delete": hard_delete}
    rows = _store(request, tmp_path, delivery, config)

    first = [("E1", "d1", "A", 8), ("E2", "d1", "A", 7), ("E3", "d1", "B", 3), ("E3", "d2", "A", 4)]
    done = run_target(config, _messages(first, 0, True), tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    second = _messages([("E2", "d1", "A", "seven-point-five")], 1, True)  # type: ignore[list-item]
    announced = _sets_read("totals", {"person": ["E1", "E2", "E3"], "day": ["d1"]})
    done = run_target(config, [*second[:-1], *announced, second[-1]], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.summary["streams"]["totals"]["dead_lettered"] == 1
    assert done.summary["streams"]["totals"]["replaced"] == 2
    assert "1 set(s) with records dead-lettered in this run are not taken as empty" in done.stderr
    gone = [] if hard_delete else [("E1", "d1", "A", 8, True), ("E3", "d1", "B", 3, True)]
    assert rows() == sorted([*gone, ("E2", "d1", "A", 7, False), ("E3", "d2", "A", 4, False)])


def test_a_dead_letter_whose_set_cannot_be_told_keeps_every_set_of_the_stream(tmp_path: Path) -> None:
    """The other way: the dead-lettered record's set value itself is refused (a NUL byte in ``person``), so which
    set it belongs to cannot be told: no set of the stream is taken as empty this run (E1's emptied day stays),
    said in a WARNING."""
    config: dict[str, Any] = {"project_id": PROJECT, "duckdb_path": str(tmp_path / "truths.duckdb")}
    done = run_target(config, _messages([("E1", "d1", "A", 8), ("E2", "d1", "A", 7)], 0, True), tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    second = _messages([("E\x002", "d1", "A", 7)], 1, True)
    announced = _sets_read("totals", {"person": ["E1", "E2"], "day": ["d1"]})
    done = run_target(config, [*second[:-1], *announced, second[-1]], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.summary["streams"]["totals"]["dead_lettered"] == 1
    assert "value that is null or does not convert (1 dead letter(s)): no set is taken as empty" in done.stderr
    found = query(config["duckdb_path"], f'SELECT person, _sdc_deleted_at IS NULL FROM "{TABLE}" ORDER BY 1')
    assert found == [("E1", True), ("E2", True)]


def _stamped(rows: list[tuple[str, str, str, int]], run: int, extracted: str) -> list[dict[str, Any]]:
    """``_messages`` of a read whose records were extracted at ``extracted``."""
    return [{**m, "time_extracted": extracted} if m["type"] == "RECORD" else m for m in _messages(rows, run, True)]


@pytest.mark.parametrize("hard_delete", [False, True], ids=["marked", "hard_delete"])
@pytest.mark.parametrize("delivery", ["duckdb", "postgres"])
def test_an_earlier_read_s_announcement_never_deletes_a_row_a_later_read_landed_first(
    request: pytest.FixtureRequest, tmp_path: Path, delivery: str, hard_delete: bool
) -> None:
    """review26c M5: two overlapping reads of one stream (a daily and an hourly run at midnight). X starts at 00:00,
    reads E1's and E2's day d1 while both are empty and ends late; Y starts at 00:05, reads E1's day after a total
    was added (row B), lands it and commits first. X's announcement (``read_start`` 00:00) then comes: E2's row,
    landed before X began, is marked deleted (deleted with ``hard_delete``); E1's B, extracted by Y after X
    began, stays current (was: marked deleted, as X sent no row of E1's day)."""
    config: dict[str, Any] = {"project_id": PROJECT, "hard_delete": hard_delete}
    rows = _store(request, tmp_path, delivery, config)

    before = _stamped([("E1", "d1", "A", 8), ("E2", "d1", "A", 7)], 0, "2026-01-06T23:00:00+00:00")
    assert run_target(config, before, tmp_path).returncode == 0
    landed_by_y = _stamped([("E1", "d1", "B", 2)], 1, "2026-01-07T00:05:30+00:00")
    done = run_target(config, landed_by_y, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    ended_x = _messages([], 2, True)
    announced = _sets_read("totals", {"person": ["E1", "E2"], "day": ["d1"]}, "2026-01-07T00:00:00.000001+00:00")
    done = run_target(config, [*ended_x[:-1], *announced, ended_x[-1]], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.summary["streams"]["totals"]["replaced"] == 1
    gone = [] if hard_delete else [("E1", "d1", "A", 8, True), ("E2", "d1", "A", 7, True)]
    assert rows() == sorted([*gone, ("E1", "d1", "B", 2, False)])


def test_an_announcement_follows_the_target_s_own_stream_map_rename(tmp_path: Path) -> None:
    """A stream this target's ``stream_maps`` renames (``__alias__``) lands under its new name; an announcement
    naming the tap's stream is applied to it: E2's emptied day is marked deleted (was: ignored with a WARNING, the
    rows kept). A rename made before the target (a mapper plugin) is not known here: README."""
    config: dict[str, Any] = {"project_id": PROJECT, "duckdb_path": str(tmp_path / "truths.duckdb")}
    config["stream_maps"] = {"totals": {"__alias__": "day_totals"}}
    assert run_target(config, _messages(FIRST, 0, True), tmp_path).returncode == 0
    second = _messages([], 1, True)
    announced = _sets_read("totals", {"person": ["E2"], "day": ["d1"]})
    done = run_target(config, [*second[:-1], *announced, second[-1]], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "WARNING" not in done.stderr
    assert done.summary["streams"]["day_totals"]["replaced"] == 1
    (table,) = [
        t for (t,) in query(config["duckdb_path"], "SELECT table_name FROM duckdb_tables()") or [] if "totals" in t
    ]
    found = query(
        config["duckdb_path"], f'SELECT person, code, _sdc_deleted_at IS NOT NULL FROM "{table}" ORDER BY ALL'
    )
    assert found == [("E1", "A", False), ("E1", "B", False), ("E1", "C", False), ("E2", "A", True)]


def test_a_dead_letter_with_a_null_set_value_keeps_every_set_of_the_stream(tmp_path: Path) -> None:
    """review27f L1: the run's only record of E1's d1 is dead-lettered for a missing person: its set cannot be told
    from a null, so (as for a value that does not convert) the stream's announcements delete nothing this run; it
    counted as in no set, and E1's landed row of the announced day was marked deleted."""
    config: dict[str, Any] = {"project_id": PROJECT, "duckdb_path": str(tmp_path / "truths.duckdb")}
    assert run_target(config, _messages([("E1", "d1", "A", 8)], 0, True), tmp_path).returncode == 0
    second = _messages([(None, "d1", "A", 9)], 1, True)  # type: ignore[list-item]
    announced = _sets_read("totals", {"person": ["E1"], "day": ["d1"]})
    done = run_target(config, [*second[:-1], *announced, second[-1]], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.summary["streams"]["totals"]["dead_lettered"] == 1
    assert "replace_by value that is null or does not convert (1 dead letter(s))" in done.stderr
    found = query(config["duckdb_path"], f'SELECT person, day, code, _sdc_deleted_at IS NULL FROM "{TABLE}"')
    assert found == [("E1", "d1", "A", True)]


@pytest.mark.parametrize("hard_delete", [False, True], ids=["marked", "hard_delete"])
@pytest.mark.parametrize("delivery", ["duckdb", "postgres"])
def test_an_earlier_read_s_rows_of_a_set_never_delete_a_row_a_later_read_landed_first(
    request: pytest.FixtureRequest, tmp_path: Path, delivery: str, hard_delete: bool
) -> None:
    """review27f M1: X (the daily read, started 00:00) read E1's d1 at 00:01 = {A}; Y (hourly) read it at 00:05:30
    after a total B was added = {A, B} and landed first. X's rows of the set land later: Y's newer B stays current
    (it was marked deleted: the M5 overlap guard covered only sets announced empty, not sets with rows)."""
    config: dict[str, Any] = {"project_id": PROJECT, "hard_delete": hard_delete}
    rows = _store(request, tmp_path, delivery, config)
    before = _stamped([("E1", "d1", "A", 8)], 0, "2026-01-06T23:00:00+00:00")
    assert run_target(config, before, tmp_path).returncode == 0
    by_y = _stamped([("E1", "d1", "A", 8), ("E1", "d1", "B", 2)], 1, "2026-01-07T00:05:30+00:00")
    assert run_target(config, by_y, tmp_path).returncode == 0
    by_x = _stamped([("E1", "d1", "A", 8)], 2, "2026-01-07T00:01:00+00:00")
    announced = _sets_read("totals", {"person": ["E1"], "day": ["d1"]}, "2026-01-07T00:00:00+00:00")
    done = run_target(config, [*by_x[:-1], *announced, by_x[-1]], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [(r[2], r[4]) for r in rows()] == [("A", False), ("B", False)]


@pytest.mark.parametrize("delivery", ["duckdb", "postgres"])
def test_more_dead_lettered_sets_than_one_statement_can_bind_still_keep_theirs(
    request: pytest.FixtureRequest, tmp_path: Path, delivery: str
) -> None:
    """review27f L3: 33,000 dead-lettered person-days (two ``replace_by`` columns: 66,000 values, over PostgreSQL's
    65,535 parameters of one statement) and an announcement of E1's and E2's day d1. E1's set is among the dead
    letters: its landed row stays current; E2's day is empty: its row is marked deleted. Was: one statement bound
    every kept value and PostgreSQL refused it (the run failed)."""
    config: dict[str, Any] = {"project_id": PROJECT, "dead_letter_ceiling": 40_000}
    rows = _store(request, tmp_path, delivery, config)
    done = run_target(config, _messages([("E1", "d1", "A", 8), ("E2", "d1", "A", 7)], 0, True), tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    bad = [("E1", "d1", "A", "eight")] + [(f"P{i:05d}", "d1", "A", "x") for i in range(32_999)]
    second = _messages(bad, 1, True)  # type: ignore[arg-type]
    announced = _sets_read("totals", {"person": ["E1", "E2"], "day": ["d1"]})
    done = run_target(config, [*second[:-1], *announced, second[-1]], tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.summary["streams"]["totals"]["dead_lettered"] == 33_000
    assert "33000 set(s) with records dead-lettered in this run are not taken as empty" in done.stderr
    assert done.summary["streams"]["totals"]["replaced"] == 1
    assert rows() == [("E1", "d1", "A", 8, False), ("E2", "d1", "A", 7, True)]


def test_an_announcement_of_many_replace_by_columns_fits_postgres_s_parameters(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """review28d L4: each column's values were cut at 10,000 per statement, so a ``replace_by`` of 7 columns with
    10,000 values each bound 70,000 (PostgreSQL takes 65,535): the run failed. The statement's values are now
    bounded all columns together: the emptied set's row is marked, the other set's stays."""
    wide = [f"c{i}" for i in range(7)]
    config: dict[str, Any] = {"project_id": PROJECT}
    schema = f"t_{tmp_path.name.lower().replace('-', '_')[:40]}"
    config.update(delivery="postgres", postgres_dsn=request.getfixturevalue("postgres_dsn"), postgres_schema=schema)
    note = annotation("common", "wide", "timecard", keys=wide)
    note["replace_by"] = wide
    props = {c: {"type": "string"} for c in wide}
    first = [schema_msg("wide", props, wide, note)]
    first += [record_msg("wide", dict.fromkeys(wide, v)) for v in ("a", "b")]
    done = run_target(config, [*first, state_msg({"run": 0})], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    values = ["a", *(f"v{i:05d}" for i in range(9_999))]
    announced = _sets_read("wide", dict.fromkeys(wide, values))
    done = run_target(config, [first[0], *announced, state_msg({"run": 1})], tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.summary["streams"]["wide"]["replaced"] == 1
    found = postgres_rows(config["postgres_dsn"], schema, f"{P8}_common_wide", "c0, _sdc_deleted_at IS NOT NULL")
    assert sorted(found or []) == [("a", True), ("b", False)]


def test_an_announcement_whose_read_start_is_ahead_of_the_target_s_clock_stops_the_run_before_its_state(
    tmp_path: Path,
) -> None:
    """review27f L7, review28d M1: ``read_start`` is compared with row stamps written by other runs' hosts. A read
    cannot have begun after its announcement reached the target, so a ``read_start`` later than the target's clock
    (here a day ahead: no clock tick matters) says the tap's host clock runs ahead. Skipping the announcement (as
    review27f L7's fix did) let the STATE after it through: a header-driven stream never reads that set again, so
    E2's emptied day stayed current for good, exit 0. Now the run fails before that STATE, naming both instants and
    NTP: the bookmark stays, E2's row is untouched (the rerun with sound clocks empties it)."""
    config: dict[str, Any] = {"project_id": PROJECT, "duckdb_path": str(tmp_path / "truths.duckdb")}
    done = run_target(config, _messages([("E1", "d1", "A", 8), ("E2", "d1", "A", 7)], 0, True), tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    ahead = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    second = _messages([("E1", "d1", "A", 9)], 1, True)
    announced = _sets_read("totals", {"person": ["E1", "E2"], "day": ["d1"]}, ahead)
    done = run_target(config, [*second[:-1], *announced, second[-1]], tmp_path)
    assert done.returncode != 0, done.stderr[-2000:]
    assert f"read_start {dt.datetime.fromisoformat(ahead).isoformat()}, later than this target's clock (" in done.stderr
    assert "Synchronize the hosts' clocks (NTP)" in done.stderr
    assert {"run": 1} not in done.states  # the bookmark does not move past the read
    found = query(config["duckdb_path"], f'SELECT person, code, hours, _sdc_deleted_at IS NULL FROM "{TABLE}"')
    assert sorted(found or []) == [("E1", "A", 9, True), ("E2", "A", 7, True)]  # E1's row committed before it

    # the rerun, its clock sound, empties E2's day and moves the bookmark
    now = dt.datetime.now(dt.UTC).isoformat()
    announced = _sets_read("totals", {"person": ["E1", "E2"], "day": ["d1"]}, now)
    done = run_target(config, [*second[:-1], *announced, second[-1]], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert {"run": 1} in done.states
    found = query(config["duckdb_path"], f'SELECT person, code, hours, _sdc_deleted_at IS NULL FROM "{TABLE}"')
    assert sorted(found or []) == [("E1", "A", 9, True), ("E2", "A", 7, False)]


def test_a_read_start_ahead_of_the_clock_does_not_stop_a_table_that_never_compares_it(tmp_path: Path) -> None:
    """review28d L1: ``read_start`` only guards rows by ``_sdc_extracted_at``. A table without that column (one
    landed before the column was kept) never compares it, so a tap clock ahead changes nothing: the emptied set's
    row is marked deleted and the STATE goes out (was: announcement skipped, E2's row left current)."""
    config: dict[str, Any] = {"project_id": PROJECT, "duckdb_path": str(tmp_path / "truths.duckdb")}
    done = run_target(config, _messages([("E1", "d1", "A", 8), ("E2", "d1", "A", 7)], 0, True), tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    with duckdb.connect(config["duckdb_path"]) as con:
        con.execute(f'ALTER TABLE "{TABLE}" DROP COLUMN _sdc_extracted_at')
    ahead = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    announced = _sets_read("totals", {"person": ["E2"], "day": ["d1"]}, ahead)
    second = _messages([], 1, True)
    done = run_target(config, [*second[:-1], *announced, second[-1]], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "later than this target's clock" not in done.stderr
    assert {"run": 1} in done.states
    found = query(config["duckdb_path"], f'SELECT person, code, hours, _sdc_deleted_at IS NULL FROM "{TABLE}"')
    assert sorted(found or []) == [("E1", "A", 8, True), ("E2", "A", 7, False)]


def _totals_schema(day: Any) -> dict[str, Any]:
    """The totals SCHEMA with ``replace_by`` (person, day) and ``day`` typed ``day``."""
    note = annotation("common", "totals", "timecard", keys=KEY)
    note["replace_by"] = ["person", "day"]
    return schema_msg("totals", {**PROPS, "day": day}, KEY, note)


@pytest.mark.parametrize("delivery", ["duckdb", "postgres"])
def test_two_announcements_with_dead_letters_in_one_run(
    request: pytest.FixtureRequest, tmp_path: Path, delivery: str
) -> None:
    """review29b (pin of c7fadaa4): one run announces a stream twice, each time with a dead letter, so the kept-sets
    table is made, filled and dropped twice in one connection. Was, with the DROP and the DuckDB store's memo of
    the tables it made: "Table __xlr8_kept_... does not exist" (the memo skipped the second CREATE). Each dead
    letter keeps its own set; E3's emptied day is marked deleted."""
    config: dict[str, Any] = {"project_id": PROJECT}
    rows = _store(request, tmp_path, delivery, config)
    first = [_totals_schema({"type": "string"})]
    first += [record_msg("totals", {"person": p, "day": "d1", "code": "A", "hours": 1}) for p in ("E1", "E2", "E3")]
    assert run_target(config, [*first, state_msg({"run": 0})], tmp_path).returncode == 0
    second = [_totals_schema({"type": "string"})]
    second.append(record_msg("totals", {"person": "E1", "day": "d1", "code": "A", "hours": "bad"}))
    second += _sets_read("totals", {"person": ["E1", "E3"], "day": ["d1"]})
    second.append(state_msg({"run": 1}))
    second.append(record_msg("totals", {"person": "E2", "day": "d1", "code": "A", "hours": "bad"}))
    second += _sets_read("totals", {"person": ["E2"], "day": ["d1"]})[1:]
    second.append(state_msg({"run": 2}))
    done = run_target(config, second, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.states[-1] == {"run": 2}
    assert done.summary["streams"]["totals"]["dead_lettered"] == 2
    assert rows() == [("E1", "d1", "A", 1, False), ("E2", "d1", "A", 1, False), ("E3", "d1", "A", 1, True)]


@pytest.mark.parametrize("delivery", ["duckdb", "postgres"])
def test_the_kept_sets_table_follows_a_set_column_widened_mid_run(
    request: pytest.FixtureRequest, tmp_path: Path, delivery: str
) -> None:
    """review29b M1: a run announces with a dead letter while ``day`` is an integer, then widens ``day`` to text,
    dead-letters a text day and announces again. Was (the kept-sets table kept for the connection, with its first
    types): rc 1, "Could not convert string 'd4' to INT64" (DuckDB) / "column "day" is of type bigint" (PostgreSQL).
    Now each announcement makes the table with the current types: E1's and E3's dead-lettered days are kept, E2's
    emptied day is marked deleted, and the run's last STATE goes out."""
    config: dict[str, Any] = {"project_id": PROJECT, "batch_size_rows": 1}
    rows = _store(request, tmp_path, delivery, config)
    first = [_totals_schema({"type": "integer"})]
    first += [record_msg("totals", {"person": p, "day": 1, "code": "A", "hours": 1}) for p in ("E1", "E2")]
    assert run_target(config, [*first, state_msg({"run": 0})], tmp_path).returncode == 0
    second = [_totals_schema({"type": "integer"})]
    second.append(record_msg("totals", {"person": "E1", "day": 1, "code": "A", "hours": "bad"}))
    second += _sets_read("totals", {"person": ["E1"], "day": [1]})
    second.append(state_msg({"run": 1}))
    second.append(_totals_schema({"type": ["integer", "string"]}))
    second.append(record_msg("totals", {"person": "E3", "day": "d3", "code": "A", "hours": 2}))
    second.append(record_msg("totals", {"person": "E3", "day": "d4", "code": "A", "hours": "bad"}))
    second += _sets_read("totals", {"person": ["E2", "E3"], "day": ["1", "d4"]})[1:]
    second.append(state_msg({"run": 2}))
    done = run_target(config, second, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.states[-1] == {"run": 2}
    assert done.summary["streams"]["totals"]["dead_lettered"] == 2
    assert rows() == [("E1", "1", "A", 1, False), ("E2", "1", "A", 1, True), ("E3", "d3", "A", 2, False)]
