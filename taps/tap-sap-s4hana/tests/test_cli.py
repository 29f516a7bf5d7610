"""The tap as users run it: the console script in a subprocess, against the emulator on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from xlr8_kit.testing.singer_cli import (
    assert_one_error_line,
    parse_singer_messages,
    run_tap_cli,
    select_streams,
    write_json,
)
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.s4hana import COMM_PASSWORD, S4HanaEmulator

from .conftest import V4_SERVICE, basic_config


def _run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return run_tap_cli("tap-sap-s4hana", args, tmp_path)


def test_discover_then_sync_then_resume_from_state(
    url: str, sandbox: Sandbox, emulator: S4HanaEmulator, tmp_path: Path
) -> None:
    config = basic_config(url, services=["API_PURCHASEORDER_PROCESS_SRV", "API_COSTCENTER_SRV", V4_SERVICE])
    config_file = write_json(tmp_path / "config.json", config)
    discovered = _run(["--config", config_file, "--discover"], tmp_path)
    assert discovered.returncode == 0, discovered.stderr
    catalog = json.loads(discovered.stdout)
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert set(streams) == {
        "A_PurchaseOrder", "A_PurchaseOrderItem", "A_PurOrdAccountAssignment", "A_PurchaseOrderScheduleLine",
        "A_CostCenter", "A_CostCenterText", "PurchaseOrder", "PurchaseOrderItem", "PurchaseOrderAccountAssignment",
    }  # fmt: skip
    assert streams["PurchaseOrder"]["replication_key"] == "LastChangeDateTime"
    assert streams["A_PurchaseOrderItem"]["replication_key"] == "HeaderLastChangeDateTime"
    assert streams["A_PurOrdAccountAssignment"].get("replication_key") is None  # read whole every run
    assert COMM_PASSWORD not in discovered.stdout + discovered.stderr

    catalog_file = write_json(tmp_path / "catalog.json", select_streams(catalog, {"A_PurchaseOrder", "A_CostCenter"}))
    synced = _run(["--config", config_file, "--catalog", catalog_file], tmp_path)
    assert synced.returncode == 0, synced.stderr
    messages = parse_singer_messages(synced.stdout, exact_decimals=True)
    records = [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "A_PurchaseOrder"]
    company = sandbox.ctx.company
    assert sorted((r["PurchaseOrder"], r["Supplier"], r["DocumentCurrency"]) for r in records) == [
        (po.po_id, po.supplier_id, po.currency) for po in company.purchase_orders()
    ]
    assert not any("PurchaseOrderNetAmount" in r for r in records)  # the real v2 header has no net value
    state = [m for m in messages if m["type"] == "STATE"][-1]["value"]
    assert "A_CostCenter" not in state.get("bookmarks", {}) or not state["bookmarks"]["A_CostCenter"].get(
        "replication_key_value"
    )  # full table: no bookmark

    state_file = write_json(tmp_path / "state.json", state)
    again = _run(["--config", config_file, "--catalog", catalog_file, "--state", state_file], tmp_path)
    assert again.returncode == 0, again.stderr
    rerun = parse_singer_messages(again.stdout)
    bookmark = state["bookmarks"]["A_PurchaseOrder"]["replication_key_value"]
    reread = [m["record"] for m in rerun if m["type"] == "RECORD" and m["stream"] == "A_PurchaseOrder"]
    assert reread  # the rows at the bookmark, read again (ge), nothing older
    assert {r["LastChangeDateTime"] for r in reread} == {bookmark}
    assert len([m for m in rerun if m["type"] == "RECORD" and m["stream"] == "A_CostCenter"]) == len(
        company.cost_centers
    )


def test_bad_config_exits_non_zero_naming_the_setting(tmp_path: Path) -> None:
    config_file = write_json(tmp_path / "config.json", {"base_url": "https://s4.example.com", "username": "U"})
    result = _run(["--config", config_file, "--discover"], tmp_path)
    assert result.returncode != 0
    assert "setting 'password' is required" in result.stderr


def test_discover_with_a_wrong_password_is_one_error_line(url: str, tmp_path: Path) -> None:
    """audit23b #8: one ERROR line and exit 1, not a traceback."""
    wrong = write_json(tmp_path / "wrong.json", basic_config(url, password="wrong-canary-pw-1414"))
    result = _run(["--config", wrong, "--discover"], tmp_path)
    assert result.returncode == 1
    assert_one_error_line(result.stderr, "401")
    assert "wrong-canary-pw-1414" not in result.stdout + result.stderr
