"""Scenario tests against the Workday emulator over real HTTP: RaaS XSD discovery and rolling prompts, REST offset
paging, SOAP paging at a fixed as-of moment while data changes, transaction-log incremental, faults and 429s."""

from __future__ import annotations

import typing as t
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from singer_sdk.exceptions import ConfigValidationError

from xlr8_kit.auth import RefreshTokenNotPersistedError
from xlr8_kit.http.errors import AuthenticationError, ClientRequestError, ErrorBodyError
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.workday import WorkdayEmulator, wid
from xlr8_tap_workday.client import date_windows

from .conftest import SLEEPS, RecordingTap, base_config, report_url, run_tap

SOAP_HR = "/ccx/service/*/Human_Resources/*"


def only(*streams: str) -> list[str]:
    return list(streams)


def test_raas_xsd_discovery_with_nested_groups(url: str, emulator: WorkdayEmulator) -> None:
    config = base_config(url, streams=[], reports=[
        {"name": "worker_report", "url": report_url(url, "XLR8_Workers"), "primary_keys": ["Employee_ID"]},
        {"name": "compensation", "url": report_url(url, "XLR8_Compensation"), "primary_keys": ["Employee_ID"]},
    ])  # fmt: skip
    tap = RecordingTap(config=config, parse_env_config=False)
    schema = tap.streams["worker_report"].schema["properties"]
    assert schema["Annual_Salary"]["type"] == ["number", "null"]
    assert schema["Full_Time"]["type"] == ["boolean", "null"]
    assert schema["Hire_Date"] == {"type": ["string", "null"], "format": "date"}
    assert schema["Last_Updated"]["format"] == "date-time"
    assert schema["Worker"]["type"] == ["string", "null"]  # a reference: its descriptor
    group = schema["Organizations_group"]
    assert group["type"] == ["array", "null"]
    assert set(group["items"]["properties"]) == {"Organization_Type", "Organization_Code", "Organization"}
    plans = tap.streams["compensation"].schema["properties"]["Compensation_Plans_group"]["items"]["properties"]
    assert plans["Amount"]["type"] == ["number", "null"]

    result = run_tap(config)
    rows = {r["Employee_ID"]: r for r in result.records("worker_report")}
    expected = list(emulator.company.employees())
    assert len(rows) == len(expected) == 100
    person = expected[0]
    row = rows[person.employee_id]
    assert row["Annual_Salary"] == person.annual_salary  # "242208.87" rendered as text, typed by the XSD
    assert row["Full_Time"] is person.full_time
    assert row["Hire_Date"] == person.hire_date.isoformat()
    assert row["Organizations_group"][0] == {
        "Organization_Type": "Supervisory",
        "Organization_Code": f"SUP_{person.department_code}",
        "Organization": next(d.name for d in emulator.company.departments if d.code == person.department_code),
    }
    assert ("Termination_Date" in row) == (person.termination_date is not None)  # empty fields are left out
    comp = {r["Employee_ID"]: r for r in result.records("compensation")}
    bonus_holder = next(e for e in expected if e.index % 2 == 0 and e.status != "terminated")
    assert [p["Amount"] for p in comp[bonus_holder.employee_id]["Compensation_Plans_group"]] == [
        bonus_holder.annual_salary,
        (bonus_holder.annual_salary * Decimal("0.10")).quantize(Decimal("0.01")),
    ]


def worker_report(url: str, **incremental: t.Any) -> dict[str, t.Any]:
    """The XLR8_Workers report of the top organization, keyed by Employee_ID, read in rolling Updated_* windows."""
    return {
        "name": "worker_report",
        "url": report_url(url, "XLR8_Workers") + f"?Organization!WID={wid('organization', 'SUP_TOP')}",
        "primary_keys": ["Employee_ID"],
        "incremental": {"from_prompt": "Updated_From", "to_prompt": "Updated_Through", **incremental},
    }


