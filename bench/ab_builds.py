"""Two builds of one tap, A/B, against one warm emulator, with the ceiling reader timed beside them.

    uv run python bench/ab_builds.py PRODUCT STREAM SCALE PAIRS OLD_BIN_DIR NEW_BIN_DIR

``*_BIN_DIR`` are the ``bin`` directories of two virtualenvs (e.g. an older commit exported with ``git worktree add``
and ``uv sync --frozen --all-packages``). Both builds and the ceiling read once untimed (the emulator caches what
it rendered), then each round runs old, new, ceiling. Prints one line: records/s median [min-max] and µs CPU per
record (user + sys of the tap process, start-up included) for both builds, each as a share of the ceiling, and the
median per-round CPU ratio new/old; the ceiling's CPU per record too (its child process, user + sys), and each
build's CPU per record as a multiple of it (what a loaded machine's wall rates cannot say). The record counts of
the two builds must match.

    uv run python bench/ab_builds.py PRODUCT STREAM SCALE PAIRS OLD_BIN_DIR NEW_BIN_DIR --latency-ms 0,100

The latency line (issue 14 goal 5): each round runs both builds at every listed latency (added by the emulator to
every request, on the same warm emulator, each build read once untimed at every latency first: Oracle's keyset read
asks for other pages once latency shows); one line per latency, then each build's rate at the last latency as a
share of its rate at the first (median of the per-round ratios [min-max]). The ceiling runs at the first latency.
``--config '{"max_concurrent_requests": 8}'`` merges settings into both builds' tap config; ``--config-old JSON``
into the old build's only (one build against itself: ``--config-old '{"max_concurrent_requests": 1}'`` compares
window 1 with the build's default).

``--warm-config JSON``: before timing, each build reads once more with these settings merged, untimed: the
emulators cache pages per URL, so a build whose reads depend on what it measured (Oracle's one cursor until latency
shows, then ranges) is timed on a warm emulator only once every URL it may ask for was asked (``'{"max_concurrent_
requests": 1}'``: the one-cursor pages; the default settings warm the ranges').

``--per-round`` also prints every round's runs (wall s, CPU s user + sys, rec/s, old then new at each latency), the
per-pair ratios a loaded machine needs beside the medians, and each run's requests from the emulator's log: how many,
and the span from the first one's arrival to the last one's (a read's serial requests: at 100 ms a round trip more
or less shows there whatever the CPU load, which a loaded machine's wall time hides).

``--slow-body``: each listed latency comes between an answer's headers and its body (a ``slow_body`` fault on
every request of the product) instead of before the answer: a tenant far away whose bodies arrive slowly, or one
that streams its rows as its database reads them (ora27: Oracle's judges took such a body for the page's cost).

``--bulk-job-s S`` (Salesforce): Bulk API 2.0 jobs run S seconds after their creation (the emulator's
``bulk_job_seconds``), to see how a poll schedule fares on jobs of other lengths.

``--cut-children-every N`` (Oracle HCM ``workers``): every Nth worker has 30 emails (the emulator's bench knob
``cut_children_every``), so under framework 3+ its expanded ``emails`` is cut at 25 rows (``hasMore``) and each build
reads it whole from the worker's own URL (a link query and child pages per such worker on the base build).

``--count-stall-s S`` (Salesforce): every ``SELECT COUNT() FROM <object>`` request (the ranged REST read's plan, a
read from the start) is answered S seconds late, as a huge object's COUNT() can be; the other requests are not.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import ceilings
from run import child_env, measure_ceiling, write_catalog


def _run(command: list[str], log: t.Any = None) -> tuple[int, float, float]:
    if log is not None:
        log.clear()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, env=child_env(), check=False)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(done.stderr.decode(errors="replace")[-2000:])
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    records = done.stdout.count(b'"type":"RECORD"') + done.stdout.count(b'"type": "RECORD"')
    return records, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def _requests(log: t.Any, product: str) -> str:
    """The last run's requests: how many, and the span from the first one's arrival to the last one's."""
    arrivals = sorted(e.arrived_at for e in log.entries(product))
    return f"{len(arrivals)} req {arrivals[-1] - arrivals[0]:.3f} s" if arrivals else "0 req"


