"""Scenario tests over real HTTP against the SuccessFactors emulator: paging to the end, snapshot paging under
inserts (E7), effective dating, incremental boundaries (E6, E14), error bodies (A8) and bad config."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from xlr8_kit.http.errors import KitHTTPError
from xlr8_kit.testing.singer_cli import sync_in_process
from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.successfactors import SuccessFactorsEmulator

from .conftest import SCALE, basic_config, run_tap

COMPANY = Company(seed=42, scale=SCALE)
TODAY = date(2026, 1, 5)  # the sandbox clock's start
ALL_USERS = {f"E{i + 1:06d}" for i in range(SCALE)}


def _day(value: str) -> date:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).date()


def test_paging_follows_next_to_the_end(url: str, sandbox: Sandbox, emulator: SuccessFactorsEmulator) -> None:
    before = len(sandbox.requests("successfactors", "/odata/v2/User"))
    result = run_tap(basic_config(url, entity_sets=["User"], page_size=7, snapshot_paging_threshold=0))
    users = result.records("User")
    assert len(users) == SCALE
    assert {u["userId"] for u in users} == ALL_USERS
    requests_made = sandbox.requests("successfactors", "/odata/v2/User")[before:]
    assert len(requests_made) == -(-SCALE // 7)  # 15 pages, no extra request after the last __next
    for user in users[:10]:
        expected = COMPANY.employee(int(user["userId"][1:]) - 1)
        assert (user["firstName"], user["lastName"], user["jobCode"]) == (
            expected.first_name,
            expected.last_name,
            expected.job_code,
        )
        assert _day(user["hireDate"]) == expected.hire_date


def test_exact_values_and_types(url: str, emulator: SuccessFactorsEmulator) -> None:
    result = run_tap(basic_config(url, entity_sets=["EmpJob", "cust_EquipmentAssignment"]))
    job = result.records("EmpJob")[0]
    assert isinstance(job["seqNumber"], int)
    assert isinstance(job["fte"], Decimal)  # Edm.Decimal arrives as a string and stays exact
    assert job["fte"] in (Decimal("1.00"), Decimal("0.50"))
    assert job["lastModifiedDateTime"].endswith("Z")  # /Date(ms+0000)/ -> ISO 8601 UTC
    assert "__metadata" not in job
    assert "userNav" not in job  # deferred navigation links are not data
    schema = result.schema_message("EmpJob")
    assert schema["key_properties"] == ["seqNumber", "startDate", "userId"]
    assert schema["bookmark_properties"] == ["lastModifiedDateTime"]
    assert schema["schema"]["properties"]["fte"]["type"] == ["number", "null"]
    assert schema["schema"]["x-xlr8"]["entity"] == "employee"
    equipment = result.records("cust_EquipmentAssignment")
    assert len(equipment) == SCALE
    assert all(e["cust_assetValue"] == e["cust_assetValue"].quantize(Decimal("0.01")) for e in equipment)


def test_e7_snapshot_paging_under_inserts(url: str, sandbox: Sandbox, emulator: SuccessFactorsEmulator) -> None:
    """Five users are hired while the third page is requested; they land ahead of the read position."""
    sandbox.faults.add("successfactors", "/odata/v2/User", FaultSpec("insert_records", count=5, after=2, times=1))
    config = basic_config(url, entity_sets=["User"], page_size=10, snapshot_paging_threshold=0)
    first = run_tap(config)
    ids = [u["userId"] for u in first.records("User")]
    assert len(ids) == len(set(ids)) == SCALE  # neither lost nor doubled
    assert set(ids) == ALL_USERS
    # The new hires were modified after everything read so far: the next incremental run picks them up.
    second = run_tap(config, state=first.state)
    new_ids = {u["userId"] for u in second.records("User")}
    assert {f"A{n:06d}" for n in range(1, 6)} <= new_ids
    bookmark = first.state["bookmarks"]["User"]["replication_key_value"]
    assert all(u["lastModifiedDateTime"] >= bookmark for u in second.records("User"))


def test_e7_offset_paging_shows_the_vendor_problem(
    url: str, sandbox: Sandbox, emulator: SuccessFactorsEmulator
) -> None:
    """Control: without a snapshot the same inserts shift the offset and rows come twice (KBA 2735876)."""
    sandbox.faults.add("successfactors", "/odata/v2/User", FaultSpec("insert_records", count=5, after=2, times=1))
    result = run_tap(basic_config(url, entity_sets=["User"], page_size=10, snapshot_paging_threshold=10_000))
    counts = Counter(u["userId"] for u in result.records("User"))
    assert sum(1 for c in counts.values() if c > 1) == 5


def test_effective_dating_current_rows_by_default(url: str, emulator: SuccessFactorsEmulator) -> None:
    """Today's rows, one per person, and the rows that take effect later (future-dated terminations), never the
    rows that ended before today."""
    jobs = run_tap(basic_config(url, entity_sets=["EmpJob", "FOCompany"]))
    rows = jobs.records("EmpJob")
    current = [r for r in rows if _day(r["startDate"]) <= TODAY <= _day(r["endDate"])]
    assert Counter(r["userId"] for r in current) == dict.fromkeys(ALL_USERS, 1)
    later = [r for r in rows if r not in current]
    assert later
    assert all(_day(r["startDate"]) > TODAY for r in later)
    companies = jobs.records("FOCompany")
    assert sorted(c["name"] for c in companies) == ["Acme Canada Ltd.", "Acme Holdings Inc."]


def test_effective_dating_history_on_request(url: str, emulator: SuccessFactorsEmulator) -> None:
    history = run_tap(basic_config(url, entity_sets=["EmpJob", "FOCompany"], effective_dated_history=True))
    rows = history.records("EmpJob")
    by_user: dict[str, list[dict]] = {}
    for row in rows:
        by_user.setdefault(row["userId"], []).append(row)
    assert set(by_user) == ALL_USERS
    for periods in by_user.values():
        periods.sort(key=lambda r: r["startDate"])
        assert len(periods) == 2
        assert _day(periods[0]["endDate"]) + timedelta(days=1) == _day(periods[1]["startDate"])
        assert periods[0]["eventReason"] == "HIRNEW"
    names = sorted(c["name"] for c in history.records("FOCompany"))
    assert "Acme Holdings Inc. (former)" in names
    assert len(names) == 4  # both legal entities: the pre-2020 name and the current one
    window = run_tap(
        basic_config(url, entity_sets=["FOCompany"], history_from_date="2016-01-01", history_to_date="2016-12-31")
    )
    assert sorted(c["name"] for c in window.records("FOCompany")) == [
        "Acme Canada Ltd. (former)",
        "Acme Holdings Inc. (former)",
    ]


def test_e6_e14_incremental_boundaries(url: str, emulator: SuccessFactorsEmulator) -> None:
    config = basic_config(url, entity_sets=["User"])
    full = run_tap(config)
    users = full.records("User")
    bookmark = full.state["bookmarks"]["User"]["replication_key_value"]
    assert bookmark == max(u["lastModifiedDateTime"] for u in users)
    # Re-reading from the final bookmark yields the records at the bookmark (>=), nothing older.
    again = run_tap(config, state=full.state)
    assert again.records("User")
    assert {u["userId"] for u in again.records("User")} == {
        u["userId"] for u in users if u["lastModifiedDateTime"] == bookmark
    }
    # Resuming from an intermediate checkpoint yields exactly the records at or after it.
    middle = sorted(u["lastModifiedDateTime"] for u in users)[SCALE // 2]
    state = {"bookmarks": {"User": {"replication_key": "lastModifiedDateTime", "replication_key_value": middle}}}
    resumed = run_tap(config, state=state)
    expected = {u["userId"] for u in users if u["lastModifiedDateTime"] >= middle}
    assert {u["userId"] for u in resumed.records("User")} == expected
    assert all(u["lastModifiedDateTime"] >= middle for u in resumed.records("User"))
    # start_date behaves like a first bookmark.
    started = run_tap(basic_config(url, entity_sets=["User"], start_date=middle))
    assert {u["userId"] for u in started.records("User")} == expected


def test_select_only_chosen_properties_sent(url: str, sandbox: Sandbox, emulator: SuccessFactorsEmulator) -> None:
    from xlr8_tap_sap_successfactors.tap import TapSapSuccessFactors

    tap = TapSapSuccessFactors(config=basic_config(url, entity_sets=["User"]), parse_env_config=False)
    catalog = tap.catalog_dict
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            breadcrumb = entry["breadcrumb"]
            if breadcrumb and breadcrumb[-1] in ("email", "timeZone", "status"):
                entry["metadata"]["selected"] = False
    before = len(sandbox.requests("successfactors", "/odata/v2/User"))
    selected_tap = TapSapSuccessFactors(
        config=basic_config(url, entity_sets=["User"]), catalog=catalog, parse_env_config=False
    )
    records = sync_in_process(selected_tap).records()
    assert len(records) == SCALE
    assert "email" not in records[0]
    assert "firstName" in records[0]
    sent = sandbox.requests("successfactors", "/odata/v2/User")[before:]
    assert sent


def test_a8_error_body_is_fatal_not_empty(url: str, sandbox: Sandbox, emulator: SuccessFactorsEmulator) -> None:
    sandbox.faults.add("successfactors", "/odata/v2/User", FaultSpec("error_body", after=1, times=1))
    with pytest.raises(KitHTTPError, match=r"HTTP 200 but the body is an error.*COE_GENERAL_SERVER_FAILURE") as caught:
        run_tap(basic_config(url, entity_sets=["User"], page_size=10, snapshot_paging_threshold=0))
    assert "sandbox-sf-password" not in str(caught.value)


def test_bad_config_names_the_setting(url: str) -> None:
    from singer_sdk.exceptions import ConfigValidationError

    from xlr8_tap_sap_successfactors.tap import SuccessFactorsSettings

    with pytest.raises(ConfigValidationError) as caught:
        SuccessFactorsSettings.from_config(
            {"api_url": url + "/odata/v2", "company_id": "X", "auth": {"type": "basic", "username": "u"}}
        )
    errors = "\n".join(caught.value.errors)
    assert "'auth.password'" in errors
    assert "'api_url'" in errors
    with pytest.raises(ConfigValidationError) as caught:
        SuccessFactorsSettings.from_config(
            {"api_url": url, "company_id": "X", "auth": {"type": "saml_bearer", "client_id": "c"}, "page_size": 5000}
        )
    errors = "\n".join(caught.value.errors)
    assert "'auth.private_key'" in errors
    assert "'page_size'" in errors


def test_unknown_entity_set_is_a_clear_error(url: str, emulator: SuccessFactorsEmulator) -> None:
    with pytest.raises(ValueError, match=r"entity_sets.*NoSuchSet"):
        run_tap(basic_config(url, entity_sets=["User", "NoSuchSet"]))


def test_wrong_password_is_an_authentication_error(url: str) -> None:
    from xlr8_kit.http.errors import AuthenticationError

    config = basic_config(url, entity_sets=["User"])
    config["auth"]["password"] = "not-the-password-42"
    with pytest.raises(AuthenticationError) as caught:
        run_tap(config)
    assert "LGN0011" in str(caught.value)
    assert "not-the-password-42" not in str(caught.value)


def test_universal_filters_pushed_down_as_odata(url: str, sandbox: Sandbox, emulator: SuccessFactorsEmulator) -> None:
    everyone = run_tap(basic_config(url, entity_sets=["User"])).records("User")
    before = len(sandbox.requests("successfactors", "/odata/v2/User"))
    result = run_tap(
        basic_config(url, entity_sets=["User", "FODepartment"], filters='employee where department_code = "D001"')
    )
    users = result.records("User")
    assert {u["userId"] for u in users} == {u["userId"] for u in everyone if u["department"] == "D001"}
    assert users
    assert len(result.records("FODepartment")) == 7  # the filter is about employees, not departments
    assert len(sandbox.requests("successfactors", "/odata/v2/User")) > before
    from xlr8_tap_sap_successfactors.tap import TapSapSuccessFactors

    tap = TapSapSuccessFactors(
        config=basic_config(url, entity_sets=["User"], filters='employee where department_code = "D001"'),
        parse_env_config=False,
    )
    params = tap.streams["User"].get_url_params(None, None)
    assert params["$filter"] == "(department eq 'D001') and status in 't','f','T','F','e','d'"  # pushed down


def test_e8_expired_snapshot_fails_clearly_and_a_rerun_reads_everything(
    url: str, emulator: SuccessFactorsEmulator
) -> None:
    """The server forgets the snapshot between pages: the run stops with the vendor's message (no server cursor is
    ever kept in state), and the next run re-issues the query from the bookmark."""
    from xlr8_sandbox.products.successfactors_odata import SnapshotStore

    config = basic_config(url, entity_sets=["User"], page_size=10, snapshot_paging_threshold=0)
    emulator.snapshots = SnapshotStore(limit=0)  # every snapshot is gone by the time the next page is asked for
    with pytest.raises(KitHTTPError, match=r"COE0023.*snapshot has expired"):
        run_tap(config)
    emulator.snapshots = SnapshotStore()
    rerun = run_tap(config)
    assert {u["userId"] for u in rerun.records("User")} == ALL_USERS
    assert "skiptoken" not in json.dumps(rerun.state)


def test_metadata_cached_on_disk_between_runs(
    url: str, sandbox: Sandbox, emulator: SuccessFactorsEmulator, tmp_path: Path
) -> None:
    config = basic_config(url, entity_sets=["FOLocation"], metadata_cache_dir=str(tmp_path / "cache"))
    before = len(sandbox.requests("successfactors", "/odata/v2/$metadata"))
    first = run_tap(config)
    second = run_tap(config)
    assert len(first.records("FOLocation")) == len(second.records("FOLocation")) == 6
    assert len(sandbox.requests("successfactors", "/odata/v2/$metadata")) - before == 1  # one download, two runs
    assert len(list((tmp_path / "cache").glob("*.edmx"))) == 1
    expired = run_tap({**config, "metadata_cache_ttl": -1})
    assert len(expired.records("FOLocation")) == 6
    assert len(sandbox.requests("successfactors", "/odata/v2/$metadata")) - before == 2
