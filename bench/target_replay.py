"""The target alone replaying one tap's BATCH output, build against build: the figure of issue 14's goal 3 (the
target's per-file cost as its table grows) measured without the tap's or Meltano's CPU beside it.

Capture once: the ``--product``'s tap (default tap-salesforce) reads ``--stream`` from the sandbox emulator at
``--scale`` rows (seed 42; the config of bench/ceilings/<product>.py, for Salesforce REST or Bulk per
``XLR8_BENCH_SALESFORCE_API``) with meltano.yml's ``batch_config`` (``--batch-size`` overrides its ``batch_size``);
its stdout goes to ``DIR/messages.jsonl`` and its BATCH files to ``DIR/keep``.

    XLR8_BENCH_SALESFORCE_API=bulk uv run python bench/target_replay.py --capture /tmp/cap --scale 500000
    uv run python bench/target_replay.py --capture /tmp/hcm --product oracle_hcm --stream workers --batch-size 10000

Replay: each round runs each build's ``target-xlr8-truths`` console script (A then B) on those messages, each into a
fresh DuckDB and with the files hard-linked back into ``DIR/files`` (the target removes what it loaded). Prints per
run and as median [min-max] the target's CPU (user + sys), peak RSS, wall and tail (from its last stderr line to its
exit: what ``meltano run`` waits for after the target's summary), the per-pair CPU ratio B/A, peak and tail
differences, and the rows landed, counted in the store's tables; a build landing another count exits 1.

    uv run python bench/target_replay.py --replay /tmp/cap --builds /work/base/.venv/bin .venv/bin --pairs 3

Two captures of the same rows (e.g. files of 10,000 against 50,000 records) replay into one build the same way, A
then B: ``--replay /tmp/hcm10k /tmp/hcm50k --builds .venv/bin``.

``--over``: each side first loads the capture once, untimed, into a store it keeps for the run; every timed run then
loads it again over a copy of that store (the same rows upserted over a table that holds them: a second ``meltano
run`` of the same job, where the target peaks highest). ``--md5`` adds the md5 of the landed rows (as
bench/meltano_cost.py computes it) and of the STATE lines the target wrote; ``--rss`` prints the target's RSS over
time (every 0.1 s; the peak, when it came, and the RSS at each quarter of the run). ``--raw`` adds issue 14 goal 3's
reference to each round: a raw DuckDB load of the same files (one ``CREATE TABLE AS`` over ``read_json`` of all of
them, each property read as the type the target landed it as, in the target's BATCH buffer pool, DuckDB's other
settings its defaults) in a child process after the builds, then raw CPU / target CPU per round for each build.
``--raw-committed`` adds a second raw load to each round, held to the two requirements the target's BATCH path
cannot drop (RELIABILITY E15: a STATE goes out only after what it follows has committed, a file of 10,000 records
at a time; F1: decimals converted exactly): the same columns, one ``INSERT`` and commit per file, each DECIMAL
column read as JSON and cast as the target casts it (its double, to DECIMAL; a value that does not convert back to
the same double stops the load), and raw-committed CPU / target CPU per round. Its checkpoints wait for the close
(``checkpoint_threshold`` 1GiB), DuckDB's cheapest way to commit per file: at its default 16 MiB the same load of
500,000 Contacts took 14.5 s CPU, at the target's 64 MiB 10.0, at 256 MiB or 1GiB 8.0 (one run each, bench/README).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ceilings
from run import ROOT, SANDBOX_PROJECT_ID, TARGET, bin_path, child_env, write_catalog


def capture(
    cap: Path, stream_alias: str, scale: int, batch_size: int | None = None, product: str = "salesforce"
) -> int:
    """The tap's messages and BATCH files for one stream, kept in ``cap``."""
    import yaml

    from xlr8_sandbox.platform.server import run_sandbox

    module = ceilings.load(product)
    stream = ceilings.resolve_stream(module, stream_alias)
    plugins = yaml.safe_load((ROOT / "meltano.yml").read_text())["plugins"]["extractors"]
    batch_config = next(p for p in plugins if p["name"] == module.TAP)["config"]["batch_config"]
    batch_config["storage"] = {"root": (cap / "files").as_uri()}  # the target is told where they are
    if batch_size:
        batch_config["batch_size"] = batch_size
    cap.mkdir(parents=True, exist_ok=False)
    (cap / "files").mkdir()
    with (
        tempfile.TemporaryDirectory(prefix="xlr8-target-replay-") as tmp,  # the config's credentials stay out of DIR
        run_sandbox([product], seed=42, scale=scale, port_wait=600) as sandbox,
    ):
        credentials = sandbox.emulator(product).test_credentials()
        config = {**module.tap_config(sandbox.url(product), credentials, stream), "batch_config": batch_config}
        (Path(tmp) / "tap.json").write_text(json.dumps(config))
        catalog = write_catalog(module.TAP, Path(tmp) / "tap.json", stream, Path(tmp))
        started = time.perf_counter()
        with open(cap / "messages.jsonl", "wb") as out, open(cap / "tap.log", "wb") as log:
            command = [bin_path(module.TAP), "--config", str(Path(tmp) / "tap.json"), "--catalog", str(catalog)]
            code = subprocess.run(command, stdout=out, stderr=log, env=child_env(), check=False).returncode
        tap_wall = time.perf_counter() - started
    if code:
        print((cap / "tap.log").read_text(errors="replace")[-3000:])
        return 1
    (cap / "files").rename(cap / "keep")
    kept = sorted((cap / "keep").iterdir())
    size = sum(f.stat().st_size for f in kept) / 2**20
    print(f"captured {stream} at scale {scale} in {tap_wall:.1f} s: {len(kept)} files of {size:,.0f} MB in {cap}")
    return 0


