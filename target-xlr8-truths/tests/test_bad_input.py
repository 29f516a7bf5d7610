"""RELIABILITY F1-F3 and E10/E12/E13: bad records are dead-lettered (redacted), bad lines are fatal, STATE safe."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
from truths_testkit import P8, annotation, query, record_msg, run_target, schema_msg, state_msg

CANARY = "canary-Secr3t-Value-77"
PROPS = {
    "id": {"type": "integer"},
    "name": {"type": ["null", "string"]},
    "amount": {"type": ["null", "number"]},
    "seen_at": {"type": ["null", "string"], "format": "date-time"},
    "detail": {"type": ["null", "object"]},
    "password": {"type": ["null", "string"]},
}
TABLE = f"{P8}_ukg_pro_people"


def people_schema() -> dict[str, Any]:
    return schema_msg("people", PROPS, ["id"], annotation("ukg_pro", "people", "employee", keys=["id"]))


def deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {}
    for _ in range(levels):
        node = {"x": node}
    return node


def test_f1_invalid_records_go_to_dead_letters_and_run_continues(tmp_path: Path, config: dict[str, Any],
                                                                  store: Path) -> None:  # fmt: skip
    good = [record_msg("people", {"id": i, "name": f"n{i}", "amount": 1.5, "password": CANARY}) for i in range(1, 6)]
    bad_lines = [
        json.dumps(record_msg("people", {"id": "seven", "password": CANARY})),  # wrong type
        json.dumps(record_msg("people", {"id": 8, "seen_at": "not a date"})),  # invalid date-time
        '{"type":"RECORD","stream":"people","record":{"id":9,"amount":NaN}}',  # NaN
        '{"type":"RECORD","stream":"people","record":{"id":10,"amount":Infinity}}',
        json.dumps(record_msg("people", {"id": 2**70})),  # beyond int64
        json.dumps(record_msg("people", {"id": 12, "name": "nul\u0000byte"})),
        '{"type":"RECORD","stream":"people","record":{"id":13,"name":"lone \\ud800 surrogate"}}',
        json.dumps(record_msg("people", {"id": 14, "detail": deep(100)})),
        json.dumps(record_msg("people", {"id": 15, "name": "x" * (9 * 1024 * 1024)})),  # over the field limit
        json.dumps(record_msg("people", {"id": 16, "amount": 0.1234567891234})),  # would be truncated
    ]
    text = "".join(json.dumps(m) + "\n" for m in [people_schema(), *good])
    text += "\n".join(bad_lines) + "\n" + json.dumps(state_msg({"bookmarks": {"people": {"id": 16}}})) + "\n"
    run = run_target(config, text, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.states == [{"bookmarks": {"people": {"id": 16}}}]
    people = run.summary["streams"]["people"]
    assert people == {"received": 15, "loaded": 5, "dead_lettered": 10}
    assert people["received"] == people["loaded"] + people["dead_lettered"]
    assert sorted(r[0] for r in query(store, f'SELECT id FROM "{TABLE}"')) == [1, 2, 3, 4, 5]

    letters = query(store, "SELECT record_key, error, error_path, payload, stream, run_id FROM _dead_letters")
    assert len(letters) == 10
    by_key = {json.loads(r[0])[0] if r[0] else None: r for r in letters}
    assert by_key["seven"][2] == "$.id"
    assert "schema violation" in by_key["seven"][1]
    assert by_key[8][2] == "$.seen_at"
    assert by_key[2**70][1].startswith("integer outside")
    assert "NUL byte" in by_key[12][1]
    assert "surrogate" in by_key[13][1]
    assert "nested deeper" in by_key[14][1]
    assert "field limit" in by_key[15][1]
    assert len(by_key[15][3]) < 2000
    assert "decimal places" in by_key[16][1]
    assert by_key[16][2] == "$.amount"
    assert {r[4] for r in letters} == {"people"}
    assert {r[5] for r in letters} == {run.summary["run_id"]}
    for letter in letters:
        assert CANARY not in letter[3]
    assert json.loads(by_key["seven"][3])["password"] == "***"
    assert CANARY not in run.stderr
    assert CANARY not in run.stdout
    ledger = query(store, "SELECT rows_received, rows_loaded, rows_dead_lettered FROM _truths_ledger")
    assert ledger == [(15, 5, 10)]


def test_f1_dead_letter_ceiling_fails_the_run_without_state(tmp_path: Path, config: dict[str, Any],
                                                             store: Path) -> None:  # fmt: skip
    messages = [
        people_schema(),
        record_msg("people", {"id": 1}),
        state_msg({"bookmarks": {"people": {"id": 1}}}),
        *[record_msg("people", {"id": f"bad{i}"}) for i in range(4)],
        state_msg({"bookmarks": {"people": {"id": 5}}}),
    ]
    run = run_target({**config, "dead_letter_ceiling": 2}, messages, tmp_path)
    assert run.returncode != 0
    assert "dead_letter_ceiling" in run.stderr
    assert {"bookmarks": {"people": {"id": 5}}} not in run.states


def test_f2_record_missing_key_is_dead_lettered_never_loaded(tmp_path: Path, config: dict[str, Any],
                                                              store: Path) -> None:  # fmt: skip
    messages = [
        people_schema(),
        record_msg("people", {"name": "no key"}),
        record_msg("people", {"id": None}),
        record_msg("people", {"id": 1, "name": "ok"}),
    ]
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert query(store, f'SELECT id, name FROM "{TABLE}"') == [(1, "ok")]
    errors = query(store, "SELECT error, error_path FROM _dead_letters ORDER BY error_path")
    assert len(errors) == 2
    assert all(path == "$.id" for _, path in errors)
    assert run.summary["streams"]["people"] == {"received": 3, "loaded": 1, "dead_lettered": 2}


def _fatal_case(tmp_path: Path, config: dict[str, Any], bad_line: str) -> Any:
    before = "".join(
        json.dumps(m) + "\n"
        for m in [people_schema(), record_msg("people", {"id": 1}), state_msg({"bookmarks": {"people": {"id": 1}}})]
    )
    after = json.dumps(record_msg("people", {"id": 2})) + "\n" + json.dumps(state_msg({"after": True})) + "\n"
    return run_target(config, before + bad_line + "\n" + after, tmp_path)


def test_f3_malformed_json_line_is_fatal_and_not_echoed(tmp_path: Path, config: dict[str, Any]) -> None:
    run = _fatal_case(tmp_path, config, '{"type":"RECORD","stream":"people","record":{"id":3,"password":"' + CANARY)
    assert run.returncode != 0
    assert "not valid JSON" in run.stderr
    assert CANARY not in run.stderr
    assert {"after": True} not in run.states


def test_f3_record_before_schema_unknown_type_and_state_without_value(tmp_path: Path, config: dict[str, Any]) -> None:
    for bad, expected in [
        (json.dumps(record_msg("ghost", {"id": 1, "password": CANARY})), "before a corresponding schema"),
        (json.dumps({"type": "BOGUS", "secret": CANARY}), "unknown Singer message type"),
        (json.dumps({"type": "STATE", "values": {"token": CANARY}}), "missing required key(s): value"),
    ]:
        run = _fatal_case(tmp_path, config, bad)
        assert run.returncode != 0, bad
        assert expected in run.stderr
        assert CANARY not in run.stderr
        assert {"after": True} not in run.states


def test_e10_states_relayed_in_order_after_commit_duplicates_dropped(tmp_path: Path, config: dict[str, Any],
                                                                      store: Path) -> None:  # fmt: skip
    messages = [people_schema()]
    for i in range(1, 7):
        messages.append(record_msg("people", {"id": i}))
        messages.append(state_msg({"n": i}))
        messages.append(state_msg({"n": i}))  # unchanged duplicate
    run = run_target({**config, "batch_size_rows": 2}, messages, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    values = [s["n"] for s in run.states]
    assert values == sorted(values)
    assert values[-1] == 6
    assert len(values) == len(set(values))  # a duplicate STATE is never re-emitted
    # every STATE emitted covers only committed rows: each n has its rows in the table
    assert query(store, f'SELECT COUNT(*) FROM "{TABLE}"') == [(6,)]


def test_e12_idempotent_rerun_keeps_counts(tmp_path: Path, config: dict[str, Any], store: Path) -> None:
    messages = [
        people_schema(),
        *[record_msg("people", {"id": i, "name": f"v{i}"}) for i in range(50)],
        record_msg("people", {"id": 3, "name": "v3-updated"}),
    ]
    for _ in range(2):
        run = run_target(config, messages, tmp_path)
        assert run.returncode == 0, run.stderr[-3000:]
        assert query(store, f'SELECT COUNT(*), COUNT(DISTINCT id) FROM "{TABLE}"') == [(50, 50)]
    assert query(store, f'SELECT name FROM "{TABLE}" WHERE id = 3') == [("v3-updated",)]


def test_e13_composite_keys_whose_concatenations_collide(tmp_path: Path, config: dict[str, Any], store: Path) -> None:
    props = {
        "a": {"type": "string"},
        "b": {"type": "string"},
        "n": {"type": "integer"},
        "m": {"type": ["integer", "string"]},
    }
    messages = [
        schema_msg("pairs", props, ["a", "b"]),
        record_msg("pairs", {"a": "AB", "b": "C", "n": 1}),
        record_msg("pairs", {"a": "A", "b": "BC", "n": 2}),
        record_msg("pairs", {"a": "A", "b": "BC", "n": 3}),  # a true duplicate: last one wins
    ]
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert query(store, f'SELECT a, b, n FROM "{P8}_singer_pairs" ORDER BY a') == [("A", "BC", 3), ("AB", "C", 1)]


def test_f5_dead_letter_write_failure_rolls_the_whole_batch_back(
    tmp_path: Path, config: dict[str, Any], store: Path
) -> None:
    from target_xlr8_truths.layout import ddl

    store.parent.mkdir(parents=True)
    con = duckdb.connect(str(store))
    for statement in ddl("duckdb"):
        if "_dead_letters" in statement:  # a dead-letter table that refuses this kind of row
            statement = statement.replace(
                "created_at TIMESTAMPTZ", "created_at TIMESTAMPTZ, CHECK (error_path <> '$.id')"
            )
        con.execute(statement)
    con.close()
    messages = [
        people_schema(),
        record_msg("people", {"id": 1}),
        state_msg({"n": 1}),
        record_msg("people", {"id": 2}),
        record_msg("people", {"name": "no key"}),
        state_msg({"n": 3}),
    ]
    run = run_target(config, messages, tmp_path)
    assert run.returncode != 0
    assert run.states == []  # nothing committed, so no STATE at all
    assert query(store, "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = ?", [TABLE]) == [(0,)]
    assert query(store, "SELECT COUNT(*) FROM _dead_letters") == [(0,)]
