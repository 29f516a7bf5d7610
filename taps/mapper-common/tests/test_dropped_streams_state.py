"""``drop_other_streams`` drops a stream's records, so it must drop that stream's bookmark too: tap-common |
mapper-common over real HTTP (Common emulator) and the real CLIs. Before, the STATE passed on named the dropped
ERP-sync updates in ``delivered_update_ids``, and the next run acknowledged them to Common, which removed them from
its pending list although they never landed (audit23a finding 3)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from xlr8_kit.testing.singer_cli import parse_singer_messages, select_streams, write_json
from xlr8_sandbox.products.common import EMAIL, PASSWORD, CommonEmulator
from xlr8_sandbox.testing import emulator_fixtures
from xlr8_tap_common.tap import TapCommon

BIN = Path(sys.executable).parent
STREAMS = {"erp_sync_pending_updates", "amendments"}

sandbox, emulator, url = emulator_fixtures("common", scale=50)


def tap_then_mapper(tmp: Path, tap_config: str, catalog: str, mapper_config: str, state: Any) -> list[dict[str, Any]]:
    """``tap-common ... | mapper-common ...``; what the mapper wrote (both must exit 0)."""
    args = [str(BIN / "tap-common"), "--config", tap_config, "--catalog", catalog]
    if state is not None:
        args += ["--state", write_json(tmp / "state.json", state)]
    log = tmp / "tap.log"
    with log.open("wb") as err:
        tap = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err)
    mapper = subprocess.run(
        [str(BIN / "mapper-common"), "--config", mapper_config],
        stdin=tap.stdout,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert tap.stdout is not None
    tap.stdout.close()
    assert tap.wait(timeout=60) == 0, log.read_text()[-2000:]
    assert mapper.returncode == 0, mapper.stderr[-2000:]
    return parse_singer_messages(mapper.stdout)


def test_dropped_streams_leave_the_state_so_nothing_is_acknowledged(
    url: str, emulator: CommonEmulator, tmp_path: Path
) -> None:
    pending = [u.id for u in emulator.data.pending_updates()]
    assert pending  # the emulator has ERP-sync updates waiting
    config = {"api_base_url": url, "email": EMAIL, "password": PASSWORD, "page_size": 3}
    tap_config = write_json(tmp_path / "tap.json", config)
    catalog_dict = select_streams(TapCommon(config=config, parse_env_config=False).catalog_dict, STREAMS)
    catalog = write_json(tmp_path / "catalog.json", catalog_dict)
    mapper_config = write_json(
        tmp_path / "mapper.json", {"template": "s4hana", "direction": "to_erp", "drop_other_streams": True}
    )

    first = tap_then_mapper(tmp_path, tap_config, catalog, mapper_config, None)
    assert not [m for m in first if m["type"] == "RECORD"]  # every record dropped, as configured
    states = [m["value"] for m in first if m["type"] == "STATE"]
    second = tap_then_mapper(tmp_path, tap_config, catalog, mapper_config, states[-1])  # the backend's last STATE
    assert emulator.data.state.ack_calls == {}  # nothing acknowledged: nothing landed
    assert [u.id for u in emulator.data.pending_updates()] == pending
    for state in states:  # no STATE claims a dropped stream's records
        assert not STREAMS & set(state.get("bookmarks") or {}), json.dumps(state)[:500]
    assert not STREAMS & set(([m["value"] for m in second if m["type"] == "STATE"][-1]).get("bookmarks") or {})

    passing = write_json(tmp_path / "passing.json", {"template": "s4hana", "direction": "to_erp"})
    passed = tap_then_mapper(tmp_path, tap_config, catalog, passing, None)  # without dropping, the state is the tap's
    delivered = [m["value"] for m in passed if m["type"] == "STATE"][-1]["bookmarks"]["erp_sync_pending_updates"]
    assert delivered["delivered_update_ids"] == pending
    records = [m for m in passed if m["type"] == "RECORD" and m["stream"] == "erp_sync_pending_updates"]
    assert [m["record"]["id"] for m in records] == pending
