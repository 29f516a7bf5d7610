"""Golden guard for performance work: each landed tap's Singer RECORD lines (byte for byte) and the rows the
truths target lands from them, on a fixed seed and a small scale, match digests recorded before the speed-ups.

Only run-time values are blanked: the emulator's ephemeral URL in links, a RECORD's ``version`` and
``time_extracted`` (both clock readings), and in
the store the ``_sdc_*`` clock columns and the ciphertext of PII columns (fresh nonce each run; only whether a
value is present is compared). Everything else must stay identical.

To re-record after an intended change of output: ``XLR8_GOLDEN_UPDATE=1 uv run --frozen pytest tests/golden``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from xlr8_kit.testing.meltano_e2e import landed_tables
from xlr8_kit.testing.singer_cli import BIN, run_tap_cli, select_streams, write_json
from xlr8_sandbox.platform.server import run_sandbox

ROOT = Path(__file__).resolve().parents[2]
DIGESTS = Path(__file__).with_name("digests.json")
SEED, SCALE = 42, 300
PROJECT_ID = "9d6a1c55-6f0c-4a9e-8b7e-3f2d5a8c1e42"
#: A RECORD line's clock fields sit after the record object; everything before them is compared byte for byte.
SETS_READ_LINE = '{"type":"RECORD","stream":"_xlr8_sets_read"'
CLOCK_FIELDS = re.compile(r'(,"version":\d+)?(,"time_extracted":"[^"]*")?\}$')
CLOCK_COLUMNS = frozenset({"_sdc_extracted_at", "_sdc_table_version", "_sdc_deleted_at", "_sdc_received_at",
                           "_sdc_batched_at"})  # fmt: skip

#: (case id, emulator product, stream id, tap config overrides).
CASES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("salesforce-rest-Account", "salesforce", "Account", {"api_type": "rest"}),
    ("salesforce-bulk-Account", "salesforce", "Account", {"api_type": "bulk"}),
    ("successfactors-User", "successfactors", "User", {}),
    ("successfactors-EmpJob", "successfactors", "EmpJob", {}),
    ("workday-raas-worker_report", "workday", "worker_report", {}),
    ("workday-rest-workers", "workday", "workers", {}),
    ("ukg_pro-raas-employees", "ukg_pro", "raas_xlr8_employees", {}),
    ("ukg_pro-rest-employment_details", "ukg_pro", "employment_details", {}),
    ("ukg_wfm-timecards", "ukg_wfm", "timecards", {}),
    ("ukg_ready-report-pay_statements", "ukg_ready", "pay_statements", {}),
    ("ukg_ready-rest-employees", "ukg_ready", "employees", {}),
    # pages of 20: the keyset read is split into ranges read side by side (``xlr8_kit.oracle.ranges``)
    ("oracle_hcm-workers", "oracle_hcm", "workers", {"page_size": 20}),
    (
        "oracle_hcm-workers_workRelationships_assignments",
        "oracle_hcm",
        "workers_workRelationships_assignments",
        {"page_size": 20, "resources": ["workers"]},
    ),
    ("oracle_erp-invoices", "oracle_erp", "invoices", {"page_size": 20}),
    (
        "oracle_erp-invoices_invoiceLines",
        "oracle_erp",
        "invoices_invoiceLines",
        {"page_size": 20, "resources": ["invoices"]},
    ),
    ("common-purchase_orders", "common", "purchase_orders", {"page_size": 50}),
]


def ceiling_module(product: str) -> ModuleType:
    """The bench's per-product module: it already knows how to configure each tap against its emulator (the
    Oracle ones import what they share from the ``ceilings`` package beside them)."""
    if str(ROOT / "bench") not in sys.path:
        sys.path.append(str(ROOT / "bench"))
    path = ROOT / "bench" / "ceilings" / f"{product}.py"
    spec = importlib.util.spec_from_file_location(f"golden_ceiling_{product}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def record_digest(stdout: str) -> tuple[int, str]:
    digest = hashlib.sha256()
    count = 0
    for line in stdout.splitlines():
        # the sets a read announces whole (``_xlr8_sets_read``) are not rows of the stream
        if line.startswith('{"type":"RECORD"') and not line.startswith(SETS_READ_LINE):
            digest.update(CLOCK_FIELDS.sub("}", line).encode() + b"\n")
            count += 1
    return count, digest.hexdigest()


def landed_digest(store: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    total = 0
    for table, columns, rows in landed_tables(store, left_out=CLOCK_COLUMNS):
        digest.update(json.dumps([table, columns], default=str).encode())
        for row in rows:
            digest.update(json.dumps(row, default=str).encode() + b"\n")
        total += len(rows)
    return total, digest.hexdigest()


def run_case(product: str, stream: str, overrides: dict[str, Any], workdir: Path) -> dict[str, Any]:
    module = ceiling_module(product)
    with run_sandbox([product], seed=SEED, scale=SCALE) as sandbox:
        url = sandbox.url(product)
        config = {**module.tap_config(url, sandbox.emulator(product).test_credentials(), stream), **overrides}
        config_path = write_json(workdir / "tap.json", config)
        found = run_tap_cli(module.TAP, ["--config", config_path, "--discover"], workdir)
        assert found.returncode == 0, found.stderr[-2000:]
        catalog_path = write_json(workdir / "catalog.json", select_streams(json.loads(found.stdout), [stream]))
        synced = run_tap_cli(module.TAP, ["--config", config_path, "--catalog", catalog_path], workdir, timeout=300)
        assert synced.returncode == 0, synced.stderr[-2000:]
    output = synced.stdout.replace(url, "http://emulator.invalid")  # links carry the emulator's ephemeral port
    records, records_sha = record_digest(output)
    store = workdir / "truths.duckdb"
    target_config = {"project_id": PROJECT_ID, "duckdb_path": str(store), "pii_key_file": str(workdir / "pii.key"),
                     "pii_key_create": True}  # fmt: skip
    landed = subprocess.run(
        [str(BIN / "target-xlr8-truths"), "--config", write_json(workdir / "target.json", target_config)],
        input=output,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert landed.returncode == 0, landed.stderr[-2000:]
    rows, rows_sha = landed_digest(store)
    return {"records": records, "records_sha256": records_sha, "rows": rows, "rows_sha256": rows_sha}


@pytest.mark.parametrize(("case", "product", "stream", "overrides"), CASES, ids=[c[0] for c in CASES])
def test_singer_output_and_landed_rows_match_golden(
    case: str, product: str, stream: str, overrides: dict[str, Any], tmp_path: Path
) -> None:
    found = run_case(product, stream, overrides, tmp_path)
    assert found["records"] > 0, found
    assert found["rows"] == found["records"], found
    if os.environ.get("XLR8_GOLDEN_UPDATE") == "1":
        recorded = json.loads(DIGESTS.read_text()) if DIGESTS.exists() else {}
        recorded[case] = found
        DIGESTS.write_text(json.dumps(dict(sorted(recorded.items())), indent=2) + "\n")
        print(f"recorded {case}: {found}", file=sys.stderr)
        return
    expected = json.loads(DIGESTS.read_text())[case]
    assert found == expected
