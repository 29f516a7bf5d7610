"""Benchmark harness: a tap alone, tap -> target, or ``meltano run`` against the sandbox, beside a ceiling reader.

    uv run python bench/run.py --product salesforce --stream accounts --scale 1000000 --latency-ms 0 --mode tap

Prints records/s, wall time and peak memory (RSS summed over the process tree, sampled) for the run and for the
product's minimal hand-written reader of the same endpoint (``bench/ceilings/<product>.py``), measured in the same
sandbox, and appends one JSON line per run to ``bench/results/results.jsonl``. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results" / "results.jsonl"
TARGET = "target-xlr8-truths"
MODES = ("tap", "tap-target", "meltano")

sys.path.insert(0, str(BENCH))
import ceilings  # noqa: E402 - needs bench/ on sys.path first
import peers  # noqa: E402 - needs bench/ on sys.path first


@dataclass
class Measurement:
    what: str
    records: int
    wall_s: float
    peak_rss_mb: float
    ok: bool = True
    error: str | None = None
    cpu_s: float | None = None  # user + sys of the measured child processes (suite only), start-up included

    @property
    def records_per_s(self) -> float:
        return self.records / self.wall_s if self.wall_s > 0 else 0.0


class TreeMemory:
    """Peak RSS of processes and all their descendants, sampled every 50 ms."""

    def __init__(self, *pids: int) -> None:
        self.roots = [psutil.Process(pid) for pid in pids]
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for root in self.roots:
                try:
                    procs = [root, *root.children(recursive=True)]
                except psutil.Error:
                    continue
                for proc in procs:
                    with contextlib.suppress(psutil.Error):
                        total += proc.memory_info().rss
            self.peak = max(self.peak, total)
            self._stop.wait(0.05)


def bin_path(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def child_env() -> dict[str, str]:
    """The environment for taps: bytecode is cached (as in any installed tap) so start-up is not recompiling."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def write_catalog(tap: str, config_path: Path, stream: str, workdir: Path) -> Path:
    """Discover, then select only ``stream`` (every property of it)."""
    found = subprocess.run(
        [bin_path(tap), "--config", str(config_path), "--discover"],
        capture_output=True,
        text=True,
        env=child_env(),
        check=False,
    )
    if found.returncode != 0:
        raise SystemExit(f"{tap} --discover failed:\n{found.stderr[-2000:]}")
    catalog = json.loads(found.stdout)
    ids = [s["tap_stream_id"] for s in catalog["streams"]]
    match = next((i for i in ids if i == stream), None) or next((i for i in ids if i.lower() == stream.lower()), None)
    if match is None:
        raise SystemExit(f"stream {stream!r} not in {tap}'s catalog; streams: {', '.join(sorted(ids))}")
    for entry in catalog["streams"]:
        chosen = entry["tap_stream_id"] == match
        for md in entry.get("metadata", []):
            md.setdefault("metadata", {})["selected"] = chosen
    path = workdir / "catalog.json"
    path.write_text(json.dumps(catalog))
    return path


