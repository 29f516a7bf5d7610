"""Seeded generators an emulator makes per row it serves on a cold read, by kind: where cold CPU goes.

    uv run python bench/emulator_seeds.py --product ukg_wfm --stream timecards --scale 300
    XLR8_SANDBOX_FUSION_UNLISTED=1 uv run python bench/emulator_seeds.py --product oracle_erp --stream journalLines \
        --scale 10000

Seeding a record's Mersenne Twister is the floor of cold generation (``xlr8_sandbox.seeded``), so more than one
seed of a kind per row served (a parent rebuilt for every child row, a sort pass rebuilding what the page builds
again) is the first thing to look for. Serves one product in this process with ``SeedDigests`` wrapped to count
calls (kinds cut at their first ``:``), reads the stream once with its ceiling reader in a child process
(``bench/emulator_rate.py --read-child``) and prints rows, seeds per row and the main kinds. Figures only.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--product", required=True)
    parser.add_argument("--stream", required=True, help="as bench/emulator_rate.py takes it")
    parser.add_argument("--scale", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    sys.path.insert(0, str(BENCH))
    import ceilings  # bench/ on the path first, as emulator_rate.py does

    stream = ceilings.resolve_stream(ceilings.load(args.product), args.stream)  # an alias reads as emulator_rate's

    from xlr8_sandbox import seeded
    from xlr8_sandbox.platform.server import run_sandbox

    counts: collections.Counter[str] = collections.Counter()
    digest = seeded.SeedDigests.__call__

    def counted(self: seeded.SeedDigests, kind: str, i: int) -> int:
        counts[kind.split(":")[0]] += 1
        return digest(self, kind, i)

    seeded.SeedDigests.__call__ = counted  # type: ignore[method-assign]
    with run_sandbox([args.product], seed=args.seed, scale=args.scale) as sandbox:
        credentials: dict[str, Any] = sandbox.emulator(args.product).test_credentials()
        counts.clear()  # what starting the sandbox drew is not the read's
        found = subprocess.run(
            [sys.executable, str(BENCH / "emulator_rate.py"), "--read-child", args.product,
             sandbox.url(args.product), json.dumps(credentials), stream],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    if found.returncode != 0:
        print(found.stderr[-2000:], file=sys.stderr)
        return 1
    rows = int(found.stdout.strip())
    per_row = {kind: round(n / max(rows, 1), 2) for kind, n in counts.most_common(8)}
    total = sum(counts.values()) / max(rows, 1)
    print(f"{args.product}/{stream} scale {args.scale}: {rows:,} rows, {total:.2f} seeds a row {per_row}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
