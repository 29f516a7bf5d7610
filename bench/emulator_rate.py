"""How fast the emulators serve: rows/s to a plain ``requests`` reader over HTTP, cold (first read) and warm (second).

    uv run python bench/emulator_rate.py --product salesforce --stream accounts --scale 100000
    XLR8_BENCH_SALESFORCE_API=bulk uv run python bench/emulator_rate.py --product salesforce --stream accounts
    uv run python bench/emulator_rate.py --all --scale 20000

Each repetition starts a fresh sandbox in a child process (so the reader and the emulator do not share a GIL and
the emulator's own CPU and memory can be measured), then reads the stream twice with the product's ceiling reader
(``bench/ceilings/<product>.py``: plain ``requests``, no SDK). Printed per read: rows, wall rows/s, the emulator
process's CPU seconds and rows per emulator CPU second (the "per core" rate, which the machine's noise affects
least), and the emulator's RSS after the read. Median of ``--repeat`` (3) with [min-max]. Figures only: nothing
here runs in the test suite. ``XLR8_SANDBOX_CACHE=0`` in the environment turns the emulators' caches off (A/B).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import ceilings  # noqa: E402 - needs bench/ on sys.path first

#: What ``--all`` measures: (product, stream) pairs, the issue's headline first.
DEFAULT_SET = [
    ("salesforce", "accounts"),
    ("successfactors", "User"),
    ("workday", "raas"),
    ("ukg_pro", "report"),
]


@dataclass
class Read:
    rows: int
    wall_s: float
    cpu_s: float
    rss_mb: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s if self.wall_s else 0.0

    @property
    def rows_per_cpu_s(self) -> float:
        return self.rows / self.cpu_s if self.cpu_s else 0.0


def serve_child(product: str, seed: int, scale: int) -> int:
    """Child: serve one product on an ephemeral port, print its URL and credentials, exit when stdin closes."""
    from xlr8_sandbox.platform.server import run_sandbox, tune_collector_for_serving

    with run_sandbox([product], seed=seed, scale=scale) as sandbox:
        tune_collector_for_serving()  # as ``xlr8-sandbox`` does: this child stands for the standalone server
        credentials = sandbox.emulator(product).test_credentials()
        print(json.dumps({"url": sandbox.url(product), "credentials": credentials}), flush=True)
        sys.stdin.read()
    return 0


def read_child(product: str, url: str, credentials: str, stream: str) -> int:
    module = ceilings.load(product)
    print(sum(1 for _ in module.read(url, json.loads(credentials), stream)))
    return 0


def timed_read(server: psutil.Process, product: str, url: str, credentials: dict[str, str], stream: str) -> Read:
    before = server.cpu_times()
    started = time.perf_counter()
    found = subprocess.run(
        [sys.executable, __file__, "--read-child", product, url, json.dumps(credentials), stream],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    after = server.cpu_times()
    if found.returncode != 0:
        raise SystemExit(f"reader failed:\n{found.stderr[-2000:]}")
    cpu = (after.user + after.system) - (before.user + before.system)
    return Read(int(found.stdout.strip()), wall, cpu, server.memory_info().rss / 2**20)


def one_repetition(product: str, stream: str, seed: int, scale: int) -> tuple[Read, Read]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve-child", product, str(seed), str(scale)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdin is not None
        started = json.loads(proc.stdout.readline())
        server = psutil.Process(proc.pid)
        cold = timed_read(server, product, started["url"], started["credentials"], stream)
        warm = timed_read(server, product, started["url"], started["credentials"], stream)
        proc.stdin.close()
        proc.wait(timeout=30)
        return cold, warm
    finally:
        if proc.poll() is None:
            proc.kill()


def spread(values: list[float], fmt: str = ",.0f") -> str:
    return f"{statistics.median(values):{fmt}} [{min(values):{fmt}}-{max(values):{fmt}}]"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve-child"]:
        return serve_child(argv[1], int(argv[2]), int(argv[3]))
    if argv[:1] == ["--read-child"]:
        return read_child(*argv[1:5])
    parser = argparse.ArgumentParser(prog="bench/emulator_rate.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--product", help="emulator registry id, e.g. salesforce")
    parser.add_argument("--stream", help="the ceiling reader's stream (or alias such as accounts)")
    parser.add_argument("--all", action="store_true", help=f"measure {', '.join(p for p, _ in DEFAULT_SET)}")
    parser.add_argument("--scale", type=int, default=100_000, help="employees in the fictional company")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3, help="fresh sandboxes per product (median reported)")
    args = parser.parse_args(argv)
    if args.all == bool(args.product):
        parser.error("give --product and --stream, or --all")
    pairs = DEFAULT_SET if args.all else [(args.product, args.stream or "")]
    api = os.environ.get("XLR8_BENCH_SALESFORCE_API", "rest")
    cache = os.environ.get("XLR8_SANDBOX_CACHE", "1")
    print(f"scale {args.scale:,}, seed {args.seed}, n = {args.repeat}, XLR8_SANDBOX_CACHE={cache}, salesforce {api}")
    header = f"  {'product/stream':<28} {'read':<5} {'rows':>9} {'rows/s wall':>24} {'rows/s per emulator CPU s':>28}"
    print(header + f" {'emulator RSS MB':>22}")
    for product, stream_arg in pairs:
        module = ceilings.load(product)
        stream = ceilings.resolve_stream(module, stream_arg)
        runs = [one_repetition(product, stream, args.seed, args.scale) for _ in range(args.repeat)]
        for label, reads in (("cold", [c for c, _ in runs]), ("warm", [w for _, w in runs])):
            print(
                f"  {product + '/' + stream:<28} {label:<5} {reads[0].rows:>9,} "
                f"{spread([r.rows_per_s for r in reads]):>24} {spread([r.rows_per_cpu_s for r in reads]):>28} "
                f"{spread([r.rss_mb for r in reads]):>22}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