def tail_of(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


#: Products whose taps read by one cursor until latency shows, then ranges (Oracle Fusion keyset reads): the emulator
#: caches a page per URL, and a page it renders for the first time looks like latency to the tap, which then reads
#: ranges; their warm-up reads once more by one cursor (``max_concurrent_requests: 1``) so every page is warm.
ONE_CURSOR_FIRST = ("oracle_hcm", "oracle_erp")


def warm_one_cursor(product: str, tap: str, config: Path, catalog: Path) -> None:
    """The untimed read by one cursor of a ``ONE_CURSOR_FIRST`` product (nothing for the others)."""
    if product in ONE_CURSOR_FIRST:
        one = config.with_name(f"{config.stem}-one-cursor.json")
        one.write_text(json.dumps({**json.loads(config.read_text()), "max_concurrent_requests": 1}))
        measure_tap(tap, one, catalog)


def measure_tap(tap: str, config: Path, catalog: Path) -> Measurement:
    return count_records([bin_path(tap), "--config", str(config), "--catalog", str(catalog)],
                         config.parent / "tap.stderr", "tap")  # fmt: skip


def measure_tap_target(
    tap: str, config: Path, catalog: Path, workdir: Path, *, batch_locations: list[str] | None = None
) -> Measurement:
    store = workdir / "truths.duckdb"
    project = str(uuid.uuid4())
    target_config = workdir / "target.json"
    target_config.write_text(
        json.dumps(
            {
                "project_id": project,
                "duckdb_path": str(store),
                "pii_key_file": str(workdir / "pii.key"),
                "pii_key_create": True,
                **({"batch_locations": batch_locations} if batch_locations else {}),
            }
        )
    )
    started = time.perf_counter()
    stderr_path = workdir / "tap.stderr"
    with stderr_path.open("wb") as stderr_file:
        tap_proc = subprocess.Popen(
            [bin_path(tap), "--config", str(config), "--catalog", str(catalog)],
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            env=child_env(),
        )
    target_proc = subprocess.Popen(
        [bin_path(TARGET), "--config", str(target_config)],
        stdin=tap_proc.stdout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=child_env(),
    )
    assert tap_proc.stdout is not None
    tap_proc.stdout.close()
    with TreeMemory(tap_proc.pid, target_proc.pid) as memory:
        _, err = target_proc.communicate()
        tap_code = tap_proc.wait()
    wall = time.perf_counter() - started
    ok = tap_code == 0 and target_proc.returncode == 0
    records = rows_in_store(store, project) if store.exists() else 0
    error = (
        None
        if ok
        else (
            f"tap exit {tap_code}, target exit {target_proc.returncode}\ntap: {tail_of(stderr_path)}\n"
            f"target: {err.decode()[-1500:]}"
        )
    )
    return Measurement("tap-target", records, wall, memory.peak / 2**20, ok, error)


def rows_in_store(store: Path, project: str) -> int:
    import duckdb

    with duckdb.connect(str(store), read_only=True) as conn:
        row = conn.execute(
            "SELECT COALESCE(SUM(row_count), 0) FROM _schema_metadata WHERE is_current AND LOWER(project) = ?",
            [project],
        ).fetchone()
    return int(row[0]) if row else 0


def measure_meltano(tap: str, stream: str, workdir: Path) -> Measurement:
    """``meltano run`` in the project's sandbox environment, writing to a scratch store and its own state id."""
    from xlr8_kit.testing.meltano_e2e import link_workspace_venvs
    from xlr8_sandbox.demo import record_counts

    link_workspace_venvs(ROOT)  # meltano runs the plugins from the workspace venv, no plugin venv is built
    env = child_env()
    env[f"{tap.upper().replace('-', '_')}__SELECT"] = json.dumps([f"{stream}.*"])
    env["TARGET_XLR8_TRUTHS_DUCKDB_PATH"] = str(workdir / "truths.duckdb")
    command = [
        bin_path("meltano"),
        "--environment=sandbox",
        "run",
        "--full-refresh",
        "--state-id-suffix=bench",
        tap,
        TARGET,
    ]
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    records = 0
    tail: list[str] = []
    with TreeMemory(proc.pid) as memory:
        for line in proc.stdout:
            tail = [*tail[-19:], line.rstrip()]
            records += sum(n for _, n in record_counts(line, tap))
        code = proc.wait()
    wall = time.perf_counter() - started
    error = None if code == 0 else "\n".join(tail)
    return Measurement("meltano", records, wall, memory.peak / 2**20, code == 0, error)


def select_only(catalog: dict[str, Any], stream: str) -> dict[str, Any] | None:
    """Select ``stream`` (every property) and nothing else; None when the catalog does not offer it."""
    ids = {s["tap_stream_id"] for s in catalog["streams"]}
    if stream not in ids:
        return None
    for entry in catalog["streams"]:
        chosen = entry["tap_stream_id"] == stream
        for md in entry.get("metadata", []):
            md.setdefault("metadata", {})["selected"] = chosen
    return catalog


def count_records(command: list[str], stderr_path: Path, what: str) -> Measurement:
    """Run a tap command; RECORD lines counted on its stdout, RSS of its tree sampled."""
    started = time.perf_counter()
    with stderr_path.open("wb") as stderr_file:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr_file, env=child_env())
    assert proc.stdout is not None
    records = 0
    with TreeMemory(proc.pid) as memory:
        for line in proc.stdout:
            if line.startswith((b'{"type":"RECORD"', b'{"type": "RECORD"')):
                records += 1
        code = proc.wait()
    wall = time.perf_counter() - started
    error = None if code == 0 else f"exit {code}:\n{tail_of(stderr_path)}"
    return Measurement(what, records, wall, memory.peak / 2**20, code == 0, error)


