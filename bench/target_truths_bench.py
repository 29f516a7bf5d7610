"""target-xlr8-truths ingest figures: 1M narrow and 1M wide (60 columns) records through RECORD messages and
BATCH messages (JSONL), beside a raw DuckDB bulk load of the same data in the same run.

Usage: uv run python bench/target_truths_bench.py [--rows 1000000] [--only narrow|wide] [--skip-record]
Prints one line per case: records/s, wall seconds, peak RSS of the target process, and BATCH as % of raw.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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


def raw_load(parts: list[Path], props: dict, work: Path) -> float:
    """Seconds for DuckDB's own bulk load, run in a child process: the bench process stays small, so the target
    process it forks later does not inherit (and report as its own peak) the pages of a 1M-row load."""
    shape = "narrow" if props == narrow_schema() else "wide"
    child = subprocess.run(
        [sys.executable, __file__, "--raw-load", str(work), "--only", shape, *[str(p) for p in parts]],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(child.stdout.strip().splitlines()[-1])


def _raw_load_here(parts: list[Path], props: dict, work: Path) -> float:
    from target_xlr8_truths.columns import logical_type, sql_type

    spec = "{" + ", ".join(f"'{k}': '{sql_type(logical_type(v), 'duckdb')}'" for k, v in props.items()) + "}"
    files = ", ".join(f"'{p}'" for p in parts)
    con = duckdb.connect(str(work / "raw.duckdb"))
    start = time.perf_counter()
    con.execute(f"CREATE TABLE bench AS SELECT * FROM read_json([{files}], format='newline_delimited', columns={spec})")
    elapsed = time.perf_counter() - start
    con.close()
    return elapsed


def run_target(work: Path, stdin_path: Path, label: str, expect_rows: bool = True) -> tuple[float, int]:
    """Wall seconds and the peak RSS (MB) of this one target process (os.wait4 gives its own rusage)."""
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
        proc = subprocess.Popen([TARGET, "--config", str(cfg)], stdin=stdin, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{label} failed:\n{err_path.read_text()[-3000:]}")
    if not expect_rows:
        return elapsed, usage.ru_maxrss // 1024
    con = duckdb.connect(str(store), read_only=True)
    count = con.execute('SELECT COUNT(*) FROM "6f1c2a9e_singer_bench"').fetchone()
    con.close()
    if count is None or count[0] == 0:
        raise SystemExit(f"{label}: nothing landed")
    return elapsed, usage.ru_maxrss // 1024


def start_up_seconds(work: Path, schema_line: str) -> float:
    empty = work / "empty.singer"
    empty.write_text(schema_line)
    start = time.perf_counter()
    run_target(work, empty, "startup", expect_rows=False)
    return time.perf_counter() - start


def bench(shape: str, rows: int, skip_record: bool) -> None:
    props = narrow_schema() if shape == "narrow" else wide_schema()
    work = Path(tempfile.mkdtemp(prefix=f"xlr8-bench-{shape}-"))
    try:
        singer, parts = write_data(work, props, rows)
        raw = raw_load(parts, props, work)
        print(f"{shape:6s} raw duckdb read_json : {rows / raw:12,.0f} rec/s  {raw:7.2f} s", flush=True)
        # BATCH messages: the target deletes the files it loaded, so hand it copies
        copies = []
        for p in parts:
            copy = work / f"batch-{p.name}"
            shutil.copyfile(p, copy)
            copies.append(copy)
        batch_input = work / "batch.singer"
        schema_line = singer.open().readline()
        with batch_input.open("w") as out:
            out.write(schema_line)
            for copy in copies:
                out.write(json.dumps({"type": "BATCH", "stream": "bench", "encoding": {"format": "jsonl",
                                      "compression": "none"}, "manifest": [f"file://{copy}"]}) + "\n")  # fmt: skip
            out.write(json.dumps({"type": "STATE", "value": {"done": True}}) + "\n")
        startup = start_up_seconds(work, schema_line)
        print(f"{shape:6s} target start-up only : {startup:7.2f} s (empty run: imports, store, layout)", flush=True)
        elapsed, peak = run_target(work, batch_input, f"batch-{shape}")
        print(f"{shape:6s} target BATCH         : {rows / elapsed:12,.0f} rec/s  {elapsed:7.2f} s  peak RSS {peak} MB"
              f"  ({100 * raw / elapsed:.0f}% of raw; {rows / max(elapsed - startup, 1e-9):,.0f} rec/s and "
              f"{100 * raw / max(elapsed - startup, 1e-9):.0f}% of raw without start-up)", flush=True)  # fmt: skip
        if not skip_record:
            elapsed, peak = run_target(work, singer, f"record-{shape}")
            rate = rows / elapsed
            print(
                f"{shape:6s} target RECORD        : {rate:12,.0f} rec/s  {elapsed:7.2f} s  peak RSS {peak} MB",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["narrow", "wide"])
    parser.add_argument("--skip-record", action="store_true")
    parser.add_argument("--duckdb-memory", help="the target's duckdb_memory_limit (default: the target's default)")
    parser.add_argument("--raw-load", metavar="WORKDIR", help=argparse.SUPPRESS)
    parser.add_argument("parts", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw_load:
        props = narrow_schema() if args.only == "narrow" else wide_schema()
        print(_raw_load_here([Path(p) for p in args.parts], props, Path(args.raw_load)))
        return
    globals()["MEMORY_LIMIT"] = args.duckdb_memory
    print(f"target-xlr8-truths bench: {args.rows:,} records per shape, {os.cpu_count()} CPUs", flush=True)
    for shape in ("narrow", "wide"):
        if args.only in (None, shape):
            bench(shape, args.rows, args.skip_record)


if __name__ == "__main__":
    main()