def test_raas_rolling_prompts_windows_and_bookmark(url: str, emulator: WorkdayEmulator) -> None:
    start, end = date(2025, 1, 1), date(2025, 12, 31)
    report = worker_report(
        url,
        start_date=start.isoformat(),
        end_date=end.isoformat(),
        window_days=45,
        replication_key="Last_Updated",
        date_suffix="-08:00",
    )
    config = base_config(url, streams=[], reports=[report])
    result = run_tap(config)
    windows = date_windows(start, end, 45)
    calls = [c for c in emulator.raas_calls if c["report"] == "XLR8_Workers"]
    assert [(dict(c["prompts"])["Updated_From"], dict(c["prompts"])["Updated_Through"]) for c in calls] == [
        (f"{a.isoformat()}-08:00", f"{b.isoformat()}-08:00") for a, b in windows
    ]
    assert all(dict(c["prompts"])["Organization!WID"] == wid("organization", "SUP_TOP") for c in calls)
    expected = {e.employee_id for e in emulator.company.employees() if start <= e.last_modified.date() <= end}
    got = [r["Employee_ID"] for r in result.records("worker_report")]
    assert sorted(got) == sorted(expected)
    assert expected
    bookmark = result.state["bookmarks"]["worker_report"]["replication_key_value"]
    latest = max(e.last_modified for e in emulator.company.employees() if e.employee_id in expected)
    assert datetime.fromisoformat(bookmark) == latest

    emulator.raas_calls.clear()
    report["incremental"]["end_date"] = "2026-02-15"
    again = run_tap(base_config(url, streams=[], reports=[report]), state=result.state)
    first_call = dict(emulator.raas_calls[0]["prompts"])
    local_day = latest.astimezone(timezone(timedelta(hours=-8))).date()  # the bookmark's day in the prompts' zone
    assert first_call["Updated_From"] == f"{local_day.isoformat()}-08:00"  # resumes at the bookmark's day
    resumed = {r["Employee_ID"] for r in again.records("worker_report")}
    assert resumed == {
        e.employee_id for e in emulator.company.employees() if local_day <= e.last_modified.date() <= date(2026, 2, 15)
    }


def test_raas_bookmark_in_another_zone_than_the_prompts_leaves_no_gap(url: str, emulator: WorkdayEmulator) -> None:
    """audit24b M4: a bookmark written at 02:47 UTC is the evening before in -08:00: the next window opens on that
    local day, not on the UTC text's day (which would start 5 hours after the bookmark)."""
    report = worker_report(
        url,
        start_date="2025-01-01",
        end_date="2026-01-31",
        window_days=400,
        replication_key="Last_Updated",
        date_suffix="-08:00",
    )
    state = {"bookmarks": {"worker_report": {"replication_key": "Last_Updated",
                                             "replication_key_value": "2025-12-22T02:47:52.000+00:00"}}}  # fmt: skip
    run_tap(base_config(url, streams=[], reports=[report]), state=state)
    prompts = dict(next(c for c in emulator.raas_calls if c["report"] == "XLR8_Workers")["prompts"])
    assert prompts["Updated_From"] == "2025-12-21-08:00"


def test_raas_entry_without_the_bookmark_column_keeps_the_bookmark(url: str, emulator: WorkdayEmulator) -> None:
    """audit24b M2: RaaS leaves an empty field out; an entry without the bookmark column (here Termination_Date,
    empty for everyone still employed) lands with a null there and leaves the bookmark to the others."""
    start, end = date(2025, 1, 1), date(2025, 12, 31)
    report = worker_report(
        url, start_date=start.isoformat(), end_date=end.isoformat(), window_days=400, replication_key="Termination_Date"
    )
    result = run_tap(base_config(url, streams=[], reports=[report]))
    rows = result.records("worker_report")
    expected = [e for e in emulator.company.employees() if start <= e.last_modified.date() <= end]
    assert sorted(r["Employee_ID"] for r in rows) == sorted(e.employee_id for e in expected)
    assert any(r["Termination_Date"] is None for r in rows)
    ended = [e.termination_date for e in expected if e.termination_date is not None]
    assert ended, "the fixture has no terminated worker in the window"
    bookmark = result.state["bookmarks"]["worker_report"]["replication_key_value"]
    assert date.fromisoformat(str(bookmark)[:10]) == max(ended)


def test_rest_offset_paging_to_the_end(url: str, emulator: WorkdayEmulator, sandbox: Sandbox) -> None:
    result = run_tap(base_config(url, streams=only("workers", "jobs"), rest_page_size=30))
    workers = result.records("workers")
    assert [w["workerId"] for w in workers] == [e.employee_id for e in emulator.company.employees()]
    assert len({w["id"] for w in workers}) == 100
    pages = [r for r in sandbox.requests("workday") if r.path.endswith("/workers")]
    assert len(pages) == 4  # offsets 0, 30, 60, 90 of total 100, then stop
    assert [j["jobProfileId"] for j in result.records("jobs")] == [j.code for j in emulator.company.jobs]


