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

``--base-root /work/base-sNN`` runs the same job from a second tree (its meltano.yml, lock files and venv: the old
side of an A/B) in its own project copy beside this tree's, alternating old, new, old, new (``--runs`` pairs, after
one untimed run per side that warms the emulator for both), and ends with each side's median [min-max] of wall,
records/s and CPU (Meltano + its children) and the per-pair ratios new/old.

Each run also splits its wall into Meltano's start (to the tap's sync process spawned; discovery included), the sync
(to the run's end: the tap, the target, Meltano relaying and saving their STATE) and Meltano's exit (the run's end to
the process's), from marks the probe sets around Meltano's own functions.

Usage: uv run python bench/meltano_cost.py [--stream accounts] [--scale 2000] [--runs 3] [--cacheable-catalog]
       [--batch-sizes N,M] [--base-root DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
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
epoch = float(os.environ["XLR8_MELTANO_COST_EPOCH"])
marks = {}
def mark(name):
    marks[name] = time.time() - epoch
from meltano.core.plugin_invoker import PluginInvoker
from meltano.core.block.extract_load import ExtractLoadBlocks
from meltano.core.plugin.singer.tap import SingerTap
def spawned(original):
    async def call(self, *args, **kwargs):
        handle = await original(self, *args, **kwargs)
        if not args:  # a sync process (discovery passes --discover)
            mark(f"{self.plugin.type} spawned")
        return handle
    return call
PluginInvoker.invoke_async = spawned(PluginInvoker.invoke_async)
def around(owner, name, label):
    original = getattr(owner, name)
    async def call(*args, **kwargs):
        mark(f"{label} started")
        try:
            return await original(*args, **kwargs)
        finally:
            mark(f"{label} ended")
    setattr(owner, name, call)
around(SingerTap, "run_discovery", "discovery")
around(ExtractLoadBlocks, "run", "run")
def report():
    mark("atexit")
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    phases["meltano total"] = own.ru_utime + own.ru_stime
    phases["children"] = children.ru_utime + children.ru_stime
    with open(os.environ["XLR8_MELTANO_COST_OUT"], "w") as out:
        json.dump({"cpu": phases, "marks": marks}, out)
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
    ("state saved", r"meltano +Incremental state has been updated"),  # the last one: STATE is relayed per file
    ("target summary", r"target-xlr8-truths +target-xlr8-truths run summary"),
    ("run completed", r"meltano +Run completed"),
]


#: Moments that happen many times in a run, timed at their last occurrence.
LAST_OF_MANY = {"state saved"}


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
            if (name not in seen or name in LAST_OF_MANY) and re.search(pattern, line):
                seen[name] = dt.datetime.fromisoformat(stamp.group(1)).replace(tzinfo=dt.UTC).timestamp()
    parts, last = [], started
    for name, moment in sorted(seen.items(), key=lambda item: item[1]):
        parts.append(f"{name} +{moment - last:.2f}")
        last = moment
    parts.append(f"exit +{ended - last:.2f}")
    return ", ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stream", default="accounts")
    parser.add_argument("--scale", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cacheable-catalog", action="store_true")
    parser.add_argument("--batch-sizes", default="", help="comma-separated records per BATCH file, alternated")
    parser.add_argument("--base-root", type=Path, help="a second tree (the old side): alternate its runs with ours")
    args = parser.parse_args()
    sizes = [int(size) for size in args.batch_sizes.split(",") if size.strip()] or [0]
    if args.base_root and sizes != [0]:
        raise SystemExit("--base-root and --batch-sizes are separate studies: choose one")

    from xlr8_sandbox.platform.server import run_sandbox

    module = ceilings.load("salesforce")
    stream = ceilings.resolve_stream(module, args.stream)
    tap = module.TAP
    with (
        tempfile.TemporaryDirectory(prefix="xlr8-meltano-cost-") as tmp,
        run_sandbox(["salesforce"], seed=42, scale=args.scale, fixed_ports=True, port_wait=600),
    ):
        work = Path(tmp)
        (work / "probe.py").write_text(PROBE)
        if args.base_root:
            old = Side("old", args.base_root, work, tap, stream, cacheable=args.cacheable_catalog)
            new = Side("new", ROOT, work, tap, stream, cacheable=args.cacheable_catalog)
            print(f"meltano run {tap} {TARGET}, {stream}, sandbox scale {args.scale}: {old.root} (old) / {ROOT} (new)")
            for side in (old, new):
                side.run(work, "warm", quiet=True)  # untimed: the emulator's first read, the system db created
            for run_no in range(args.runs):
                for side in (old, new):
                    side.run(work, str(run_no))
            compare(old, new)
            return 0
        side = Side("", ROOT, work, tap, stream, cacheable=args.cacheable_catalog)
        print(f"meltano run {tap} {TARGET}, {stream}, sandbox scale {args.scale}, one project ({ROOT.name})")
        figures: dict[int, list[tuple[float, float, float]]] = {size: [] for size in sizes}
        for run_no, size in ((run_no, size) for run_no in range(args.runs) for size in sizes):
            if size:
                set_batch_size(side.project / "meltano.yml", tap, size)
                for stale in (side.store, side.store.with_name(side.store.name + ".wal")):
                    stale.unlink(missing_ok=True)
            run = side.run(work, f"{run_no}-{size}", label=f"run {run_no}: " + (f"batch_size {size}, " if size else ""))
            figures[size].append((run.wall, run.cpu["meltano total"], run.cpu["children"]))
        if len(sizes) > 1:
            summarize(figures)
    return 0


@dataclass
class Run:
    wall: float
    rows: int
    cpu: dict[str, float]
    steps: dict[str, float]


class Side:
    """One tree's project copy (its meltano.yml, lock files and venv) and its runs."""

    def __init__(self, label: str, root: Path, work: Path, tap: str, stream: str, *, cacheable: bool) -> None:
        self.label, self.root, self.tap = label, root.resolve(), tap
        self.python = sys.executable if self.root == ROOT else str(self.root / ".venv" / "bin" / "python")
        self.project = meltano_project_copy(work, f"project-{label or 'this'}", batch=True, root=self.root)
        if cacheable:
            editable = f"pip_url: -e ./shared -e ./taps/{tap}\n"
            text = (self.project / "meltano.yml").read_text()
            if editable not in text:
                raise SystemExit(f"meltano.yml has no {editable.strip()!r}")
            (self.project / "meltano.yml").write_text(text.replace(editable, f"pip_url: ./shared ./taps/{tap}\n"))
            from xlr8_kit.testing.meltano_e2e import link_workspace_venvs

            venv = None if self.root == ROOT else self.root / ".venv"
            link_workspace_venvs(self.project, self.project / ".meltano", venv=venv)  # the fingerprint follows pip_url
        self.store = self.project / "truths.duckdb"
        env = {k: v for k, v in child_env().items() if not k.startswith(("MELTANO_", "TAP_", "TARGET_"))}
        env["PATH"] = f"{Path(self.python).parent}{os.pathsep}{env.get('PATH', '')}"
        env[f"{tap.upper().replace('-', '_')}__SELECT"] = json.dumps([f"{stream}.*"])
        env["TARGET_XLR8_TRUTHS_DUCKDB_PATH"] = str(self.store)
        env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
        env["XLR8_MELTANO_COST_OUT"] = str(work / "phases.json")
        self.env = env
        self.runs: list[Run] = []

    def run(self, work: Path, suffix: str, *, label: str = "", quiet: bool = False) -> Run:
        """One ``meltano run`` with its own state id (so it reads the whole stream); prints its figures and
        timeline unless ``quiet``, and keeps them unless it is the untimed warm-up."""
        command = [self.python, str(work / "probe.py"), "--environment=sandbox", "run"]
        command += ["--state-id-suffix", f"cost{self.label}{suffix}", self.tap, TARGET]
        epoch = time.time()
        self.env["XLR8_MELTANO_COST_EPOCH"] = repr(epoch)
        started = time.perf_counter()
        done = subprocess.run(command, cwd=self.project, env=self.env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        if done.returncode:
            raise SystemExit(f"{self.root}: meltano run failed ({done.returncode}):\n{done.stderr[-3000:]}")
        probe = json.loads((work / "phases.json").read_text())
        cpu, marks = probe["cpu"], probe["marks"]
        log = done.stderr + done.stdout
        run = Run(wall, rows_in_store(self.store, SANDBOX_PROJECT_ID), cpu, meltano_steps(marks, wall))
        if quiet:
            return run
        self.runs.append(run)
        discovered = "Running catalog discovery" in log
        split = ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())
        steps = ", ".join(f"{k} {v:.2f}" for k, v in run.steps.items())
        head = label or (f"{self.label} run {suffix}: " if self.label else f"run {suffix}: ")
        print(f"  {head}wall {wall:.2f} s; CPU s: {split}; discovery {discovered}; rows {run.rows}")
        print(f"    wall s: {steps}")
        print(f"    log moments, s: {timeline(log, epoch, epoch + wall)}")
        return run


def meltano_steps(marks: dict[str, float], wall: float) -> dict[str, float]:
    """Meltano's start (to the tap's sync process spawned, discovery included), the sync (to the run's end) and
    Meltano's exit (the run's end to the process's), with discovery's own part of the start."""
    steps = {"start": marks["extractors spawned"], "sync": marks["run ended"] - marks["extractors spawned"]}
    steps["exit"] = wall - marks["run ended"]
    if "discovery ended" in marks:
        steps["of the start, discovery"] = marks["discovery ended"] - marks["discovery started"]
    return steps


def compare(old: Side, new: Side) -> None:
    """Each side's median [min-max] and the per-pair ratios new/old (pairs in the order they ran)."""
    import statistics

    def spread(values: list[float], digits: int = 2) -> str:
        return f"{statistics.median(values):,.{digits}f} [{min(values):,.{digits}f}-{max(values):,.{digits}f}]"

    measures = {
        "wall s": lambda r: r.wall,
        "records/s": lambda r: r.rows / r.wall,
        "CPU s (Meltano + children)": lambda r: r.cpu["meltano total"] + r.cpu["children"],
        "Meltano CPU s": lambda r: r.cpu["meltano total"],
        "children CPU s": lambda r: r.cpu["children"],
        "start s": lambda r: r.steps["start"],
        "sync s": lambda r: r.steps["sync"],
        "exit s": lambda r: r.steps["exit"],
    }
    print(
        f"  n = {len(new.runs)} pairs, median [min-max]; rows landed old {[r.rows for r in old.runs]}, new "
        f"{[r.rows for r in new.runs]}"
    )
    for name, measure in measures.items():
        olds, news = [measure(r) for r in old.runs], [measure(r) for r in new.runs]
        ratios = [n / o for o, n in zip(olds, news, strict=True)]
        digits = 0 if name == "records/s" else 2
        print(
            f"  {name}: old {spread(olds, digits)}, new {spread(news, digits)}, new/old per pair "
            f"{', '.join(f'{r:.2f}' for r in ratios)}"
        )


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
