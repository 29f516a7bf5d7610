"""tap-common | mapper-common over real HTTP (Common emulator, its own data) and the real CLIs.

- ``drop_other_streams`` drops a stream's records, so it must drop that stream's bookmark too. Before, the STATE
  passed on named the dropped ERP-sync updates in ``delivered_update_ids``, and the next run acknowledged them to
  Common, which removed them from its pending list although they never landed (audit23a finding 3).
- A purchase order the template cannot carry (s4hana: a shipped or received one) is refused by key and the others go
  on; the STATE does not pass it unless it was dead-lettered; the run exits 1. Before, the run stopped at the first
  such order, on every run, so no later order ever reached the ERP (audit23a finding 6)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from xlr8_kit.testing.singer_cli import parse_singer_messages, piped, select_streams, write_json
from xlr8_sandbox.products.common import EMAIL, PASSWORD, CommonEmulator
from xlr8_sandbox.testing import emulator_fixtures
from xlr8_tap_common.tap import TapCommon

BIN = Path(sys.executable).parent
STREAMS = {"erp_sync_pending_updates", "amendments"}

sandbox, emulator, url = emulator_fixtures("common", scale=50)


def tap_then_mapper(
    tmp: Path, tap_config: str, catalog: str, mapper_config: str, state: Any, *, mapper_rc: int = 0
) -> tuple[list[dict[str, Any]], str]:
    """``tap-common ... | mapper-common ...``: what the mapper wrote, and its stderr (the tap must exit 0, the
    mapper with ``mapper_rc``)."""
    args = [str(BIN / "tap-common"), "--config", tap_config, "--catalog", catalog]
    if state is not None:
        args += ["--state", write_json(tmp / "state.json", state)]
    mapper = piped(args, [str(BIN / "mapper-common"), "--config", mapper_config], tmp / "tap.log")
    assert mapper.returncode == mapper_rc, mapper.stderr[-2000:]
    return parse_singer_messages(mapper.stdout, exact_decimals=True), mapper.stderr


def tap_files(tmp: Path, url: str, streams: set[str]) -> tuple[str, str]:
    """tap-common's config and a catalog selecting ``streams``."""
    config = {"api_base_url": url, "email": EMAIL, "password": PASSWORD, "page_size": 3}
    catalog = select_streams(TapCommon(config=config, parse_env_config=False).catalog_dict, streams)
    return write_json(tmp / "tap.json", config), write_json(tmp / "catalog.json", catalog)


def test_dropped_streams_leave_the_state_so_nothing_is_acknowledged(
    url: str, emulator: CommonEmulator, tmp_path: Path
) -> None:
    pending = [u.id for u in emulator.data.pending_updates()]
    assert pending  # the emulator has ERP-sync updates waiting
    tap_config, catalog = tap_files(tmp_path, url, STREAMS)
    mapper_config = write_json(
        tmp_path / "mapper.json", {"template": "s4hana", "direction": "to_erp", "drop_other_streams": True}
    )

    first, _ = tap_then_mapper(tmp_path, tap_config, catalog, mapper_config, None)
    assert not [m for m in first if m["type"] == "RECORD"]  # every record dropped, as configured
    states = [m["value"] for m in first if m["type"] == "STATE"]
    second, _ = tap_then_mapper(tmp_path, tap_config, catalog, mapper_config, states[-1])  # the backend's last STATE
    assert emulator.data.state.ack_calls == {}  # nothing acknowledged: nothing landed
    assert [u.id for u in emulator.data.pending_updates()] == pending
    for state in states:  # no STATE claims a dropped stream's records
        assert not STREAMS & set(state.get("bookmarks") or {}), json.dumps(state)[:500]
    assert not STREAMS & set(([m["value"] for m in second if m["type"] == "STATE"][-1]).get("bookmarks") or {})

    passing = write_json(tmp_path / "passing.json", {"template": "s4hana", "direction": "to_erp"})
    passed, _ = tap_then_mapper(
        tmp_path, tap_config, catalog, passing, None
    )  # without dropping, the state is the tap's
    delivered = [m["value"] for m in passed if m["type"] == "STATE"][-1]["bookmarks"]["erp_sync_pending_updates"]
    assert delivered["delivered_update_ids"] == pending
    records = [m for m in passed if m["type"] == "RECORD" and m["stream"] == "erp_sync_pending_updates"]
    assert [m["record"]["id"] for m in records] == pending