def _extra_config(argv: list[str], flag: str = "--config") -> dict[str, object]:
    if flag not in argv:
        return {}
    extra = json.loads(argv[argv.index(flag) + 1])
    if not isinstance(extra, dict):
        raise SystemExit("--config takes a JSON object")
    return extra


def _latencies(argv: list[str]) -> list[float]:
    if "--latency-ms" not in argv:
        return [0.0]
    return [float(v) for v in argv[argv.index("--latency-ms") + 1].split(",")]


def _count_stall(argv: list[str]) -> float:
    return float(argv[argv.index("--count-stall-s") + 1]) if "--count-stall-s" in argv else 0.0


def _delay(sandbox: t.Any, product: str, ms: float, argv: list[str], rules: list[t.Any]) -> None:
    """``ms`` added to every request of ``product``: before its answer (the emulator's latency), or with
    ``--slow-body`` between its headers and its body."""
    from xlr8_sandbox.platform.faults import FaultSpec

    if "--slow-body" not in argv:
        sandbox.ctx.faults.set_latency(product, ms)
        return
    for rule in rules:
        sandbox.ctx.faults.remove(rule.rule_id)
    rules.clear()
    if ms:
        rules.append(sandbox.ctx.faults.add(product, "*", FaultSpec(kind="slow_body", seconds=ms / 1000)))


