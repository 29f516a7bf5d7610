"""``employee_changes`` windows that fail part-way (audit24b H1): a STATE written inside a window never carries
that window's end, so the run resumed from it asks for the window again and no change is lost. RECORD in
process (a STATE after every record, as every 10,000 on a large window), BATCH through the console script
(a STATE after every file)."""

from __future__ import annotations

import json
import subprocess
import sys
import typing as t
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from singer_sdk.exceptions import ConfigValidationError

from xlr8_kit.testing.meltano_e2e import truths_table
from xlr8_kit.testing.singer_cli import (
    parse_singer_messages,
    run_tap_cli,
    select_streams,
    sync_until_error,
    write_json,
)
from xlr8_sandbox.company import EPOCH, Company
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_pro import UkgProEmulator
from xlr8_tap_ukg_pro.streams import WINDOW_KEY, EmployeeChangesStream
from xlr8_tap_ukg_pro.tap import TapUkgPro

from .conftest import SCALE, run_tap, ukg_config

COMPANY = Company(seed=42, scale=SCALE)
PATH = "/personnel/v1/employee-changes"
START = EPOCH
MIDDLE = EPOCH + timedelta(days=10)
END = EPOCH + timedelta(days=20)
BIN = Path(sys.executable).parent


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _expected() -> set[tuple[str, str]]:
    """(employeeId, changeWindowEnd) of every change in the two 10-day windows."""
    return {
        (c.key, b.isoformat())
        for a, b in ((START, MIDDLE), (MIDDLE, END))
        for c in COMPANY.changes_between(a, b)
        if c.entity == "employee"
    }


def _config(url: str, **extra: object) -> dict[str, object]:
    return ukg_config(url, start_date=_stamp(START), end_date=_stamp(END), employee_changes_window_days=10,
                      per_page=2, max_concurrent_requests=1, **extra)  # fmt: skip


def _fail_page(sandbox: Sandbox, window_start: datetime, page: int) -> None:
    """A final 400 on one page of the window starting at ``window_start`` (after the pages before it went out)."""
    sandbox.faults.add(
        "ukg_pro",
        PATH,
        FaultSpec("status", status=400, body='{"message": "boom"}',
                  query={"startDate": _stamp(window_start), "page": str(page)}, times=1),
    )  # fmt: skip


@pytest.fixture
def twenty_days(sandbox: Sandbox, emulator: UkgProEmulator) -> None:
    sandbox.ctx.clock.advance(timedelta(days=20))
    assert len({key for key, end in _expected() if end == MIDDLE.isoformat()}) > 2  # window 1 has rows
    assert len({key for key, end in _expected() if end == END.isoformat()}) > 2  # window 2 has more than a page
    emulator.change_windows.clear()


