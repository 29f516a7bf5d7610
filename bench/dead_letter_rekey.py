"""The dead-letter key migration's cost (review27c M2/M4): a store whose ``_dead_letters`` holds N letters of K
distinct pre-F19 keys (an SSN in clear) in a table keyed by a hashed column. Prints the scan, the re-key (set-based,
``_REKEY_CHUNK`` keys per UPDATE) and the next start's check once the mark is recorded. Figures, never assertions.

    uv run python bench/dead_letter_rekey.py --letters 50000 --keys 5000
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from target_xlr8_truths import retention
from target_xlr8_truths.duckdb_store import DuckDBStore
from target_xlr8_truths.spool import Spool
from target_xlr8_truths.store import RunContext


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=50_000)
    parser.add_argument("--keys", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        run = RunContext("p1", "p1", "bench", None, dt.datetime.now(dt.UTC))
        store = DuckDBStore(str(folder / "t.duckdb"), run, Spool(folder / "spool"), 0.0)
        store.ensure_layout()
        with store.transaction():
            store.execute(
                "INSERT INTO _schema_metadata (id, project, file_name, sheet_name, table_name, columns, likely_keys) "
                "VALUES (1, 'p1', 'f', 's', 't', '[]', '[\"ssn\"]')"
            )
            store.execute(
                "INSERT INTO _truths_fields (project, table_name, column_name, pii_action) "
                "VALUES ('p1', 't', 'ssn', 'hash')"
            )
            store.execute(
                "INSERT INTO _dead_letters SELECT 'p1', 'r', 's', 't', to_json([printf('%09d', i % ?)]), 'e', NULL, "
                "NULL, now() FROM range(?) r(i)",
                [args.keys, args.letters],
            )
        started = time.perf_counter()
        found = retention.letters_to_rekey(store)
        scanned = time.perf_counter()
        changed = retention.rekey_dead_letters(store, lambda v: "HMAC256:" + v[::-1], found)
        rekeyed = time.perf_counter()
        again = retention.letters_to_rekey(store)
        checked = time.perf_counter()
        store.close()
    print(
        f"letters={args.letters} keys={args.keys} scan_s={scanned - started:.3f} rekey_s={rekeyed - scanned:.3f} "
        f"changed={changed} marked_start_ms={(checked - rekeyed) * 1000:.2f} left={len(again)}"
    )


if __name__ == "__main__":
    main()
