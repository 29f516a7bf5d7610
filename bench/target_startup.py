"""The target's fixed cost: CPU of ``target-xlr8-truths`` runs that land nothing, two builds alternating.

Usage: uv run python bench/target_startup.py OLD_BIN NEW_BIN [--pairs 7] [--mode empty|about|both]
OLD_BIN / NEW_BIN are venv ``bin`` directories (e.g. /work/base-s11/.venv/bin .venv/bin). ``empty``: a run with a
config and an empty stdin (imports, config validation, the store opened and closed, the run summary); ``about``:
``--about --format=json``. Prints user+sys CPU seconds of each process (``os.wait4``), median [min-max] per build
and the per-pair CPU ratio new/old, with the load average. Byte-compile both builds first (bench/README).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

PROJECT = "6f1c2a9e-5a4d-4b8e-9c1f-0a5d5a4d0b01"


def cpu_of(args: list[str], stdin: int) -> float:
    """User + sys CPU seconds of one process run to its end (output discarded; a failure raises)."""
    proc = subprocess.Popen(args, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{args} exited {proc.returncode}")
    return usage.ru_utime + usage.ru_stime


def figures(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("old_bin")
    parser.add_argument("new_bin")
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--mode", choices=("empty", "about", "both"), default="both")
    opts = parser.parse_args()
    modes = ("empty", "about") if opts.mode == "both" else (opts.mode,)
    with tempfile.TemporaryDirectory() as tmp:
        runs: dict[tuple[str, str], list[float]] = {}
        for pair in range(opts.pairs):
            for mode in modes:
                for build, bin_dir in (("old", opts.old_bin), ("new", opts.new_bin)):
                    exe = str(Path(bin_dir) / "target-xlr8-truths")
                    if mode == "about":
                        args = [exe, "--about", "--format=json"]
                    else:
                        config = Path(tmp) / f"{build}-{pair}.json"
                        store = str(Path(tmp) / f"{build}-{pair}.duckdb")
                        config.write_text(json.dumps({"project_id": PROJECT, "duckdb_path": store}))
                        args = [exe, "--config", str(config)]
                    with open(os.devnull, "rb") as empty:
                        runs.setdefault((mode, build), []).append(cpu_of(args, empty.fileno()))
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; {opts.pairs} pairs, CPU s (user+sys)")
    for mode in modes:
        old, new = runs[(mode, "old")], runs[(mode, "new")]
        ratio = [n / o for o, n in zip(old, new, strict=True)]
        print(f"{mode:6} old {figures(old)}  new {figures(new)}  new/old per pair {figures(ratio)}")


if __name__ == "__main__":
    main()
