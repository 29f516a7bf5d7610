"""Issue 15 items for Salesforce, through the real CLI against the emulator: the partial-run exit code (new scenario
beside RELIABILITY A6/A7) and one-line errors."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests

from xlr8_kit.exits import EXIT_PARTIAL_RUN
from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, write_json
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_tap_salesforce.tap import TapSalesforce


def _run(args: list[str], tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_tap_cli("tap-salesforce", args, tmp_path, env=env)


def test_i15_5_quota_guard_partial_run_exits_75_with_state_safe(sf: Any, tmp_path: Path) -> None:
    """The guard stops at 50 % of the daily quota: the run exits 75 (not 0) with one line saying why, and its last
    STATE covers exactly the records emitted; allow_partial_run makes the same run exit 0."""
    with sf.start_sandbox({"Account": 1000}) as sandbox:
        em = sf.emulator(sandbox)
        config = sf.password_config(sandbox, objects=["Account"], api_type="rest", batch_size=200, api_quota_share=0.5)
        em.api_limit = 10
        short = _run(["--config", write_json(tmp_path / "config.json", config)], tmp_path)
        em.api_used = 0
        allowed_config = {**config, "allow_partial_run": True}
        allowed = _run(["--config", write_json(tmp_path / "allowed.json", allowed_config)], tmp_path)
    assert short.returncode == EXIT_PARTIAL_RUN, short.stderr[-2000:]
    messages = parse_singer_messages(short.stdout)
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    assert 0 < len(records) < 1000
    last_state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
    assert last_state["bookmarks"]["Account"]["replication_key_value"] == records[-1]["SystemModstamp"]
    assert "partial run: Account:" in short.stderr
    assert "allow_partial_run" in short.stderr
    assert "Traceback" not in short.stderr
    assert allowed.returncode == 0, allowed.stderr[-2000:]
    # The same stop, allowed: how many pages land before the guard trips depends on which of the read's requests
    # (the plan's COUNT(), the ranges' pages) reach the org first, so the two runs are compared by their rule, not
    # by an equal count: a partial read whose last STATE covers exactly what it emitted.
    allowed_messages = parse_singer_messages(allowed.stdout)
    allowed_records = [m["record"] for m in allowed_messages if m["type"] == "RECORD"]
    assert 0 < len(allowed_records) < 1000
    allowed_state = [m["value"] for m in allowed_messages if m["type"] == "STATE"][-1]
    assert allowed_state["bookmarks"]["Account"]["replication_key_value"] == allowed_records[-1]["SystemModstamp"]


def test_i15_11_quota_fault_is_salesforce_403_and_stops_the_run_with_state_safe(sf: Any) -> None:
    """The sandbox's ``quota`` fault answers as an org does (403 REQUEST_LIMIT_EXCEEDED, Salesforce's error list,
    Sforce-Limit-Info), so the tap classifies it as quota (A6): it stops with state safe and reports a partial run."""
    with sf.start_sandbox({"Account": 1000}) as sandbox:
        sandbox.faults.add("salesforce", "/services/data/*/queryAll/*", FaultSpec("quota", after=1, times=1))
        # one cursor: which cursor page a ranged read asks second depends on its plan (test_ranged_reads.py has a
        # failed range request emitting nothing after it)
        config = sf.password_config(
            sandbox, objects=["Account"], api_type="rest", batch_size=200, rest_concurrent_queries=1, lookback_seconds=0
        )
        stopped = sf.run_tap(config)
        resumed = sf.run_tap(config, state=stopped.state)
        creds = sf.emulator(sandbox).test_credentials()
        token = requests.post(
            f"{sandbox.url('salesforce')}/services/oauth2/token",
            data={"grant_type": "password", **{k: creds[k] for k in ("client_id", "client_secret", "username")},
                  "password": creds["password"] + creds["security_token"]},
            timeout=30,
        ).json()["access_token"]  # fmt: skip
        sandbox.faults.add("salesforce", "/services/data/*/limits", FaultSpec("quota", times=1))
        raw = requests.get(
            f"{sandbox.url('salesforce')}/services/data/v60.0/limits",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
    assert raw.status_code == 403
    assert raw.json() == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED", "fields": []}
    ]
    assert raw.headers["Sforce-Limit-Info"].startswith("api-usage=")
    first = [r["Id"] for r in stopped.records("Account")]
    assert len(first) == 400  # two pages of 200, then the quota answer
    assert stopped.tap.partial_reasons
    assert (
        stopped.state["bookmarks"]["Account"]["replication_key_value"]
        == stopped.records("Account")[-1]["SystemModstamp"]
    )
    rest = [r["Id"] for r in resumed.records("Account")]
    assert len(set(first) | set(rest)) == 1000
    assert not set(first) & set(rest)


def test_i15_11_e7_inserts_land_in_the_object_being_paged(sf: Any) -> None:
    """RELIABILITY E7 for Salesforce: Accounts another user creates while the tap pages Account are Accounts (new
    Ids, SystemModstamp now), not employees; nothing is lost: the next run from the emitted state reads them."""
    with sf.start_sandbox({"Account": 600}) as sandbox:
        em = sf.emulator(sandbox)
        em.ctx.clock.advance(timedelta(days=1))
        # at the read's fourth query request (page 1 and the ranged read's plan went out): a cursor page, or a range
        # query (a short range is a single page, and 600 Accounts are page 1 and short ranges)
        sandbox.faults.add(
            "salesforce", "/services/data/*/queryAll*", FaultSpec("insert_records", count=3, after=3, times=1)
        )
        config = sf.password_config(sandbox, objects=["Account"], api_type="rest", batch_size=200, lookback_seconds=0)
        first = sf.run_tap(config)
        second = sf.run_tap(config, state=first.state)
    base = {em.objects["Account"].record_id(i) for i in range(600)}
    inserted = {em.objects["Account"].record_id(i) for i in range(600, 603)}
    first_ids = {r["Id"] for r in first.records("Account")}
    second_ids = {r["Id"] for r in second.records("Account")}
    assert base <= first_ids <= base | inserted
    # A cursor's snapshot misses them and the next run reads them from the bookmark; a ranged read
    # (rest_concurrent_queries) may read them already, in its last range, when it was planned after the insert.
    assert second_ids == inserted - first_ids
    assert all(r["Name"] for r in first.records("Account") + second.records("Account"))


def _number_texts(lines: list[str]) -> dict[str, dict[str, Any]]:
    """Each Account RECORD as written, numbers kept as their JSON text."""
    out: dict[str, dict[str, Any]] = {}
    for line in lines:
        message = json.loads(line, parse_float=str, parse_int=str)
        if message["type"] == "RECORD":
            out[message["record"]["Id"]] = message["record"]
    return out


def test_i15_6_rest_and_bulk_write_the_same_number_text(sf: Any) -> None:
    """Bulk API 2.0 pads doubles to the field's scale (-33.868820000000000); the tap writes every number the way
    REST does (-33.86882), so switching API (auto) changes no row."""
    with sf.start_sandbox({"Account": 120}) as sandbox:
        config = sf.password_config(sandbox, objects=["Account"])
        rest = sf.run_tap({**config, "api_type": "rest"})
        bulk = sf.run_tap({**config, "api_type": "bulk"})
    rest_rows, bulk_rows = _number_texts(rest.lines), _number_texts(bulk.lines)
    assert len(rest_rows) == 120
    assert bulk_rows == rest_rows
    sample = next(iter(rest_rows.values()))
    assert sample["BillingLatitude"] == sample["BillingAddress"]["latitude"]
    assert not sample["BillingLatitude"].endswith("0")


def test_i15_7_settings_validated_before_the_first_message_in_every_mode(sf: Any, sandbox: Any, tmp_path: Path) -> None:
    """A wrongly typed login_url and start_date "yesterday-ish" stop the tap before it writes anything, in sync
    and in discovery mode, each error naming its setting; the same checks hold for every kit tap."""
    config = {**sf.password_config(sandbox), "login_url": 123, "start_date": "yesterday-ish"}
    config_file = write_json(tmp_path / "config.json", config)
    for mode in ([], ["--discover"]):
        result = _run(["--config", config_file, *mode], tmp_path)
        assert result.returncode == 1
        assert result.stdout == ""
        assert "setting 'login_url' must be of type" in result.stderr
        assert "setting 'start_date' is not an ISO 8601 date-time" in result.stderr
        assert "Traceback" not in result.stderr
    other = run_tap_cli(
        "tap-sap-successfactors",
        ["--config", write_json(tmp_path / "sf.json", {"start_date": "yesterday-ish"}), "--discover"],
        tmp_path,
    )
    assert other.returncode == 1
    assert other.stdout == ""
    assert "setting 'start_date' is not an ISO 8601 date-time" in other.stderr


def test_i15_8_bad_state_files_name_the_file_and_the_stream(sf: Any, sandbox: Any, tmp_path: Path) -> None:
    """E9: a state file that is not JSON, or whose stream entry is malformed, stops the tap before its first
    message with one error line naming the file (and the stream), exit 2 like any bad option value."""
    config_file = write_json(tmp_path / "config.json", sf.password_config(sandbox, objects=["Account"]))
    broken = tmp_path / "broken-state.json"
    broken.write_text('{"bookmarks": {"Account": ')
    wrong = write_json(tmp_path / "wrong-state.json", {"bookmarks": {"Account": "2024-01-01"}})
    cases = [
        (str(broken), f"state file {broken}: not valid JSON (line 1, column 27)"),
        (wrong, f"state file {wrong}: stream Account: bookmark must be an object, not str"),
    ]
    for state_file, named in cases:
        result = _run(["--config", config_file, "--state", state_file], tmp_path)
        assert result.returncode == 2  # a bad --state value: click's usage error (xlr8_kit.exits)
        assert result.stdout == ""
        assert named in result.stderr
        assert "Traceback" not in result.stderr


def test_i15_8_malformed_bookmark_value_names_the_stream(sf: Any, sandbox: Any, tmp_path: Path) -> None:
    """E9: a bookmark that is not a date-time stops the stream with one line naming the stream; no record is
    emitted and no STATE moves past it."""
    config_file = write_json(tmp_path / "config.json", sf.password_config(sandbox, objects=["Account"]))
    state = write_json(tmp_path / "state.json", {"bookmarks": {"Account": {"replication_key_value": "yesterday-ish"}}})
    result = _run(["--config", config_file, "--state", state], tmp_path)
    assert result.returncode == 1
    assert (
        "state: stream Account: replication_key_value for SystemModstamp is not an ISO 8601 date-time" in result.stderr
    )
    messages = parse_singer_messages(result.stdout)
    assert [m for m in messages if m["type"] == "RECORD"] == []
    assert all(m["value"]["bookmarks"]["Account"]["replication_key_value"] == "yesterday-ish"
               for m in messages if m["type"] == "STATE")  # fmt: skip
    assert "Traceback" not in result.stderr


def test_i15_11_a_quota_refusal_of_the_describe_stops_a_sync_with_state_safe(sf: Any) -> None:
    """A6 before the first stream: the org refuses the describe (403 REQUEST_LIMIT_EXCEEDED), or the kit's guard
    does once an early answer gave it a reading (review 19e): the same quota stop as any stream's, a partial run
    with the input state handed on, not a crash (exit 1, no STATE)."""
    with sf.start_sandbox({"Account": 300}) as sandbox:
        config = sf.password_config(sandbox, objects=["Account"], api_type="rest")
        catalog = TapSalesforce(config=config, parse_env_config=False).catalog_dict
        for entry in catalog["streams"]:
            entry["metadata"][0]["metadata"]["selected"] = True
        sandbox.faults.add("salesforce", "/services/data/*/composite/batch", FaultSpec("quota", times=1))
        state = {"bookmarks": {"Account": {"replication_key": "SystemModstamp", "replication_key_value": "2020"}}}
        stopped = sf.run_tap(config, state=state, catalog=catalog)
    assert stopped.tap.partial_reasons
    assert "describe" in stopped.tap.partial_reasons[0]
    assert stopped.records("Account") == []
    assert stopped.state["bookmarks"]["Account"]["replication_key_value"] == "2020"


def test_concurrency_limit_403_is_retried_not_taken_for_the_daily_quota(sf: Any, tmp_path: Path) -> None:
    """audit24a M5: an org answers 403 REQUEST_LIMIT_EXCEEDED "ConcurrentPerOrgLongTxn Limit exceeded" while other
    long requests of the org run (transient); the daily quota is "TotalRequests". The tap retries the first and
    reads on: every Account lands, exit 0, no partial run."""
    body = json.dumps(
        [{"message": "ConcurrentPerOrgLongTxn Limit exceeded", "errorCode": "REQUEST_LIMIT_EXCEEDED", "fields": []}]
    )
    with sf.start_sandbox({"Account": 500}) as sandbox:
        sandbox.faults.add(
            "salesforce", "/services/data/*/queryAll/*", FaultSpec("status", status=403, body=body, after=1, times=1)
        )
        config = sf.password_config(
            sandbox, objects=["Account"], api_type="rest", batch_size=200, rest_concurrent_queries=1
        )
        result = _run(["--config", write_json(tmp_path / "config.json", config)], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    records = [m["record"] for m in parse_singer_messages(result.stdout) if m["type"] == "RECORD"]
    assert len({r["Id"] for r in records}) == 500
    assert "partial run" not in result.stderr
