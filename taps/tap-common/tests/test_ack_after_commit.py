"""ERP-sync updates are acknowledged only after the target committed them, and a crash anywhere loses none.

Real processes: ``tap-common`` (CLI) piped into ``target-xlr8-truths`` (CLI, DuckDB). This test plays the state
backend as Meltano does: it keeps the last STATE line the *target* printed (the target prints a state only after
the batch before it committed) and hands it to the next run. Crash points, in seeded order, with sandbox time
advancing between rounds so new pending updates keep appearing:

- ``commit_then_kill``: the target committed the batch, then died before its STATE line reached the backend
  (the backend never sees that line).
- ``state_then_kill``: the STATE was persisted, then the next run died after acknowledging and before reading
  (the pending-updates read fails): its state is never stored, so the run after it acknowledges the same ids again.
- ``kill_in_transaction``: the target is SIGKILLed inside its batch transaction (the target's E2 seam).
- ``clean``: a normal run.

Checked against the emulator's own lists: every update that appeared is in the store (none lost); every
acknowledged id was in the store before it was acknowledged; each took effect exactly once (a repeat
acknowledgement is answered ``already_acknowledged``); after the final runs nothing is pending.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import duckdb
import pytest

from xlr8_kit.testing.meltano_e2e import truths_table
from xlr8_kit.testing.singer_cli import select_streams, write_json
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.common import CommonEmulator
from xlr8_tap_common.tap import TapCommon

from .conftest import common_config

BIN = Path(sys.executable).parent
PROJECT = "6f1c2a9e-5a4d-4b8e-9c1f-0a5d5a4d0b01"
STREAM = "erp_sync_pending_updates"
HOLD = "XLR8_TRUTHS_HOLD_BEFORE_COMMIT"

pytestmark = pytest.mark.slow


class Pipeline:
    def __init__(self, tmp: Path, url: str, streams: frozenset[str] = frozenset({STREAM}), **settings: Any) -> None:
        self.tmp = tmp
        self.store = tmp / "truths.duckdb"
        config = common_config(url, page_size=3, **settings)
        self.tap_config = write_json(tmp / "tap.json", config)
        catalog = select_streams(TapCommon(config=config, parse_env_config=False).catalog_dict, set(streams))
        self.catalog = write_json(tmp / "catalog.json", catalog)
        target: dict[str, Any] = {"project_id": PROJECT, "duckdb_path": str(self.store), "batch_size_rows": 2}
        batch_config = settings.get("batch_config")
        if batch_config:  # the target reads BATCH files only under the locations it is given (issue 15 item 2)
            target["batch_locations"] = [urlparse(batch_config["storage"]["root"]).path]
        self.target_config = write_json(tmp / "target.json", target)
        #: What the state backend holds (the last STATE the target printed and the backend received).
        self.state: dict[str, Any] | None = None
        self.runs = 0

    def run(self, *, keep_state: bool = True, kill_in_transaction: bool = False) -> tuple[int, int]:
        self.runs += 1
        args = [str(BIN / "tap-common"), "--config", self.tap_config, "--catalog", self.catalog]
        if self.state is not None:
            args += ["--state", write_json(self.tmp / f"state-{self.runs}.json", self.state)]
        marker = self.tmp / f"holding-{self.runs}"
        env = {**os.environ, HOLD: f"{marker}:1"} if kill_in_transaction else None
        tap = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        target = subprocess.Popen(
            [str(BIN / "target-xlr8-truths"), "--config", self.target_config],
            stdin=tap.stdout,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert tap.stdout is not None
        tap.stdout.close()
        if kill_in_transaction:
            deadline = time.monotonic() + 60
            while not marker.exists() and target.poll() is None:
                assert time.monotonic() < deadline, "target never reached its first commit"
                time.sleep(0.05)
            if marker.exists():
                os.kill(target.pid, signal.SIGKILL)
        out, _ = target.communicate(timeout=120)
        tap_rc = tap.wait(timeout=120)
        states = [json.loads(line) for line in out.splitlines() if line.strip()]
        if keep_state and states and target.returncode == 0:
            self.state = states[-1]
        return tap_rc, target.returncode

    def landed(self) -> set[str]:
        if not self.store.exists():
            return set()
        with duckdb.connect(str(self.store), read_only=True) as conn:
            names = [r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()]
            if not any(n.endswith(f"_common_{STREAM}") for n in names):
                return set()
            table = truths_table(conn, "common", STREAM)
            return {r[0] for r in conn.execute(f'SELECT "id" FROM "{table}"').fetchall()}

    def column(self, stream: str, name: str) -> dict[str, Any]:
        """``id`` -> ``name`` of every row of ``stream`` landed and not marked deleted."""
        with duckdb.connect(str(self.store), read_only=True) as conn:
            table = truths_table(conn, "common", stream)
            columns = {r[0] for r in conn.execute(f'DESCRIBE "{table}"').fetchall()}
            where = ' WHERE "_sdc_deleted_at" IS NULL' if "_sdc_deleted_at" in columns else ""
            return dict(conn.execute(f'SELECT "id", "{name}" FROM "{table}"{where}').fetchall())

    def live(self) -> set[str]:
        """The ids landed and not marked deleted (``_sdc_deleted_at``, where the table has it)."""
        with duckdb.connect(str(self.store), read_only=True) as conn:
            table = truths_table(conn, "common", STREAM)
            columns = {r[0] for r in conn.execute(f'DESCRIBE "{table}"').fetchall()}
            where = ' WHERE "_sdc_deleted_at" IS NULL' if "_sdc_deleted_at" in columns else ""
            return {r[0] for r in conn.execute(f'SELECT "id" FROM "{table}"{where}').fetchall()}


def test_every_pending_update_acknowledged_exactly_once_none_lost(
    tmp_path: Path, url: str, emulator: CommonEmulator, sandbox: Sandbox
) -> None:
    pipe = Pipeline(tmp_path, url)
    data = emulator.data
    rounds = ["clean", "commit_then_kill", "state_then_kill", "clean", "kill_in_transaction", "clean"]
    rounds += random.Random(22).choices(["clean", "commit_then_kill", "state_then_kill", "kill_in_transaction"], k=4)
    reacked: set[str] = set()
    for scenario in rounds:
        sandbox.ctx.clock.advance(timedelta(hours=2))  # two more updates appear
        if scenario == "clean":
            assert pipe.run() == (0, 0)
        elif scenario == "commit_then_kill":
            assert pipe.run(keep_state=False) == (0, 0)
        elif scenario == "kill_in_transaction":
            tap_rc, target_rc = pipe.run(kill_in_transaction=True)
            assert target_rc == -signal.SIGKILL
        else:  # state_then_kill: the run after a persisted state dies after acknowledging
            due = set((pipe.state or {}).get("bookmarks", {}).get(STREAM, {}).get("delivered_update_ids", []))
            rule = sandbox.faults.add("common", "/api/v1/erp-sync/pending-updates", FaultSpec("status", status=400))
            tap_rc, _ = pipe.run()
            sandbox.faults.remove(rule.rule_id)
            assert tap_rc != 0
            assert due <= set(data.state.first_acked)  # acknowledged at the start, then the run died
            reacked |= due  # the state stays what it was: the next run acknowledges these again
        # invariant after every round: nothing acknowledged that is not in the store
        assert set(data.state.first_acked) <= pipe.landed(), scenario
    # drain: one run delivers what is left, the next acknowledges it
    assert pipe.run() == (0, 0)
    assert pipe.run() == (0, 0)
    _, everything = data.snapshot()
    all_ids = {u.id for u in everything}
    assert data.pending_updates() == []
    assert all_ids <= pipe.landed()  # none lost
    assert set(data.state.first_acked) == all_ids  # every update acknowledged, each took effect once
    # a state that was handed out again (its run crashed) is acknowledged again: Common answers
    # already_acknowledged, so the effect stays single; no id is acknowledged more often than runs crashed + 1
    crashed = sum(1 for s in rounds if s != "clean")
    assert all(1 <= data.state.ack_calls[i] <= 1 + crashed for i in all_ids)
    assert reacked
    assert all(data.state.ack_calls[i] >= 2 for i in reacked)  # the state_then_kill rounds really re-acknowledged


def test_batch_messages_acknowledge_after_commit_too(tmp_path: Path, url: str, emulator: CommonEmulator) -> None:
    """With ``batch_config`` the tap sends BATCH files instead of RECORD lines; the ids still reach the STATE only
    behind their batch, so the second run acknowledges exactly what the first one landed."""
    batches = tmp_path / "batches"
    batches.mkdir()
    batch_config = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": batches.as_uri(), "prefix": "common-"},
        "batch_size": 2,
    }
    pipe = Pipeline(tmp_path, url, batch_config=batch_config)
    alone = subprocess.run(
        [str(BIN / "tap-common"), "--config", pipe.tap_config, "--catalog", pipe.catalog],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    kinds = [json.loads(line)["type"] for line in alone.stdout.splitlines()]
    assert "BATCH" in kinds
    assert "RECORD" not in kinds
    pending = [u.id for u in emulator.data.pending_updates()]
    assert pipe.run() == (0, 0)
    assert pipe.landed() == set(pending)
    assert emulator.data.state.ack_calls == {}
    assert pipe.run() == (0, 0)
    assert dict(emulator.data.state.ack_calls) == dict.fromkeys(pending, 1)
    assert emulator.data.pending_updates() == []


def test_updates_landed_stay_when_the_next_run_acknowledged_them(
    tmp_path: Path, url: str, emulator: CommonEmulator, sandbox: Sandbox
) -> None:
    """With ``emit_activate_version_messages: true`` (full-table streams send ACTIVATE_VERSION, so the target marks
    deleted what Common deleted): the run after the one that landed the updates acknowledges them, they leave the
    pending list, and its ACTIVATE_VERSION had the target mark every one of them deleted, exit 0. The pending list
    is a queue: it sends none, and every update landed stays."""
    pipe = Pipeline(tmp_path, url, emit_activate_version_messages=True)
    first = {u.id for u in emulator.data.pending_updates()}
    assert pipe.run() == (0, 0)
    assert pipe.live() == first
    sandbox.ctx.clock.advance(timedelta(hours=2))  # two more updates appear
    assert pipe.run() == (0, 0)
    assert set(emulator.data.state.first_acked) == first  # acknowledged: no longer in the pending list
    assert pipe.live() == first | {u.id for u in emulator.data.pending_updates()}


@pytest.mark.parametrize("batches", [False, True])
def test_orders_whose_updates_were_acknowledged_land_with_their_new_erp_sync_status(
    tmp_path: Path, url: str, emulator: CommonEmulator, sandbox: Sandbox, batches: bool
) -> None:
    """Common keeps an order's ERP-sync flag in its own table (``po_erp_sync``): the acknowledgement this tap sends
    turns ``erp_sync_status`` from ``pending`` to ``synced`` without moving the order's ``updated_at``, so the
    incremental read never saw the change and the destination kept ``pending`` for good, exit 0. The run that
    acknowledges re-reads those orders by id. A run that dies after acknowledging and before the re-read landed
    leaves the state naming them: the next run acknowledges them again (a no-op) and re-reads them. The same with
    ``batch_config`` (the list's records in BATCH files, the orders read again as RECORD lines)."""
    settings: dict[str, Any] = {}
    if batches:
        (tmp_path / "batches").mkdir()
        root = (tmp_path / "batches").as_uri()
        settings["batch_config"] = {"encoding": {"format": "jsonl", "compression": "none"}, "storage": {"root": root}}
    pipe = Pipeline(tmp_path, url, streams=frozenset({"purchase_orders", STREAM}), **settings)
    data = emulator.data
    assert pipe.run() == (0, 0)
    waiting = {u.po_id for u in data.pending_updates()}
    assert waiting
    assert set(pipe.column("purchase_orders", "erp_sync_status")[i] for i in waiting) == {"pending"}
    # acknowledged, then the re-read fails: the run dies, the state the backend holds still names the updates
    rule = sandbox.faults.add("common", "/api/v1/purchase-orders/*", FaultSpec("status", status=400))
    tap_rc, _ = pipe.run()
    sandbox.faults.remove(rule.rule_id)
    assert data.pending_updates() == []  # acknowledged: Common says every one of those orders is synced now
    truth = {p["id"]: p["erp_sync_status"] for p in data.purchase_orders()}
    assert {truth[i] for i in waiting} - {"pending"}
    assert pipe.run() == (0, 0)
    landed = pipe.column("purchase_orders", "erp_sync_status")
    assert {i: landed[i] for i in waiting} == {i: truth[i] for i in waiting}
    assert landed == truth  # and nothing else changed
    assert tap_rc != 0  # the run whose re-read failed said so
    assert pipe.run() == (0, 0)  # a run with nothing acknowledged re-reads nothing and changes nothing
    assert pipe.column("purchase_orders", "erp_sync_status") == truth