def main(argv: list[str]) -> int:
    from xlr8_sandbox.platform.faults import FaultSpec
    from xlr8_sandbox.platform.server import run_sandbox

    product, alias, scale, pairs, old_bin, new_bin = argv[0], argv[1], int(argv[2]), int(argv[3]), argv[4], argv[5]
    latencies = _latencies(argv)
    module = ceilings.load(product)
    stream = ceilings.resolve_stream(module, alias)
    with tempfile.TemporaryDirectory() as tmp, run_sandbox([product], seed=42, scale=scale) as sandbox:
        workdir = Path(tmp)
        url, credentials = sandbox.url(product), sandbox.emulator(product).test_credentials()
        config = workdir / "tap.json"
        config.write_text(json.dumps({**module.tap_config(url, credentials, stream), **_extra_config(argv)}))
        old_config = workdir / "tap-old.json"
        old_config.write_text(json.dumps({**json.loads(config.read_text()), **_extra_config(argv, "--config-old")}))
        catalog = write_catalog(module.TAP, config, stream, workdir)
        if "--bulk-job-s" in argv:
            from xlr8_sandbox.products.salesforce import SalesforceEmulator

            emulator = sandbox.emulator(product)
            assert isinstance(emulator, SalesforceEmulator), "--bulk-job-s is for salesforce"
            emulator.bulk_job_seconds = float(argv[argv.index("--bulk-job-s") + 1])
        if "--cut-children-every" in argv:
            from xlr8_sandbox.products.oracle_fusion.hcm import OracleHcmEmulator

            hcm = sandbox.emulator(product)
            assert isinstance(hcm, OracleHcmEmulator), "--cut-children-every is for oracle_hcm"
            hcm.set_cut_children_every(int(argv[argv.index("--cut-children-every") + 1]))
        if stall := _count_stall(argv):
            count = {"q": f"SELECT COUNT() FROM {stream}"}
            sandbox.ctx.faults.add(product, "*/query*", FaultSpec(kind="stall", seconds=stall, query=count))
        commands = [
            [f"{bin_dir}/{module.TAP}", "--config", str(path), "--catalog", str(catalog)]
            for bin_dir, path in ((old_bin, old_config), (new_bin, config))
        ]
        delays: list[t.Any] = []  # the slow_body rules in force (``--slow-body``)
        for latency in reversed(latencies):  # at every latency: what a build asks for may depend on it
            _delay(sandbox, product, latency, argv, delays)
            if latencies != [0.0]:
                _run(commands[0])  # both builds' request shapes warm (a window may ask for pages past the end)
            _run(commands[1])
        if "--warm-config" in argv:  # both builds once more, untimed, with these settings (other request shapes)
            for name, path in (("old", old_config), ("new", config)):
                warm = workdir / f"tap-{name}-warm.json"
                warm.write_text(json.dumps({**json.loads(path.read_text()), **_extra_config(argv, "--warm-config")}))
                _run([f"{old_bin if name == 'old' else new_bin}/{module.TAP}", "--config", str(warm), "--catalog",
                      str(catalog)])  # fmt: skip
        measure_ceiling(product, url, credentials, stream)
        runs: dict[tuple[str, float], list[tuple[int, float, float]]] = {}
        spans: dict[tuple[str, float, int], str] = {}
        log = sandbox.ctx.requests
        ceiling_rates = []
        ceiling_cpus: list[float] = []  # CPU s a record of the ceiling child (user + sys, start-up included)
        for i in range(pairs):
            for latency in latencies:
                _delay(sandbox, product, latency, argv, delays)
                for name, command in zip(("old", "new"), commands, strict=True):
                    runs.setdefault((name, latency), []).append(_run(command, log))
                    spans[(name, latency, i)] = _requests(log, product)
            _delay(sandbox, product, latencies[0], argv, delays)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            ceiling = measure_ceiling(product, url, credentials, stream)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            ceiling_rates.append(ceiling.records / ceiling.wall_s)
            ceiling_cpus.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) / ceiling.records)
    records = runs[("new", latencies[0])][0][0]
    counts = {r[0] for measured in runs.values() for r in measured}
    if counts != {records}:
        raise SystemExit(f"record counts differ: {sorted(counts)}")
    ceiling_rate = statistics.median(ceiling_rates)
    for latency in latencies:
        parts = [f"{product}:{stream} n={records} pairs={pairs}"]
        if latencies != [0.0]:
            parts[0] += f" latency {latency:g} ms"
        ceiling_cpu = statistics.median(ceiling_cpus) * 1e6
        if latency == latencies[0]:
            parts[0] += f" ceiling {ceiling_rate:,.0f} rec/s {ceiling_cpu:.1f} us/rec"
        for name in ("old", "new"):
            measured = runs[(name, latency)]
            rates = [n / wall for n, _, wall in measured]
            cpu = statistics.median(c for _, c, _ in measured) / records * 1e6
            rate = statistics.median(rates)
            parts.append(
                f"{name} {rate:,.0f} [{min(rates):,.0f}-{max(rates):,.0f}] rec/s {cpu:.1f} us/rec "
                f"({rate / ceiling_rate:.2f} x ceil, CPU {cpu / ceiling_cpu:.2f} x ceil's)"
            )
        old, new = runs[("old", latency)], runs[("new", latency)]
        ratio = statistics.median(new[i][1] / old[i][1] for i in range(pairs))
        print(" | ".join(parts) + f" | cpu new/old {ratio:.2f}")
    if len(latencies) > 1:
        first, last = latencies[0], latencies[-1]
        parts = [f"{product}:{stream} rate at {last:g} ms / rate at {first:g} ms (per round)"]
        for name in ("old", "new"):
            shares = [
                (n1 / w1) / (n0 / w0)
                for (n0, _, w0), (n1, _, w1) in zip(runs[(name, first)], runs[(name, last)], strict=True)
            ]
            parts.append(f"{name} {statistics.median(shares):.2f} [{min(shares):.2f}-{max(shares):.2f}]")
        print(" | ".join(parts))
    if "--per-round" in argv:
        for i in range(pairs):
            cells = []
            for latency in latencies:
                for name in ("old", "new"):
                    n, cpu_s, wall = runs[(name, latency)][i]
                    cells.append(
                        f"{name} {latency:g} ms {wall:.2f} s cpu {cpu_s:.2f} s {n / wall:,.0f} rec/s "
                        f"({spans[(name, latency, i)]})"
                    )
            print(f"round {i + 1}: " + " | ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
