"""The tap as users run it (the console script against the emulator), and what its schemas announce."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from xlr8_kit.http.errors import KitHTTPError
from xlr8_kit.testing.fake_time import FakeTime
from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_kit.vocabulary.annotations import SETS_READ_STREAM
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_wfm import UkgWfmEmulator

from .conftest import run_tap, wfm_config

ENTITIES = {
    "persons": ("employee", "reality"),
    "timecards": ("timecard", "reality"),
    "punches": ("punch", "reality"),
    "schedules": ("schedule", "reality"),
    "accruals": ("accrual", "reality"),
    "pay_codes": ("earning", "configuration"),
    "accrual_codes": ("accrual", "configuration"),
    "work_rules": ("work_rule", "configuration"),
    "locations": ("organization", "configuration"),
    "labor_categories": ("labor_category", "configuration"),
    "hyperfinds": ("hyperfind", "configuration"),
}


def test_discover_then_sync_through_the_cli(url: str, emulator: UkgWfmEmulator, tmp_path: Path) -> None:
    config = write_json(tmp_path / "config.json", wfm_config(url))
    discovered = run_tap_cli("tap-ukg-wfm", ["--config", config, "--discover"], tmp_path, timeout=120)
    assert discovered.returncode == 0, discovered.stderr
    catalog = json.loads(discovered.stdout)
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert set(streams) == set(ENTITIES)
    assert streams["timecards"]["key_properties"] == ["personNumber", "applyDate", "payCode"]
    assert streams["punches"]["replication_key"] == "applyDate"
    selected = write_json(tmp_path / "catalog.json", select_streams(catalog, {"timecards", "pay_codes"}))
    synced = run_tap_cli("tap-ukg-wfm", ["--config", config, "--catalog", selected], tmp_path, timeout=120)
    assert synced.returncode == 0, synced.stderr
    messages = parse_singer_messages(synced.stdout)
    schemas = {
        m["stream"]: m["schema"]["x-xlr8"]
        for m in messages
        if m["type"] == "SCHEMA" and m["stream"] != SETS_READ_STREAM  # sets read whole: no table's stream
    }
    assert {s: (a["entity"], a["truth_type"]) for s, a in schemas.items()} == {
        s: ENTITIES[s] for s in ("timecards", "pay_codes")
    }
    records = [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "timecards"]
    state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
    assert state["bookmarks"]["timecards"]["replication_key_value"] == max(r["applyDate"] for r in records)


def test_every_stream_is_annotated(url: str, emulator: UkgWfmEmulator) -> None:
    out = run_tap(wfm_config(url, start_date="2026-01-02"))
    assert {s: (out.schema_message(s)["schema"]["x-xlr8"]["entity"],
                out.schema_message(s)["schema"]["x-xlr8"]["truth_type"]) for s in ENTITIES} == ENTITIES  # fmt: skip


def test_error_object_in_a_200_stops_the_stream_without_state(
    url: str, sandbox: Sandbox, emulator: UkgWfmEmulator
) -> None:
    """RELIABILITY A8: ``{"errorCode": ...}`` with HTTP 200 is an error, never zero rows moving the bookmark."""
    sandbox.faults.add("ukg_wfm", "/api/v1/timekeeping/*", FaultSpec("error_body", after=1, times=1))
    with pytest.raises(KitHTTPError, match="WCO-100500"):
        run_tap(wfm_config(url), streams={"timecards"})


def test_429_waits_for_retry_after_then_carries_on(url: str, sandbox: Sandbox, emulator: UkgWfmEmulator) -> None:
    fake = FakeTime()
    sandbox.faults.add("ukg_wfm", "/api/v1/commons/persons/*", FaultSpec("quota", times=2))
    out = run_tap(wfm_config(url), streams={"persons"}, fake=fake)
    assert fake.sleeps[:2] == [2.0, 2.0]  # the emulator's Retry-After
    assert len(out.records("persons")) == len(
        [
            e
            for e in sandbox.ctx.company.employees()
            if e.termination_date is None or str(e.termination_date) >= "2025-12-22"
        ]
    )


def test_an_old_bookmark_is_read_from_without_start_date(
    url: str, sandbox: Sandbox, emulator: UkgWfmEmulator, tmp_path: Path
) -> None:
    """A paused pipeline (bookmark 60 days old, no ``start_date``) reads every day from the bookmark minus the
    lookback, not from the 30-day default start, and the bookmark moves only over days read."""
    end, bookmark, lookback = date(2026, 1, 2), date(2025, 11, 3), 7
    settings = wfm_config(url, end_date=end.isoformat(), lookback_days=lookback)
    del settings["start_date"]
    config = write_json(tmp_path / "config.json", settings)
    discovered = run_tap_cli("tap-ukg-wfm", ["--config", config, "--discover"], tmp_path, timeout=120)
    assert discovered.returncode == 0, discovered.stderr
    selected = write_json(tmp_path / "catalog.json", select_streams(json.loads(discovered.stdout), {"timecards"}))
    old = {"replication_key": "applyDate", "replication_key_value": bookmark.isoformat()}
    state = {"bookmarks": {"timecards": old}}
    args = ["--config", config, "--catalog", selected, "--state", write_json(tmp_path / "state.json", state)]
    synced = run_tap_cli("tap-ukg-wfm", args, tmp_path, timeout=300)
    assert synced.returncode == 0, synced.stderr
    messages = parse_singer_messages(synced.stdout)
    timecards = [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "timecards"]
    landed = {(r["personNumber"], r["applyDate"]) for r in timecards}
    first = bookmark - timedelta(days=lookback)
    company = sandbox.ctx.company
    expected = {
        (company.employee(i).employee_id, day.isoformat())
        for i in range(company.employee_count())
        for n in range((end - first).days + 1)
        if company.worked_day(i, day := first + timedelta(days=n)) is not None
    }
    assert min(day for _, day in expected) < (end - timedelta(days=30)).isoformat()  # days the old code skipped
    assert landed == expected
    last_state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
    assert last_state["bookmarks"]["timecards"]["replication_key_value"] == end.isoformat()
