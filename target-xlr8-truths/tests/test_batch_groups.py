"""BATCH messages queued behind one another load in one transaction (``TruthsSink.process_batch_manifests``): the
same table, dead letters, ledger, metadata, counts and STATE as loading them one by one, and a kill inside the
group's transaction loses none of its rows once the run is repeated from the last STATE relayed."""

from __future__ import annotations

import contextlib
import io
import json
import os
import typing as t
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from truths_testkit import P8, held_target, killed, query, run_target, schema_msg, state_msg

from target_xlr8_truths.duckdb_store import DuckDBStore
from target_xlr8_truths.lines import InputLines
from target_xlr8_truths.target import TargetXlr8Truths

TABLE = f"{P8}_singer_items"
WRITTEN = 1709287200  # older than the run: the target keeps the files (both runs read the same ones)
PROPERTIES = {
    "id": {"type": ["integer", "null"]},
    "v": {"type": ["string", "null"]},
    "_sdc_deleted_at": {"type": ["string", "null"], "format": "date-time"},
}
DELETED = "2024-03-01T10:00:00+00:00"

# a step: ("file", rows, flaw) | ("record", row) | ("state", n); a row: (key, value, deleted)
rows_st = st.lists(st.tuples(st.integers(0, 12), st.sampled_from(["a", "b", "é", ""]), st.booleans()), max_size=6)
step_st = st.one_of(
    st.tuples(st.just("file"), rows_st, st.sampled_from([None, None, None, "no key", "bad json"])),
    st.tuples(st.just("record"), st.tuples(st.integers(0, 12), st.sampled_from(["r", "s"]), st.booleans())),
    st.tuples(st.just("state"), st.integers(0, 3)),
)


def _row(key: int | None, value: str, deleted: bool) -> dict[str, Any]:
    return {"id": key, "v": value, "_sdc_deleted_at": DELETED if deleted else None}


def _messages(plan: list[tuple[Any, ...]], directory: Path) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [schema_msg("items", PROPERTIES, ["id"])]
    for index, step in enumerate(plan):
        if step[0] == "file":
            _, rows, flaw = step
            lines = [json.dumps(_row(*row)) for row in rows]
            if flaw == "no key":  # refused by DuckDB's path: the file takes the record path
                lines.append(json.dumps({"v": "keyless"}))
            elif flaw == "bad json":  # the record path cannot read it either: the run fails here
                lines.append('{"id": 1, "v": ')
            path = directory / f"part-{index}.jsonl"
            path.write_text("".join(line + "\n" for line in lines))
            os.utime(path, (WRITTEN + index, WRITTEN + index))
            messages.append({"type": "BATCH", "stream": "items", "manifest": [f"file://{path}"],
                             "encoding": {"format": "jsonl", "compression": "none"}})  # fmt: skip
        elif step[0] == "record":
            messages.append({"type": "RECORD", "stream": "items", "record": _row(*step[1])})
        else:
            messages.append(state_msg({"bookmarks": {"items": {"n": step[1], "at": index}}}))
    return messages


class _Piped:
    """Lines handed over one at a time, none known to have arrived before it is read: nothing is grouped."""

    def __init__(self, text: str) -> None:
        self._lines = iter(text.splitlines(keepends=True))

    def __iter__(self) -> t.Iterator[str]:
        return self._lines


