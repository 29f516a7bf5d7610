"""How often target-xlr8-truths loads the real taps' BATCH files with DuckDB directly, and whether the rows it lands
from them are the rows it lands from the same tap's RECORD messages.

For each case of the golden guard (tests/golden: one stream per tap, fixed seed, small scale) the tap runs twice
against one emulator: once plain (RECORD messages), once with the SDK's ``batch_config`` (jsonl files). Both go
into the target, each into its own store; the script prints the target's path counts (``XLR8_TRUTHS_PATHS``: BATCH
files loaded by DuckDB or record by record, with the reasons from the log) and compares the landed-row digests the
golden guard computes (PII ciphertext compared as present/absent).

Usage: uv run python bench/target_batch_coverage.py [--scale 300] [--only CASE_SUBSTRING]
(``PYTHONPATH=<another build's target-xlr8-truths/src>`` measures that build's target instead.)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _golden() -> ModuleType:
    path = ROOT / "tests" / "golden" / "test_singer_golden.py"
    spec = importlib.util.spec_from_file_location("golden_for_coverage", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _target(golden: ModuleType, work: Path, label: str, stdin: str, batch_root: Path | None) -> tuple[Any, str]:
    store = work / f"{label}.duckdb"
    config: dict[str, Any] = {"project_id": golden.PROJECT_ID, "duckdb_path": str(store),
                              "pii_key_file": str(work / "pii.key"), "pii_key_create": True}  # fmt: skip
    if batch_root is not None:
        config["batch_locations"] = [str(batch_root)]
    landed = subprocess.run(
        [str(golden.BIN / "target-xlr8-truths"), "--config", golden.write_json(work / f"{label}.json", config)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if landed.returncode != 0:
        raise SystemExit(f"{label}: target failed\n{landed.stderr[-3000:]}")
    return golden.landed_digest(store), landed.stderr


def run_case(golden: ModuleType, product: str, stream: str, overrides: dict[str, Any], scale: int) -> dict[str, Any]:
    module = golden.ceiling_module(product)
    work = Path(tempfile.mkdtemp(prefix="xlr8-batch-coverage-"))
    batch_root = work / "batches"
    batch_root.mkdir()
    with golden.run_sandbox([product], seed=golden.SEED, scale=scale) as sandbox:
        url = sandbox.url(product)
        config = {**module.tap_config(url, sandbox.emulator(product).test_credentials(), stream), **overrides}
        plain_path = golden.write_json(work / "tap.json", config)
        batch_config = {"encoding": {"format": "jsonl", "compression": "none"},
                        "storage": {"root": f"file://{batch_root}", "prefix": "batch-"}}  # fmt: skip
        batch_path = golden.write_json(work / "tap-batch.json", {**config, "batch_config": batch_config})
        found = golden.run_tap_cli(module.TAP, ["--config", plain_path, "--discover"], work)
        catalog = golden.write_json(work / "catalog.json", golden.select_streams(json.loads(found.stdout), [stream]))
        records = golden.run_tap_cli(module.TAP, ["--config", plain_path, "--catalog", catalog], work, timeout=600)
        batches = golden.run_tap_cli(module.TAP, ["--config", batch_path, "--catalog", catalog], work, timeout=600)
    for run, what in ((records, "RECORD"), (batches, "BATCH")):
        if run.returncode != 0:
            raise SystemExit(f"{product} {stream} {what} sync failed\n{run.stderr[-3000:]}")
    record_digest, _ = _target(golden, work, "record", records.stdout, None)
    batch_digest, stderr = _target(golden, work, "batch", batches.stdout, batch_root)
    paths: dict[str, Any] = {}
    for line in stderr.splitlines():
        if line.startswith("XLR8_TRUTHS_PATHS "):
            paths = json.loads(line.split(" ", 1)[1])
    reasons = Counter(re.findall(r"BATCH file loaded record by record \(stream [^:]+: ([^)]+)\)", stderr))
    direct = stderr.count("BATCH file loaded by DuckDB directly")
    return {
        "files_by_duckdb": direct,
        "files_record_by_record": sum(reasons.values()),
        "batch_messages": batches.stdout.count('"type":"BATCH"') + batches.stdout.count('"type": "BATCH"'),
        "paths": paths,
        "record_path_reasons": dict(reasons),
        "rows": batch_digest[0],
        "same_rows_as_record_mode": batch_digest == record_digest,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=300)
    parser.add_argument("--only", help="run the cases whose id contains this")
    args = parser.parse_args()
    golden = _golden()
    for case, product, stream, overrides in golden.CASES:
        if args.only and args.only not in case:
            continue
        result = run_case(golden, product, stream, overrides, args.scale)
        print(f"{case:34s} {json.dumps(result)}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