def test_a_refused_order_does_not_stop_the_others(url: str, emulator: CommonEmulator, tmp_path: Path) -> None:
    orders = emulator.data.purchase_orders()
    mapped = {"draft", "amendment_pending", "pending", "confirmed", "cancelled"}  # templates/s4hana.yaml
    refused = [o["po_number"] for o in orders if o["status"] not in mapped]
    carried = [o["po_number"] for o in orders if o["status"] in mapped]
    assert refused, "the emulator's data has shipped or received orders"
    assert carried
    first_refused = next(o["updated_at"] for o in orders if o["status"] not in mapped)
    assert any(o["updated_at"] > first_refused and o["status"] in mapped for o in orders)  # orders after it go
    tap_config, catalog = tap_files(tmp_path, url, {"purchase_orders"})

    held = write_json(tmp_path / "held.json", {"template": "s4hana", "direction": "to_erp"})
    messages, stderr = tap_then_mapper(tmp_path, tap_config, catalog, held, None, mapper_rc=1)
    sent = [m["record"]["PurchaseOrder"] for m in messages if m["type"] == "RECORD"]
    assert sent == carried  # every order the template carries, in the tap's order, the refused ones left out
    assert f"{len(refused)} record(s) the template 's4hana' cannot carry were not sent on" in stderr
    for number in refused:
        assert f"po_number={number!r} not sent on" in stderr
    for message in messages:  # no STATE passes the first refused order: it is read again next run
        if message["type"] == "STATE":
            bookmark = message["value"].get("bookmarks", {}).get("purchase_orders", {})
            assert str(bookmark.get("replication_key_value") or "") <= first_refused

    dead = tmp_path / "dead" / "letters.jsonl"
    config = {"template": "s4hana", "direction": "to_erp", "dead_letter_path": str(dead)}
    lettered = write_json(tmp_path / "lettered.json", config)
    messages, stderr = tap_then_mapper(tmp_path, tap_config, catalog, lettered, None, mapper_rc=1)
    assert [m["record"]["PurchaseOrder"] for m in messages if m["type"] == "RECORD"] == carried
    letters = [json.loads(line) for line in dead.read_text().splitlines()]
    assert [letter["record"]["po_number"] for letter in letters] == refused
    assert all("has no mapping in template 's4hana'" in letter["error"] for letter in letters)
    assert f"written to dead_letter_path {dead}" in stderr
    last = [m["value"] for m in messages if m["type"] == "STATE"][-1]  # set aside: the STATE goes past them
    assert last["bookmarks"]["purchase_orders"]["replication_key_value"] == orders[-1]["updated_at"]


def test_a_dead_lettered_order_re_read_is_not_lettered_again(
    url: str, emulator: CommonEmulator, tmp_path: Path
) -> None:
    """Three runs, each from the last STATE: the tap re-reads the bookmark's rows (and ``lookback_seconds``), so
    the refused orders among them come again; they are not written again and the later runs exit 0 (review23a
    finding 2). Before, each run lettered them again and exited 1, forever."""
    orders = emulator.data.purchase_orders()
    mapped = {"draft", "amendment_pending", "pending", "confirmed", "cancelled"}  # templates/s4hana.yaml
    refused = [o["po_number"] for o in orders if o["status"] not in mapped]
    assert refused
    tap_config, catalog = tap_files(tmp_path, url, {"purchase_orders"})
    dead = tmp_path / "letters.jsonl"
    config = write_json(
        tmp_path / "lettered.json", {"template": "s4hana", "direction": "to_erp", "dead_letter_path": str(dead)}
    )
    messages, stderr = tap_then_mapper(tmp_path, tap_config, catalog, config, None, mapper_rc=1)
    assert [json.loads(line)["record"]["po_number"] for line in dead.read_text().splitlines()] == refused
    state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
    for _ in range(2):
        messages, stderr = tap_then_mapper(tmp_path, tap_config, catalog, config, state)
        assert len(dead.read_text().splitlines()) == len(refused)  # nothing lettered twice
        assert "refused again, unchanged and already in dead_letter_path, not written again" in stderr
        assert "not sent on (" not in stderr
        state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
    assert state["bookmarks"]["purchase_orders"]["replication_key_value"] == orders[-1]["updated_at"]
