"""``tap-oracle-erp | target-xlr8-truths`` (the real CLIs) over two runs: a supplier left with no site sends no row
of ``suppliers_sites``, so only the read's announcement of the suppliers it read whole (``_xlr8_sets_read``) names
it, and its old site is marked deleted (empty26: it stayed live for good)."""

from __future__ import annotations

import json
import subprocess
import typing as t
from pathlib import Path

import duckdb

from xlr8_kit.testing.meltano_e2e import truths_table
from xlr8_kit.testing.singer_cli import BIN, piped, select_streams, write_json
from xlr8_sandbox.products.oracle_fusion.erp import OracleErpEmulator

from .conftest import erp_config

STREAM = "suppliers_sites"


def _run(tmp: Path, url: str, name: str) -> None:
    config = write_json(tmp / "tap.json", erp_config(url, resources=["suppliers"], max_concurrent_requests=1))
    discovered = subprocess.run(
        [str(BIN / "tap-oracle-erp"), "--config", config, "--discover"], capture_output=True, text=True, check=True
    )
    catalog = write_json(tmp / "catalog.json", select_streams(json.loads(discovered.stdout), [STREAM]))
    target = write_json(
        tmp / "target.json", {"project_id": "1B4E28BA-2FA1-11D2-883F-0016D3CCA427", "duckdb_path": str(tmp / "t.db")}
    )
    args = [str(BIN / "tap-oracle-erp"), "--config", config, "--catalog", catalog]
    loaded = piped(args, [str(BIN / "target-xlr8-truths"), "--config", target], tmp / f"tap-{name}.err")
    assert loaded.returncode == 0, loaded.stderr[-3000:]


def test_a_supplier_left_with_no_site_has_its_old_site_marked_deleted(
    emulator: OracleErpEmulator, url: str, tmp_path: Path
) -> None:
    sites = emulator.resources["suppliers"].children["sites"]
    listed = sites.rows
    gone: list[int] = []

    def without_first(supplier: dict[str, t.Any]) -> list[dict[str, t.Any]]:
        rows = listed(supplier)
        if supplier["__s"].index == 0:
            gone[:] = [row["SupplierSiteId"] for row in rows]
            return []
        return rows

    _run(tmp_path, url, "1")
    try:
        sites.rows = without_first
        emulator.change_rows("suppliers", lambda i, row: row)  # a new data version: no page kept
        _run(tmp_path, url, "2")
    finally:
        sites.rows = listed
        emulator.change_rows("suppliers", lambda i, row: row)
    assert gone
    with duckdb.connect(str(tmp_path / "t.db"), read_only=True) as conn:
        table = truths_table(conn, "oracle_erp", STREAM)
        rows = conn.execute(f'SELECT supplier_site_id, _sdc_deleted_at IS NOT NULL FROM "{table}"').fetchall()
    assert sorted(site for site, deleted in rows if deleted) == sorted(gone)
    assert len([site for site, deleted in rows if not deleted]) == emulator.resources["suppliers"].count() - 1
