"""A stream that gains its ``x-xlr8`` annotation moves the table it landed in without one only when the annotation
says ``formerly_unannotated``, and only a table of the same run's source with nothing of the product beside it:
another stream's or another source's rows are never taken over, and a product table that exists is never replaced.
(The whole path, tap-common's ``webhook_events``, is tested in ``taps/tap-common/tests/test_webhook_product.py``.)"""

from __future__ import annotations

from pathlib import Path

import duckdb
from truths_testkit import P8, PROJECT, annotation, query, record_msg, run_target, schema_msg, state_msg

from target_xlr8_truths import read_truths

PROPERTIES = {"id": {"type": "integer"}, "value": {"type": "string"}}


def _run(config: dict, tmp_path: Path, note: dict | None, ids: range, env: dict[str, str] | None = None) -> str:
    messages = [schema_msg("events", PROPERTIES, ["id"], note)]
    messages += [record_msg("events", {"id": n, "value": f"v{n}"}) for n in ids]
    messages.append(state_msg({"done": len(ids)}))
    done = run_target(config, messages, tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stderr


def _data_tables(store: Path) -> dict[str, int]:
    names = [r[0] for r in query(store, "SELECT table_name FROM information_schema.tables ORDER BY 1")]
    return {n: query(store, f'SELECT count(*) FROM "{n}"')[0][0] for n in names if not n.startswith("_")}


def _note(formerly: bool) -> dict:
    note = annotation("common", "events", "webhook_event", keys=["id"])
    if formerly:
        note["formerly_unannotated"] = True
    return note


def test_only_a_stream_marked_formerly_unannotated_takes_its_old_table(
    config: dict, store: Path, tmp_path: Path
) -> None:
    _run(config, tmp_path, None, range(5))
    assert _data_tables(store) == {f"{P8}_singer_events": 5}
    _run(config, tmp_path, _note(False), range(5, 8))  # annotated, not marked: a table of its own, as before
    assert _data_tables(store) == {f"{P8}_singer_events": 5, f"{P8}_common_events": 3}


def test_a_marked_stream_takes_only_its_own_sources_table(config: dict, store: Path, tmp_path: Path) -> None:
    _run(config, tmp_path, None, range(5), env={"MELTANO_EXTRACTOR_NAME": "tap-other"})
    stderr = _run(config, tmp_path, _note(True), range(5, 8))  # source "singer": tap-other's table is not its own
    assert "renamed" not in stderr
    assert _data_tables(store) == {f"{P8}_tap_other_events": 5, f"{P8}_common_events": 3}


def test_a_marked_stream_leaves_the_old_table_when_the_product_table_exists(
    config: dict, store: Path, tmp_path: Path
) -> None:
    _run(config, tmp_path, _note(False), range(3))
    _run(config, tmp_path, None, range(3, 8))
    stderr = _run(config, tmp_path, _note(True), range(8, 9))
    assert "renamed" not in stderr
    assert _data_tables(store) == {f"{P8}_common_events": 4, f"{P8}_singer_events": 5}


def test_a_marked_stream_takes_its_old_table_once(config: dict, store: Path, tmp_path: Path) -> None:
    _run(config, tmp_path, None, range(5))
    assert "renamed to" in _run(config, tmp_path, _note(True), range(3, 8))  # 3 and 4 again: upserted by key
    assert _data_tables(store) == {f"{P8}_common_events": 8}
    assert query(store, f'SELECT min(id), max(id), count(DISTINCT id) FROM "{P8}_common_events"') == [(0, 7, 8)]
    assert "renamed" not in _run(config, tmp_path, _note(True), range(8, 9))
    assert _data_tables(store) == {f"{P8}_common_events": 9}


def test_a_marked_stream_says_when_its_old_table_stays_apart(config: dict, store: Path, tmp_path: Path) -> None:
    """The tap upgraded before the target: the old target made the product table, so the old rows cannot move;
    the run must say so, naming both tables and the rows left behind (review21e finding 1)."""
    _run(config, tmp_path, None, range(5))
    _run(config, tmp_path, _note(False), range(5, 8))  # what the old target does with the new tap's SCHEMA
    stderr = _run(config, tmp_path, _note(True), range(8, 9))
    assert _data_tables(store) == {f"{P8}_singer_events": 5, f"{P8}_common_events": 4}
    warned = [line for line in stderr.splitlines() if "NOT moved" in line]
    assert len(warned) == 1, stderr[-2000:]
    assert f"{P8}_singer_events" in warned[0]
    assert f"{P8}_common_events" in warned[0]
    assert "5 rows" in warned[0]
    assert "['id']" in warned[0]
    with duckdb.connect(str(store)) as con:  # the README's merge, with this test's key
        con.execute(
            f'BEGIN; INSERT INTO "{P8}_common_events" BY NAME SELECT * FROM "{P8}_singer_events" AS o WHERE NOT EXISTS'
            f' (SELECT 1 FROM "{P8}_common_events" AS n WHERE n.id = o.id); DROP TABLE "{P8}_singer_events"; COMMIT'
        )
    assert _data_tables(store) == {f"{P8}_common_events": 9}
    assert "NOT moved" not in _run(config, tmp_path, _note(True), range(9, 10))


def test_dead_letters_move_with_an_adopted_table(config: dict, store: Path, tmp_path: Path) -> None:
    """Dead letters name their table: after adoption they name the product table (review21e, Info)."""
    messages = [schema_msg("events", PROPERTIES, ["id"], None)]
    messages += [record_msg("events", {"id": 0, "value": "v0"}), record_msg("events", {"id": "bad", "value": "x"})]
    messages.append(state_msg({"done": 2}))
    done = run_target(config, messages, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert query(store, "SELECT table_name FROM _dead_letters") == [(f"{P8}_singer_events",)]
    _run(config, tmp_path, _note(True), range(1, 2))
    assert query(store, "SELECT table_name FROM _dead_letters") == [(f"{P8}_common_events",)]


def test_the_ledger_of_an_adopted_table_names_its_product(config: dict, store: Path, tmp_path: Path) -> None:
    """The ledger's rows move with the table and then name the product, as its metadata names the owner: they kept
    the source's name (``singer``), so ``read_truths(product=...)`` missed the adopted table until a run had loaded
    rows into it, and the table's history named two products."""
    _run(config, tmp_path, None, range(5))
    _run(config, tmp_path, _note(True), range(0))  # adopted by a run that loads nothing
    assert query(store, "SELECT table_name, product, rows_loaded FROM _truths_ledger") == [
        (f"{P8}_common_events", "common", 5)
    ]
    truths = read_truths(PROJECT, duckdb_path=str(store), product="common")
    assert [(t.source_name, t.metadata["product"], len(t.content)) for t in truths] == [("common:events", "common", 5)]
    assert read_truths(PROJECT, duckdb_path=str(store), product="singer") == []
    _run(config, tmp_path, _note(True), range(5, 7))
    assert query(store, "SELECT product, rows_loaded FROM _truths_ledger ORDER BY started_at") == [
        ("common", 5),
        ("common", 2),
    ]


def test_key_change_archives_move_with_an_adopted_table(config: dict, store: Path, tmp_path: Path) -> None:
    """A key change under ``new_table_version`` left ``{table}__v{n}`` beside the table the stream landed in without
    its annotation: the adoption renames those archives ``{product table}__v{n}`` for the product too, in the same
    transaction, where they stayed under the old name, owned by the source, apart from the stream's history."""
    config = {**config, "key_change_policy": "new_table_version"}

    def run(keys: list[str], note: dict | None, ids: range) -> str:
        messages = [schema_msg("events", PROPERTIES, keys, note)]
        messages += [record_msg("events", {"id": n, "value": f"v{n}"}) for n in ids]
        done = run_target(config, [*messages, state_msg({"done": ids.stop})], tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stderr

    run(["id"], None, range(5))
    run(["value"], None, range(5, 8))  # archive __v1: the 5 rows keyed by id
    run(["id"], None, range(8, 10))  # archive __v2: the 3 rows keyed by value
    assert _data_tables(store) == {f"{P8}_singer_events": 2, f"{P8}_singer_events__v1": 5,
                                   f"{P8}_singer_events__v2": 3}  # fmt: skip
    stderr = run(["id"], _note(True), range(10, 11))
    assert _data_tables(store) == {f"{P8}_common_events": 3, f"{P8}_common_events__v1": 5,
                                   f"{P8}_common_events__v2": 3}  # fmt: skip
    owners = query(store, "SELECT DISTINCT table_name, file_name FROM _schema_metadata ORDER BY 1")
    assert owners == [(f"{P8}_common_events", "common:events"), (f"{P8}_common_events__v1", "common:events"),
                      (f"{P8}_common_events__v2", "common:events")]  # fmt: skip
    renamed = [line for line in stderr.splitlines() if "renamed to" in line]
    assert len(renamed) == 1, stderr[-2000:]
    assert f"its key-change archive {P8}_singer_events__v1 renamed to {P8}_common_events__v1" in renamed[0]
    assert f"its key-change archive {P8}_singer_events__v2 renamed to {P8}_common_events__v2" in renamed[0]
    run(["value"], _note(True), range(11, 12))  # the product's own key change archives past the moved ones
    assert _data_tables(store) == {f"{P8}_common_events": 1, f"{P8}_common_events__v1": 5,
                                   f"{P8}_common_events__v2": 3, f"{P8}_common_events__v3": 3}  # fmt: skip
