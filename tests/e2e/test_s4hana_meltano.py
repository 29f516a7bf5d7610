"""``meltano run tap-sap-s4hana target-xlr8-truths`` in the sandbox environment, end to end into DuckDB, with a
canary password: procurement and finance truths land exactly (decimals included), a purchase order changed
between runs is read again with its items, and the password is found nowhere a run writes.

The emulator runs on an ephemeral port and accepts only the canary password; the URL and the secret reach the tap
through Meltano's environment variables, as an operator would set them, in a temporary copy of the project.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from xlr8_kit.testing.meltano_e2e import MeltanoProject, truths_table
from xlr8_kit.testing.residue import Canary, duckdb_dump, scan, tree_files
from xlr8_sandbox.platform.server import run_sandbox
from xlr8_sandbox.products import s4hana as s4_emulator
from xlr8_sandbox.testing import S4_JOURNAL_GRAIN, s4_journal_balances

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
STREAMS = [
    "A_PurchaseOrder", "A_PurchaseOrderItem", "A_Supplier", "A_CostCenter", "A_CostCenterText", "A_GLAccountText",
    "A_JournalEntryItemBasic",
]  # fmt: skip
CANARY = 'CANARY-s4pw/9f2c+Q="k&m 17'


def workspace_plugins(data: dict[str, Any]) -> None:
    """Run the workspace's console scripts: ``pip_url`` paths are relative to the real project, not this copy (a
    copy would make Meltano try, and fail, to install the plugin into its own venv first)."""
    for kind in ("extractors", "loaders"):
        for plugin in data["plugins"].get(kind, []):
            plugin.pop("pip_url", None)


def landed_truths(store: Path) -> dict[str, tuple[str, str]]:
    """Each stream's entity and truth type as the target recorded them (``_schema_metadata``)."""
    import duckdb

    with duckdb.connect(str(store), read_only=True) as conn:
        recorded = {
            table: (entity, truth)
            for table, entity, truth in conn.execute(
                "SELECT table_name, entity_type, truth_type FROM _schema_metadata WHERE is_current"
            ).fetchall()
        }
        return {stream: recorded[truths_table(conn, "s4hana", stream)] for stream in STREAMS}


def test_meltano_run_lands_s4hana_truths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s4_emulator, "COMM_PASSWORD", CANARY)
    project = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path, edit=workspace_plugins)

    def rows(stream: str, columns: list[str], order: str | list[str]) -> list[tuple[Any, ...]]:
        return project.rows("s4hana", stream, columns, order)

    with run_sandbox(["s4hana"], scale=100) as sandbox:
        company = sandbox.ctx.company
        env = {
            "TAP_SAP_S4HANA_BASE_URL": sandbox.url("s4hana"),
            "TAP_SAP_S4HANA_PASSWORD": CANARY,
            "TAP_SAP_S4HANA_ENTITY_SETS": json.dumps(STREAMS),
            "TAP_SAP_S4HANA_PAGE_SIZE": "25",
        }
        first = project.run("tap-sap-s4hana", env=env)
        assert first.returncode == 0, first.stderr[-3000:]
        orders = rows("A_PurchaseOrder", ["purchase_order", "supplier", "document_currency"], "purchase_order")
        assert orders == [(po.po_id, po.supplier_id, po.currency) for po in company.purchase_orders()]
        items = rows("A_PurchaseOrderItem", ["purchase_order", "purchase_order_item", "net_price_amount",
                                             "order_quantity"], ["purchase_order", "purchase_order_item"])  # fmt: skip
        expected = [line for i in range(company.purchase_order_count) for line in company.purchase_order_items(i)]
        assert [(r[0], r[1], Decimal(str(r[2])), Decimal(str(r[3]))) for r in items] == [
            (line.po_id, f"{line.item_number:05d}", line.net_price, line.quantity) for line in expected
        ]  # scale 2 and 3 decimals land exact (the real v2 header and item carry no net value)
        # An analytical set: one row per combination of its dimensions, keyed by their digest, amounts summed.
        journal = rows("A_JournalEntryItemBasic", [*S4_JOURNAL_GRAIN, "AmountInCompanyCodeCurrency"], "DimensionKey")
        assert {r[:-1]: Decimal(str(r[-1])) for r in journal} == s4_journal_balances(company)
        assert sum(Decimal(str(r[-1])) for r in journal) == 0  # every entry balances, to the cent
        assert len(rows("A_CostCenter", ["cost_center"], "cost_center")) == len(company.cost_centers)
        # The code tables' language-dependent names are Configuration of the same hubs, not Reality.
        texts = rows("A_CostCenterText", ["cost_center", "cost_center_name"], "cost_center")
        assert len(texts) == len(company.cost_centers)
        assert all(name for _, name in texts)
        assert len(rows("A_GLAccountText", ["gl_account"], "gl_account")) == len(company.gl_accounts)
        assert landed_truths(project.truths) == {
            "A_PurchaseOrder": ("purchase_order", "reality"),
            "A_PurchaseOrderItem": ("purchase_order", "reality"),
            "A_Supplier": ("supplier", "reality"),
            "A_CostCenter": ("cost_center", "configuration"),
            "A_CostCenterText": ("cost_center", "configuration"),
            "A_GLAccountText": ("gl_account", "configuration"),
            "A_JournalEntryItemBasic": ("journal_entry", "reality"),
        }

        before = {i: company.purchase_order_changed(i) for i in range(company.purchase_order_count)}
        sandbox.ctx.clock.advance(timedelta(days=3))
        changed = {f"PO{i + 1:08d}" for i in before if company.purchase_order_changed(i) != before[i]}
        assert changed
        second = project.run("tap-sap-s4hana", env=env)
        assert second.returncode == 0, second.stderr[-3000:]
    after = rows("A_PurchaseOrder", ["purchase_order", "last_change_date_time"], "purchase_order")
    assert len(after) == len(orders)  # upserted by key, not appended
    moved = {
        po
        for po, stamp in after
        if stamp is not None and stamp.replace(tzinfo=None) > max(before.values()).replace(tzinfo=None)
    }
    assert moved == changed
    assert len(rows("A_PurchaseOrderItem", ["purchase_order"], "purchase_order")) == len(items)
    assert len(rows("A_JournalEntryItemBasic", ["dimension_key"], "dimension_key")) == len(journal)  # upserted

    state = project.meltano("state", "get", "sandbox:tap-sap-s4hana-to-target-xlr8-truths")
    blobs = {
        **tree_files(tmp_path),
        "stdout": (first.stdout + second.stdout).encode(),
        "stderr": (first.stderr + second.stderr).encode(),
        "state": (state.stdout + state.stderr).encode(),
        "truths": duckdb_dump(project.truths),
    }
    assert scan([Canary("s4 password", CANARY, user="XLR8_COMM_USER")], blobs) == []
