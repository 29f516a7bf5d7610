"""review27b M2: ``pay_types`` and ``job_titles`` are keyed by ``id`` since session 27 (``code`` before). A store
loaded by the older tap refuses the new key by default; the README's upgrade note names the one step that moves it
on. Driven through both console scripts (tap-ukg-ready | target-xlr8-truths) over HTTP against the emulator."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import typing as t
from pathlib import Path

import duckdb

from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json

from .conftest import ready_config

README = Path(__file__).resolve().parents[1] / "README.md"
STREAMS = {"pay_types", "job_titles"}
PROJECT = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"


def _target(config: dict[str, t.Any], lines: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    path = write_json(tmp / "target.json", config)
    exe = str(Path(sys.executable).parent / "target-xlr8-truths")
    return subprocess.run(
        [exe, "--config", path], input=lines, capture_output=True, text=True, timeout=300, check=False
    )


def _upgrade_step() -> dict[str, str]:
    """The target setting the README's upgrade note tells an operator to set once, as ``{name: value}``."""
    text = README.read_text()
    note = re.search(r"\*\*Upgrading from session 26[^*]*\*\*(.*?)\n\n", text, re.S)
    assert note, "the README has no upgrade note for the pay_types / job_titles key change"
    found = re.search(r"Run once with the target setting\s+`(\w+): (\w+)`", note.group(1))
    assert found, note.group(1)
    return {found.group(1): found.group(2)}


def test_the_readme_upgrade_step_moves_a_code_keyed_store_onto_the_id_key(tmp_path: Path, url: str) -> None:
    write_json(tmp_path / "config.json", ready_config(url))
    found = run_tap_cli("tap-ukg-ready", ["--config", "config.json", "--discover"], tmp_path)
    assert found.returncode == 0, found.stderr
    write_json(tmp_path / "catalog.json", select_streams(json.loads(found.stdout), STREAMS))
    synced = run_tap_cli("tap-ukg-ready", ["--config", "config.json", "--catalog", "catalog.json"], tmp_path)
    assert synced.returncode == 0, synced.stderr
    messages = parse_singer_messages(synced.stdout)
    assert {m["stream"]: m["key_properties"] for m in messages if m["type"] == "SCHEMA"} == {
        "pay_types": ["id"],
        "job_titles": ["id"],
    }
    expected = {
        s: sorted(m["record"]["id"] for m in messages if m.get("stream") == s and m["type"] == "RECORD")
        for s in STREAMS
    }
    assert all(expected.values())
    # what session 26's tap sent: the same rows, keyed by code
    older = [{**m, "key_properties": ["code"]} if m["type"] == "SCHEMA" else m for m in messages]
    store = tmp_path / "truths.duckdb"
    config = {"project_id": PROJECT, "duckdb_path": str(store), "pii_key_file": str(tmp_path / "pii.key"),
              "pii_key_create": True}  # fmt: skip
    first = _target(config, "".join(json.dumps(m) + "\n" for m in older), tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]

    refused = _target(config, synced.stdout, tmp_path)  # the upgrade, as is: refused, nothing loaded
    assert refused.returncode != 0
    assert "key properties changed from ['code'] to ['id']" in refused.stderr
    assert "key_change_policy" in refused.stderr

    step = _upgrade_step()
    assert step == {"key_change_policy": "new_table_version"}
    moved = _target({**config, **step}, synced.stdout, tmp_path)
    assert moved.returncode == 0, moved.stderr[-2000:]
    with duckdb.connect(str(store), read_only=True) as db:
        tables = {r[0] for r in db.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        for stream in STREAMS:
            (table,) = [n for n in tables if n.endswith(f"_{stream}")]
            assert f"{table}__v1" in tables  # the code-keyed rows kept apart
            assert sorted(r[0] for r in db.execute(f'SELECT id FROM "{table}"').fetchall()) == expected[stream]
            keys = db.execute("SELECT likely_keys FROM _schema_metadata WHERE table_name = ?", [table]).fetchone()
            assert keys == ('["id"]',)
