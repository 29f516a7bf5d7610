"""BATCH files on DuckDB's fast path land exactly what the record path would: no number rounded on the way.

DuckDB's JSON reader parses non-integer numbers as doubles; these tests pin the cases where that used to round
silently (14 integer digits with a fraction, a 1.5 in an integer column) and the cases that must still take the
fast path (large amounts, exponents, tiny fractions within the scale).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from truths_testkit import P8, query, run_target, schema_msg, state_msg

TABLE = f"{P8}_singer_items"
PROPS = {
    "id": {"type": "integer"},
    "qty": {"type": ["null", "integer"]},
    "price": {"type": ["null", "number"], "multipleOf": 1e-9},
}  # a declared decimal


def _batch(path: Path) -> dict[str, Any]:
    return {
        "type": "BATCH",
        "stream": "items",
        "encoding": {"format": "jsonl", "compression": "none"},
        "manifest": [f"file://{path}"],
    }


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_f1_batch_numbers_land_exactly_or_take_the_record_path(
    tmp_path: Path, config: dict[str, Any], store: Path
) -> None:
    exact = _write(
        tmp_path / "exact.jsonl",
        [
            '{"id": 1, "qty": 900719925474099, "price": 12345678901234.5}',
            '{"id": 2, "qty": -7, "price": 123456789012.123}',
            '{"id": 3, "qty": null, "price": 0.000000001}',
            '{"id": 4, "price": 1e-05}',
            '{"id": 5, "price": 1.5e3}',
            '{"id": 6, "price": -0.1}',
        ],
    )
    fractional_int = _write(tmp_path / "fractional-int.jsonl", ['{"id": 10, "qty": 1.5}', '{"id": 11, "qty": 2}'])
    too_fine = _write(tmp_path / "too-fine.jsonl", ['{"id": 20, "price": 0.0000000001}', '{"id": 21, "price": 2.5}'])
    long_number = _write(tmp_path / "long.jsonl", ['{"id": 30, "price": 123456789.12345678}'])
    messages = [
        schema_msg("items", PROPS, ["id"]),
        *(_batch(p) for p in (exact, fractional_int, too_fine, long_number)),
        state_msg({"done": True}),
    ]
    run = run_target({**config, "batch_locations": [str(tmp_path)]}, messages, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.states == [{"done": True}]
    assert run.stderr.count("BATCH file loaded by DuckDB directly") == 1
    assert run.stderr.count("BATCH file loaded record by record (stream items: FastPathRefused: ") == 2
    assert run.stderr.count("BATCH file loaded record by record (stream items: numbers DuckDB would round)") == 1
    rows = dict(query(store, f'SELECT id, price FROM "{TABLE}"'))
    assert rows[1] == Decimal("12345678901234.5")
    assert rows[2] == Decimal("123456789012.123")
    assert rows[3] == Decimal("0.000000001")
    assert rows[4] == Decimal("0.00001")
    assert rows[5] == Decimal("1500")
    assert rows[6] == Decimal("-0.1")
    assert rows[21] == Decimal("2.5")
    assert rows[30] == Decimal("123456789.12345678")
    assert 10 not in rows
    assert 20 not in rows
    quantities = dict(query(store, f'SELECT id, qty FROM "{TABLE}" WHERE id IN (1, 2, 3, 11)'))
    assert quantities == {1: 900719925474099, 2: -7, 3: None, 11: 2}
    letters = query(store, "SELECT record_key, error_path, error FROM _dead_letters ORDER BY record_key")
    assert [(json.loads(k), p) for k, p, _ in letters] == [([10], "$.qty"), ([20], "$.price")]
    assert "decimal places" in letters[1][2]
    assert run.summary["streams"]["items"] == {"received": 11, "loaded": 9, "dead_lettered": 2}