#: What a kept store is made of: the DuckDB file, its WAL (if the target left one) and the PII key its rows need.
STORE_FILES = ("truths.duckdb", "truths.duckdb.wal", "pii.key")


def rss_trace(pid: int, trace: list[tuple[float, float]]) -> None:
    """(seconds since start, RSS MB) of ``pid`` every 0.1 s until it exits: when the peak comes, not only how high."""
    started = time.perf_counter()
    status = Path(f"/proc/{pid}/status")
    while True:
        try:
            text = status.read_text()
        except OSError:
            return
        rss = next((line.split()[1] for line in text.splitlines() if line.startswith("VmRSS:")), None)
        if rss is None:  # a zombie: exited, not yet reaped
            return
        trace.append((time.perf_counter() - started, int(rss) / 1024))
        time.sleep(0.1)


def replay_once(
    cap: Path, venv_bin: str, work: Path, over: Path | None = None, trace: list[tuple[float, float]] | None = None
) -> tuple[float, float, float, int, float]:
    """One target run: CPU s (user + sys), peak RSS MB, wall s, rows in the store's tables, tail s (its last stderr
    line to its exit). ``over``: a kept store (``STORE_FILES``) copied into ``work`` first, loaded over."""
    import threading

    import duckdb

    shutil.rmtree(cap / "files", ignore_errors=True)
    (cap / "files").mkdir()
    for kept in (cap / "keep").iterdir():
        os.link(kept, cap / "files" / kept.name)
    if over is not None:
        for name in STORE_FILES:
            if (over / name).exists():
                shutil.copy2(over / name, work / name)
    store = work / "truths.duckdb"
    config = {"project_id": SANDBOX_PROJECT_ID, "duckdb_path": str(store), "pii_key_file": str(work / "pii.key"),
              "pii_key_create": True, "batch_locations": [str(cap / "files")]}  # fmt: skip
    (work / "target.json").write_text(json.dumps(config))
    command = [str(Path(venv_bin) / TARGET), "--config", str(work / "target.json")]
    started = time.perf_counter()
    with (
        open(cap / "messages.jsonl", "rb") as stdin,
        open(work / "target.log", "wb") as log,
        open(work / "state.jsonl", "wb") as out,
    ):
        proc = subprocess.Popen(command, stdin=stdin, stdout=out, stderr=subprocess.PIPE, env=child_env())
        sampler = None
        if trace is not None:
            sampler = threading.Thread(target=rss_trace, args=(proc.pid, trace), daemon=True)
            sampler.start()
        assert proc.stderr is not None
        last_line = started
        for line in proc.stderr:  # kept in the log; read as written, for the time of the last one
            log.write(line)
            last_line = time.perf_counter()
        _, status, usage = os.wait4(proc.pid, 0)
        if sampler is not None:
            sampler.join()
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{command[0]} failed:\n{(work / 'target.log').read_text(errors='replace')[-3000:]}")
    with duckdb.connect(str(store), read_only=True) as conn:
        tables = [t for (t,) in conn.execute("SELECT table_name FROM _schema_metadata WHERE is_current").fetchall()]
        rows = sum((conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone() or (0,))[0] for t in tables)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, wall, rows, started + wall - last_line


