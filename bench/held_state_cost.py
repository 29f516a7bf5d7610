"""The cost of holding each BATCH file's STATE (``KitBatchingMixin._hold_state``) when the tap state is large:
one stream read in BATCH mode, small files, with an input state holding another stream's many partitions (a
parent/child stream synced earlier). Prints the wall time of the read (figures, never asserted; bench/README.md).

    uv run python bench/held_state_cost.py --partitions 20000 --records 2000 --batch-size 100

In process, no HTTP (records from memory): what is measured is the kit's BATCH loop and its state handling.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
import typing as t
from contextlib import redirect_stdout

from singer_sdk import typing as th

from xlr8_kit.rest import KitRESTStream, KitTap, kit_config_schema


class _Rows(KitRESTStream):
    name = "rows"
    path = "/rows"
    url_base = "http://127.0.0.1:9"
    primary_keys = ("id",)
    replication_key = "updated"
    is_sorted = False
    schema: t.ClassVar[dict] = th.PropertiesList(
        th.Property("id", th.IntegerType), th.Property("updated", th.StringType)
    ).to_dict()
    records: t.ClassVar[int] = 0

    def get_records(self, context: t.Any) -> t.Iterator[dict]:
        for n in range(self.records):
            yield {"id": n, "updated": f"2026-01-01T00:00:{n % 60:02d}+00:00"}


class _Tap(KitTap):
    name = "tap-held-state"
    product_id = "salesforce"
    config_jsonschema: t.ClassVar[dict] = kit_config_schema(th.PropertiesList())

    def discover_streams(self) -> list[KitRESTStream]:
        return [_Rows(self)]

    def build_authenticator(self, runtime: t.Any) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=20_000, help="another stream's partitions in the state")
    parser.add_argument("--records", type=int, default=2_000)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    _Rows.records = args.records
    other = [
        {"context": {"id": f"P{i:06d}"}, "replication_key": "updated", "replication_key_value": "2026-01-01"}
        for i in range(args.partitions)
    ]
    state = {"bookmarks": {"children": {"partitions": other}}}
    with tempfile.TemporaryDirectory() as root:
        batch = {"encoding": {"format": "jsonl", "compression": "none"}, "storage": {"root": root}}
        tap = _Tap(config={"batch_config": {**batch, "batch_size": args.batch_size}}, state=state,
                   parse_env_config=False)  # fmt: skip
        out = io.StringIO()
        started = time.perf_counter()
        with redirect_stdout(out):
            tap.sync_all()
        wall = time.perf_counter() - started
    lines = out.getvalue().splitlines()
    batches = sum('"type":"BATCH"' in line.replace(" ", "") for line in lines)
    states = sum('"type":"STATE"' in line.replace(" ", "") for line in lines)
    print(f"partitions={args.partitions} records={args.records} batch_size={args.batch_size} "
          f"BATCH={batches} STATE={states} wall_s={wall:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
