"""A purchase order committed late, with an ``updated_at`` below the bookmark the last run stored, is read by the next
run (``lookback_seconds``) and lands once: tap-common | target-xlr8-truths (real CLIs, DuckDB) over real HTTP against
the Common emulator. Before, ``updated_since`` was the bookmark itself and the row was missed for good (audit23a
finding 7). The emulator stamps a row when it serves it, so the late commit is played by overriding one order with
an earlier stamp, as a database that stamps at the write's start and shows the row at its commit would serve it."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from singer_sdk.exceptions import ConfigValidationError

from xlr8_kit.testing.meltano_e2e import truths_table
from xlr8_kit.testing.singer_cli import piped, select_streams, write_json
from xlr8_sandbox.products.common import CommonEmulator
from xlr8_tap_common.settings import CommonSettings
from xlr8_tap_common.tap import TapCommon

from .conftest import common_config

BIN = Path(sys.executable).parent
PROJECT = "6f1c2a9e-5a4d-4b8e-9c1f-0a5d5a4d0b01"


def run_pipeline(tmp: Path, config: dict[str, Any], state: dict[str, Any] | None, n: int) -> dict[str, Any]:
    """``tap-common | target-xlr8-truths`` once; the last STATE the target printed (what a state backend keeps)."""
    catalog = select_streams(TapCommon(config=config, parse_env_config=False).catalog_dict, {"purchase_orders"})
    args = [str(BIN / "tap-common"), "--config", write_json(tmp / "tap.json", config)]
    args += ["--catalog", write_json(tmp / "catalog.json", catalog)]
    if state is not None:
        args += ["--state", write_json(tmp / f"state-{n}.json", state)]
    target_config = {"project_id": PROJECT, "duckdb_path": str(tmp / "truths.duckdb")}
    target_args = [str(BIN / "target-xlr8-truths"), "--config", write_json(tmp / "target.json", target_config)]
    target = piped(args, target_args, tmp / f"tap-{n}.log")
    assert target.returncode == 0, target.stderr[-2000:]
    return dict(json.loads([line for line in target.stdout.splitlines() if line.strip()][-1]))


def landed(tmp: Path) -> list[tuple[str, Decimal]]:
    with duckdb.connect(str(tmp / "truths.duckdb"), read_only=True) as conn:
        table = truths_table(conn, "common", "purchase_orders")
        return [(str(r[0]), Decimal(str(r[1]))) for r in conn.execute(f'SELECT id, quantity FROM "{table}"').fetchall()]


def test_a_row_committed_late_with_an_earlier_stamp_is_read_and_lands_once(
    tmp_path: Path, url: str, emulator: CommonEmulator
) -> None:
    config = common_config(url, page_size=7)
    first = run_pipeline(tmp_path, config, None, 1)
    bookmark = first["bookmarks"]["purchase_orders"]["replication_key_value"]
    orders = emulator.data.purchase_orders()
    assert sorted(landed(tmp_path)) == sorted((o["id"], Decimal(o["quantity"])) for o in orders)

    # a write that began two minutes before the bookmark's row was stamped commits only now
    stamp = datetime.fromisoformat(bookmark.replace("Z", "+00:00")) - timedelta(seconds=120)
    late = next(o for o in orders if o["updated_at"] < stamp.isoformat().replace("+00:00", "Z"))
    changed = {
        **late,
        "quantity": str(Decimal(late["quantity"]) + 7),
        "updated_at": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    data = emulator.data
    with data.lock:
        data.state.po_overrides[late["id"]] = changed
        data._version += 1  # the emulator's snapshot is rebuilt with it

    second = run_pipeline(tmp_path, config, first, 2)
    rows = landed(tmp_path)
    assert (late["id"], Decimal(changed["quantity"])) in rows  # the late row landed
    assert len(rows) == len({r[0] for r in rows}) == len(orders)  # the rows read again upserted: no duplicates
    assert second["bookmarks"]["purchase_orders"]["replication_key_value"] == bookmark  # not moved back

    third = run_pipeline(tmp_path, {**config, "lookback_seconds": 0}, second, 3)  # 0: the bookmark as it is
    assert third["bookmarks"]["purchase_orders"]["replication_key_value"] == bookmark


def test_a_start_date_with_an_offset_inside_the_lookback_is_written_in_the_bookmarks_form(
    tmp_path: Path, url: str, emulator: CommonEmulator
) -> None:
    """``start_date`` at +01:00, 100 s before the bookmark: the value counted back from is written as the
    bookmark's ``Z`` text, so the rows read again sort after it. Before, it kept ``+01:00`` and the SDK's sort check
    failed on every run (review23a finding 3)."""
    config = common_config(url, page_size=7)
    first = run_pipeline(tmp_path, config, None, 1)
    bookmark = first["bookmarks"]["purchase_orders"]["replication_key_value"]
    moment = datetime.fromisoformat(bookmark.replace("Z", "+00:00")) - timedelta(seconds=100)
    start_date = moment.astimezone(timezone(timedelta(hours=1))).isoformat()
    second = run_pipeline(tmp_path, {**config, "start_date": start_date}, first, 2)
    assert second["bookmarks"]["purchase_orders"]["replication_key_value"] == bookmark
    assert len(landed(tmp_path)) == len(emulator.data.purchase_orders())


@pytest.mark.parametrize("value", [-1, "soon", 1.5, True])
def test_lookback_seconds_must_be_a_whole_number(url: str, value: Any) -> None:
    with pytest.raises(ConfigValidationError, match="setting 'lookback_seconds' must be a whole number of seconds"):
        CommonSettings.from_config(common_config(url, lookback_seconds=value))
