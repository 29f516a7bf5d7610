"""BATCH to the target: with ``batch_config`` the tap writes gzipped JSONL files and BATCH messages instead of
RECORDs, and target-xlr8-truths lands every row of them (employees, a configuration list and a report)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import duckdb

from xlr8_kit.testing.meltano_e2e import BIN
from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_ready import UkgReadyEmulator
from xlr8_tap_ukg_ready.tap import TapUkgReady

from .conftest import REPORTS, SCALE, ready_config

PROJECT = "6f1c2a9e-5a4d-4b8e-9c1f-0a5d5a4d0b01"


def test_batch_messages_land_every_row(url: str, sandbox: Sandbox, emulator: UkgReadyEmulator, tmp_path: Path) -> None:
    batches = tmp_path / "batches"
    config = ready_config(
        url,
        reports=REPORTS[1:2],
        batch_config={
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "storage": {"root": batches.as_uri(), "prefix": "ready-"},
        },
    )
    write_json(tmp_path / "config.json", config)
    wanted = {"employees", "cost_centers", "timesheets"}
    catalog = select_streams(TapUkgReady(config=config, parse_env_config=False).catalog_dict, wanted)
    write_json(tmp_path / "catalog.json", catalog)
    tapped = run_tap_cli("tap-ukg-ready", ["--config", "config.json", "--catalog", "catalog.json"], tmp_path)
    assert tapped.returncode == 0, tapped.stderr[-2000:]
    kinds = [m["type"] for m in parse_singer_messages(tapped.stdout)]
    assert "RECORD" not in kinds
    assert kinds.count("BATCH") == len(wanted)
    assert list(batches.glob("ready-*.json.gz"))

    store = tmp_path / "truths.duckdb"
    target = {
        "project_id": PROJECT,
        "duckdb_path": str(store),
        "batch_locations": [str(batches)],  # the target reads BATCH files only where it is told to
        "pii_key_file": str(tmp_path / "pii.key"),
        "pii_key_create": True,
    }
    write_json(tmp_path / "target.json", target)
    landed = subprocess.run(
        [str(BIN / "target-xlr8-truths"), "--config", str(tmp_path / "target.json")],
        input=tapped.stdout, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert landed.returncode == 0, landed.stderr[-2000:]
    company = sandbox.ctx.company
    with duckdb.connect(str(store), read_only=True) as conn:

        def count(stream: str) -> int:
            row = conn.execute(f'SELECT COUNT(*) FROM "6f1c2a9e_ukg_ready_{stream}"').fetchone()
            return int(row[0]) if row else -1

        assert count("employees") == SCALE
        assert count("cost_centers") == len(company.cost_centers)
        assert count("timesheets") == len(list(company.timecards()))
    assert json.loads(landed.stdout.strip().splitlines()[-1])["bookmarks"].keys() == wanted
