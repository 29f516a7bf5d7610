"""The target's command ends as the taps' do (``xlr8_kit.process_end``): without the interpreter's teardown, which
Meltano waits for after the target's last line. What the teardown used to do for the target still happens: the
store is closed (its WAL checkpointed into the file) at the end of pipe, and after a fatal error by its ``atexit``
handler; every STATE and summary line is out, every row landed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from truths_testkit import P8, lines_of, query, record_msg, schema_msg, state_msg

#: The target's console-script ``main`` run in a process that also holds an object whose ``__del__`` marks the
#: interpreter's teardown (argv[1]: the config file).
SCRIPT = """
import os, sys

class Teardown:
    def __del__(self, write=os.write):  # bound now: the teardown clears the module's names before this runs
        write(2, b"TEARDOWN\\n")

marker = Teardown()
from target_xlr8_truths.__main__ import main
sys.argv = ["target-xlr8-truths", "--config", sys.argv[1]]
main()
"""


def _run(config: dict[str, Any], messages: list[dict[str, Any]] | str, tmp: Path) -> subprocess.CompletedProcess[str]:
    cfg = tmp / f"config-{time.monotonic_ns()}.json"
    cfg.write_text(json.dumps(config))
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, str(cfg)],
        input=lines_of(messages),
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},  # stdout block-buffered, as in Meltano
        check=False,
    )


def _batch(tmp: Path, ids: range) -> dict[str, Any]:
    path = tmp / f"items-{ids.start}.jsonl"
    path.write_text("".join(json.dumps({"id": i, "name": f"n{i}"}) + "\n" for i in ids))
    encoding = {"format": "jsonl", "compression": "none"}
    return {"type": "BATCH", "stream": "items", "encoding": encoding, "manifest": [f"file://{path}"]}


PROPS = {"id": {"type": "integer"}, "name": {"type": ["null", "string"]}}


def test_a_run_ends_without_teardown_with_its_rows_state_and_store_closed(
    tmp_path: Path, config: dict[str, Any], store: Path
) -> None:
    messages = [
        schema_msg("items", PROPS, ["id"]),
        _batch(tmp_path, range(1, 3001)),
        state_msg({"file": 1}),
        *(record_msg("items", {"id": i, "name": None}) for i in range(3001, 3011)),
        state_msg({"file": 1, "records": 10}),
    ]
    done = _run({**config, "batch_locations": [str(tmp_path)]}, messages, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "TEARDOWN" not in done.stderr  # the interpreter's teardown was skipped
    assert [json.loads(line) for line in done.stdout.splitlines()] == [{"file": 1}, {"file": 1, "records": 10}]
    summary = next(line for line in done.stderr.splitlines() if line.startswith("XLR8_TRUTHS_SUMMARY "))
    assert json.loads(summary.split(" ", 1)[1])["streams"]["items"] == {
        "received": 3010,
        "loaded": 3010,
        "dead_lettered": 0,
    }
    assert not Path(f"{store}.wal").exists()  # closed: the WAL checkpointed into the file, as at a teardown
    assert query(store, f'SELECT count(*), min("id"), max("id") FROM "{P8}_singer_items"') == [(3010, 1, 3010)]


def test_a_fatal_error_after_a_commit_still_closes_the_store(
    tmp_path: Path, config: dict[str, Any], store: Path
) -> None:
    """A malformed line (RELIABILITY F3) after a BATCH file committed: the process ends on the error, and the
    store it had open is closed as the teardown used to close it (no WAL left behind; the committed rows there)."""
    head = lines_of([schema_msg("items", PROPS, ["id"]), _batch(tmp_path, range(1, 2001)), state_msg({"file": 1})])
    done = _run({**config, "batch_locations": [str(tmp_path)]}, head + "{not json\n", tmp_path)
    assert done.returncode not in (0, None), done.stderr[-3000:]
    assert "not valid JSON" in done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()] == [{"file": 1}]  # the committed file's STATE
    assert not Path(f"{store}.wal").exists()
    assert query(store, f'SELECT count(*) FROM "{P8}_singer_items"') == [(2000,)]
