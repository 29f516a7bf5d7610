"""tap-common's ``webhook_events`` at scale, build against build: the tap's own peak RSS and CPU reading a receiver
store of ``--events`` events (issue 14 goal 4), alternating the builds (A B A B ...).

The store is made once (``--store``, kept for the next run): the receiver's schema, events shaped as Common's
purchase-order webhooks (the order's fields in ``payload``, about 700 bytes a row). Each run is ``tap-common
--config --catalog`` with only ``webhook_events`` selected, in RECORD mode (stdout read and counted here) or BATCH
mode (``--batch``: meltano.yml's jsonl files of up to 50,000 records, into a scratch directory removed after the
run); ``os.wait4`` gives the tap's ``ru_maxrss`` and user + sys CPU. No HTTP: the stream reads the SQLite file.

    python bench/webhook_peak.py --store /tmp/events.db --builds /work/base/.venv/bin .venv/bin --pairs 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from xlr8_tap_common.webhooks import EventStore

STREAM = "webhook_events"


def make_store(path: Path, events: int) -> None:
    """``events`` purchase-order events in the receiver's store, in one transaction."""
    EventStore(path).close()
    with sqlite3.connect(path) as conn:
        have = conn.execute("SELECT count(*) FROM webhook_events").fetchone()[0]
        if have == events:
            return
        conn.execute("DELETE FROM webhook_events")
        conn.executemany(
            "INSERT INTO webhook_events (event_id, event_type, signed_at, received_at, payload) VALUES (?, ?, ?, ?, ?)",
            (_event(n) for n in range(events)),
        )


def _event(n: int) -> tuple[str, str, int, str, str]:
    order = {
        "id": f"po-{n:08d}", "po_number": f"PO-{100000 + n}", "buyer_company_id": f"co-{n % 400:04d}",
        "seller_company_id": f"co-{(n * 7) % 400:04d}", "buyer_contact_employee_id": f"E{n % 50000:06d}",
        "product_id": f"prod-{n % 3000:05d}", "product_name": f"Industrial part {n % 3000}", "unit": "EA",
        "quantity": str(n % 97 + 1), "unit_price": f"{(n % 5000) / 7:.2f}", "total_amount": f"{(n % 9000) * 1.3:.2f}",
        "currency": "USD", "order_date": "2026-01-05", "delivery_date": "2026-02-05",
        "delivery_location": "Plant 7, 1200 Industrial Way, Springfield", "status": "confirmed",
        "amendment_status": "none", "amendment_count": n % 3, "erp_sync_status": "pending",
        "notes": "Deliver to dock 4", "updated_at": f"2026-01-05T10:{n // 6000 % 60:02d}:00Z",
    }  # fmt: skip
    body = {"id": f"evt-{n:08d}", "type": "purchase_order.updated", "data": order}
    return (f"evt-{n:08d}", "purchase_order.updated", 1_767_600_000 + n, f"2026-01-05T10:{n // 6000 % 60:02d}:00Z",
            json.dumps(body))  # fmt: skip


def catalog(store: Path) -> dict:
    """The tap's own catalog (its SCHEMA and metadata), ``webhook_events`` alone selected."""
    from xlr8_tap_common.tap import TapCommon

    found = TapCommon(config=_config(store), parse_env_config=False).catalog_dict
    for entry in found["streams"]:
        for md in entry.get("metadata", []):
            md.setdefault("metadata", {})["selected"] = entry["tap_stream_id"] == STREAM
    return found


def _config(store: Path) -> dict:
    # no request is made: the stream reads the SQLite file; the URL and login only satisfy the settings' checks
    return {"api_base_url": "http://127.0.0.1:9", "email": "bench@example.com", "password": "x",
            "webhook_store_path": str(store)}  # fmt: skip


def run_once(bindir: Path, config: Path, catalog_path: Path, batch: bool, work: Path) -> dict:
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cfg = config
    files = None
    if batch:
        files = Path(tempfile.mkdtemp(dir=work))
        data = json.loads(config.read_text())
        data["batch_config"] = {"encoding": {"format": "jsonl", "compression": "none"},
                                "storage": {"root": files.as_uri()}, "batch_size": 50000}  # fmt: skip
        cfg = work / "tap-batch.json"
        cfg.write_text(json.dumps(data))
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(bindir / "tap-common"), "--config", str(cfg), "--catalog", str(catalog_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    records = 0
    batched = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(b'{"type":"RECORD"'):
            records += 1
        elif line.startswith(b'{"type":"BATCH"'):
            for url in json.loads(line)["manifest"]:
                with open(url.removeprefix("file://"), "rb") as handle:
                    batched += sum(1 for _ in handle)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if files is not None:
        shutil.rmtree(files, ignore_errors=True)
    return {"ok": status == 0, "records": records + batched, "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_mb": usage.ru_maxrss / 1024}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, type=Path)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--builds", nargs=2, required=True, type=Path, metavar="VENVBIN")
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--batch", action="store_true", help="BATCH mode (jsonl files of up to 50,000)")
    args = parser.parse_args(argv)
    make_store(args.store, args.events)
    work = Path(tempfile.mkdtemp(prefix="webhook-peak-"))
    config = work / "tap.json"
    config.write_text(json.dumps(_config(args.store)))
    catalog_path = work / "catalog.json"
    catalog_path.write_text(json.dumps(catalog(args.store)))
    runs: dict[int, list[dict]] = {0: [], 1: []}
    for pair in range(args.pairs):
        for side, bindir in enumerate(args.builds):
            one = run_once(bindir, config, catalog_path, args.batch, work)
            runs[side].append(one)
            print(f"pair {pair + 1} {'AB'[side]} {bindir}: {json.dumps(one)}", flush=True)
    for side, bindir in enumerate(args.builds):
        done = runs[side]
        line = {k: statistics.median(r[k] for r in done) for k in ("peak_mb", "cpu_s", "wall_s")}
        spread = {k: (min(r[k] for r in done), max(r[k] for r in done)) for k in ("peak_mb", "cpu_s", "wall_s")}
        print(f"{'AB'[side]} {bindir}: median {json.dumps(line)} [min, max] {json.dumps(spread)}")
    shutil.rmtree(work, ignore_errors=True)
    counts = {r["records"] for side in runs.values() for r in side}
    ok = all(r["ok"] for side in runs.values() for r in side) and counts == {args.events}
    print(f"records per run: {sorted(counts)} (expected {args.events}); {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
