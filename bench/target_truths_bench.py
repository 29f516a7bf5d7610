"""target-xlr8-truths ingest figures: narrow (5 columns), account (43 columns, Salesforce Account width) and wide
(60 columns) records through RECORD messages and BATCH messages (JSONL), beside a raw DuckDB bulk load of the same
files in the same run.

Usage: uv run python bench/target_truths_bench.py [--rows 1000000] [--only narrow|account|wide] [--skip-record]
       [--repeat 3] [--baseline-src DIR]
Each case runs ``--repeat`` times and prints the median [min-max] of records/s, wall and CPU seconds, and the peak
RSS of the target process; BATCH is also given as a share of the raw load (both with and without the target's
start-up). The raw load runs twice: with DuckDB's default memory (most of the machine's RAM) and at the target's
own buffer pool (its default ``duckdb_memory_limit``, or ``--duckdb-memory``), which is what the target's load pays
for staying under 300 MB; BATCH is given as a share of both. ``--baseline-src`` (a ``target-xlr8-truths/src`` of
another build, e.g. ``git archive`` of main) runs that build too, alternating A B A B, and prints the ratio of the two.
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

import duckdb

TARGET = str(Path(sys.executable).with_name("target-xlr8-truths"))
PROJECT = "6f1c2a9e-5a4d-4b8e-9c1f-0a5d5a4d0b01"
FILES = 10
MEMORY_LIMIT: str | None = None  # None: the target's own default
BASELINE_SRC: str | None = None  # PYTHONPATH for the "before" build's target process
SHAPES = ("narrow", "account", "wide")


def narrow_schema() -> dict:
    return {
        "id": {"type": "integer"},
        "name": {"type": ["null", "string"]},
        "amount": {"type": ["null", "number"]},
        "updated_at": {"type": ["null", "string"], "format": "date-time"},
        "active": {"type": ["null", "boolean"]},
    }


def wide_schema() -> dict:
    props: dict = {"id": {"type": "integer"}}
    for i in range(59):
        kind = i % 4
        if kind == 0:
            props[f"text_{i}"] = {"type": ["null", "string"]}
        elif kind == 1:
            props[f"int_{i}"] = {"type": ["null", "integer"]}
        elif kind == 2:
            props[f"num_{i}"] = {"type": ["null", "number"]}
        else:
            props[f"ts_{i}"] = {"type": ["null", "string"], "format": "date-time"}
    return props


def account_schema() -> dict:
    """43 properties shaped like Salesforce Account: mostly text, some numbers, flags, timestamps, one address."""
    props: dict = {"id": {"type": "integer"}}
    for i in range(24):
        props[f"text_{i}"] = {"type": ["null", "string"]}
    for i in range(5):
        props[f"num_{i}"] = {"type": ["null", "number"]}
    for i in range(3):
        props[f"int_{i}"] = {"type": ["null", "integer"]}
    for i in range(4):
        props[f"flag_{i}"] = {"type": ["null", "boolean"]}
    for i in range(5):
        props[f"ts_{i}"] = {"type": ["null", "string"], "format": "date-time"}
    props["billing_address"] = {
        "type": ["null", "object"],
        "properties": {"street": {"type": ["null", "string"]}, "latitude": {"type": ["null", "number"]}},
    }
    return props


def schema_of(shape: str) -> dict:
    return {"narrow": narrow_schema, "account": account_schema, "wide": wide_schema}[shape]()


def make_record(i: int, props: dict) -> dict:
    record: dict = {}
    for name, prop in props.items():
        types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
        if name == "id":
            record[name] = i
        elif prop.get("format") == "date-time":
            record[name] = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:00:00Z"
        elif "integer" in types:
            record[name] = i * 7 % 100_000
        elif "number" in types:
            record[name] = round((i % 10_000) * 1.25, 2)
        elif "boolean" in types:
            record[name] = i % 2 == 0
        elif "object" in types:
            record[name] = {"street": f"{i % 900} Main St", "latitude": round(37 + (i % 1000) / 1000, 3)}
        else:
            record[name] = f"value-{i % 5000}-{name}"
    return record


def write_data(work: Path, props: dict, rows: int) -> tuple[Path, list[Path]]:
    """One Singer RECORD-message file and FILES raw JSONL files holding the same records."""
    singer = work / "records.singer"
    parts = [work / f"part-{n}.jsonl" for n in range(FILES)]
    per_file = (rows + FILES - 1) // FILES
    schema = {"type": "SCHEMA", "stream": "bench", "schema": {"type": "object", "properties": props},
              "key_properties": ["id"]}  # fmt: skip
    with singer.open("w") as out:
        out.write(json.dumps(schema) + "\n")
        handles = [p.open("w") for p in parts]
        for i in range(rows):
            record = make_record(i, props)
            line = json.dumps(record)
            out.write('{"type":"RECORD","stream":"bench","record":' + line + "}\n")
            handles[min(i // per_file, FILES - 1)].write(line + "\n")
            if i % 100_000 == 99_999:
                out.write(json.dumps({"type": "STATE", "value": {"n": i}}) + "\n")
        for handle in handles:
            handle.close()
    return singer, parts


def raw_load(parts: list[Path], props: dict, work: Path, memory: str | None = None) -> float:
    """Seconds for DuckDB's own bulk load, run in a child process: the bench process stays small, so the target
    process it forks later does not inherit (and report as its own peak) the pages of a 1M-row load. ``memory``
    caps DuckDB's buffer pool as the target caps its own (None: DuckDB's default)."""
    shape = next(name for name in SHAPES if schema_of(name) == props)
    child = subprocess.run(
        [sys.executable, __file__, "--raw-load", str(work), "--only", shape]
        + (["--duckdb-memory", memory] if memory else [])
        + [str(p) for p in parts],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(child.stdout.strip().splitlines()[-1])


def _raw_load_here(parts: list[Path], props: dict, work: Path, memory: str | None = None) -> float:
    from target_xlr8_truths.columns import logical_type, sql_type

    spec = "{" + ", ".join(f"'{k}': '{sql_type(logical_type(v), 'duckdb')}'" for k, v in props.items()) + "}"
    files = ", ".join(f"'{p}'" for p in parts)
    for attempt in range(3):  # at 128MB the reader's 32 MiB buffers (one per file in flight) sometimes exhaust the pool
        (work / "raw.duckdb").unlink(missing_ok=True)
        con = duckdb.connect(str(work / "raw.duckdb"), config={"memory_limit": memory} if memory else {})
        start = time.perf_counter()
        try:
            con.execute(
                f"CREATE TABLE bench AS SELECT * FROM read_json([{files}], format='newline_delimited', columns={spec})"
            )
        except duckdb.OutOfMemoryException:
            con.close()
            print(f"raw load at {memory}: out of memory (attempt {attempt + 1})", file=sys.stderr)
            continue
        elapsed = time.perf_counter() - start
        con.close()
        return elapsed
    raise SystemExit(f"raw load at {memory}: out of memory three times")


def run_target(
    work: Path, stdin_path: Path, label: str, expect_rows: bool = True, src: str | None = None
) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds of this one target process (os.wait4 gives its own rusage);
    ``src`` runs another build's package (PYTHONPATH ahead of the installed one)."""
    store = work / f"{label}.duckdb"
    cfg = work / f"{label}.json"
    settings = {
        "project_id": PROJECT,
        "duckdb_path": str(store),
        "batch_locations": [str(work)],
        "pii_key_file": str(work / "pii.key"),
        "pii_key_create": True,
    }
    if MEMORY_LIMIT:
        settings["duckdb_memory_limit"] = MEMORY_LIMIT
    cfg.write_text(json.dumps(settings))
    err_path = work / f"{label}.stderr"
    start = time.perf_counter()
    with stdin_path.open() as stdin, err_path.open("w") as err:
        env = {**os.environ, "PYTHONPATH": src} if src else None
        proc = subprocess.Popen(
            [TARGET, "--config", str(cfg)], stdin=stdin, stdout=subprocess.DEVNULL, stderr=err, env=env
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{label} failed:\n{err_path.read_text()[-3000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    if not expect_rows:
        return elapsed, usage.ru_maxrss // 1024, cpu
    con = duckdb.connect(str(store), read_only=True)
    count = con.execute('SELECT COUNT(*) FROM "6f1c2a9e_singer_bench"').fetchone()
    con.close()
    if count is None or count[0] == 0:
        raise SystemExit(f"{label}: nothing landed")
    store.unlink()
    return elapsed, usage.ru_maxrss // 1024, cpu


def target_memory_default() -> str:
    """The pool the target loads BATCH files in by default (record batches use the smaller one)."""
    from target_xlr8_truths.duckdb_store import DEFAULT_MEMORY_LIMIT
    from target_xlr8_truths.target import DEFAULT_BATCH_MEMORY_LIMIT, batch_pool

    return batch_pool(DEFAULT_MEMORY_LIMIT, DEFAULT_BATCH_MEMORY_LIMIT)


def start_up_seconds(work: Path, schema_line: str, src: str | None = None) -> float:
    empty = work / "empty.singer"
    empty.write_text(schema_line)
    start = time.perf_counter()
    run_target(work, empty, "startup", expect_rows=False, src=src)
    return time.perf_counter() - start


def spread(values: list[float], fmt: str = ",.0f") -> str:
    ordered = sorted(values)
    return f"{format(statistics.median(ordered), fmt)} [{format(ordered[0], fmt)}-{format(ordered[-1], fmt)}]"


def batch_input_for(work: Path, parts: list[Path], schema_line: str, tag: str) -> Path:
    """BATCH messages naming fresh copies of the files (the target deletes the files it loaded)."""
    copies = []
    for p in parts:
        copy = work / f"batch-{tag}-{p.name}"
        shutil.copyfile(p, copy)
        copies.append(copy)
    batch_input = work / f"batch-{tag}.singer"
    with batch_input.open("w") as out:
        out.write(schema_line)
        for copy in copies:
            out.write(json.dumps({"type": "BATCH", "stream": "bench", "encoding": {"format": "jsonl",
                                  "compression": "none"}, "manifest": [f"file://{copy}"]}) + "\n")  # fmt: skip
        out.write(json.dumps({"type": "STATE", "value": {"done": True}}) + "\n")
    return batch_input


def bench(shape: str, rows: int, skip_record: bool, repeat: int) -> None:
    props = schema_of(shape)
    work = Path(tempfile.mkdtemp(prefix=f"xlr8-bench-{shape}-"))
    builds = [("after", None)] + ([("before", BASELINE_SRC)] if BASELINE_SRC else [])
    try:
        singer, parts = write_data(work, props, rows)
        schema_line = singer.open().readline()
        raws: list[float] = []
        pool_raws: list[float] = []  # the same raw load at the target's buffer pool
        pool = MEMORY_LIMIT or target_memory_default()
        results: dict[tuple[str, str], list[tuple[float, int, float]]] = {}
        startups: dict[str, list[float]] = {}
        for n in range(repeat):
            raws.append(raw_load(parts, props, work))
            pool_raws.append(raw_load(parts, props, work, pool))
            for build, src in builds:  # A B A B: both builds see the same machine load
                startups.setdefault(build, []).append(start_up_seconds(work, schema_line, src))
                batch_input = batch_input_for(work, parts, schema_line, f"{build}{n}")
                results.setdefault((build, "BATCH"), []).append(run_target(work, batch_input, f"b-{build}", src=src))
                if not skip_record:
                    results.setdefault((build, "RECORD"), []).append(run_target(work, singer, f"r-{build}", src=src))
        print(f"{shape:7s} raw duckdb read_json   : {spread([rows / r for r in raws]):>30s} rec/s  "
              f"wall {spread(raws, '.2f')} s", flush=True)  # fmt: skip
        print(f"{shape:7s} {'raw at ' + pool + ' pool':23s}: {spread([rows / r for r in pool_raws]):>30s} rec/s  "
              f"wall {spread(pool_raws, '.2f')} s", flush=True)  # fmt: skip
        for build, _ in builds:
            print(f"{shape:7s} {build:6s} start-up only  : wall {spread(startups[build], '.2f')} s", flush=True)
            for mode in ("BATCH", "RECORD"):
                runs = results.get((build, mode))
                if not runs:
                    continue
                walls = [r[0] for r in runs]
                line = (
                    f"{shape:7s} {build:6s} {mode:6s}       : {spread([rows / w for w in walls]):>30s} rec/s  "
                    f"wall {spread(walls, '.2f')} s  CPU {spread([r[2] for r in runs], '.2f')} s  "
                    f"peak RSS {spread([float(r[1]) for r in runs])} MB"
                )
                if mode == "BATCH":
                    ratio = [raw / wall for raw, wall in zip(raws, walls, strict=True)]
                    net = [
                        raw / max(wall - up, 1e-9) for raw, wall, up in zip(raws, walls, startups[build], strict=True)
                    ]
                    line += f"  raw/BATCH {spread(ratio, '.2f')}, without start-up {spread(net, '.2f')}"
                    at_pool = [raw / wall for raw, wall in zip(pool_raws, walls, strict=True)]
                    line += f"; raw at {pool} / BATCH {spread(at_pool, '.2f')}"
                print(line, flush=True)
        if BASELINE_SRC:
            for mode in ("BATCH", "RECORD"):
                after, before = results.get(("after", mode)), results.get(("before", mode))
                if after and before:
                    wall = [a[0] / b[0] for a, b in zip(after, before, strict=True)]
                    cpu = [a[2] / b[2] for a, b in zip(after, before, strict=True)]
                    print(f"{shape:7s} after/before {mode:6s}: wall {spread(wall, '.2f')}  CPU {spread(cpu, '.2f')}",
                          flush=True)  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--only", choices=list(SHAPES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-src", help="target-xlr8-truths/src of the build to compare with (A B A B)")
    parser.add_argument("--skip-record", action="store_true")
    parser.add_argument("--duckdb-memory", help="the target's duckdb_memory_limit (default: the target's default)")
    parser.add_argument("--raw-load", metavar="WORKDIR", help=argparse.SUPPRESS)
    parser.add_argument("parts", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw_load:
        props = schema_of(args.only)
        print(_raw_load_here([Path(p) for p in args.parts], props, Path(args.raw_load), args.duckdb_memory))
        return
    globals()["MEMORY_LIMIT"] = args.duckdb_memory
    globals()["BASELINE_SRC"] = args.baseline_src
    print(f"target-xlr8-truths bench: {args.rows:,} records per shape, {os.cpu_count()} CPUs, n={args.repeat}, "
          "median [min-max]", flush=True)  # fmt: skip
    for shape in SHAPES:
        if args.only in (None, shape):
            bench(shape, args.rows, args.skip_record, args.repeat)


if __name__ == "__main__":
    main()
