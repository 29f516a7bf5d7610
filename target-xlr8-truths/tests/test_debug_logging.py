"""D3: at DEBUG the target says what it did, never what the rows contained."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from truths_testkit import query, record_msg, run_target, schema_msg, state_msg

PERSONAL = "Zanzibar-Kowalczyk-7731"  # a value that must only ever be in the store


def test_d3_debug_log_has_no_record_content(tmp_path: Path, store: Path, config: dict[str, Any]) -> None:
    messages = [
        schema_msg("people", {"id": {"type": "integer"}, "name": {"type": "string"}}, ["id"]),
        *[record_msg("people", {"id": i, "name": f"{PERSONAL}-{i}"}) for i in range(5)],
        state_msg({"bookmarks": {"people": {"id": 4}}}),
    ]
    run = run_target(config, messages, tmp_path, env={"TARGET_XLR8_TRUTHS_LOGLEVEL": "DEBUG"})
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Processed record 5 of the current batch" in run.stderr  # positive control: DEBUG is on
    assert PERSONAL not in run.stderr
    landed = query(store, "SELECT row_count FROM _schema_metadata WHERE table_name LIKE '%people' AND is_current")
    assert landed == [(5,)]
