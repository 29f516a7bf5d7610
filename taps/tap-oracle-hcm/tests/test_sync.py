"""Syncs against the emulator over real HTTP: rows equal the company's people, children as their own streams
with the parent key or embedded, flattening, effective dating, incremental by LastUpdateDate, filters pushed down
in both q syntaxes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from xlr8_sandbox.products.oracle_fusion.hcm import OracleHcmEmulator, person_id

from .conftest import hcm_config, run_tap

STATUS = {"active": "ACTIVE", "leave": "SUSPENDED", "terminated": "INACTIVE"}


def test_workers_are_the_company_people_with_flattened_children(url: str, emulator: OracleHcmEmulator) -> None:
    out = run_tap(hcm_config(url), streams={"workers", "workers_emails", "workers_workRelationships_assignments"})
    workers = {r["PersonNumber"]: r for r in out.records("workers")}
    assert len(workers) == 100
    for e in emulator.company.employees():
        row = workers[e.employee_id]
        assert (row["FirstName"], row["LastName"], row["WorkEmail"]) == (e.first_name, e.last_name, e.email)
        assert row["HireDate"] == e.hire_date.isoformat()
        assert (row["JobCode"], row["LocationCode"]) == (e.job_code, e.location_code)
        assert row["AssignmentStatusType"] == STATUS[e.status]
        assert row["ManagerPersonNumber"] == e.manager_id
        assert "names" not in row  # expanded only to flatten
        assert "emails" not in row
    emails = out.records("workers_emails")
    assert len(emails) == 100
    assert {(r["PersonId"], r["EmailAddress"]) for r in emails} == {
        (person_id(e.index), e.email) for e in emulator.company.employees()
    }
    assignments = out.records("workers_workRelationships_assignments")
    assert {r["PersonId"] for r in assignments} == {person_id(i) for i in range(100)}
    assert all(r["PeriodOfServiceId"] and r["EffectiveStartDate"] for r in assignments)
    # One query, not one per parent; the child named in fields with every attribute, and no expand beside it:
    # Fusion ignores expand when fields is given (audit25a F3).
    described = [
        a.name for a in emulator.resources["workers"].children["workRelationships"].children["assignments"].attrs
    ]
    query = next(
        q for q in emulator.collection_queries if q.get("fields", "").startswith("PersonId;workRelationships:")
    )
    assert query["fields"] == (
        f"PersonId;workRelationships:PeriodOfServiceId;workRelationships.assignments:{','.join(described)}"
    )
    assert not [q for q in emulator.collection_queries if "fields" in q and "expand" in q]


def test_embed_mode_nests_children_in_the_parent(url: str) -> None:
    out = run_tap(hcm_config(url, child_mode="embed", resources=["workers"]))
    assert out.record_streams() == {"workers"}
    row = out.records("workers")[0]
    assert row["emails"][0]["EmailType"] == "W1"
    assert row["workRelationships"][0]["assignments"][0]["JobCode"] == row["JobCode"]
    schema = out.schema("workers")["properties"]
    assert schema["workRelationships"]["items"]["properties"]["assignments"]["type"] == ["array", "null"]


def test_effective_date_picks_the_rows_valid_that_day(url: str, emulator: OracleHcmEmulator) -> None:
    emulator.ctx.clock.advance(timedelta(days=200))  # some people change jobs: two assignment rows
    start = emulator.company.clock.now() - timedelta(days=200)
    changed = [
        e
        for e in emulator.company.employees(0, 100)
        if emulator.company.employee(e.index, start).job_code != e.job_code and e.last_modified.date() > e.hire_date
    ]
    assert changed, "the sandbox should have job changes after 200 days"
    person = changed[0]
    before = (person.last_modified - timedelta(days=1)).date().isoformat()
    today = run_tap(hcm_config(url, resources=["workers"]), streams={"workers"})
    past = run_tap(hcm_config(url, resources=["workers"], effective_date=before), streams={"workers"})
    now_job = {r["PersonNumber"]: r["JobCode"] for r in today.records("workers")}[person.employee_id]
    old_job = {r["PersonNumber"]: r["JobCode"] for r in past.records("workers")}[person.employee_id]
    assert now_job == person.job_code
    assert old_job != person.job_code
    assert any(q.get("effectiveDate") == before for q in emulator.collection_queries)


def test_incremental_reads_from_the_bookmark(url: str, emulator: OracleHcmEmulator) -> None:
    config = hcm_config(
        url, resources=["workers"], lookback_seconds=0
    )  # the bookmark exactly (tap-oracle-erp test_lookback)
    first = run_tap(config, streams={"workers"})
    state = first.state
    bookmark = state["bookmarks"]["workers"]["replication_key_value"]
    assert bookmark == max(r["LastUpdateDate"] for r in first.records("workers"))
    emulator.ctx.clock.advance(timedelta(days=3))
    second = run_tap(config, streams={"workers"}, state=state)
    rows = second.records("workers")
    assert rows, "people changed in three days"
    assert all(r["LastUpdateDate"] >= bookmark for r in rows)
    expected = {e.employee_id for e in emulator.company.employees() if e.last_modified.isoformat() >= bookmark}
    assert {r["PersonNumber"] for r in rows} == expected
    q = emulator.collection_queries[-1]["q"]
    assert q == f"LastUpdateDate >= '{bookmark}'"
    assert emulator.collection_queries[-1]["orderBy"] == "LastUpdateDate:asc,PersonId:asc"


@pytest.mark.parametrize(("framework", "expected_q"), [("4", "PersonNumber in ('E000002', 'E000007')"),
                                                        ("1", None)])  # fmt: skip
def test_filters_pushed_down_in_the_tenant_syntax(
    url: str, emulator: OracleHcmEmulator, framework: str, expected_q: str | None
) -> None:
    config = hcm_config(
        url, resources=["workers"], rest_framework_version=framework, filters='employee_id in ("E000002", "E000007")'
    )
    rows = run_tap(config, streams={"workers"}).records("workers")
    assert sorted(r["PersonNumber"] for r in rows) == ["E000002", "E000007"]
    sent = emulator.collection_queries[-1].get("q")
    assert sent == expected_q  # v1 has no 'in': filtered after fetching


def test_simple_syntax_pushes_equality(url: str, emulator: OracleHcmEmulator) -> None:
    config = hcm_config(url, resources=["workers"], rest_framework_version="1", filters='employee_id = "E000042"')
    rows = run_tap(config, streams={"workers"}).records("workers")
    assert [r["PersonNumber"] for r in rows] == ["E000042"]
    assert emulator.collection_queries[-1]["q"] == "PersonNumber='E000042'"


def test_filter_on_a_flattened_column_is_applied_after_fetching(url: str, emulator: OracleHcmEmulator) -> None:
    config = hcm_config(url, resources=["workers"], filters='location_code = "TOR"')
    rows = run_tap(config, streams={"workers"}).records("workers")
    expected = {e.employee_id for e in emulator.company.employees() if e.location_code == "TOR"}
    assert {r["PersonNumber"] for r in rows} == expected
    pages = [q for q in emulator.collection_queries if q.get("limit")]
    assert "q" not in pages[0]
    assert all("LocationCode" not in q.get("q", "") for q in pages)  # not a workers attribute: never pushed


def test_incremental_in_the_simple_syntax(url: str, emulator: OracleHcmEmulator) -> None:
    config = hcm_config(url, resources=["workers"], rest_framework_version="1", start_date="2025-06-01T00:00:00Z")
    rows = run_tap(config, streams={"workers"}).records("workers")
    expected = {e.employee_id for e in emulator.company.employees() if e.last_modified.isoformat() >= "2025-06-01"}
    assert {r["PersonNumber"] for r in rows} == expected
    assert emulator.collection_queries[-1]["q"] == "LastUpdateDate>='2025-06-01T00:00:00+00:00'"


@pytest.mark.parametrize("setting", [{}, {"full_read_every_days": 7}], ids=["default", "set"])
def test_full_read_every_days_refreshes_columns_flattened_from_children(
    url: str, emulator: OracleHcmEmulator, setting: dict[str, int]
) -> None:
    """audit23b #5, #6: a job change in the assignment child does not move the worker's ``LastUpdateDate``, so
    incremental reads never refresh ``JobCode``; with ``full_read_every_days`` a run whose last whole read is that
    old reads every worker again (no ``LastUpdateDate`` condition) and lands the new job, then goes incremental.
    A default install does so every 7 days (bk24: it never did, the setting was opt-in)."""
    config = hcm_config(url, resources=["workers"], **setting)

    def first_q() -> str | None:
        return emulator.collection_queries[asked].get("q")

    asked = len(emulator.collection_queries)
    first = run_tap(config, streams={"workers"})
    state = first.state
    assert first_q() is None
    assert state["bookmarks"]["workers"]["xlr8_full_read_at"]
    assignments = emulator.resources["workers"].children["workRelationships"].children["assignments"]
    rows = assignments.rows
    workers_def = emulator.resources["workers"]
    declared_row = workers_def.row
    assignments.rows = lambda relationship: [{**r, "JobCode": "MOVED"} for r in rows(relationship)]
    emulator.change_rows("workers", lambda i, row: row)  # the same workers: a new data version, no page kept
    try:
        asked = len(emulator.collection_queries)
        second = run_tap(config, streams={"workers"}, state=state)  # whole read 0 days ago: incremental
        assert (first_q() or "").startswith("LastUpdateDate >= ")
        assert len(second.records("workers")) < len(first.records("workers"))
        stale = second.state
        stale["bookmarks"]["workers"]["xlr8_full_read_at"] = (datetime.now(UTC) - timedelta(days=8)).isoformat()
        asked = len(emulator.collection_queries)
        third = run_tap(config, streams={"workers"}, state=stale)
    finally:
        assignments.rows = rows
        emulator.change_rows("workers", lambda i, row: row)
        workers_def.row = declared_row
    assert first_q() is None
    workers = third.records("workers")
    assert len(workers) == emulator.resources["workers"].count()
    assert {r["JobCode"] for r in workers} == {"MOVED"}
    bookmark = third.state["bookmarks"]["workers"]
    assert bookmark["replication_key_value"] == max(r["LastUpdateDate"] for r in workers)
    assert datetime.fromisoformat(bookmark["xlr8_full_read_at"]) > datetime.now(UTC) - timedelta(hours=1)


def test_full_read_every_days_0_reads_from_the_bookmark_whatever_the_stamp(
    url: str, emulator: OracleHcmEmulator
) -> None:
    """0 turns the whole reads off: a stamp a year old (or none) leaves the run incremental, and none is written."""
    config = hcm_config(url, resources=["workers"], full_read_every_days=0)
    every = run_tap(config, streams={"workers"}).records("workers")
    bookmark = max(r["LastUpdateDate"] for r in every)
    old = (datetime.now(UTC) - timedelta(days=365)).isoformat()
    state = {"bookmarks": {"workers": {"replication_key": "LastUpdateDate", "replication_key_value": bookmark,
                                       "xlr8_full_read_at": old}}}  # fmt: skip
    asked = len(emulator.collection_queries)
    out = run_tap(config, streams={"workers"}, state=state)
    assert emulator.collection_queries[asked].get("q", "").startswith("LastUpdateDate >= ")
    assert len(out.records("workers")) < len(every)
    assert out.state["bookmarks"]["workers"]["xlr8_full_read_at"] == old


@pytest.mark.parametrize("stamp", ["2026-12-01T00:00:00", "yesterday", 7])
def test_a_bad_full_read_stamp_in_the_state_is_a_whole_read_and_a_warning(
    url: str, emulator: OracleHcmEmulator, caplog: pytest.LogCaptureFixture, stamp: object
) -> None:
    """review23b #4: a naive, malformed or foreign ``xlr8_full_read_at`` (an edited state) is taken as absent, with
    a WARNING naming the key: a whole read, not every run failing on a ``TypeError`` that names nothing."""
    config = hcm_config(url, resources=["workers"], full_read_every_days=7)
    bookmark = {"replication_key_value": "2099-01-01T00:00:00+00:00", "xlr8_full_read_at": stamp}
    state = {"bookmarks": {"workers": bookmark}}
    asked = len(emulator.collection_queries)
    out = run_tap(config, streams={"workers"}, state=state)
    assert emulator.collection_queries[asked].get("q") is None  # a whole read: no LastUpdateDate condition
    assert len(out.records("workers")) == emulator.resources["workers"].count()
    stamped = out.state["bookmarks"]["workers"]["xlr8_full_read_at"]
    assert datetime.fromisoformat(stamped) > datetime.now(UTC) - timedelta(hours=1)
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    named = [m for m in warned if "xlr8_full_read_at" in m]
    assert named
    assert repr(stamp) in named[0]