def test_e7_soap_paging_holds_as_of_while_people_are_hired(
    url: str, emulator: WorkdayEmulator, sandbox: Sandbox
) -> None:
    sandbox.faults.add("workday", SOAP_HR, FaultSpec("insert_records", count=7, after=1, times=1))
    first = run_tap(base_config(url, streams=only("soap_workers"), soap_page_size=30))
    calls = [c for c in emulator.soap_calls if c["operation"] == "Get_Workers"]
    moment = emulator.ctx.clock.start
    assert calls[0]["page"] == "1"  # alone: its answer names the moment and the page count
    assert sorted(c["page"] for c in calls) == ["1", "2", "3", "4"]  # 2-4 in flight at once (any order)
    assert calls[0]["as_of"] is None
    assert {c["as_of"] for c in calls[1:]} == {moment.strftime("%Y-%m-%dT%H:%M:%S.000+00:00")}
    ids = [r["Employee_ID"] for r in first.records("soap_workers")]
    assert ids == [f"E{i:06d}" for i in range(1, 101)]  # one snapshot: hires during paging neither shift nor leak in
    assert emulator.company.employee_count() == 107

    emulator.soap_calls.clear()
    second = run_tap(base_config(url, streams=only("soap_workers"), soap_page_size=30), state=first.state)
    hires = [r["Employee_ID"] for r in second.records("soap_workers")]
    assert hires == [f"E{i:06d}" for i in range(101, 108)]  # picked up through the transaction log next run
    moment_call, log = emulator.soap_calls[0], emulator.soap_calls[1]
    assert (moment_call["page"], moment_call["updated_from"]) == ("1", None)  # the tenant's "now", asked first
    assert datetime.fromisoformat(log["updated_from"]) == moment
    assert log["updated_through"] == log["as_of"] == second.state["bookmarks"]["soap_workers"]["replication_key_value"]


def test_e7_rest_window_asks_again_when_the_total_moves(url: str, emulator: WorkdayEmulator, sandbox: Sandbox) -> None:
    """People hired while REST pages are in flight: a later page reports another ``total``, so the pages asked for
    beside it are dropped and asked for again, checked against the new total; every worker, old and new, is read."""
    before = emulator.company.employee_count()
    sandbox.faults.add("workday", "/ccx/api/v1/*/workers", FaultSpec("insert_records", count=3, after=2, times=1))
    result = run_tap(base_config(url, streams=only("workers"), rest_page_size=10))
    ids = [w["workerId"] for w in result.records("workers")]
    assert emulator.company.employee_count() == before + 3
    assert set(ids) == {e.employee_id for e in emulator.company.employees()}


def test_transaction_log_incremental_reads_exactly_the_changes(url: str, emulator: WorkdayEmulator) -> None:
    config = base_config(url, streams=only("soap_workers"), soap_page_size=50)
    first = run_tap(config)
    t0 = emulator.ctx.clock.now()
    t1 = emulator.ctx.clock.advance(timedelta(days=4))
    second = run_tap(config, state=first.state)
    expected = sorted({c.key for c in emulator.company.changes_between(t0, t1) if c.entity == "employee"})
    got = [r["Employee_ID"] for r in second.records("soap_workers")]
    assert got == expected
    assert expected
    changed = next(r for r in second.records("soap_workers") if r["Employee_ID"] == expected[0])
    person = emulator.company.employee(int(expected[0][1:]) - 1)
    assert changed["Annual_Salary"] == person.annual_salary
    assert datetime.fromisoformat(second.state["bookmarks"]["soap_workers"]["replication_key_value"]) == t1
    ranged = [c for c in emulator.soap_calls if c["updated_from"] is not None]
    assert ranged, "no page asked for the transaction log"
    for asked in ranged:  # every page, page 1 too, sends the whole range (audit24b M1), closed at the tenant's now
        assert datetime.fromisoformat(asked["updated_from"]) == t0
        assert datetime.fromisoformat(asked["updated_through"]) == t1
        assert asked["as_of"] == asked["updated_through"]


