"""What one ``meltano run tap-salesforce target-xlr8-truths`` (BATCH, as meltano.yml configures it) costs Meltano
itself, apart from the plugins: Meltano's own CPU split into importing its CLI, reading meltano.yml and resolving
the plugins' settings, beside the CPU of the processes it started (catalog discovery, tap, target).

Runs ``--runs`` times in ONE copy of the project (run 0 creates the system database; every run has its own state id,
so every run reads the whole stream). ``--cacheable-catalog`` drops ``-e`` from the extractor's pip_url in the copy:
Meltano caches a discovered catalog only for plugins not installed editable, and then skips discovery on later runs.

Each run also prints where its wall time went (``timeline``): the seconds between moments its log shows (Meltano
imported, project loaded, job started, discovery, the tap syncing, the target's first file, the tap done, the
target's last read, state saved, the target's summary, run completed, exit).

``--batch-sizes 5000,10000`` alternates the extractor's ``batch_config.batch_size`` (records per BATCH file) run by run
in the same copy and sandbox (A B A B ...; run 0 of a fresh sandbox also warms the emulator), each run into an
empty store (so each lands every row), and ends with each size's median [min-max] and the per-round ratio to the
first size.

Usage: uv run python bench/meltano_cost.py [--stream accounts] [--scale 2000] [--runs 3] [--cacheable-catalog]
       [--batch-sizes N,M]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ceilings
from run import ROOT, SANDBOX_PROJECT_ID, TARGET, child_env, meltano_project_copy, rows_in_store

#: Run in the meltano process: times the phases in process CPU and writes them (and the children's CPU) at exit.
PROBE = """
import atexit, json, os, resource, sys, time
cpu = time.process_time
phases = {}
started = cpu()
from meltano.cli import main
phases["import meltano.cli"] = cpu() - started
import meltano.core.yaml as meltano_yaml
from meltano.core.settings_service import SettingsService
depth = [0]
def timed(owner, name, phase):
    original = getattr(owner, name)
    def call(*args, **kwargs):
        if depth[0]:
            return original(*args, **kwargs)
        depth[0] += 1
        began = cpu()
        try:
            return original(*args, **kwargs)
        finally:
            depth[0] -= 1
            phases[phase] = phases.get(phase, 0.0) + cpu() - began
    setattr(owner, name, call)
timed(meltano_yaml, "load", "meltano.yml")
timed(SettingsService, "config_with_metadata", "settings")
timed(SettingsService, "get_with_metadata", "settings")
def report():
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    phases["meltano total"] = own.ru_utime + own.ru_stime
    phases["children"] = children.ru_utime + children.ru_stime
    with open(os.environ["XLR8_MELTANO_COST_OUT"], "w") as out:
        json.dump(phases, out)
