"""``emit_activate_version_messages``: a full-table stream's ACTIVATE_VERSION goes out after its last record, and
not at all when the read fails (audit25a F8, audit25e F7: singer-sdk sends it before the first record, and the
target, applying it on arrival, marked every row the cut-short read had not re-read deleted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb

from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.s4hana import S4HanaEmulator

from .conftest import basic_config

COST_CENTERS = "/sap/opu/odata/sap/API_COSTCENTER_SRV/A_CostCenter"
PROJECT = "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c"


def _sync(config: dict, catalog: str, tmp_path: Path) -> tuple[int, list[dict], str]:
    done = run_tap_cli(
        "tap-sap-s4hana", ["--config", write_json(tmp_path / "c.json", config), "--catalog", catalog], tmp_path
    )
    return done.returncode, parse_singer_messages(done.stdout, exact_decimals=True), done.stdout


def _land(stdout: str, tmp_path: Path) -> int:
    """The tap's output into target-xlr8-truths (DuckDB), as a pipe would carry it."""
    settings = {
        "project_id": PROJECT,
        "duckdb_path": str(tmp_path / "s.duckdb"),
        "batch_locations": [str(tmp_path / "b")],
    }
    config = write_json(tmp_path / "t.json", settings)
    target = Path(sys.executable).with_name("target-xlr8-truths")
    done = subprocess.run(
        [str(target), "--config", config], input=stdout, capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.returncode


def test_activation_follows_the_records_and_a_failed_read_sends_none(
    url: str, sandbox: Sandbox, emulator: S4HanaEmulator, tmp_path: Path
) -> None:
    config = basic_config(
        url,
        services=["API_COSTCENTER_SRV"],
        page_size=2,
        emit_activate_version_messages=True,
        http={"backoff_base": 0.01, "backoff_max": 0.02, "max_attempts": 2},
    )
    discovered = run_tap_cli(
        "tap-sap-s4hana", ["--config", write_json(tmp_path / "c.json", config), "--discover"], tmp_path
    )
    assert discovered.returncode == 0, discovered.stderr[-2000:]
    catalog = write_json(tmp_path / "cat.json", select_streams(json.loads(discovered.stdout), {"A_CostCenter"}))

    rc, messages, whole = _sync(config, catalog, tmp_path)
    assert rc == 0
    kinds = [
        (m["type"], m.get("version")) for m in messages if m.get("stream") == "A_CostCenter" and m["type"] != "SCHEMA"
    ]
    records = [k for k in kinds if k[0] == "RECORD"]
    assert len(records) > 2  # more than one page
    assert kinds[-1][0] == "ACTIVATE_VERSION"
    assert [k for k in kinds if k[0] == "ACTIVATE_VERSION"] == [("ACTIVATE_VERSION", records[0][1])]
    assert _land(whole, tmp_path) == 0

    sandbox.faults.add("s4hana", COST_CENTERS, FaultSpec("status", status=503, after=1, times=50))
    rc, messages, cut = _sync(config, catalog, tmp_path)
    assert rc != 0
    assert 0 < sum(1 for m in messages if m["type"] == "RECORD") < len(records)
    assert not [m for m in messages if m["type"] == "ACTIVATE_VERSION"]
    assert _land(cut, tmp_path) == 0
    with duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True) as conn:
        (table,) = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '%cost_center'"
            ).fetchall()
        ]
        live = conn.execute(f'SELECT COUNT(*) FROM "{table}" WHERE _sdc_deleted_at IS NULL').fetchone()[0]
    assert live == len(records)  # the previous version stays live beside the partial new one


def test_in_batch_mode_activation_follows_the_last_file(
    url: str, sandbox: Sandbox, emulator: S4HanaEmulator, tmp_path: Path
) -> None:
    (tmp_path / "b").mkdir()
    config = basic_config(
        url,
        services=["API_COSTCENTER_SRV"],
        page_size=2,
        emit_activate_version_messages=True,
        batch_config={
            "encoding": {"format": "jsonl", "compression": "none"},
            "storage": {"root": f"file://{tmp_path / 'b'}", "prefix": "s4-"},
            "batch_size": 3,
        },
    )
    discovered = run_tap_cli(
        "tap-sap-s4hana", ["--config", write_json(tmp_path / "c.json", config), "--discover"], tmp_path
    )
    catalog = write_json(tmp_path / "cat.json", select_streams(json.loads(discovered.stdout), {"A_CostCenter"}))
    rc, messages, whole = _sync(config, catalog, tmp_path)
    assert rc == 0
    kinds = [
        m["type"] for m in messages if m.get("stream") == "A_CostCenter" and m["type"] in ("BATCH", "ACTIVATE_VERSION")
    ]
    assert kinds.count("BATCH") > 1
    assert kinds[-1] == "ACTIVATE_VERSION"
    assert kinds.count("ACTIVATE_VERSION") == 1
    assert _land(whole, tmp_path) == 0