def test_future_dated_change_lands_when_it_takes_effect(url: str, emulator: WorkdayEmulator) -> None:
    """audit24b H4: a raise entered today, effective in ten days, is read today as of today (old pay); once it takes
    effect no transaction is entered, so only the transaction log's effective range finds the worker again."""
    config = base_config(url, streams=only("soap_workers"), soap_page_size=50)
    first = run_tap(config)
    t0 = emulator.ctx.clock.now()
    busy = {c.index for c in emulator.company.changes_between(t0, t0 + timedelta(days=12)) if c.entity == "employee"}
    person = next(e for e in emulator.company.employees(as_of=t0) if e.index not in busy and e.status == "active")
    raised = (person.annual_salary * Decimal("1.10")).quantize(Decimal("0.01"))
    emulator.enter_future_dated(person.index, (t0 + timedelta(days=10)).date(), raised)

    second = run_tap(config, state=first.state)
    seen = {r["Employee_ID"]: r for r in second.records("soap_workers")}
    assert seen[person.employee_id]["Annual_Salary"] == person.annual_salary  # entered, not yet in effect

    emulator.ctx.clock.advance(timedelta(days=11))
    third = run_tap(config, state=second.state)
    later = {r["Employee_ID"]: r for r in third.records("soap_workers")}
    assert person.employee_id in later, "the raise took effect but the worker was never read again"
    assert later[person.employee_id]["Annual_Salary"] == raised
    bookmark = datetime.fromisoformat(third.state["bookmarks"]["soap_workers"]["replication_key_value"])
    assert bookmark == emulator.ctx.clock.now()


def test_a_bookmark_past_the_tenants_now_reads_from_now(url: str, emulator: WorkdayEmulator) -> None:
    """review24b #4: a bookmark ahead of the tenant's clock (a state from another tenant) made every range end before
    it starts, which Workday refuses; the tap reads every worker as of the tenant's now (as a first run) and the
    bookmark comes back to that now."""
    config = base_config(url, streams=only("soap_workers"), soap_page_size=50)
    ahead = (emulator.ctx.clock.now() + timedelta(days=3)).isoformat(timespec="milliseconds")
    state = {"bookmarks": {"soap_workers": {"replication_key": "As_Of_Entry_DateTime", "replication_key_value": ahead}}}
    result = run_tap(config, state=state)
    assert not [c for c in emulator.soap_calls if c["updated_from"] is not None]
    assert len({r["Employee_ID"] for r in result.records("soap_workers")}) == emulator.company.employee_count()
    assert datetime.fromisoformat(result.state["bookmarks"]["soap_workers"]["replication_key_value"]) == (
        emulator.ctx.clock.now()
    )


def test_soap_throttling_fault_is_retried(url: str, emulator: WorkdayEmulator) -> None:
    emulator.throttle_soap(2)
    result = run_tap(base_config(url, streams=only("suppliers")))
    assert [s["Supplier_ID"] for s in result.records("suppliers")] == [
        s.supplier_id for s in emulator.company.suppliers()
    ]
    assert len(SLEEPS) == 2  # two backoffs, then the page
    assert len(emulator.soap_calls) == 3


def test_soap_client_fault_is_fatal_and_not_retried(url: str, emulator: WorkdayEmulator) -> None:
    config = base_config(url, streams=only("soap_organizations"), password="wrong-isu-password-123")
    with pytest.raises(AuthenticationError) as caught:
        run_tap(config)
    text = str(caught.value)
    assert "Client.authenticationError" in text
    assert "invalid username or password" in text
    assert "wrong-isu-password-123" not in text
    assert len(emulator.soap_calls) == 1
    assert SLEEPS == []


def test_a1_raas_and_rest_429_retried_after_retry_after(url: str, emulator: WorkdayEmulator, sandbox: Sandbox) -> None:
    sandbox.faults.add("workday", "/ccx/service/customreport2/*", FaultSpec("rate_limit", retry_after=7, times=1))
    sandbox.faults.add("workday", "/ccx/api/v1/*/jobs", FaultSpec("quota", times=1))
    config = base_config(url, streams=only("jobs"), reports=[
        {"name": "journal_lines", "url": report_url(url, "XLR8_Journal_Lines"), "primary_keys": ["Journal_Number"],
         "product": "workday_fins", "entity": "journal_entry"},
    ])  # fmt: skip
    result = run_tap(config)
    assert len(result.records("journal_lines")) == emulator.company.journal_count
    assert len(result.records("jobs")) == len(emulator.company.jobs)
    assert sorted(SLEEPS)[-1] >= 7  # never less than Retry-After
    assert len([s for s in SLEEPS if s >= 1]) == 2
    assert result.schema("journal_lines")["x-xlr8"]["product"] == "workday_fins"


def test_journals_and_suppliers_are_financials(url: str, emulator: WorkdayEmulator) -> None:
    result = run_tap(base_config(url, streams=only("journals"), soap_page_size=20, journals_start_date="2025-06-01"))
    expected = [j for j in emulator.company.journals() if j.posted_date >= date(2025, 6, 1)]
    rows = result.records("journals")
    assert [r["Journal_Number"] for r in rows] == [j.journal_id for j in expected]
    assert rows[0]["Amount"] == sum((line.debit for line in expected[0].lines), Decimal(0))
    assert len(rows[0]["Lines"]) == len(expected[0].lines)
    assert result.schema("journals")["x-xlr8"]["product"] == "workday_fins"


