"""What Oracle HCM's default ``full_read_every_days`` costs a run of ``workers``: the same upgraded state (a bookmark,
no ``xlr8_full_read_at``, as a version without the default leaves it) read by an old build (incremental) and a new one
(a whole read, as the first run after upgrading and then every 7 days), and the new one with a fresh stamp (the other
six days). Tap alone through its console script, one warm sandbox, ``--pairs`` rounds in that order (old, new, new
fresh) after one untimed read per build and shape. Prints records, collection requests, wall and CPU (user + sys of
the tap) as median [min-max], and the per-round ratios whole read / old incremental.

    .venv/bin/python bench/full_read_cost.py --old-tap /work/base-sNN/.venv/bin/tap-oracle-hcm --scale 100000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from xlr8_kit.testing.singer_cli import select_streams, write_json
from xlr8_sandbox.platform.server import run_sandbox
from xlr8_sandbox.products.oracle_fusion.hcm import PASSWORD, USERNAME, OracleHcmEmulator

ROOT = Path(__file__).resolve().parents[1]


def timed(tap: str, args: list[str], cwd: Path, asked: Callable[[], int]) -> dict[str, Any]:
    """One run of ``tap``: records, collection requests, wall and CPU seconds, its last STATE."""
    before, pages = resource.getrusage(resource.RUSAGE_CHILDREN), asked()
    started = time.perf_counter()
    done = subprocess.run([tap, *args], cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    return {
        "records": sum(line.startswith('{"type":"RECORD"') for line in lines),
        "requests": asked() - pages,
        "wall": wall,
        "cpu": after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime,
        "state": next(json.loads(line)["value"] for line in reversed(lines) if line.startswith('{"type":"STATE"')),
    }


def spread(values: list[float], form: str = "{:.2f}") -> str:
    return f"{form.format(statistics.median(values))} [{form.format(min(values))}-{form.format(max(values))}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old-tap", required=True, help="tap-oracle-hcm of the old build")
    parser.add_argument("--new-tap", default=str(ROOT / ".venv/bin/tap-oracle-hcm"))
    parser.add_argument("--scale", type=int, default=100_000, help="employees (workers) in the sandbox")
    parser.add_argument("--pairs", type=int, default=3)
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="full_read_cost"))
    with run_sandbox(["oracle_hcm"], scale=opts.scale) as sandbox:
        emulator = cast("OracleHcmEmulator", sandbox.emulator("oracle_hcm"))
        config = {"base_url": sandbox.url("oracle_hcm"), "username": USERNAME, "password": PASSWORD,
                  "resources": ["workers"]}  # fmt: skip
        config_path = write_json(work / "config.json", config)
        found = subprocess.run([opts.new_tap, "--config", config_path, "--discover"], cwd=work, capture_output=True,
                               text=True, check=True)  # fmt: skip
        catalog = write_json(work / "catalog.json", select_streams(json.loads(found.stdout), {"workers"}))
        args = ["--config", config_path, "--catalog", catalog]

        def run(tap: str, state: str | None = None) -> dict[str, Any]:
            extra = ["--state", state] if state else []
            return timed(tap, [*args, *extra], work, lambda: len(emulator.collection_queries))

        run(opts.old_tap)  # each build's whole read once: the emulator renders each request shape once
        fresh = run(opts.new_tap)["state"]
        stamp = fresh["bookmarks"]["workers"].pop("xlr8_full_read_at")
        upgraded = write_json(work / "upgraded.json", fresh)
        fresh["bookmarks"]["workers"]["xlr8_full_read_at"] = stamp
        stamped = write_json(work / "stamped.json", fresh)
        run(opts.old_tap, upgraded), run(opts.new_tap, stamped)  # and the incremental shapes
        sides = {
            "old build, upgraded state (incremental)": (opts.old_tap, upgraded),
            "new build, upgraded state (whole read)": (opts.new_tap, upgraded),
            "new build, fresh stamp (incremental)": (opts.new_tap, stamped),
        }
        rows: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
        loads = [os.getloadavg()[0]]
        for _ in range(opts.pairs):
            for name, (tap, state) in sides.items():
                rows[name].append(run(tap, state))
            loads.append(os.getloadavg()[0])
    print(f"scale {opts.scale:,}, {opts.pairs} rounds, load {min(loads):.1f}-{max(loads):.1f}")
    print("| run | records | requests | wall s | CPU s |\n|---|---|---|---|---|")
    for name, runs in rows.items():
        cells = [spread([r[k] for r in runs], "{:,.0f}") for k in ("records", "requests")]
        cells += [spread([r[k] for r in runs]) for k in ("wall", "cpu")]
        print(f"| {name} | {' | '.join(cells)} |")
    whole, old = rows["new build, upgraded state (whole read)"], rows["old build, upgraded state (incremental)"]
    for key in ("cpu", "wall"):
        print(
            f"per-round {key} ratio whole read / old incremental:",
            [round(w[key] / o[key], 2) for w, o in zip(whole, old, strict=True)],
        )


if __name__ == "__main__":
    main()