def landed_elsewhere(store: Path) -> tuple[int, str]:
    """``meltano_cost.landed`` in a child process: its md5 holds the whole table as one string (1.6 GB at 200,000
    Accounts), and a target forked from a process that large reports that size as its own peak (Linux keeps the
    larger ``ru_maxrss`` across the fork and the exec)."""
    code = (
        "import json, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
        "from meltano_cost import landed; print(); print(json.dumps(landed(Path(sys.argv[2]))))"
    )
    bench = str(Path(__file__).resolve().parent)
    out = subprocess.run([sys.executable, "-c", code, bench, str(store)], capture_output=True, check=True, text=True)
    count, digest = json.loads(out.stdout.splitlines()[-1])  # after DuckDB's progress bar, if it drew one
    return int(count), str(digest)


def rss_summary(trace: list[tuple[float, float]]) -> str:
    """The RSS trace in one line: its peak and when, and the RSS at each quarter of the run."""
    if not trace:
        return "no RSS samples"
    at, peak = max(trace, key=lambda sample: sample[1])
    end = trace[-1][0] or 1.0
    quarters = [next((mb for s, mb in trace if s >= end * q / 4), trace[-1][1]) for q in range(1, 5)]
    return (f"RSS peak {peak:.0f} MB at {at:.1f} s of {end:.1f} s; at each quarter "
            f"{', '.join(f'{mb:.0f}' for mb in quarters)} MB")  # fmt: skip


def _normal(name: str) -> str:
    return name.lower().replace("_", "")


def raw_columns(cap: Path, store: Path) -> str:
    """The ``read_json`` columns of a raw load of ``cap``'s files, as a JSON object: each property of the first line,
    read as the type the target landed its column as (names compared without case and underscores: ``BillingCity``
    and ``billing_city``), VARCHAR for one it did not land."""
    import duckdb

    first = min((cap / "keep").iterdir())
    with open(first, "rb") as lines:
        keys = list(json.loads(lines.readline()))
    with duckdb.connect(str(store), read_only=True) as conn:
        tables = [t for (t,) in conn.execute("SELECT table_name FROM _schema_metadata WHERE is_current").fetchall()]
        landed = {
            _normal(str(name)): str(kind)
            for name, kind in conn.execute(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ?", tables[:1]
            ).fetchall()
        }
    return json.dumps({key: landed.get(_normal(key), "VARCHAR") for key in keys})


#: The raw load, as its own process: argv = the files (a JSON list), the read_json columns (a JSON object), the
#: database, the pool, and "all" (one CREATE TABLE AS over every file) or "committed" (``--raw-committed``).
RAW_LOAD = """import json, sys
import duckdb
files, columns, database, pool, how = sys.argv[1:6]
deferred = {} if how == "all" else {"checkpoint_threshold": "1GiB"}
conn = duckdb.connect(database, config={"memory_limit": pool, **deferred})
kinds = json.loads(columns)
def literal(text):
    return "'" + text.replace("'", "''") + "'"
def spec(read):
    return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in read.items()) + "}"
if how == "all":
    listed = ", ".join(literal(f) for f in json.loads(files))
    conn.execute(f"CREATE TABLE raw AS SELECT * FROM read_json([{listed}], format='newline_delimited', "
                 f"columns={spec(kinds)})")
else:
    read, projected, guard = {}, [], []
    for name, kind in kinds.items():
        quoted = '"' + name.replace('"', '""') + '"'
        read[name], value = kind, quoted
        if kind.startswith("DECIMAL"):
            read[name] = "JSON"
            double = f"TRY_CAST(CAST({quoted} AS VARCHAR) AS DOUBLE)"
            below = float(2**50) / 10 ** int(kind.rstrip(")").split(",")[1])
            value = (f"CASE WHEN abs({double}) < {below!r} THEN CAST({double} AS {kind}) "
                     f"ELSE TRY_CAST(CAST({double} AS VARCHAR) AS {kind}) END")
            guard.append(f"WHEN {quoted} IS NOT NULL AND ({double} IS NULL OR CAST({value} AS DOUBLE) <> {double}) "
                         f"THEN error({literal('inexact ' + name)})")
        projected.append(f"{value} AS {quoted}")
    where = f" WHERE CASE {' '.join(guard)} ELSE TRUE END" if guard else ""
    listed = ", ".join('"' + n.replace('"', '""') + '" ' + k for n, k in kinds.items())
    conn.execute(f"CREATE TABLE raw ({listed})")
    for path in json.loads(files):
        conn.begin()
        conn.execute(f"INSERT INTO raw SELECT {', '.join(projected)} FROM read_json({literal(path)}, "
                     f"format='newline_delimited', columns={spec(read)}){where}")
        conn.commit()
print(conn.execute("SELECT COUNT(*) FROM raw").fetchone()[0])
conn.close()
"""