def test_b5_rotated_refresh_token_without_a_store_stops_the_run(url: str, emulator: WorkdayEmulator) -> None:
    emulator.rotate_refresh_tokens = True
    with pytest.raises(RefreshTokenNotPersistedError, match="refresh_token is now spent: issue a new one") as caught:
        run_tap(base_config(url, streams=only("jobs")))
    assert "sandbox-wd-refresh-token" not in str(caught.value)


def test_config_errors_name_the_setting(url: str) -> None:
    bad = base_config(url, reports=[{"name": "r", "url": "https://elsewhere.example/x"}], rest_page_size=500)
    with pytest.raises(ConfigValidationError) as caught:
        RecordingTap(config=bad, parse_env_config=False).settings  # noqa: B018
    text = str(caught.value)
    assert "reports[0].url" in text
    assert "rest_page_size" in text
    no_oauth = {k: v for k, v in base_config(url).items() if k not in ("client_id", "client_secret", "refresh_token")}
    with pytest.raises(ConfigValidationError, match="REST streams"):
        RecordingTap(config={**no_oauth, "streams": ["workers"]}, parse_env_config=False).settings  # noqa: B018


def test_rest_limit_over_100_is_refused_by_the_vendor(url: str, emulator: WorkdayEmulator) -> None:
    tap = RecordingTap(config=base_config(url, streams=only("jobs")), parse_env_config=False)
    with pytest.raises(ClientRequestError, match="limit must be between 1 and 100"):
        list(tap.client.rest_rows("jobs", page_size=101))


def test_a8_error_body_on_a_report_is_fatal_and_keeps_the_bookmark(
    url: str, emulator: WorkdayEmulator, sandbox: Sandbox
) -> None:
    sandbox.faults.add("workday", "/ccx/service/customreport2/*", FaultSpec("error_body", after=1, times=1))
    report = {
        "name": "worker_report", "url": report_url(url, "XLR8_Workers"), "primary_keys": ["Employee_ID"],
        "incremental": {"from_prompt": "Updated_From", "to_prompt": "Updated_Through", "start_date": "2025-01-01",
                        "end_date": "2025-12-31", "window_days": 90, "replication_key": "Last_Updated"},
    }  # fmt: skip
    with pytest.raises(ErrorBodyError, match="body is an error"):
        run_tap(base_config(url, streams=[], reports=[report]))
    assert SLEEPS == []  # not retried, never read as "no rows"


def test_a9_truncated_rest_page_is_retried(url: str, emulator: WorkdayEmulator, sandbox: Sandbox) -> None:
    sandbox.faults.add("workday", "/ccx/api/v1/*/workers", FaultSpec("truncate", after=1, times=1))
    result = run_tap(base_config(url, streams=only("workers"), rest_page_size=50))
    assert [w["workerId"] for w in result.records("workers")] == [e.employee_id for e in emulator.company.employees()]
    assert len(SLEEPS) == 1


def test_universal_filter_setting_applies_to_the_streams_it_names(url: str, emulator: WorkdayEmulator) -> None:
    report = {"name": "workers_raas", "url": report_url(url, "XLR8_Workers"), "primary_keys": ["Employee_ID"]}
    config = base_config(url, streams=only("suppliers"), reports=[report], filters='supplier where currency = "CAD"')
    result = run_tap(config)
    expected = [s.supplier_id for s in emulator.company.suppliers() if s.currency == "CAD"]
    assert [s["Supplier_ID"] for s in result.records("suppliers")] == expected
    assert expected
    assert len(result.records("workers_raas")) == 100  # the filter names suppliers only


def test_b2_token_expired_mid_run_is_refreshed_once(url: str, emulator: WorkdayEmulator, sandbox: Sandbox) -> None:
    sandbox.faults.add("workday", "/ccx/api/v1/*/workers", FaultSpec("expire_tokens", after=2, times=1))
    result = run_tap(base_config(url, streams=only("workers"), rest_page_size=25))
    assert [w["workerId"] for w in result.records("workers")] == [e.employee_id for e in emulator.company.employees()]
    tokens = [r for r in sandbox.requests("workday") if r.path.endswith("/token")]
    assert len(tokens) == 2  # the first token, then one forced refresh after the 401
    # every page request in flight with the expired token gets its own 401 (a window of up to 4) and is sent once
    # more with the one refreshed token
    assert 1 <= [r.status for r in sandbox.requests("workday") if r.path.endswith("/workers")].count(401) <= 4
