"""``emit_activate_version_messages`` on UKG Ready: a child stream's ACTIVATE_VERSION goes out once, after every
parent's children (the SDK syncs a child per parent: sent after the first, it marked every other parent's children
deleted), none when a child read failed, and none for a read the ``filters`` setting or a stream map's
``__filter__`` cut down (it would mark every row outside the filter deleted) (review25a F2, F3)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from xlr8_kit.testing.singer_cli import select_streams, sync_until_error, write_json
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_ready import UkgReadyEmulator
from xlr8_tap_ukg_ready.tap import TapUkgReady

from .conftest import ready_config

PROJECT = "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c"
FAST = {"backoff_base": 0.01, "backoff_max": 0.02, "max_attempts": 2}


def _land(lines: list[str], tmp_path: Path, like: str) -> tuple[int, int]:
    """The lines into target-xlr8-truths (DuckDB); (rows, live rows) of the table named like ``like``."""
    settings = {"project_id": PROJECT, "duckdb_path": str(tmp_path / "s.duckdb"), "pii_policy": {"default": "keep"}}
    target = Path(sys.executable).with_name("target-xlr8-truths")
    done = subprocess.run(
        [str(target), "--config", write_json(tmp_path / "t.json", settings)],
        input="\n".join(lines) + "\n", capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    with duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True) as conn:
        (table,) = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_name LIKE ?", [like]
            ).fetchall()
        ]
        rows, live = conn.execute(
            f'SELECT COUNT(*), COUNT(*) FILTER (WHERE _sdc_deleted_at IS NULL) FROM "{table}"'
        ).fetchone()
    return rows, live


def _sync(config: dict[str, Any], streams: set[str]) -> tuple[Any, BaseException | None]:
    catalog = select_streams(TapUkgReady(config=config, parse_env_config=False).catalog_dict, streams)
    return sync_until_error(TapUkgReady(config=config, catalog=catalog, parse_env_config=False))


def _kinds(output: Any, stream: str) -> list[str]:
    return [
        m["type"] for m in output.messages if m.get("stream") == stream and m["type"] in ("RECORD", "ACTIVATE_VERSION")
    ]


def test_a_child_stream_activates_once_after_every_parent_and_not_after_a_failed_child_read(
    url: str, sandbox: Sandbox, emulator: UkgReadyEmulator, tmp_path: Path
) -> None:
    config = ready_config(url, emit_activate_version_messages=True, http=FAST)
    out, error = _sync(config, {"employees", "employee_demographics"})
    assert error is None, error
    kinds = _kinds(out, "employee_demographics")
    assert kinds.count("RECORD") > 3
    assert kinds[-1] == "ACTIVATE_VERSION"
    assert kinds.count("ACTIVATE_VERSION") == 1
    rows, live = _land(out.lines, tmp_path, "%demograph%")
    assert rows == live == kinds.count("RECORD")

    path = "/ta/rest/v2/companies/*/employees/*/demographics"
    sandbox.faults.add("ukg_ready", path, FaultSpec("status", status=503, after=3, times=1000))
    out, _error = _sync(config, {"employees", "employee_demographics"})
    assert "ACTIVATE_VERSION" not in _kinds(out, "employee_demographics")
    assert _land(out.lines, tmp_path, "%demograph%") == (rows, rows)  # every landed row still live


@pytest.mark.parametrize(
    "cut",
    [
        {"filters": "employee where employment_status in ('active')"},
        {"stream_maps": {"employees": {"__filter__": "record.get('status') == 'Active'"}}},
    ],
    ids=["filters", "stream_map"],
)
def test_a_filtered_full_table_read_sends_no_activation(
    url: str, sandbox: Sandbox, emulator: UkgReadyEmulator, tmp_path: Path, cut: dict[str, Any]
) -> None:
    config = ready_config(url, emit_activate_version_messages=True)
    out, error = _sync(config, {"employees"})
    assert error is None, error
    rows, live = _land(out.lines, tmp_path, "%employees")
    assert rows == live > 0
    out, error = _sync({**config, **cut}, {"employees"})
    assert error is None, error
    assert 0 < _kinds(out, "employees").count("RECORD") < rows
    assert "ACTIVATE_VERSION" not in _kinds(out, "employees")
    assert _land(out.lines, tmp_path, "%employees") == (rows, rows)