def _landed(config: dict[str, Any], text: str, grouped: bool, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """One run of the target in this process; what it left in the store, relayed and reported."""
    transactions = []
    write_batch = DuckDBStore.write_batch

    def counting(store: DuckDBStore, batch: Any) -> int:
        loaded = write_batch(store, batch)
        if batch.files:  # committed
            transactions.append(len(batch.files))
        return loaded

    monkeypatch.setattr(DuckDBStore, "write_batch", counting)
    target = TargetXlr8Truths(config=config)
    out, err = io.StringIO(), io.StringIO()
    error = None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            target.listen(io.StringIO(text) if grouped else _Piped(text))  # type: ignore[arg-type]
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        if target._store is not None:
            target._store.close()
    finally:
        monkeypatch.setattr(DuckDBStore, "write_batch", write_batch)
    path = config["duckdb_path"]
    tables = [name for (name,) in query(path, "SELECT table_name FROM duckdb_tables()")]
    return {
        "error": error,
        "states": out.getvalue(),
        "rows": query(path, f'SELECT id, v, _sdc_deleted_at, _sdc_extracted_at FROM "{TABLE}" ORDER BY rowid')
        if TABLE in tables
        else None,
        "ledger": query(
            path,
            "SELECT stream, table_name, rows_received, rows_loaded, rows_dead_lettered, "
            "window_start, window_end FROM _truths_ledger ORDER BY stream",
        ),
        "dead": query(path, "SELECT stream, record_key, error, error_path, payload FROM _dead_letters ORDER BY ALL"),
        "metadata": query(
            path,
            "SELECT table_name, columns, column_count, row_count, likely_keys, version, "
            "is_current FROM _schema_metadata ORDER BY ALL",
        ),
        "counts": (dict(target.received), dict(target.loaded), dict(target.dead_lettered)),
        "paths": {stream: dict(counts) for stream, counts in target.paths.items()},
        "transactions": transactions,
    }


def _compare(plan: list[tuple[Any, ...]], hard_delete: bool, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    batches = tmp / "batches"
    batches.mkdir()
    text = "".join(json.dumps(m) + "\n" for m in _messages(plan, batches))
    results = []
    for grouped in (False, True):
        store = tmp / f"{grouped}.duckdb"
        config = {"project_id": "1B4E28BA-2FA1-11D2-883F-0016D3CCA427", "duckdb_path": str(store),
                  "dead_letter_ceiling": 50, "hard_delete": hard_delete, "batch_locations": [str(batches)]}  # fmt: skip
        results.append(_landed(config, text, grouped, monkeypatch))
    alone, together = results
    transactions = together.pop("transactions"), alone.pop("transactions")
    assert together == alone
    # committed BATCH transactions: one per file alone; together, one per run of queued files when none is
    # flawed, else one per good file of the run (the group rolled back and each loaded alone)
    assert transactions[1] == [1] * len(transactions[1])
    if together["error"] is None:
        assert transactions[0] == _expected_groups(plan), plan


def _expected_groups(plan: list[tuple[Any, ...]]) -> list[int]:
    """Files per committed transaction of the grouped run: runs of BATCH messages with only STATE messages between
    them are groups."""
    groups: list[int] = []
    run: list[Any] = []
    for step in [*plan, ("end",)]:
        if step[0] == "file":
            run.append(step[2])
            continue
        if step[0] == "state":
            continue
        if len(run) > 1 and all(flaw is None for flaw in run):
            groups.append(len(run))
        else:
            groups += [1 for flaw in run if flaw is None]
        run = []
    return groups


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(step_st, max_size=9), hard_delete=st.booleans())
@example(  # deletes and upserts across the files of one group, then a record and a second group
    plan=[("file", [(1, "a", False), (2, "a", False)], None), ("file", [(1, "b", True), (3, "b", False)], None),
          ("file", [(2, "é", False), (1, "", False), (2, "b", False)], None), ("record", (3, "r", True)),
          ("file", [(3, "a", False)], None), ("file", [(3, "b", True)], None)],
    hard_delete=True,
)  # fmt: skip
@example(  # a refused file inside a run of files: the group rolls back and each loads alone
    plan=[("file", [(1, "a", False)], None), ("file", [(2, "a", False)], "no key"), ("file", [(1, "b", False)], None),
          ("state", 1), ("file", [(4, "a", False)], None), ("file", [(1, "é", True)], None)],
    hard_delete=False,
)  # fmt: skip
@example(  # a file the record path cannot read either: the files before it land, the run fails at it
    plan=[("file", [(1, "a", False)], None), ("file", [(2, "a", False)], None), ("file", [(3, "a", False)], "bad json"),
          ("file", [(4, "a", False)], None)],
    hard_delete=False,
)  # fmt: skip
def test_files_loaded_together_land_as_one_by_one(
    plan: list[tuple[Any, ...]], hard_delete: bool, tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    _compare(plan, hard_delete, tmp_path_factory.mktemp("plan"), monkeypatch)


def test_a_missing_file_fails_after_the_files_before_it_as_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = [("file", [(1, "a", False)], None), ("file", [(2, "a", False)], None), ("file", [(3, "a", False)], None)]
    batches = tmp_path / "batches"
    batches.mkdir()
    messages = _messages(plan, batches)
    (batches / "part-1.jsonl").unlink()
    text = "".join(json.dumps(m) + "\n" for m in messages)
    results = []
    for grouped in (False, True):
        config = {"project_id": "1B4E28BA-2FA1-11D2-883F-0016D3CCA427",
                  "duckdb_path": str(tmp_path / f"{grouped}.duckdb"), "batch_locations": [str(batches)]}  # fmt: skip
        results.append(_landed(config, text, grouped, monkeypatch))
    assert results[0]["error"] is not None
    assert "part-1.jsonl" in results[0]["error"]
    assert results[1]["rows"] == results[0]["rows"] == [(1, "a", None, results[0]["rows"][0][3])]
    results[0].pop("transactions"), results[1].pop("transactions")
    assert results[1] == results[0]


def test_a_kill_inside_the_group_loses_none_of_its_rows_on_the_rerun(
    tmp_path: Path, config: dict[str, Any], store: Path
) -> None:
    """File 0 and its STATE, then another stream's SCHEMA (which ends the group), then files 1-3 with their STATE
    messages queued together: the target held inside its second transaction (the group) holds file 0's rows only,
    relays no STATE past them, and the rerun from the last STATE relayed lands every row once."""
    batches = tmp_path / "batches"
    batches.mkdir()
    paths = []
    for index in range(4):
        path = batches / f"part-{index}.jsonl"
        path.write_text(
            "".join(json.dumps({"id": i, "v": f"v{i}"}) + "\n" for i in range(index * 1000, index * 1000 + 1000))
        )
        os.utime(path, (WRITTEN, WRITTEN))
        paths.append(path)

    def batch(path: Path) -> dict[str, Any]:
        return {"type": "BATCH", "stream": "items", "manifest": [f"file://{path}"],
                "encoding": {"format": "jsonl", "compression": "none"}}  # fmt: skip

    schema = schema_msg("items", {"id": {"type": "integer"}, "v": {"type": "string"}}, ["id"])
    other = schema_msg("others", {"id": {"type": "integer"}}, ["id"])
    messages = [schema, batch(paths[0]), state_msg({"file": 0}), other]
    for index, path in enumerate(paths[1:], 1):
        messages += [batch(path), state_msg({"file": index})]
    settings_ = {**config, "batch_locations": [str(batches)]}
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(settings_))
    marker = tmp_path / "holding"
    proc = held_target(cfg, messages, {"XLR8_TRUTHS_HOLD_BEFORE_COMMIT": f"{marker}:2"}, marker, "the group's commit")
    emitted = killed(proc)
    # the group (files 1-3) was inside its transaction: file 0 only, and no STATE past it
    assert query(store, f'SELECT COUNT(*), MIN(id), MAX(id) FROM "{TABLE}"') == [(1000, 0, 999)]
    assert emitted in ([], [{"file": 0}])

    resume = messages if not emitted else [schema, *messages[3:]]
    rerun = run_target(settings_, resume, tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert query(store, f'SELECT COUNT(*), COUNT(DISTINCT id), MIN(id), MAX(id) FROM "{TABLE}"') == [
        (4000, 4000, 0, 3999)
    ]
    assert query(store, f'SELECT v FROM "{TABLE}" WHERE id = 2500') == [("v2500",)]
    assert rerun.states[-1] == {"file": 3}
    assert query(store, "SELECT SUM(rows_loaded) FROM _truths_ledger") == [
        (1000 + rerun.summary["streams"]["items"]["loaded"],)
    ]


def test_lines_ready_never_wait_and_keep_their_order() -> None:
    """A pipe's lines: what has arrived is ready, a partial line is not, and iteration gives every line in order."""
    read, write = os.pipe()
    with open(read, "rb") as pipe:
        lines = InputLines(_Piped(""))
        lines._buffer = pipe  # the pipe as standard input is read (stdin itself is pytest's here)
        os.write(write, b'{"a": 1}\n{"b": "\xc3\xa9"}\n{"c"')
        each = iter(lines)
        assert next(each) == '{"a": 1}\n'
        assert lines.ready() == '{"b": "\u00e9"}\n'
        assert lines.take() == '{"b": "\u00e9"}\n'
        assert lines.ready() is None  # a partial line: not waited for
        os.write(write, b": 3}\n{}\n")
        assert lines.ready() is None  # still the buffered partial line: a look would read, so none is taken
        assert next(each) == '{"c": 3}\n'
        assert lines.ready() == "{}\n"
        assert lines.ready() == "{}\n"  # it stays next
        os.write(write, b'{"d": 4}\nlast')
        os.close(write)
        assert list(each) == ["{}\n", '{"d": 4}\n', "last"]
        assert lines.ready() is None
