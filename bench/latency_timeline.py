"""Where a tap's read waits at a given latency: its requests in flight over the run (issue 14 goal 5).

    uv run python bench/latency_timeline.py PRODUCT STREAM SCALE BIN_DIR [--latency-ms 100] [--runs 2]
        [--config JSON]

e.g. ``oracle_erp invoices 50000 .venv/bin``; ``XLR8_BENCH_SALESFORCE_API=rest salesforce accounts 100000
.venv/bin``. Starts one sandbox with the latency added to every request, runs the tap once untimed (warm), then
``--runs`` times, and prints for each run from the emulator's request log: records, wall and rate; when the first
request arrived and the last answer left (against the process's start and exit); the first requests (arrival ->
answer, path); requests in flight per 50 ms bucket (one digit each, A = 10, ...), and their mean over the span
from the first request to the last answer. A run of 1s, then 0s, at the start is a serial phase (describe, page 1,
a page emitted before the next request goes out); a tail of falling digits is the last ranges finishing; digits
below the tap's width in the middle are slots left idle (a reader parsing, waiting for a bound or for page budget,
or an emitter slower than the reads). Figures only: nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import ceilings
from run import child_env, write_catalog

BUCKET = 0.05


def in_flight(spans: list[tuple[float, float]], start: float, end: float) -> str:
    """Requests in flight at the middle of each ``BUCKET`` from ``start`` to ``end``, one character each."""
    digits = []
    at = start
    while at < end:
        middle = at + BUCKET / 2
        count = sum(1 for arrived, answered in spans if arrived <= middle < answered)
        digits.append(str(count) if count < 10 else chr(ord("A") + count - 10))
        at += BUCKET
    return "".join(digits)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("product")
    parser.add_argument("stream")
    parser.add_argument("scale", type=int)
    parser.add_argument("bin_dir")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--config", default="{}", help="settings merged into the tap's config (JSON object)")
    args = parser.parse_args(argv)

    from xlr8_sandbox.platform.server import run_sandbox

    module = ceilings.load(args.product)
    stream = ceilings.resolve_stream(module, args.stream)
    with tempfile.TemporaryDirectory() as tmp, run_sandbox([args.product], seed=42, scale=args.scale) as sandbox:
        workdir = Path(tmp)
        url, credentials = sandbox.url(args.product), sandbox.emulator(args.product).test_credentials()
        config = workdir / "tap.json"
        config.write_text(json.dumps({**module.tap_config(url, credentials, stream), **json.loads(args.config)}))
        catalog = write_catalog(module.TAP, config, stream, workdir)
        command = [f"{args.bin_dir}/{module.TAP}", "--config", str(config), "--catalog", str(catalog)]
        sandbox.ctx.faults.set_latency(args.product, args.latency_ms)
        subprocess.run(command, capture_output=True, env=child_env(), check=True)  # warm: pages rendered once
        for run in range(args.runs):
            sandbox.ctx.requests.clear()
            started = time.time()
            done = subprocess.run(command, capture_output=True, env=child_env(), check=True)
            ended = time.time()
            records = done.stdout.count(b'"type":"RECORD"') + done.stdout.count(b'"type": "RECORD"')
            logged = sorted(sandbox.ctx.requests.entries(args.product), key=lambda e: e.arrived_at)
            print(
                f"run {run}: {records:,} records, {ended - started:.2f} s, {records / (ended - started):,.0f} rec/s, "
                f"{len(logged)} requests at {args.latency_ms:g} ms"
            )
            if not logged:
                continue
            first, last = logged[0].arrived_at, max(e.at for e in logged)
            print(
                f"  first request {first - started:.2f} s after the start, last answer {last - started:.2f} s, "
                f"exit {ended - started:.2f} s"
            )
            for entry in logged[:6]:
                print(f"    {entry.arrived_at - started:6.3f} -> {entry.at - started:6.3f} s  {entry.path[-60:]}")
            spans = [(e.arrived_at, e.at) for e in logged]
            print(f"  in flight per {BUCKET * 1000:g} ms: {in_flight(spans, first, last)}")
            busy = sum(e.ms for e in logged) / 1000
            print(f"  mean in flight {busy / (last - first):.2f} over {last - first:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
