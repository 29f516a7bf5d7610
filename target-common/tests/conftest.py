"""One Common emulator per test module (ephemeral port); the target and the mapper run through their real CLIs."""

from __future__ import annotations

import json
import subprocess
import sys
import typing as t
from pathlib import Path

from xlr8_sandbox.products.common import EMAIL, PASSWORD
from xlr8_sandbox.testing import emulator_fixtures

BIN = Path(sys.executable).parent

sandbox, emulator, url = emulator_fixtures("common", scale=100)


def target_config(url: str, tmp: Path, **extra: t.Any) -> dict[str, t.Any]:
    return {"api_base_url": url, "email": EMAIL, "password": PASSWORD,
            "dead_letter_path": str(tmp / "dead-letters.jsonl"), "http": {"max_attempts": 2, "backoff_base": 0},
            **extra}  # fmt: skip


def pipeline(
    commands: list[tuple[str, dict[str, t.Any]]], messages: list[dict[str, t.Any]], tmp: Path
) -> subprocess.CompletedProcess[str]:
    """``messages`` through each ``(executable, config)`` in turn (mapper, then target), as a shell pipe would."""
    text = "\n".join(json.dumps(m, default=str) for m in messages) + "\n"
    result: subprocess.CompletedProcess[str] | None = None
    for n, (exe, config) in enumerate(commands):
        path = tmp / f"{exe}-{n}.json"
        path.write_text(json.dumps(config))
        result = subprocess.run(
            [str(BIN / exe), "--config", str(path)], input=text, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            return result
        text = result.stdout
    assert result is not None
    return result


def singer(stream: str, records: list[dict[str, t.Any]], key: list[str]) -> list[dict[str, t.Any]]:
    return [
        {"type": "SCHEMA", "stream": stream, "schema": {"type": "object", "properties": {}}, "key_properties": key},
        *({"type": "RECORD", "stream": stream, "record": r} for r in records),
        {"type": "STATE", "value": {"bookmarks": {stream: {"done": True}}}},
    ]