def measure_peer(peer: peers.Peer, url: str, credentials: dict[str, str], stream: str, workdir: Path) -> Measurement:
    """A peer tap alone on the same emulator: discover, select ``stream``, sync; installed on first use."""
    api = os.environ.get("XLR8_BENCH_SALESFORCE_API", "rest") if peer.product == "salesforce" else "rest"
    if api not in peer.apis:
        return Measurement(peer.name, 0, 0.0, 0.0, False, f"{peer.name} has no {api} mode")
    home = workdir / peer.name
    home.mkdir(exist_ok=True)  # the untimed warm-up run made it
    config = home / "config.json"
    config.write_text(json.dumps(peer.config(url, credentials, stream, api)))
    command = peer.command(peer.ensure_installed())
    found = subprocess.run([*command, "--config", str(config), "--discover"], capture_output=True, text=True,
                           env=child_env(), check=False)  # fmt: skip
    catalog = select_only(json.loads(found.stdout), stream) if found.returncode == 0 and found.stdout else None
    if catalog is None:
        return Measurement(peer.name, 0, 0.0, 0.0, False, f"discover failed or no {stream}:\n{found.stderr[-1500:]}")
    catalog_path = home / "catalog.json"
    catalog_path.write_text(json.dumps(catalog))
    return count_records(
        [*command, "--config", str(config), "--catalog", str(catalog_path), "--properties", str(catalog_path)],
        home / "stderr",
        peer.name,
    )


def measure_ceiling(product: str, url: str, credentials: dict[str, str], stream: str) -> Measurement:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--ceiling-child", product, url, json.dumps(credentials), stream],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with TreeMemory(proc.pid) as memory:
        out, err = proc.communicate()
    wall = time.perf_counter() - started
    ok = proc.returncode == 0
    records = int(out.strip() or 0) if ok else 0
    return Measurement("ceiling", records, wall, memory.peak / 2**20, ok, None if ok else err[-1000:])


def ceiling_child(product: str, url: str, credentials: str, stream: str) -> int:
    module = ceilings.load(product)
    count = sum(1 for _ in module.read(url, json.loads(credentials), stream))
    print(count)
    return 0


def warmed(measure: Callable[[], Measurement], warm: bool) -> Measurement:
    """Time a reader's second read when ``warm``: its first, untimed, lets the emulator render and keep (per data
    version) the rows that reader asks for, so the figure is the reader's speed, not the emulator's first render."""
    if warm:
        measure()
    return measure()


def git_sha() -> str | None:
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return found.stdout.strip() or None


def print_table(args: argparse.Namespace, run: Measurement, ceiling: Measurement | None) -> None:
    print(f"\n{args.product} / {args.stream}: scale {args.scale:,}, latency {args.latency_ms:g} ms, mode {args.mode}")
    header = f"  {'what':<11} {'records':>10} {'wall s':>9} {'records/s':>11} {'peak MB':>9}  status"
    print(header)
    print("  " + "-" * (len(header) - 2))
    for m in [run, *([ceiling] if ceiling else [])]:
        status = "ok" if m.ok else "FAILED"
        figures = f"{m.records:>10,} {m.wall_s:>9.2f} {m.records_per_s:>11,.0f} {m.peak_rss_mb:>9.1f}"
        print(f"  {m.what:<11} {figures}  {status}")
    if ceiling and ceiling.ok and ceiling.records_per_s:
        print(f"  {args.mode} runs at {run.records_per_s / ceiling.records_per_s:.0%} of the ceiling's records/s")
    for m in [run, *([ceiling] if ceiling else [])]:
        if m.error:
            print(f"\n  {m.what} error:\n{m.error}", file=sys.stderr)