def raw_once(cap: Path, columns: str, how: str = "all") -> tuple[float, float, float, int]:
    """One raw DuckDB load of ``cap``'s kept files into a fresh database, in a child process (``how``: see
    ``RAW_LOAD``): CPU s (user + sys), peak RSS MB, wall s, rows."""
    from target_xlr8_truths.target import DEFAULT_BATCH_MEMORY_LIMIT

    files = json.dumps([str(f) for f in sorted((cap / "keep").iterdir())])
    with tempfile.TemporaryDirectory(prefix="xlr8-target-replay-raw-") as tmp:
        command = [sys.executable, "-c", RAW_LOAD, files, columns, str(Path(tmp) / "raw.duckdb"),
                   DEFAULT_BATCH_MEMORY_LIMIT, how]  # fmt: skip
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, env=child_env())
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"the raw DuckDB load of {cap}'s files failed")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, wall, int(out.split()[-1])


def replay(
    caps: list[Path],
    builds: list[str],
    pairs: int,
    over: bool = False,
    md5: bool = False,
    rss: bool = False,
    raw: bool = False,
    committed: bool = False,
) -> int:
    """``pairs`` rounds of every side in turn (two builds on one capture, or one build on two captures); the spread
    per side, then B against A per round. ``over``: each side's store is loaded once first and every timed run
    loads over a copy of it."""
    import hashlib

    sides = [(caps[0], b) for b in builds] if len(builds) == 2 else [(cap, builds[0]) for cap in caps]
    names = builds if len(builds) == 2 else [str(cap) for cap in caps]
    runs: dict[str, list[tuple[float, float, float, int, float]]] = {name: [] for name in names}
    digests: set[tuple[str, str]] = set()
    columns: dict[Path, str] = {}  # the raw load's read_json columns per capture (``raw_columns``)
    hows = ["all", "committed"] if committed else ["all"]  # the raw loads per round (``RAW_LOAD``)
    raws: dict[tuple[Path, str], list[tuple[float, float, float, int]]] = {}
    with tempfile.TemporaryDirectory(prefix="xlr8-target-replay-kept-") as kept_root:
        kept: dict[str, Path | None] = dict.fromkeys(names)
        for i, (build, (cap, venv_bin)) in enumerate(zip(names, sides, strict=True)) if over else ():
            store = kept[build] = Path(kept_root) / str(i)
            store.mkdir()
            cpu, peak, wall, rows, _ = replay_once(cap, venv_bin, store)
            print(f"{build}: store loaded first (untimed): CPU {cpu:.2f} s, peak {peak:.1f} MB, rows {rows:,}",
                  flush=True)  # fmt: skip
        for n in range(pairs):
            for build, (cap, venv_bin) in zip(names, sides, strict=True):
                trace: list[tuple[float, float]] | None = [] if rss else None
                with tempfile.TemporaryDirectory(prefix="xlr8-target-replay-") as tmp:
                    run = replay_once(cap, venv_bin, Path(tmp), kept[build], trace)
                    extra = ""
                    if md5:
                        count, digest = landed_elsewhere(Path(tmp) / "truths.duckdb")
                        state = hashlib.md5((Path(tmp) / "state.jsonl").read_bytes()).hexdigest()
                        digests.add((digest, state))
                        extra = f", md5 {digest[:12]} ({count:,} rows), STATE md5 {state[:12]}"
                    if raw and cap not in columns:  # the landed types, from the first store of the capture
                        columns[cap] = raw_columns(cap, Path(tmp) / "truths.duckdb")
                runs[build].append(run)
                cpu, peak, wall, rows, tail = run
                load = os.getloadavg()[0]
                print(f"round {n + 1} {build}: CPU {cpu:.2f} s, peak {peak:.1f} MB, wall {wall:.2f} s, "
                      f"tail {tail:.3f} s, rows {rows:,}, load {load:.1f}{extra}", flush=True)  # fmt: skip
                if trace is not None:
                    print(f"  {rss_summary(trace)}", flush=True)
            for cap in dict.fromkeys(cap for cap, _ in sides) if raw else ():  # after the builds, each capture once
                for how in hows:
                    raws.setdefault((cap, how), []).append(raw_once(cap, columns[cap], how))
                    cpu, peak, wall, rows = raws[cap, how][-1]
                    load = os.getloadavg()[0]
                    print(f"round {n + 1} raw DuckDB {how} ({cap.name}): CPU {cpu:.2f} s, peak {peak:.1f} MB, "
                          f"wall {wall:.2f} s, rows {rows:,}, load {load:.1f}", flush=True)  # fmt: skip
    for cap in caps:
        shutil.rmtree(cap / "files", ignore_errors=True)

    def spread(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"

    for build, figures in runs.items():
        cpus, peaks, walls = ([run[i] for run in figures] for i in range(3))
        tails = [run[4] for run in figures]
        print(f"{build}: CPU {spread(cpus)} s, peak {spread(peaks)} MB, wall {spread(walls)} s, tail {spread(tails)} s")
    first, second = (runs[name] for name in names)
    print("CPU B/A per pair:", ", ".join(f"{b[0] / a[0]:.3f}" for a, b in zip(first, second, strict=True)))
    print("peak B-A per pair MB:", ", ".join(f"{b[1] - a[1]:+.1f}" for a, b in zip(first, second, strict=True)))
    print(
        "tail B-A per pair ms:", ", ".join(f"{(b[4] - a[4]) * 1000:+.0f}" for a, b in zip(first, second, strict=True))
    )
    for build, (cap, _) in zip(names, sides, strict=True) if raw else ():
        for how in hows:
            loads = raws[cap, how]
            ratios = [r[0] / run[0] for r, run in zip(loads, runs[build], strict=True)]
            print(f"raw DuckDB {how} ({cap.name}): CPU {spread([r[0] for r in loads])} s, wall "
                  f"{spread([r[2] for r in loads])} s; raw {how} / {build} CPU per round "
                  f"{', '.join(f'{x:.3f}' for x in ratios)}, median {statistics.median(ratios):.3f}")  # fmt: skip
    landed = {run[3] for figures in runs.values() for run in figures}
    same = "the same on every run" if len(landed) == 1 else "NOT the same on every run"
    print(f"rows landed: {', '.join(f'{rows:,}' for rows in sorted(landed))} ({same})")
    if md5:
        same = "the same on every run" if len(digests) == 1 else "NOT the same on every run"
        print(f"md5 of the landed rows and of the STATE: {same}")
    raw_rows = {r[3] for figures in raws.values() for r in figures}
    if raws:
        same = "as the target landed" if raw_rows <= landed else "NOT as the target landed"
        print(f"raw DuckDB rows: {', '.join(f'{rows:,}' for rows in sorted(raw_rows))} ({same})")
    return 0 if len(landed) == 1 and len(digests) <= 1 and raw_rows <= landed else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--capture", type=Path, metavar="DIR", help="run the tap and keep its output in DIR (new)")
    what.add_argument(
        "--replay", type=Path, nargs="+", metavar="DIR", help="replay DIR's capture into --builds (or two captures)"
    )
    parser.add_argument("--product", default="salesforce", help="bench/ceilings product (capture)")
    parser.add_argument("--stream", default="contacts", help="the product's stream or its alias (capture)")
    parser.add_argument("--scale", type=int, default=500_000, help="sandbox rows (capture)")
    parser.add_argument("--batch-size", type=int, help="records per BATCH file (capture; default meltano.yml's)")
    parser.add_argument(
        "--builds", nargs="+", metavar="VENVBIN", help="two venv bin directories, A then B; one with two captures"
    )
    parser.add_argument("--pairs", type=int, default=3, help="rounds of A then B (replay)")
    parser.add_argument("--over", action="store_true", help="load each run over a store holding the rows (replay)")
    parser.add_argument("--md5", action="store_true", help="md5 of the landed rows and the STATE per run (replay)")
    parser.add_argument("--rss", action="store_true", help="the target's RSS over time per run (replay)")
    parser.add_argument("--raw", action="store_true", help="a raw DuckDB load of the same files per round (replay)")
    parser.add_argument(
        "--raw-committed", action="store_true", help="with --raw: also the raw load committed per file, exact decimals"
    )
    args = parser.parse_args()
    if args.capture:
        return capture(args.capture.resolve(), args.stream, args.scale, args.batch_size, args.product)
    if not args.builds or sorted((len(args.replay), len(args.builds))) != [1, 2]:
        parser.error("--replay needs one capture and --builds VENVBIN_A VENVBIN_B, or two captures and one build")
    caps = [cap.resolve() for cap in args.replay]
    if args.raw_committed and not args.raw:
        parser.error("--raw-committed adds to --raw: give both")
    return replay(caps, args.builds, args.pairs, args.over, args.md5, args.rss, args.raw, args.raw_committed)


if __name__ == "__main__":
    raise SystemExit(main())
