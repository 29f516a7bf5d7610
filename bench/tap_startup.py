"""Every tap's fixed cost: CPU of a tiny sync and of ``--about``, two builds' console scripts alternating.

    uv run python bench/tap_startup.py OLD_BIN NEW_BIN [--pairs 5] [--scale 20] [--only salesforce,common]

OLD_BIN / NEW_BIN are venv ``bin`` directories (e.g. /work/base-s13/.venv/bin .venv/bin). Each product's emulator
runs at a small scale (10-2,000 records in the stream below), the catalog is discovered once by the new build and
selects that one stream; then each pair runs old sync, new sync, old ``--about``, new ``--about``. Prints user+sys
CPU ms of each process (``os.wait4``), median [min-max] per build, the per-pair ratio new/old and the record counts
(both builds must emit the same number), with the load average. Byte-compile both builds first (bench/README).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import ceilings
from run import child_env, write_catalog

#: product -> the stream of its tiny sync (the streams of bench/README's start-up table).
STREAMS = {
    "salesforce": "Account",
    "successfactors": "User",
    "ukg_ready": "pay_statements",
    "oracle_hcm": "workers",
    "workday": "workers",
    "ukg_pro": "employment_details",
    "ukg_wfm": "timecards",
    "s4hana": "A_PurchaseOrderItem",
    "oracle_erp": "invoices",
    "common": "purchase_orders",
}


def run_cpu(args: list[str]) -> tuple[float, int]:
    """User + sys CPU ms of one process run to its end and its RECORD count (a failure raises)."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.DEVNULL, env=child_env())
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{args} exited {os.waitstatus_to_exitcode(status)}")
        out.seek(0)
        records = out.read().count(b'"type":"RECORD"')
    return (usage.ru_utime + usage.ru_stime) * 1000, records


def figures(values: list[float], digits: int = 0) -> str:
    return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}-{max(values):.{digits}f}]"


def main() -> None:
    from xlr8_sandbox.platform.server import run_sandbox

    parser = argparse.ArgumentParser()
    parser.add_argument("old_bin")
    parser.add_argument("new_bin")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--scale", type=int, default=20)
    parser.add_argument("--only", default="")
    opts = parser.parse_args()
    products = [p for p in STREAMS if not opts.only or p in opts.only.split(",")]
    print(f"load average at start {os.getloadavg()[0]:.2f}; {opts.pairs} pairs; CPU ms (user+sys)")
    print("| tap | records | sync old | sync new | new/old | `--about` old | `--about` new | new/old |")
    print("|---|---|---|---|---|---|---|---|")
    for product in products:
        module = ceilings.load(product)
        stream = STREAMS[product]
        with tempfile.TemporaryDirectory() as tmp, run_sandbox([product], seed=42, scale=opts.scale) as sandbox:
            workdir = Path(tmp)
            url, credentials = sandbox.url(product), sandbox.emulator(product).test_credentials()
            config = workdir / "tap.json"
            config.write_text(json.dumps(module.tap_config(url, credentials, stream)))
            catalog = write_catalog(module.TAP, config, stream, workdir)
            builds = {"old": opts.old_bin, "new": opts.new_bin}
            paths = ["--config", str(config), "--catalog", str(catalog)]
            sync = {b: [f"{d}/{module.TAP}", *paths] for b, d in builds.items()}
            about = {b: [f"{d}/{module.TAP}", "--about", "--format=json"] for b, d in builds.items()}
            for build in builds:  # warm: the emulator renders its pages once
                run_cpu(sync[build])
            cpu: dict[tuple[str, str], list[float]] = {}
            counts = set()
            for _ in range(opts.pairs):
                for mode, commands in (("sync", sync), ("about", about)):
                    for build in builds:
                        ms, records = run_cpu(commands[build])
                        cpu.setdefault((mode, build), []).append(ms)
                        if mode == "sync":
                            counts.add(records)
        if len(counts) != 1:
            raise SystemExit(f"{product}: record counts differ: {sorted(counts)}")
        cells = [module.TAP.removeprefix("tap-"), str(counts.pop())]
        for mode in ("sync", "about"):
            old, new = cpu[(mode, "old")], cpu[(mode, "new")]
            cells += [figures(old), figures(new), figures([n / o for o, n in zip(old, new, strict=True)], 2)]
        print("| " + " | ".join(cells) + " |", flush=True)
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