def print_peers(run: Measurement, peer_runs: list[Measurement]) -> None:
    for peer in peer_runs:
        if not peer.ok:
            print(f"  peer {peer.what}: FAILED: {peer.error}", file=sys.stderr)
            continue
        ratio = run.records_per_s / peer.records_per_s if peer.records_per_s else 0.0
        print(f"  peer {peer.what:<26} {peer.records:>10,} {peer.wall_s:>9.2f} {peer.records_per_s:>11,.0f} "
              f"{peer.peak_rss_mb:>9.1f}  ours is {ratio:.1f}x")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--ceiling-child"]:
        return ceiling_child(*argv[1:5])
    if any(a == "--suite" or a.startswith("--suite=") for a in argv):
        return suite_main(argv)
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--product", required=True, help="emulator registry id, e.g. salesforce")
    parser.add_argument("--stream", required=True, help="the tap's stream id (or a ceiling alias such as accounts)")
    parser.add_argument("--scale", type=int, default=100_000, help="employees in the fictional company")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="latency added to every request")
    parser.add_argument("--mode", choices=MODES, default="tap")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-ceiling", action="store_true", help="skip the ceiling reader")
    parser.add_argument("--no-peers", action="store_true", help="skip the peer taps (bench/peers)")
    parser.add_argument("--no-warm", action="store_true", help="time each reader's first read (cold emulator)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="JSON-lines file to append to")
    args = parser.parse_args(argv)
    if args.scale < 1 or args.latency_ms < 0:
        parser.error("--scale must be >= 1 and --latency-ms >= 0")

    from xlr8_sandbox.platform.server import run_sandbox

    module = ceilings.load(args.product)
    stream = ceilings.resolve_stream(module, args.stream)
    with (
        tempfile.TemporaryDirectory(prefix="xlr8-bench-") as tmp,
        run_sandbox(
            [args.product],
            seed=args.seed,
            scale=args.scale,
            latency_ms=args.latency_ms,
            fixed_ports=args.mode == "meltano",
            port_wait=600,
        ) as sandbox,
    ):
        workdir = Path(tmp)
        url = sandbox.url(args.product)
        credentials = sandbox.emulator(args.product).test_credentials()
        warm = not args.no_warm
        if args.mode == "meltano":
            run = warmed(lambda: measure_meltano(module.TAP, stream, workdir), warm)
        else:
            config = workdir / "tap.json"
            config.write_text(json.dumps(module.tap_config(url, credentials, stream)))
            catalog = write_catalog(module.TAP, config, stream, workdir)
            if warm:  # the tap's own requests, untimed (tap-target: the same requests, no store written twice)
                warm_one_cursor(args.product, module.TAP, config, catalog)
                measure_tap(module.TAP, config, catalog)
            if args.mode == "tap":
                run = measure_tap(module.TAP, config, catalog)
            else:
                run = measure_tap_target(module.TAP, config, catalog, workdir)
        ceiling = None if args.no_ceiling else warmed(
            lambda: measure_ceiling(args.product, url, credentials, stream), warm
        )  # fmt: skip
        peer_runs = [] if args.no_peers else [
            warmed(functools.partial(measure_peer, peer, url, credentials, stream, workdir), warm)
            for peer in peers.for_product(args.product)
        ]  # fmt: skip

    print_table(args, run, ceiling)
    print_peers(run, peer_runs)
    result: dict[str, Any] = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git": git_sha(),
        "product": args.product,
        "stream": stream,
        "scale": args.scale,
        "latency_ms": args.latency_ms,
        "mode": args.mode,
        "seed": args.seed,
        "warm": not args.no_warm,
        "run": {**asdict(run), "records_per_s": round(run.records_per_s, 1)},
        "ceiling": None if ceiling is None else {**asdict(ceiling), "records_per_s": round(ceiling.records_per_s, 1)},
        "ratio_to_ceiling": None
        if not ceiling or not ceiling.records_per_s
        else round(run.records_per_s / ceiling.records_per_s, 4),
        "peers": [{**asdict(p), "records_per_s": round(p.records_per_s, 1)} for p in peer_runs],
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    with args.results.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(result) + "\n")
    print(f"\n  appended to {args.results}")
    return 0 if run.ok and (ceiling is None or ceiling.ok) else 1


# -- suite: every mode of several products in one invocation, RECORD and BATCH, --repeat N --------------------------
# (kept apart from the single-mode harness above so other changes to it merge cleanly)

SANDBOX_PROJECT_ID = "6f1c2a9e-5a4d-4b8e-9c1f-0a5d5a4d0b01"  # meltano.yml's sandbox target project_id


