"""The target's start-up loads only its parts of singer_sdk (``xlr8_kit.startup.SDK_FOR_A_TARGET``): a run never
imports the SDK's streams, requests or urllib3, and still lands its rows; ``--about``, ``--help`` and a config
error still answer as before."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from truths_testkit import P8, TARGET_EXE, query, record_msg, run_target, schema_msg, state_msg

#: What only a tap uses: singer_sdk's ``__init__`` imports them all (``singer_sdk.streams`` imports the rest);
#: jsonpath_ng is the kit's record extraction's fallback (``xlr8_kit.singer_io.extract_records``).
TAP_ONLY = ("singer_sdk.streams", "singer_sdk.tap_base", "requests", "urllib3", "backoff", "jsonpath_ng")
#: The field cipher's AES-GCM: only a run that encrypts or decrypts a value loads it (a key file alone does not).
CIPHER = "cryptography"


def _imported(stderr: str) -> set[str]:
    """The modules a process imported, from ``-X importtime``'s lines (``PYTHONPROFILEIMPORTTIME``)."""
    lines = [line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")]
    return set(lines[1:])  # the first is the header


def test_a_record_and_batch_run_imports_no_tap_machinery_and_lands_its_rows(
    tmp_path: Path, config: dict[str, Any], store: Path
) -> None:
    batch = tmp_path / "items.jsonl"
    batch.write_text("".join(json.dumps({"id": i, "name": f"n{i}"}) + "\n" for i in range(3, 6)))
    props = {"id": {"type": "integer"}, "name": {"type": ["null", "string"]}}
    messages = [
        schema_msg("items", props, ["id"]),
        record_msg("items", {"id": 1, "name": "one"}),
        record_msg("items", {"id": 2, "name": None}),
        {
            "type": "BATCH",
            "stream": "items",
            "encoding": {"format": "jsonl", "compression": "none"},
            "manifest": [f"file://{batch}"],
        },
        state_msg({"done": 1}),
    ]
    run = run_target(
        {**config, "batch_locations": [str(tmp_path)]}, messages, tmp_path, env={"PYTHONPROFILEIMPORTTIME": "1"}
    )
    assert run.returncode == 0, run.stderr[-3000:]
    imported = _imported(run.stderr)
    assert {"singer_sdk.target_base", "duckdb"} <= imported  # the dump is real: the target's own modules are there
    assert sorted(m for m in TAP_ONLY if m in imported) == []
    assert CIPHER not in imported  # the config has a key file (created by this run), the stream no PII
    assert (store.parent / "pii.key").stat().st_size > 0
    assert run.states == [{"done": 1}]
    rows = query(store, f'SELECT "id", "name" FROM "{P8}_singer_items" ORDER BY "id"')
    assert rows == [(1, "one"), (2, None), (3, "n3"), (4, "n4"), (5, "n5")]


def _target(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TARGET_EXE, *args], capture_output=True, text=True, check=False, env=dict(os.environ))


def test_about_help_and_a_config_error_still_answer(tmp_path: Path) -> None:
    about = _target("--about", "--format=json")
    assert about.returncode == 0, about.stderr[-3000:]
    described = json.loads(about.stdout)
    assert described["name"] == "target-xlr8-truths"
    assert "project_id" in described["settings"]["required"]
    assert described["supported_python_versions"]  # packaging's SpecifierSet, deferred, called here
    text = _target("--about")
    assert text.returncode == 0, text.stderr[-3000:]
    assert "Name: target-xlr8-truths" in text.stdout
    helped = _target("--help")
    assert helped.returncode == 0, helped.stderr[-3000:]
    assert "--config" in helped.stdout
    assert "--about" in helped.stdout
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"duckdb_path": str(tmp_path / "t.duckdb")}))
    bad = _target("--config", str(cfg))
    assert bad.returncode != 0
    assert "'project_id' is a required property" in bad.stderr
