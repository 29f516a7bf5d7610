"""Two builds of one tap, A/B, against one warm emulator, with the ceiling reader timed beside them.

    uv run python bench/ab_builds.py PRODUCT STREAM SCALE PAIRS OLD_BIN_DIR NEW_BIN_DIR

``*_BIN_DIR`` are the ``bin`` directories of two virtualenvs (e.g. an older commit exported with ``git worktree add``
and ``uv sync --frozen --all-packages``). Both builds and the ceiling read once untimed (the emulator caches what
it rendered), then each round runs old, new, ceiling. Prints one line: records/s median [min-max] and µs CPU per
record (user + sys of the tap process, start-up included) for both builds, each as a share of the ceiling, and the
median per-round CPU ratio new/old. The record counts of the two builds must match.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import ceilings
from run import child_env, measure_ceiling, write_catalog


def _run(command: list[str]) -> tuple[int, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, env=child_env(), check=False)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(done.stderr.decode(errors="replace")[-2000:])
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    records = done.stdout.count(b'"type":"RECORD"') + done.stdout.count(b'"type": "RECORD"')
    return records, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main(argv: list[str]) -> int:
    from xlr8_sandbox.platform.server import run_sandbox

    product, alias, scale, pairs, old_bin, new_bin = argv[0], argv[1], int(argv[2]), int(argv[3]), argv[4], argv[5]
    module = ceilings.load(product)
    stream = ceilings.resolve_stream(module, alias)
    with tempfile.TemporaryDirectory() as tmp, run_sandbox([product], seed=42, scale=scale) as sandbox:
        workdir = Path(tmp)
        url, credentials = sandbox.url(product), sandbox.emulator(product).test_credentials()
        config = workdir / "tap.json"
        config.write_text(json.dumps(module.tap_config(url, credentials, stream)))
        catalog = write_catalog(module.TAP, config, stream, workdir)
        commands = [
            [f"{bin_dir}/{module.TAP}", "--config", str(config), "--catalog", str(catalog)]
            for bin_dir in (old_bin, new_bin)
        ]
        _run(commands[1])
        measure_ceiling(product, url, credentials, stream)
        runs: dict[str, list[tuple[int, float, float]]] = {"old": [], "new": []}
        ceiling_rates = []
        for _ in range(pairs):
            runs["old"].append(_run(commands[0]))
            runs["new"].append(_run(commands[1]))
            ceiling = measure_ceiling(product, url, credentials, stream)
            ceiling_rates.append(ceiling.records / ceiling.wall_s)
    records = runs["new"][0][0]
    if {r[0] for r in runs["old"] + runs["new"]} != {records}:
        raise SystemExit(f"record counts differ: {[r[0] for r in runs['old'] + runs['new']]}")
    ceiling_rate = statistics.median(ceiling_rates)
    parts = [f"{product}:{stream} n={records} pairs={pairs} ceiling {ceiling_rate:,.0f} rec/s"]
    for name in ("old", "new"):
        rates = [n / wall for n, _, wall in runs[name]]
        cpu = statistics.median(c for _, c, _ in runs[name]) / records * 1e6
        rate = statistics.median(rates)
        parts.append(
            f"{name} {rate:,.0f} [{min(rates):,.0f}-{max(rates):,.0f}] rec/s {cpu:.1f} us/rec "
            f"({rate / ceiling_rate:.2f} x ceil)"
        )
    ratio = statistics.median(runs["new"][i][1] / runs["old"][i][1] for i in range(pairs))
    print(" | ".join(parts) + f" | cpu new/old {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
