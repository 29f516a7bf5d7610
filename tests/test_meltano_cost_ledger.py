"""``bench/meltano_cost.py`` A/Bs keep one store per side across runs, so the table's row count and md5 after a timed
run are the warm-up's too: each run is now checked by its own ``_truths_ledger`` row against the records the tap
emitted (review21a Medium 2). Runs the real target CLI into one store twice, the second landing fewer rows."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
TARGET = str(Path(sys.executable).with_name("target-xlr8-truths"))


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("meltano_cost", ROOT / "bench" / "meltano_cost.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["meltano_cost"] = module
    spec.loader.exec_module(module)
    return module


def _land(store: Path, project: str, ids: range) -> None:
    """The target CLI given ``ids`` as Account records (the project the bench reads)."""
    config = store.parent / "config.json"
    config.write_text(
        json.dumps(
            {
                "project_id": project,
                "duckdb_path": str(store),
                "pii_key_file": str(store.parent / "pii.key"),
                "pii_key_create": True,
            }
        )
    )
    schema = {"type": "object", "properties": {"Id": {"type": "string"}, "Name": {"type": ["null", "string"]}}}
    messages: list[dict[str, Any]] = [
        {"type": "SCHEMA", "stream": "Account", "schema": schema, "key_properties": ["Id"]}
    ]
    messages += [{"type": "RECORD", "stream": "Account", "record": {"Id": f"A{i}", "Name": f"n{i}"}} for i in ids]
    text = "".join(json.dumps(m) + "\n" for m in messages)
    done = subprocess.run([TARGET, "--config", str(config)], input=text, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


def _tap_log(records: int) -> str:
    """The tap's record counter as the SDK logs it (two intervals)."""
    first = records // 2
    return "".join(
        f'2026-12-07T00:00:00Z [info] tap-salesforce | METRIC: {{"type":"counter","metric":"record_count",'
        f'"value":{value},"tags":{{"stream":"Account","context":{{}}}}}}\n'
        for value in (first, records - first)
    )


def test_a_timed_run_that_landed_too_few_rows_fails_the_bench(tmp_path: Path) -> None:
    bench = _bench()
    store = tmp_path / "truths.duckdb"
    _land(store, bench.SANDBOX_PROJECT_ID, range(20))  # the untimed warm-up lands every row
    before = bench.ledger_runs(store)
    whole = bench.landed(store)
    _land(store, bench.SANDBOX_PROJECT_ID, range(15))  # a timed run the tap gave 20 records, 5 of them lost
    assert bench.landed(store) == whole  # the store's count and md5 cannot tell
    with pytest.raises(SystemExit, match=r"emitted 20 records but this run's ledger .* received 15, loaded 15"):
        bench.landed_by_run(store, before, _tap_log(20), "new run 0")
    before = bench.ledger_runs(store)
    _land(store, bench.SANDBOX_PROJECT_ID, range(20))  # a run that landed what the tap emitted
    _, ledger, emitted = bench.landed_by_run(store, before, _tap_log(20), "new run 1")
    assert (ledger, emitted) == ((20, 20, 0), 20)


def test_env_option_sets_a_variable_for_the_side_it_names() -> None:
    """``--env`` compares installs (e.g. one side's cached bytecode hidden): each variable reaches only its side."""
    bench = _bench()
    found = bench.side_variables(["both:PYTHONDONTWRITEBYTECODE=1", "old:PYTHONPYCACHEPREFIX=/tmp/empty", "new:A=b=c"])
    assert found == {
        "old": {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": "/tmp/empty"},
        "new": {"PYTHONDONTWRITEBYTECODE": "1", "A": "b=c"},
    }
    for bad in ("PYTHONDONTWRITEBYTECODE=1", "left:A=1", "old:A", "old:=1"):
        with pytest.raises(SystemExit, match="SIDE:NAME=VALUE"):
            bench.side_variables([bad])
