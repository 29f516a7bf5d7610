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

Each run also prints its own ``_truths_ledger`` counts (received, loaded, dead-lettered for its run id) beside the
records the tap emitted (its ``record_count`` metrics), and the bench exits when loaded + dead-lettered differs: the
table's rows and md5 are the whole store's, which the warm-up already filled, so they cannot show a run that lost rows.

Each run also splits its wall into Meltano's start (to the tap's sync process spawned; discovery included), the sync
(to the run's end: the tap, the target, Meltano relaying and saving their STATE) and Meltano's exit (the run's end to
the process's), from marks the probe sets around Meltano's own functions.

``--env SIDE:NAME=VALUE`` (repeatable; SIDE old, new or both) sets a variable for one side's runs, e.g. ``--env
both:PYTHONDONTWRITEBYTECODE=1 --env old:PYTHONPYCACHEPREFIX=/tmp/empty`` compares a tree installed without
bytecode (the old side's cached bytecode hidden) with one whose bootstrap compiled it, where no run writes any.

Usage: uv run python bench/meltano_cost.py [--stream accounts] [--scale 2000] [--runs 3] [--cacheable-catalog]
       [--batch-sizes N,M] [--base-root DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ceilings
from run import ROOT, SANDBOX_PROJECT_ID, TARGET, child_env, meltano_project_copy

#: ``py-spy record`` of a whole run (``--spy``): every process of the tree, 100 samples/s, raw (collapsed) stacks.
SPY_RECORD = ["record", "--subprocesses", "-r", "100", "-f", "raw"]

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
    parser.add_argument("--trace", action="store_true", help="print each run's BATCH files: written, loaded, STATE")
    parser.add_argument("--spy", type=Path, help="py-spy executable: record each timed run (raw stacks)")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="SIDE:NAME=VALUE",
        help="an environment variable for every run of one side (old, new, or both; after the bench's own)",
    )
    args = parser.parse_args()
    side_env = side_variables(args.env)
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
        options: dict[str, t.Any] = {"cacheable": args.cacheable_catalog, "trace": args.trace, "spy": args.spy}
        if args.base_root:
            old = Side("old", args.base_root, work, tap, stream, **options, extra_env=side_env["old"])
            new = Side("new", ROOT, work, tap, stream, **options, extra_env=side_env["new"])
            print(f"meltano run {tap} {TARGET}, {stream}, sandbox scale {args.scale}: {old.root} (old) / {ROOT} (new)")
            for side in (old, new):
                side.run(work, "warm", quiet=True)  # untimed: the emulator's first read, the system db created
            for run_no in range(args.runs):
                for side in (old, new):
                    side.run(work, str(run_no))
            compare(old, new)
            return 0
        side = Side("", ROOT, work, tap, stream, **options, extra_env=side_env["new"])
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
    peak_mb: float
    digest: str
    state: str
    ledger: tuple[int, int, int]  # this run's own _truths_ledger counts: received, loaded, dead-lettered
    emitted: int  # records the tap counted (its record_count metrics)


#: Columns the target sets per run (load times, run ids): left out of the landed rows' md5.
PER_RUN_COLUMNS = re.compile(r"^_sdc_|^_xlr8_|loaded_at$|run_id$|_at_load$")


def landed(store: Path) -> tuple[int, str]:
    """Rows in the store and the md5 of the stream table's non-encrypted columns in id order (the columns the target
    sets per run left out), to compare the rows two builds landed."""
    import duckdb

    with duckdb.connect(str(store), read_only=True) as conn:
        found = conn.execute(
            "SELECT table_name, row_count, encrypted_columns FROM _schema_metadata "
            "WHERE is_current AND LOWER(project) = ?",
            [SANDBOX_PROJECT_ID],
        ).fetchall()
        if len(found) != 1:
            return sum(int(row[1] or 0) for row in found), f"{len(found)} tables"
        table, rows, encrypted = found[0]
        hidden = set(json.loads(encrypted) if isinstance(encrypted, str) else (encrypted or []))
        names = [c[0] for c in conn.execute(f'DESCRIBE "{table}"').fetchall()]
        kept = [n for n in names if n not in hidden and not PER_RUN_COLUMNS.search(n)]
        order = "id" if "id" in names else kept[0]
        columns = ", ".join(f'"{n}"' for n in kept)
        lines = f'string_agg(to_json(struct_pack({columns}))::VARCHAR, chr(10) ORDER BY "{order}")'
        digest = conn.execute(f'SELECT md5({lines}) FROM "{table}"').fetchone()
    return int(rows or 0), str(digest[0] if digest else "")


def ledger_runs(store: Path) -> set[str]:
    """The run ids in the target's ``_truths_ledger`` (none before the store exists)."""
    import duckdb

    if not store.exists():
        return set()
    with duckdb.connect(str(store), read_only=True) as conn:
        return {str(row[0]) for row in conn.execute("SELECT DISTINCT run_id FROM _truths_ledger").fetchall()}


def run_ledger(store: Path, before: set[str]) -> tuple[str, tuple[int, int, int]]:
    """The one run id the target added to ``_truths_ledger`` since ``before`` and its rows received, loaded and
    dead-lettered: what this run landed (the table's row count and md5 are the whole store, which the untimed
    warm-up already filled)."""
    import duckdb

    with duckdb.connect(str(store), read_only=True) as conn:
        found = conn.execute(
            "SELECT run_id, sum(rows_received), sum(rows_loaded), sum(rows_dead_lettered) FROM _truths_ledger "
            "GROUP BY run_id"
        ).fetchall()
    new = [row for row in found if str(row[0]) not in before]
    if len(new) != 1:
        raise SystemExit(f"{store}: expected one new run in _truths_ledger, found {len(new)}")
    run_id, received, loaded, dead = new[0]
    return str(run_id), (int(received or 0), int(loaded or 0), int(dead or 0))


#: The SDK's record counter, as the tap logs it (one line per interval, each counting the records since the last).
RECORD_COUNT = re.compile(r'"metric": ?"record_count", ?"value": ?(\d+)')


def emitted_records(log: str) -> int:
    """Records the tap emitted, from its ``record_count`` metric lines (0 when it logged none)."""
    return sum(int(found.group(1)) for found in RECORD_COUNT.finditer(log))


def landed_by_run(store: Path, before: set[str], log: str, where: str) -> tuple[str, tuple[int, int, int], int]:
    """This run's run id, ledger counts (received, loaded, dead-lettered) and the records the tap emitted; exits the
    bench when the run did not land (or dead-letter) every record the tap emitted: a timed run that lost rows would
    otherwise hide behind the warm-up's, as the table's count and md5 are the whole store's (review21a Medium 2)."""
    run_id, ledger = run_ledger(store, before)
    emitted = emitted_records(log)
    received, loaded, dead = ledger
    if not emitted or received != emitted or loaded + dead != emitted:
        raise SystemExit(
            f"{where}: the tap emitted {emitted} records but this run's ledger ({run_id}) has received {received}, "
            f"loaded {loaded}, dead-lettered {dead}: rows were lost or not counted"
        )
    return run_id, ledger, emitted


def saved_state(project: Path, state_id: str) -> str:
    """The md5 of the completed STATE Meltano saved for ``state_id`` (its system database), to compare two builds'
    final bookmarks; "none" when it saved none."""
    import hashlib
    import sqlite3

    with contextlib.closing(sqlite3.connect(f"file:{project / '.meltano' / 'meltano.db'}?mode=ro", uri=True)) as db:
        found = db.execute("SELECT completed_state FROM state WHERE state_id LIKE ?", [f"%:{state_id}"]).fetchone()
    return hashlib.md5(found[0].encode()).hexdigest() if found and found[0] else "none"


class Sampler:
    """Every 50 ms while a run lasts: CPU seconds per process of its tree (Meltano, discovery, tap, target) and of
    this process (the emulators it serves, with the sampler itself), the tree's RSS (summed, and per role the largest
    single process: goal 4 is per process), and the BATCH files in the extractor's storage directory (when each
    appeared as a partial file and under its final name)."""

    def __init__(self, pid: int, batches: Path, epoch: float) -> None:
        import threading

        import psutil

        self.root, self.own = psutil.Process(pid), psutil.Process()
        self.batches, self.epoch = batches, epoch
        self.peak_mb = 0.0
        self.role_peak_mb: dict[str, float] = {}  # per role, the largest single process (goal 4 is per process)
        self.cpu: dict[int, tuple[str, float]] = {}  # pid -> (role, last CPU seconds seen)
        self.samples: list[tuple[float, dict[str, float]]] = []  # (time, CPU s per role so far)
        self.partial: dict[str, float] = {}
        self.written: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @staticmethod
    def role(cmdline: list[str]) -> str:
        text = " ".join(cmdline)
        if "py-spy" in text:
            return "profiler"
        if "target-xlr8-truths" in text and "probe.py" not in text:
            return "target"
        if "--discover" in text:
            return "discovery"
        if "tap-" in text and "probe.py" not in text:
            return "tap"
        return "meltano"

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            now = time.time() - self.epoch
            rss = 0
            with contextlib.suppress(psutil.Error):
                for proc in [self.root, *self.root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        times = proc.cpu_times()
                        one = proc.memory_info().rss
                        rss += one
                        role = self.cpu[proc.pid][0] if proc.pid in self.cpu else "meltano"
                        if role == "meltano":  # a child seen before its exec; the root (py-spy when --spy)
                            role = self.role(proc.cmdline())
                        self.cpu[proc.pid] = (role, times.user + times.system)
                        self.role_peak_mb[role] = max(self.role_peak_mb.get(role, 0.0), one / 1e6)
            own = self.own.cpu_times()
            per_role: dict[str, float] = {"emulator (this process)": own.user + own.system}
            for role, seconds in self.cpu.values():
                per_role[role] = per_role.get(role, 0.0) + seconds
            self.samples.append((now, per_role))
            self.peak_mb = max(self.peak_mb, rss / 1e6)
            with contextlib.suppress(OSError):
                for entry in os.scandir(self.batches):
                    name = entry.name
                    if name.endswith(".partial"):
                        self.partial.setdefault(name[1 : -len(".partial")], now)
                    else:
                        self.written.setdefault(name, now)
            self._stop.wait(0.05)


def _log_times(log: str, pattern: str) -> list[float]:
    """Meltano's UTC timestamps of the log lines matching ``pattern``, in order."""
    import datetime as dt

    found = []
    for line in log.splitlines():
        stamp = re.match(r"(\d{4}-\d\d-\d\dT[\d:.]+)Z", line)
        if stamp and re.search(pattern, line):
            found.append(dt.datetime.fromisoformat(stamp.group(1)).replace(tzinfo=dt.UTC).timestamp())
    return found


def files_timeline(log: str, sampler: Sampler, marks: dict[str, float]) -> str:
    """Per BATCH file, seconds since the tap's sync process was spawned: its partial file seen, its final name seen
    (written), the target's "loaded" line, Meltano's "state updated" line; then the target's idle start, the tail
    after the tap's last file, and each process's CPU while the tap ran and after."""
    epoch = sampler.epoch
    zero = marks["extractors spawned"]
    loads = [t - epoch - zero for t in _log_times(log, r"target-xlr8-truths +BATCH file loaded")]
    states = [t - epoch - zero for t in _log_times(log, r"meltano +Incremental state has been updated")]
    tap_done = [t - epoch - zero for t in _log_times(log, r'"metric":"sync_duration"')]
    files = sorted(sampler.written.items(), key=lambda item: item[1])
    lines = ["    file  partial  written   loaded   state   (s since the tap's sync spawned; backlog: not loaded yet)"]
    for index, (name, seen) in enumerate(files):
        partial = sampler.partial.get(name, float("nan")) - zero
        loaded = loads[index] if index < len(loads) else float("nan")
        state = states[index] if index < len(states) else float("nan")
        backlog = sum(1 for _, w in files if w - zero <= loaded) - index - 1 if loaded == loaded else 0
        lines.append(
            f"    {index + 1:4d} {partial:8.2f} {seen - zero:8.2f} {loaded:8.2f} {state:6.2f}   backlog {backlog}"
        )
    end = tap_done[0] if tap_done else float("nan")

    def cpu_between(start: float, stop: float) -> dict[str, float]:
        first = next((r for t, r in sampler.samples if t - zero >= start), {})
        last = next((r for t, r in reversed(sampler.samples) if t - zero <= stop), {})
        return {role: last.get(role, 0.0) - first.get(role, 0.0) for role in sorted(set(first) | set(last))}

    finish = sampler.samples[-1][0] - zero if sampler.samples else float("nan")
    during, after = cpu_between(0.0, end), cpu_between(end, finish)
    nan = float("nan")
    summary = (
        f"    tap done {end:.2f} s, files {len(files)}, first written {files[0][1] - zero if files else nan:.2f}, "
        f"last written {files[-1][1] - zero if files else nan:.2f}, last loaded "
        f"{loads[-1] if loads else float('nan'):.2f}, last state {states[-1] if states else float('nan'):.2f}; "
        f"states saved {len(states)}\n"
        f"    CPU s while the tap ran ({end:.1f} s): {', '.join(f'{k} {v:.2f}' for k, v in during.items())}\n"
        f"    CPU s after ({finish - end:.1f} s): {', '.join(f'{k} {v:.2f}' for k, v in after.items())}"
    )
    return "\n".join([*lines, summary])


class Side:
    """One tree's project copy (its meltano.yml, lock files and venv) and its runs."""

    def __init__(
        self,
        label: str,
        root: Path,
        work: Path,
        tap: str,
        stream: str,
        *,
        cacheable: bool,
        trace: bool = False,
        spy: Path | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.label, self.root, self.tap, self.trace, self.spy = label, root.resolve(), tap, trace, spy
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
        self.env = {**env, **(extra_env or {})}
        self.runs: list[Run] = []

    def run(self, work: Path, suffix: str, *, label: str = "", quiet: bool = False) -> Run:
        """One ``meltano run`` with its own state id (so it reads the whole stream); prints its figures and
        timeline unless ``quiet``, and keeps them unless it is the untimed warm-up."""
        command = [self.python, str(work / "probe.py"), "--environment=sandbox", "run"]
        state_id = f"cost{self.label}{suffix}"
        command += ["--state-id-suffix", state_id, self.tap, TARGET]
        if self.spy and not quiet:
            raw = Path.cwd() / f"spy-{self.label or 'this'}-{suffix}.raw"
            command = [str(self.spy), *SPY_RECORD, "-o", str(raw), "--", *command]
        epoch = time.time()
        self.env["XLR8_MELTANO_COST_EPOCH"] = repr(epoch)
        ledger_before = ledger_runs(self.store)
        started = time.perf_counter()
        proc = subprocess.Popen(
            command, cwd=self.project, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        with Sampler(proc.pid, self.project / ".meltano" / "batches" / self.tap, epoch) as sampler:
            stdout, stderr = proc.communicate()
        wall = time.perf_counter() - started
        if proc.returncode:
            raise SystemExit(f"{self.root}: meltano run failed ({proc.returncode}):\n{stderr[-3000:]}")
        probe = json.loads((work / "phases.json").read_text())
        cpu, marks = probe["cpu"], probe["marks"]
        log = stderr + stdout
        rows, digest = landed(self.store)
        state = saved_state(self.project, state_id)
        _, ledger, emitted = landed_by_run(self.store, ledger_before, log, f"{self.root} run {suffix}")
        run = Run(wall, rows, cpu, meltano_steps(marks, wall), sampler.peak_mb, digest, state, ledger, emitted)
        received, loaded, dead = ledger
        if quiet:
            return run
        self.runs.append(run)
        discovered = "Running catalog discovery" in log
        split = ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())
        steps = ", ".join(f"{k} {v:.2f}" for k, v in run.steps.items())
        head = label or (f"{self.label} run {suffix}: " if self.label else f"run {suffix}: ")
        print(
            f"  {head}wall {wall:.2f} s; CPU s: {split}; discovery {discovered}; rows {run.rows} (md5 {digest[:12]}); "
            f"STATE md5 {state[:12]}; this run's ledger: tap emitted {emitted}, received {received}, loaded "
            f"{loaded}, dead-lettered {dead}; "
            f"peak {run.peak_mb:.0f} MB (tree)"
        )
        peaks = ", ".join(f"{role} {mb:.0f}" for role, mb in sorted(sampler.role_peak_mb.items()))
        print(f"    peak MB of one process: {peaks}")
        print(f"    wall s: {steps}")
        print(f"    log moments, s: {timeline(log, epoch, epoch + wall)}")
        if self.trace:
            print(files_timeline(log, sampler, marks))
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
        f"  n = {len(new.runs)} pairs, median [min-max]; rows in the store old {[r.rows for r in old.runs]}, new "
        f"{[r.rows for r in new.runs]}; loaded + dead-lettered by each run (its ledger) old "
        f"{[r.ledger[1] + r.ledger[2] for r in old.runs]}, new {[r.ledger[1] + r.ledger[2] for r in new.runs]}"
    )
    for name, measure in measures.items():
        olds, news = [measure(r) for r in old.runs], [measure(r) for r in new.runs]
        ratios = [n / o for o, n in zip(olds, news, strict=True)]
        digits = 0 if name == "records/s" else 2
        print(
            f"  {name}: old {spread(olds, digits)}, new {spread(news, digits)}, new/old per pair "
            f"{', '.join(f'{r:.2f}' for r in ratios)}"
        )


def side_variables(specs: list[str]) -> dict[str, dict[str, str]]:
    """``--env`` values by side: ``old:PYTHONDONTWRITEBYTECODE=1`` sets it for the old side's runs, ``both:`` for
    both (a run without ``--base-root`` is the new side)."""
    found: dict[str, dict[str, str]] = {"old": {}, "new": {}}
    for spec in specs:
        side, _, assignment = spec.partition(":")
        name, equals, value = assignment.partition("=")
        if side not in ("old", "new", "both") or not name or not equals:
            raise SystemExit(f"--env {spec!r}: expected SIDE:NAME=VALUE with SIDE old, new or both")
        for which in ("old", "new") if side == "both" else (side,):
            found[which][name] = value
    return found


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