def meltano_project_copy(workdir: Path, name: str, *, batch: bool, root: Path = ROOT) -> Path:
    """meltano.yml and the plugins' lock files of the tree ``root`` copied into ``workdir/name`` (BATCH as
    configured, or every extractor's batch_config removed for RECORD mode), that tree's venv linked in as every
    plugin's so Meltano installs nothing (``root`` other than this tree: the old side of an A/B)."""
    import yaml

    from xlr8_kit.testing.meltano_e2e import copy_plugin_locks, link_workspace_venvs

    project = workdir / name
    project.mkdir(parents=True)
    data = yaml.safe_load((root / "meltano.yml").read_text())
    if not batch:
        for plugin in data["plugins"]["extractors"]:
            (plugin.get("config") or {}).pop("batch_config", None)
    (project / "meltano.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    copy_plugin_locks(root, project)
    link_workspace_venvs(project, project / ".meltano", venv=None if root == ROOT else root / ".venv")
    return project


def measure_meltano_mode(tap: str, stream: str, workdir: Path, *, batch: bool, run_no: int) -> Measurement:
    """``meltano run <tap> target-xlr8-truths`` in a copy of the project; records are the tap's record_count
    metrics, and the rows that landed in the scratch store are checked against them."""
    from xlr8_sandbox.demo import record_counts

    what = "meltano BATCH" if batch else "meltano RECORD"
    project = meltano_project_copy(workdir, f"meltano-{'batch' if batch else 'record'}-{run_no}", batch=batch)
    store = project / "truths.duckdb"
    env = {k: v for k, v in child_env().items() if not k.startswith(("MELTANO_", "TAP_", "TARGET_"))}
    env[f"{tap.upper().replace('-', '_')}__SELECT"] = json.dumps([f"{stream}.*"])
    env["TARGET_XLR8_TRUTHS_DUCKDB_PATH"] = str(store)
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    command = [bin_path("meltano"), "--environment=sandbox", "run", tap, TARGET]
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    records = 0
    tail: list[str] = []
    with TreeMemory(proc.pid) as memory:
        for line in proc.stdout:
            tail = [*tail[-19:], line.rstrip()]
            records += sum(n for _, n in record_counts(line, tap))
        code = proc.wait()
    wall = time.perf_counter() - started
    landed = rows_in_store(store, SANDBOX_PROJECT_ID) if store.exists() else 0
    ok = code == 0 and landed == records
    error = None if ok else f"exit {code}, {records} read, {landed} landed\n" + "\n".join(tail)
    measurement = Measurement(what, records, wall, memory.peak / 2**20, ok, error)
    measurement.landed = landed  # type: ignore[attr-defined]
    return measurement


def measure_tap_target_batch(tap: str, config: Path, catalog: Path, workdir: Path) -> Measurement:
    """tap | target with the tap writing BATCH jsonl files (as meltano.yml configures it) into ``workdir``."""
    batches = workdir / "batches"
    batch_config = json.loads(config.read_text())
    batch_config["batch_config"] = {
        "encoding": {"format": "jsonl", "compression": "none"},
        "storage": {"root": batches.as_uri()},
    }
    batch_tap = workdir / "tap-batch.json"
    batch_tap.write_text(json.dumps(batch_config))
    measured = measure_tap_target(tap, batch_tap, catalog, workdir, batch_locations=[str(batches)])
    measured.what = "tap|target BATCH"
    return measured


@dataclass
class Figures:
    """One line of the suite table: the runs of one measurement across repeats."""

    what: str
    runs: list[Measurement]

    @staticmethod
    def spread(values: list[float], fmt: str) -> str:
        ordered = sorted(values)
        median = ordered[len(ordered) // 2] if len(ordered) % 2 else sum(ordered[len(ordered) // 2 - 1 :][:2]) / 2
        if len(ordered) == 1:
            return format(median, fmt)
        return f"{format(median, fmt)} [{format(ordered[0], fmt)}-{format(ordered[-1], fmt)}]"

    @property
    def good(self) -> list[Measurement]:
        return [m for m in self.runs if m.ok]

    def rate(self) -> float:
        rates = sorted(m.records_per_s for m in self.good)
        return rates[len(rates) // 2] if rates else 0.0

    def line(self, ceiling: Figures | None) -> str:
        good = self.good
        if not good:
            return f"  {self.what:<26} FAILED ({len(self.runs)} runs)"
        records = good[0].records
        rate = self.spread([m.records_per_s for m in good], ",.0f")
        peak = self.spread([m.peak_rss_mb for m in good], ".0f")
        ratio = ""
        if ceiling is not None and ceiling.good and ceiling is not self:
            pairs = [m.records_per_s / c.records_per_s for m, c in zip(self.runs, ceiling.runs, strict=False)
                     if m.ok and c.ok and c.records_per_s]  # fmt: skip
            ratio = self.spread(pairs, ".2f") if pairs else ""
        failed = f"  ({len(self.runs) - len(good)} failed)" if len(good) < len(self.runs) else ""
        return f"  {self.what:<26} {records:>9,} {rate:>24} {peak:>16} {ratio:>18}{failed}"


def with_children_cpu(measure: Any, *args: Any, **kwargs: Any) -> Measurement:
    """``measure(...)`` with ``cpu_s`` set: user + sys CPU of the child processes it ran and waited for (a tap, a
    target, meltano with everything it ran)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    measured: Measurement = measure(*args, **kwargs)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    measured.cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return measured


def suite_product(product: str, stream_alias: str, args: argparse.Namespace) -> list[Figures]:
    """Every mode for one product in one sandbox (fixed ports, for meltano), each repeated; then the latency line."""
    from xlr8_sandbox.platform.server import run_sandbox

    module = ceilings.load(product)
    stream = ceilings.resolve_stream(module, stream_alias)
    order = ["ceiling", "tap", "tap|target RECORD", "tap|target BATCH", "meltano RECORD", "meltano BATCH"]
    runs: dict[str, list[Measurement]] = {name: [] for name in order}
    peer_runs: dict[str, list[Measurement]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="xlr8-bench-") as tmp,
        run_sandbox([product], seed=args.seed, scale=args.scale, fixed_ports=True, port_wait=600) as sandbox,
    ):
        workdir = Path(tmp)
        url = sandbox.url(product)
        credentials = sandbox.emulator(product).test_credentials()
        config = workdir / "tap.json"
        config.write_text(json.dumps(module.tap_config(url, credentials, stream)))
        catalog = write_catalog(module.TAP, config, stream, workdir)
        if not args.no_warm:  # untimed first reads: the emulator keeps the rows each reader asks for (see warmed())
            measure_ceiling(product, url, credentials, stream)
            warm_one_cursor(product, module.TAP, config, catalog)
            measure_tap(module.TAP, config, catalog)
        for n in range(args.repeat):  # the modes alternate within each round, so drift hits them alike
            round_dir = workdir / f"round-{n}"
            round_dir.mkdir()
            print(f"  {product}: round {n + 1}/{args.repeat}", file=sys.stderr, flush=True)
            runs["ceiling"].append(measure_ceiling(product, url, credentials, stream))
            runs["tap"].append(with_children_cpu(measure_tap, module.TAP, config, catalog))
            (round_dir / "rt").mkdir()
            record_run = with_children_cpu(measure_tap_target, module.TAP, config, catalog, round_dir / "rt")
            record_run.what = "tap|target RECORD"
            runs["tap|target RECORD"].append(record_run)
            (round_dir / "bt").mkdir()
            runs["tap|target BATCH"].append(
                with_children_cpu(measure_tap_target_batch, module.TAP, config, catalog, round_dir / "bt")
            )
            for mode, batch in (("meltano RECORD", False), ("meltano BATCH", True)):
                runs[mode].append(
                    with_children_cpu(measure_meltano_mode, module.TAP, stream, round_dir, batch=batch, run_no=n)
                )
            if not args.no_peers:
                for peer in peers.for_product(product):
                    peer_dir = round_dir / "peers"
                    peer_dir.mkdir(exist_ok=True)
                    peer_runs.setdefault(f"peer {peer.name}", []).append(
                        measure_peer(peer, url, credentials, stream, peer_dir)
                    )
    figures = [Figures(name, runs[name]) for name in order] + [Figures(k, v) for k, v in peer_runs.items()]
    if args.latency_ms:
        figures += suite_latency(product, module, stream, args)
    return figures


def suite_latency(product: str, module: Any, stream: str, args: argparse.Namespace) -> list[Figures]:
    """The tap alone and the ceiling with ``--latency-ms`` added to every request (issue 14 goal 5)."""
    from xlr8_sandbox.platform.server import run_sandbox

    tap_runs: list[Measurement] = []
    ceiling_runs: list[Measurement] = []
    with (
        tempfile.TemporaryDirectory(prefix="xlr8-bench-") as tmp,
        run_sandbox([product], seed=args.seed, scale=args.scale, latency_ms=args.latency_ms) as sandbox,
    ):
        workdir = Path(tmp)
        url = sandbox.url(product)
        credentials = sandbox.emulator(product).test_credentials()
        config = workdir / "tap.json"
        config.write_text(json.dumps(module.tap_config(url, credentials, stream)))
        catalog = write_catalog(module.TAP, config, stream, workdir)
        if not args.no_warm:
            measure_ceiling(product, url, credentials, stream)
            measure_tap(module.TAP, config, catalog)
        for _ in range(args.repeat):
            ceiling_runs.append(measure_ceiling(product, url, credentials, stream))
            tap_runs.append(measure_tap(module.TAP, config, catalog))
    label = f"{args.latency_ms:g} ms"
    return [Figures(f"ceiling @{label}", ceiling_runs), Figures(f"tap @{label}", tap_runs)]


def print_suite(product: str, stream: str, figures: list[Figures], args: argparse.Namespace) -> None:
    by_name = {f.what: f for f in figures}
    ceiling = by_name.get("ceiling")
    print(f"\n{product} / {stream}: scale {args.scale:,}, n = {args.repeat} (median [min-max])")
    header = f"  {'what':<26} {'records':>9} {'records/s':>24} {'peak MB':>16} {'x ceiling':>18}"
    print(header)
    print("  " + "-" * (len(header) - 2))
    for fig in figures:
        latency_ceiling = by_name.get(fig.what.replace("tap @", "ceiling @")) if fig.what.startswith("tap @") else None
        print(fig.line(latency_ceiling or ceiling))
    tap = by_name.get("tap")
    for fig in figures:
        if fig.what.startswith("peer ") and tap and fig.rate():
            print(f"  tap alone / {fig.what[5:]}: {tap.rate() / fig.rate():.2f}x")
    if tap and tap.rate():
        for fig in figures:
            if fig.what.startswith("tap @"):
                print(f"  {fig.what}: {fig.rate() / tap.rate():.0%} of the tap's zero-latency records/s")
    for fig in figures:
        cpu = sorted(m.cpu_s for m in fig.good if m.cpu_s)
        if cpu:
            print(f"  {fig.what}: CPU s (child processes) {statistics.median(cpu):.2f} [{cpu[0]:.2f}-{cpu[-1]:.2f}]")
    record, batch = by_name.get("meltano RECORD"), by_name.get("meltano BATCH")
    if record and batch and record.rate():
        landed = {getattr(m, "landed", None) for m in record.good + batch.good}
        print(f"  meltano BATCH / RECORD: {batch.rate() / record.rate():.2f}x; rows landed per run: {sorted(landed)}")
    for fig in figures:
        for m in fig.runs:
            if m.error:
                print(f"\n  {fig.what} error:\n{m.error[-1500:]}", file=sys.stderr)


def suite_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/run.py --suite", description="Every mode, several products.")
    parser.add_argument("--suite", required=True, help="product:stream pairs, e.g. salesforce:accounts,ukg_pro:report")
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=float, default=100.0, help="the latency line's added latency (0: none)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of every measurement: median [min-max]")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--no-warm", action="store_true", help="no untimed first read of the ceiling and the tap")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    ok = True
    for pair in args.suite.split(","):
        product, _, stream = pair.partition(":")
        figures = suite_product(product, stream, args)
        print_suite(product, stream, figures, args)
        ok = ok and all(m.ok for f in figures for m in f.runs)
        record = {
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "git": git_sha(), "suite": True,
            "product": product, "stream": stream, "scale": args.scale, "latency_ms": args.latency_ms,
            "repeat": args.repeat, "seed": args.seed,
            "figures": {f.what: [{**asdict(m), "records_per_s": round(m.records_per_s, 1)} for m in f.runs]
                        for f in figures},
        }  # fmt: skip
        args.results.parent.mkdir(parents=True, exist_ok=True)
        with args.results.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
