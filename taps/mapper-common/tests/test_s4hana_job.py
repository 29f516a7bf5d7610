"""The ``s4hana-into-common-job`` chain through its real CLIs, both emulators over HTTP: ``tap-sap-s4hana |
mapper-common (s4hana, from_erp) | target-common``.

tap-sap-s4hana reads ``A_PurchaseOrder`` without its items (``to_PurchaseOrderItem`` is not expanded). Before, the
mapper turned the absent item list into null quantity, price, unit and dates without a word, target-common read the
nulls as "leave as Common has it", every new PO was refused by Common and dead-lettered, and the STATE went past
them with exit 0 (audit25c F2). Now the mapper refuses each such record by key, naming the absent list: exit 1, no
STATE past the first, nothing written to Common."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from xlr8_kit.testing.singer_cli import parse_singer_messages, write_json
from xlr8_sandbox.platform.server import Sandbox, run_sandbox
from xlr8_sandbox.products.common import EMAIL, PASSWORD
from xlr8_sandbox.products.s4hana import COMM_PASSWORD, COMM_USER, SAP_CLIENT

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def both() -> Iterator[Sandbox]:
    with run_sandbox(["s4hana", "common"], scale=50) as running:
        yield running


def test_po_headers_without_items_are_refused_by_name_not_mapped_to_nulls(both: Sandbox, tmp_path: Path) -> None:
    s4 = {"base_url": both.url("s4hana"), "sap_client": SAP_CLIENT, "username": COMM_USER, "password": COMM_PASSWORD,
          "services": ["API_PURCHASEORDER_PROCESS_SRV"], "entity_sets": ["A_PurchaseOrder"]}  # fmt: skip
    mapping = {"template": "s4hana", "direction": "from_erp", "drop_other_streams": True}
    common = {"api_base_url": both.url("common"), "email": EMAIL, "password": PASSWORD,
              "dead_letter_path": str(tmp_path / "tc-dead.jsonl")}  # fmt: skip
    before = {p["po_number"]: dict(p) for p in both.emulator("common").data.purchase_orders()}  # type: ignore[attr-defined]
    logs = {name: (tmp_path / f"{name}.log").open("wb") for name in ("tap", "mapper", "target")}
    try:
        tap = subprocess.Popen(
            [str(BIN / "tap-sap-s4hana"), "--config", write_json(tmp_path / "s4.json", s4)],
            stdout=subprocess.PIPE,
            stderr=logs["tap"],
        )
        mapper = subprocess.Popen(
            [str(BIN / "mapper-common"), "--config", write_json(tmp_path / "map.json", mapping)],
            stdin=tap.stdout,
            stdout=subprocess.PIPE,
            stderr=logs["mapper"],
        )
        assert tap.stdout is not None
        tap.stdout.close()
        target = subprocess.run(
            [str(BIN / "target-common"), "--config", write_json(tmp_path / "tc.json", common)],
            stdin=mapper.stdout,
            stdout=subprocess.PIPE,
            stderr=logs["target"],
            check=False,
            timeout=300,
        )
        mapper_rc = mapper.wait(timeout=60)
        assert tap.wait(timeout=60) == 0, (tmp_path / "tap.log").read_text()[-2000:]
    finally:
        for log in logs.values():
            log.close()
    mapper_err = (tmp_path / "mapper.log").read_text()
    assert mapper_rc == 1, mapper_err[-2000:]
    assert "to_PurchaseOrderItem is absent" in mapper_err
    assert "PurchaseOrder='PO00000001'" in mapper_err  # refused by key, every one
    out = parse_singer_messages(target.stdout.decode(), exact_decimals=True)
    assert not [m for m in out if m.get("type") == "STATE" and m["value"].get("bookmarks")]  # no STATE past them
    assert not (tmp_path / "tc-dead.jsonl").exists()
    after = {p["po_number"]: p for p in both.emulator("common").data.purchase_orders()}  # type: ignore[attr-defined]
    assert after == before  # nothing written to Common from a record without its line