def test_record_state_inside_a_window_keeps_its_start(
    url: str, sandbox: Sandbox, emulator: UkgProEmulator, twenty_days: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(EmployeeChangesStream, "STATE_MSG_FREQUENCY", 1)  # a STATE after each record
    _fail_page(sandbox, MIDDLE, 2)  # page 2 of the second window
    config = _config(url)
    probe = TapUkgPro(config=config, parse_env_config=False)
    catalog = select_streams(probe.catalog_dict, {"employee_changes"})
    failed, error = sync_until_error(TapUkgPro(config=config, catalog=catalog, parse_env_config=False))
    assert error is not None
    assert "boom" in str(error)
    first = failed.records("employee_changes")
    assert any(r["changeWindowEnd"] == END.isoformat() for r in first)  # window 2's page 1 went out
    bookmark = failed.state["bookmarks"]["employee_changes"]
    assert bookmark.get("replication_key_value") == MIDDLE.isoformat()  # not END: window 2 is not all read

    emulator.change_windows.clear()
    resumed = run_tap(config, streams={"employee_changes"}, state=failed.state)
    assert emulator.change_windows == [(_stamp(MIDDLE), _stamp(END))]  # the window asked again
    got = {(r["employeeId"], r["changeWindowEnd"]) for r in first + resumed.records("employee_changes")}
    assert got == _expected()  # nothing lost
    assert resumed.state["bookmarks"]["employee_changes"]["replication_key_value"] == END.isoformat()


def test_batch_state_after_a_file_inside_a_window_keeps_its_start(
    url: str, sandbox: Sandbox, emulator: UkgProEmulator, twenty_days: None, tmp_path: Path
) -> None:
    _fail_page(sandbox, MIDDLE, 2)  # page 2 of the second window
    spool = tmp_path / "batches"
    spool.mkdir()
    batch = {"encoding": {"format": "jsonl"}, "storage": {"root": spool.as_uri()}, "batch_size": 2}
    config_file = write_json(tmp_path / "config.json", _config(url, batch_config=batch))
    probe = TapUkgPro(config=_config(url), parse_env_config=False)
    catalog_file = write_json(tmp_path / "catalog.json", select_streams(probe.catalog_dict, {"employee_changes"}))

    failed = run_tap_cli("tap-ukg-pro", ["--config", config_file, "--catalog", catalog_file], tmp_path)
    assert failed.returncode != 0
    assert "boom" in failed.stderr
    messages = parse_singer_messages(failed.stdout)
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    files = [url for m in messages if m["type"] == "BATCH" for url in m["manifest"]]
    first = [json.loads(line) for f in files for line in Path(f.removeprefix("file://")).read_text().splitlines()]
    assert any(r["changeWindowEnd"] == END.isoformat() for r in first)  # a file of window 2 was named
    last = states[-1]
    assert last["bookmarks"]["employee_changes"].get("replication_key_value") == MIDDLE.isoformat()

    emulator.change_windows.clear()
    state_file = write_json(tmp_path / "state.json", last)
    resumed = run_tap_cli("tap-ukg-pro", ["--config", config_file, "--catalog", catalog_file, "--state", state_file],
                          tmp_path)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert emulator.change_windows == [(_stamp(MIDDLE), _stamp(END))]
    again = parse_singer_messages(resumed.stdout)
    files = [url for m in again if m["type"] == "BATCH" for url in m["manifest"]]
    later = [json.loads(line) for f in files for line in Path(f.removeprefix("file://")).read_text().splitlines()]
    assert {(r["employeeId"], r["changeWindowEnd"]) for r in first + later} == _expected()


@pytest.mark.parametrize(("lag", "hours"), [(None, 3.0), (0.5, 0.5)])
def test_the_last_window_ends_before_now_by_the_lag(
    url: str, emulator: UkgProEmulator, lag: float | None, hours: float
) -> None:
    """UKG's change feed is batched (audit24b M5): with no ``end_date`` the last window ends
    ``employee_changes_lag_hours`` (default 3) before now, so a change that reaches the feed late is still after
    the bookmark the run leaves."""
    now = datetime.now(UTC)
    config = ukg_config(url, start_date=_stamp(now - timedelta(days=2)), employee_changes_window_days=7)
    del config["end_date"]
    if lag is not None:
        config["employee_changes_lag_hours"] = lag
    run_tap(config, streams={"employee_changes"})
    ((start, end),) = emulator.change_windows
    assert start == _stamp(now - timedelta(days=2))
    asked_end = datetime.fromisoformat(str(end).replace("Z", "+00:00"))
    assert abs(asked_end - (now - timedelta(hours=hours))) < timedelta(minutes=2)


def test_a_lag_out_of_range_names_the_setting(url: str) -> None:
    with pytest.raises(ConfigValidationError, match="employee_changes_lag_hours"):
        TapUkgPro(config=ukg_config(url, employee_changes_lag_hours=-1), parse_env_config=False)


@pytest.mark.parametrize("after_empty", [False, True], ids=["one-window", "after-an-empty-window"])
@pytest.mark.parametrize("batch", [False, True], ids=["record", "batch"])
def test_a_resumed_last_window_keeps_its_end_so_rows_upsert(
    url: str, sandbox: Sandbox, emulator: UkgProEmulator, tmp_path: Path, batch: bool, after_empty: bool
) -> None:
    """review24b #1: the last window ends at now less the lag, which moves between runs. A run that fails inside
    it, resumed later, must read it again to the same end: the rows the failed run landed are keyed by that end,
    and the target upserts them instead of storing each change twice. ``tap | target`` (DuckDB) through the
    console scripts, real clock (no ``end_date``), one window from ``start_date`` to now. ``after_empty``
    (review24g #1): a bookmark a year before, so an empty window comes first; the bookmark stays behind it
    (review24i #1: a change may reach UKG's feed late), and the resume reads the empty window again, then the held
    one to its same end (it must not drop the held window and read it to a new end)."""
    sandbox.ctx.clock.advance(timedelta(days=20))
    changed = {c.key for c in COMPANY.changes_between(START, END) if c.entity == "employee"}
    assert len(changed) > 4  # more than the two pages before the failure
    _fail_page(sandbox, START, 3)
    first = START - timedelta(days=366) if after_empty else START
    assert not any(c.entity == "employee" for c in COMPANY.changes_between(first, START))
    config = ukg_config(url, start_date=_stamp(first), employee_changes_window_days=366, per_page=2,
                        max_concurrent_requests=1)  # fmt: skip
    del config["end_date"]  # the window ends at now less the lag: later on the resumed run
    spool = tmp_path / "spool"
    spool.mkdir()
    if batch:
        config["batch_config"] = {"encoding": {"format": "jsonl"}, "storage": {"root": spool.as_uri()},
                                  "batch_size": 2}  # fmt: skip
    store = tmp_path / "truths.duckdb"
    target_config = write_json(tmp_path / "target.json", {
        "project_id": "6f1c2a9e-5a4d-4b8e-9c1f-0a5d5a4d0b01", "duckdb_path": str(store),
        "pii_key_file": str(tmp_path / "pii.key"), "pii_key_create": True, "batch_locations": [str(spool)],
    })  # fmt: skip
    config_file = write_json(tmp_path / "config.json", config)
    probe = TapUkgPro(config=config, parse_env_config=False)
    catalog_file = write_json(tmp_path / "catalog.json", select_streams(probe.catalog_dict, {"employee_changes"}))

    def tap_into_target(*state: str) -> tuple[int, list[dict[str, t.Any]]]:
        tap = run_tap_cli("tap-ukg-pro", ["--config", config_file, "--catalog", catalog_file, *state], tmp_path)
        target = subprocess.run([str(BIN / "target-xlr8-truths"), "--config", target_config], input=tap.stdout,
                                capture_output=True, text=True, check=False, timeout=180)  # fmt: skip
        assert target.returncode == 0, target.stderr[-2000:]
        return tap.returncode, [m["value"] for m in parse_singer_messages(tap.stdout) if m["type"] == "STATE"]

    bookmark = {"replication_key": "changeWindowEnd", "replication_key_value": first.isoformat()}
    initial = write_json(tmp_path / "state0.json", {"bookmarks": {"employee_changes": bookmark}})
    failed, states = tap_into_target(*(["--state", initial] if after_empty else []))
    assert failed != 0
    *before, window = emulator.change_windows
    assert len(before) == int(after_empty)
    emulator.change_windows.clear()
    # resumed from the failed run's last STATE (none written: from the start, as the scheduler would)
    state = ["--state", write_json(tmp_path / "state.json", states[-1])] if states else []
    resumed, _ = tap_into_target(*state)
    assert resumed == 0
    with duckdb.connect(str(store), read_only=True) as conn:
        table = truths_table(conn, "ukg_pro", "employee_changes")
        rows = conn.execute(f'SELECT employee_id, change_window_end FROM "{table}"').fetchall()
    assert {employee for employee, _ in rows} == changed
    assert len(rows) == len(changed)  # each change once: the re-read rows were upserted
    left = states[-1]["bookmarks"]["employee_changes"].get("replication_key_value")
    assert left == (first.isoformat() if after_empty else None)  # the failing window was not all read
    # the empty window again (its bookmark stayed), then the failing one to the same end; then on to the new end
    assert emulator.change_windows[: len(before) + 1] == [*before, window]


def test_a_held_window_is_taken_only_where_the_read_starts(
    url: str, emulator: UkgProEmulator, twenty_days: None
) -> None:
    """review24g #4: no bookmark, and an ``xlr8_window`` left in the state by an earlier run (Meltano's merge keeps
    a key a later run popped) that does not start at ``start_date`` (moved earlier since). The read starts at
    ``start_date``: taking the held window first would skip ``[start_date, held start)``."""
    earlier = START - timedelta(days=10)
    config = ukg_config(url, start_date=_stamp(earlier), end_date=_stamp(END), employee_changes_window_days=10,
                        per_page=50)  # fmt: skip
    held = {WINDOW_KEY: {"start": MIDDLE.isoformat(), "end": END.isoformat()}}
    got = run_tap(config, streams={"employee_changes"}, state={"bookmarks": {"employee_changes": held}})
    assert emulator.change_windows == [(_stamp(a), _stamp(b)) for a, b in ((earlier, START), (START, MIDDLE),
                                                                          (MIDDLE, END))]  # fmt: skip
    changed = {c.key for c in COMPANY.changes_between(earlier, END) if c.entity == "employee"}
    assert {r["employeeId"] for r in got.records("employee_changes")} == changed


def test_a_change_reaching_the_feed_after_its_window_was_read_empty_lands_next_run(
    url: str, sandbox: Sandbox, emulator: UkgProEmulator, twenty_days: None
) -> None:
    """review24i #1: UKG's feed is batched; a window read while its changes were not in the feed yet (later than the
    lag) comes back empty. The bookmark stays behind an empty window, so the next run reads it again and every
    change lands (moving past it lost 37 of 79)."""
    sandbox.faults.add(
        "ukg_pro", PATH, FaultSpec("status", status=200, body="[]", query={"startDate": _stamp(START), "page": "1"},
                                   times=1),
    )  # fmt: skip
    first = run_tap(ukg_config(url, start_date=_stamp(START), end_date=_stamp(MIDDLE), employee_changes_window_days=10,
                               per_page=50), streams={"employee_changes"})  # fmt: skip
    assert first.records("employee_changes") == []
    second = run_tap(ukg_config(url, start_date=_stamp(START), end_date=_stamp(END), employee_changes_window_days=10,
                                per_page=50), streams={"employee_changes"}, state=first.state)  # fmt: skip
    landed = {r["employeeId"] for r in second.records("employee_changes")}
    assert landed == {c.key for c in COMPANY.changes_between(START, END) if c.entity == "employee"}