atexit.register(report)
sys.argv = ["meltano", *sys.argv[1:]]
main()
"""


#: Moments of one run, in the order they happen, found in its log (Meltano's own lines and the plugins' relayed
#: ones, each with Meltano's UTC timestamp): the phases between them are where the run's wall time goes.
MOMENTS: list[tuple[str, str]] = [
    ("meltano imported", r"meltano +Meltano \d"),
    ("project loaded", r"meltano +Environment '"),
    ("job started", r"meltano +Running job"),
    ("discovery started", r"meltano +Running catalog discovery"),
    ("tap started syncing", r"Beginning sync of"),
    ("target up", r"target-xlr8-truths +target-xlr8-truths v"),
    ("first file loaded", r"target-xlr8-truths +BATCH file loaded"),
    ("tap done", r'"metric":"sync_duration"'),
    ("target read all", r"target-xlr8-truths +Reader .* completed processing"),
    ("state saved", r"meltano +Incremental state has been updated"),
    ("target summary", r"target-xlr8-truths +target-xlr8-truths run summary"),
    ("run completed", r"meltano +Run completed"),
]


def timeline(log: str, started: float, ended: float) -> str:
    """Seconds between the run's moments (``MOMENTS``): from the process start to the first, ..., to the exit."""
    import datetime as dt
    import re

    seen: dict[str, float] = {}
    for line in log.splitlines():
        stamp = re.match(r"(\d{4}-\d\d-\d\dT[\d:.]+)Z", line)
        if not stamp:
            continue
        for name, pattern in MOMENTS:
            if name not in seen and re.search(pattern, line):
                seen[name] = dt.datetime.fromisoformat(stamp.group(1)).replace(tzinfo=dt.UTC).timestamp()
    parts, last = [], started
    for name, _ in MOMENTS:
        if name in seen:
            parts.append(f"{name} +{seen[name] - last:.2f}")
            last = seen[name]
    parts.append(f"exit +{ended - last:.2f}")
    return ", ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stream", default="accounts")
    parser.add_argument("--scale", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cacheable-catalog", action="store_true")
    parser.add_argument("--batch-sizes", default="", help="comma-separated records per BATCH file, alternated")
    args = parser.parse_args()
    sizes = [int(size) for size in args.batch_sizes.split(",") if size.strip()] or [0]

    from xlr8_sandbox.platform.server import run_sandbox

    module = ceilings.load("salesforce")
    stream = ceilings.resolve_stream(module, args.stream)
    tap = module.TAP
    with (
        tempfile.TemporaryDirectory(prefix="xlr8-meltano-cost-") as tmp,
        run_sandbox(["salesforce"], seed=42, scale=args.scale, fixed_ports=True, port_wait=600),
    ):
        work = Path(tmp)
        project = meltano_project_copy(work, "project", batch=True)
        if args.cacheable_catalog:
            editable = f"pip_url: -e ./shared -e ./taps/{tap}\n"
            text = (project / "meltano.yml").read_text()
            if editable not in text:
                raise SystemExit(f"meltano.yml has no {editable.strip()!r}")
            (project / "meltano.yml").write_text(text.replace(editable, f"pip_url: ./shared ./taps/{tap}\n"))
            from xlr8_kit.testing.meltano_e2e import link_workspace_venvs

            link_workspace_venvs(project, project / ".meltano")  # the install fingerprint follows the pip_url
        (work / "probe.py").write_text(PROBE)
        store = project / "truths.duckdb"
        env = {k: v for k, v in child_env().items() if not k.startswith(("MELTANO_", "TAP_", "TARGET_"))}
        env[f"{tap.upper().replace('-', '_')}__SELECT"] = json.dumps([f"{stream}.*"])
        env["TARGET_XLR8_TRUTHS_DUCKDB_PATH"] = str(store)
        env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
        env["XLR8_MELTANO_COST_OUT"] = str(work / "phases.json")
        print(f"meltano run {tap} {TARGET}, {stream}, sandbox scale {args.scale}, one project ({ROOT.name})")
        figures: dict[int, list[tuple[float, float, float]]] = {size: [] for size in sizes}
        for run_no, size in ((run_no, size) for run_no in range(args.runs) for size in sizes):
            if size:
                set_batch_size(project / "meltano.yml", tap, size)
                for stale in (store, store.with_name(store.name + ".wal")):
                    stale.unlink(missing_ok=True)
            command = [sys.executable, str(work / "probe.py"), "--environment=sandbox", "run"]
            command += ["--state-id-suffix", f"cost{run_no}-{size}", tap, TARGET]
            started, epoch = time.perf_counter(), time.time()
            done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, check=False)
            wall = time.perf_counter() - started
            if done.returncode:
                print(done.stderr[-3000:])
                return 1
            phases = json.loads((work / "phases.json").read_text())
            discovered = "Running catalog discovery" in done.stderr + done.stdout
            landed = rows_in_store(store, SANDBOX_PROJECT_ID)
            split = ", ".join(f"{k} {v:.2f}" for k, v in phases.items())
            label = f"batch_size {size}, " if size else ""
            print(f"  run {run_no}: {label}wall {wall:.2f} s; CPU s: {split}; discovery {discovered}; rows {landed}")
            print(f"    wall s: {timeline(done.stderr + done.stdout, epoch, epoch + wall)}")
            figures[size].append((wall, phases["meltano total"], phases["children"]))
        if len(sizes) > 1:
            summarize(figures)
    return 0


def set_batch_size(meltano_yml: Path, tap: str, size: int) -> None:
    """The extractor's ``batch_config.batch_size`` in the copy's meltano.yml."""
    import yaml

    data = yaml.safe_load(meltano_yml.read_text())
    plugin = next(p for p in data["plugins"]["extractors"] if p["name"] == tap)
    plugin["config"]["batch_config"]["batch_size"] = size
    meltano_yml.write_text(yaml.safe_dump(data, sort_keys=False))


def summarize(figures: dict[int, list[tuple[float, float, float]]]) -> None:
    """Each size's median [min-max] of wall and CPU (Meltano + its children), and the per-round ratio to the first."""
    import statistics

    def spread(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"

    first = next(iter(figures.values()))
    for size, runs in figures.items():
        walls, cpus = [w for w, _, _ in runs], [m + c for _, m, c in runs]
        ratios = [w / f[0] for (w, _, _), f in zip(runs, first, strict=False)]
        cpu_ratios = [(m + c) / (f[1] + f[2]) for (_, m, c), f in zip(runs, first, strict=False)]
        print(
            f"  batch_size {size}: wall {spread(walls)} s, CPU {spread(cpus)} s; per round / first size: "
            f"wall {spread(ratios)}, CPU {spread(cpu_ratios)}"
        )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
