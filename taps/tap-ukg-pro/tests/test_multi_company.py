"""An employee employed in two companies keeps a row per employment (audit24b H3): ``employment_details``,
``compensation_details`` and ``pto_plans`` are keyed with ``companyID``. Real processes: the tap's console script
piped into ``target-xlr8-truths`` (DuckDB), first onto a table an older tap loaded under ``employeeID`` alone (the
target lets a key extended by more columns pass, with a warning), then re-run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb

from xlr8_kit.testing.meltano_e2e import truths_table
from xlr8_kit.testing.singer_cli import select_streams, write_json
from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_pro import UkgProEmulator
from xlr8_tap_ukg_pro.tap import TapUkgPro

from .conftest import SCALE, ukg_config

BIN = Path(sys.executable).parent
PROJECT = "6f1c2a9e-5a4d-4b8e-9c1f-0a5d5a4d0b01"
STREAMS = {"employment_details", "compensation_details"}
COMPANY = Company(seed=42, scale=SCALE)


def _tap(tmp: Path, url: str) -> bytes:
    config = ukg_config(url, per_page=30)
    catalog = select_streams(TapUkgPro(config=config, parse_env_config=False).catalog_dict, STREAMS)
    args = ["--config", write_json(tmp / "tap.json", config), "--catalog", write_json(tmp / "catalog.json", catalog)]
    done = subprocess.run([str(BIN / "tap-ukg-pro"), *args], capture_output=True, check=False, timeout=180)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stdout


def _target(tmp: Path, lines: bytes) -> str:
    config = {"project_id": PROJECT, "duckdb_path": str(tmp / "truths.duckdb"), "pii_key_file": str(tmp / "pii.key"),
              "pii_key_create": True}  # fmt: skip
    args = [str(BIN / "target-xlr8-truths"), "--config", write_json(tmp / "target.json", config)]
    done = subprocess.run(args, input=lines, capture_output=True, check=False, timeout=180)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stderr.decode()


def _old_keys(lines: bytes) -> bytes:
    """The tap's output as an older tap wrote it: these streams keyed on ``employeeID`` alone."""
    out = []
    for line in lines.splitlines():
        message: dict[str, Any] = json.loads(line)
        if message["type"] == "SCHEMA" and message["stream"] in STREAMS:
            message["key_properties"] = ["employeeID"]
        out.append(json.dumps(message).encode())
    return b"\n".join(out) + b"\n"


def _rows(tmp: Path, stream: str) -> list[tuple[str, str]]:
    with duckdb.connect(str(tmp / "truths.duckdb"), read_only=True) as conn:
        table = truths_table(conn, "ukg_pro", stream)
        found = conn.execute(f'SELECT employee_id, company_id FROM "{table}" ORDER BY 1, 2').fetchall()
    return [(str(a), str(b)) for a, b in found]


def test_an_employee_of_two_companies_keeps_both_rows(
    url: str, sandbox: Sandbox, emulator: UkgProEmulator, tmp_path: Path
) -> None:
    first = COMPANY.employee(0)
    other = "C200" if first.company_code == "C100" else "C100"
    # an older tap's table: one row per employee
    _target(tmp_path, _old_keys(_tap(tmp_path, url)))
    assert len(_rows(tmp_path, "employment_details")) == SCALE

    emulator.second_company[first.employee_id] = other
    logged = _target(tmp_path, _tap(tmp_path, url))
    for stream in STREAMS:
        rows = _rows(tmp_path, stream)
        assert len(rows) == SCALE + 1, stream
        assert [r for r in rows if r[0] == first.employee_id] == sorted(
            [(first.employee_id, first.company_code), (first.employee_id, other)]
        )
    assert "key properties extended" in logged
    _target(tmp_path, _tap(tmp_path, url))  # a re-run upserts: the same rows
    assert len(_rows(tmp_path, "employment_details")) == SCALE + 1
