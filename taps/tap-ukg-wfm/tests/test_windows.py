"""Date windows, lookback and the API's caps, against time data that changes as sandbox time passes."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from singer_sdk.exceptions import ConfigValidationError

from xlr8_kit.http.errors import ClientRequestError
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_wfm import UkgWfmEmulator
from xlr8_tap_ukg_wfm.tap import UkgWfmSettings

from .conftest import run_tap, wfm_config

FIRST, DAY1, DAY2 = date(2025, 12, 29), date(2026, 1, 5), date(2026, 1, 9)


def _changed_between(sandbox: Sandbox, t2: object) -> tuple[set[str], set[str]]:
    """(punch ids edited, out punches entered late) between sandbox now and ``t2``, for days FIRST..DAY1."""
    company = sandbox.ctx.company
    edited, late = set(), set()
    for i in range(company.employee_count()):
        day = FIRST
        while day <= DAY1:
            before, after = company.worked_day(i, day), company.worked_day(i, day, t2)  # type: ignore[arg-type]
            if after is not None:
                old = {p.punch_id: p for p in (before.punches if before else ())}
                for p in after.punches:
                    if p.punch_id not in old:
                        late.add(p.punch_id)
                    elif p.at != old[p.punch_id].at:
                        edited.add(p.punch_id)
            day += timedelta(days=1)
    return edited, late


def test_punch_edited_after_its_window_was_read_lands_next_run(
    url: str, sandbox: Sandbox, emulator: UkgWfmEmulator
) -> None:
    config = wfm_config(url, start_date=FIRST.isoformat(), end_date=DAY1.isoformat(), lookback_days=7)
    first = run_tap(config, streams={"punches", "timecards"})
    state = first.state
    # Sandbox now is Monday 04:00 in New York: nobody has punched in yet, so Friday's punches are the latest.
    assert state["bookmarks"]["punches"]["replication_key_value"] == "2026-01-02"
    t2 = sandbox.ctx.clock.now() + timedelta(days=4)
    edited, late = _changed_between(sandbox, t2)
    assert edited, "the company should edit some punches in four days"
    assert late, "and some out punches should be entered late"
    read_first = {r["punchId"]: r for r in first.records("punches")}
    assert edited <= set(read_first)
    assert not late & set(read_first)

    sandbox.ctx.clock.set(t2)
    second = run_tap({**config, "end_date": DAY2.isoformat()}, streams={"punches", "timecards"}, state=state)
    punches = second.records("punches")
    ids = Counter(r["punchId"] for r in punches)
    assert max(ids.values()) == 1  # no duplicate keys within a run
    assert min(r["applyDate"] for r in punches) == FIRST.isoformat()  # bookmark minus the lookback
    read_second = {r["punchId"]: r for r in punches}
    for punch_id in edited:
        assert read_second[punch_id]["editedByManager"] is True
        assert read_second[punch_id]["punchDateTime"] != read_first[punch_id]["punchDateTime"]
        assert read_second[punch_id]["updatedOn"] > read_first[punch_id]["updatedOn"]
    assert late <= set(read_second)
    keys = Counter((r["personNumber"], r["applyDate"], r["payCode"]) for r in second.records("timecards"))
    assert max(keys.values()) == 1
    # After an upsert by key, both runs together equal the company as of t2.
    landed = {**read_first, **read_second}
    company = sandbox.ctx.company
    expected = {
        p.punch_id
        for i in range(company.employee_count())
        for n in range((DAY2 - FIRST).days + 1)
        if (w := company.worked_day(i, FIRST + timedelta(days=n))) is not None
        for p in w.punches
    }
    # the emulator adds night shifts' meal punches (PMO-/PMI-) to the company's in/out pair (review28g M5)
    assert {p for p in landed if not p.startswith(("PMO-", "PMI-"))} == expected
    assert {p[4:] for p in landed if p.startswith("PMO-")} <= {p[3:] for p in expected if p.startswith("PO-")}


def test_population_larger_than_one_multi_read_is_read_completely(
    url: str, sandbox: Sandbox, emulator: UkgWfmEmulator
) -> None:
    emulator.max_persons = 30
    out = run_tap(wfm_config(url, persons_per_request=30), streams={"persons", "timecards"})
    company = sandbox.ctx.company
    expected = [e.employee_id for e in company.employees() if e.hire_date <= date(2026, 1, 2) and
                (e.termination_date is None or e.termination_date >= date(2025, 12, 22))]  # fmt: skip
    assert len(expected) > 30 * 3
    persons = [r["personNumber"] for r in out.records("persons")]
    assert sorted(persons) == sorted(expected)
    calls = sandbox.requests("ukg_wfm", "/api/v1/commons/persons/multi_read")
    assert len(calls) == -(-len(expected) // 30)
    assert all(c.status == 200 for c in sandbox.requests("ukg_wfm"))
    assert {r["personNumber"] for r in out.records("timecards")} <= set(expected)


def test_request_over_the_person_cap_fails_with_the_vendor_error(url: str, emulator: UkgWfmEmulator) -> None:
    emulator.max_persons = 30
    with pytest.raises(ClientRequestError, match="WCO-101272") as err:
        run_tap(wfm_config(url, persons_per_request=40), streams={"persons"})
    assert "exceeds the maximum allowed (30)" in str(err.value)


def test_windows_stay_under_the_day_cap(url: str, sandbox: Sandbox, emulator: UkgWfmEmulator) -> None:
    emulator.max_days = 5
    out = run_tap(wfm_config(url, window_days=5), streams={"timecards"})
    assert out.records("timecards")
    calls = sandbox.requests("ukg_wfm", "/api/v1/timekeeping/timecard/multi_read")
    assert len(calls) == 3 * 3  # 12 days in windows of 5, 92 people in batches of 40
    assert all(c.status == 200 for c in calls)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("window_days", 32),
        ("persons_per_request", 501),
        ("timezone", "Mars/Olympus"),
        ("shift_break_hours", 17),
        ("longest_shift_hours", 1),
    ],
)
def test_settings_beyond_the_caps_are_refused_by_name(setting: str, value: object) -> None:
    with pytest.raises(ConfigValidationError, match=f"'{setting}'"):
        UkgWfmSettings.from_config(wfm_config("https://acme.example.com", **{setting: value}))


@pytest.mark.parametrize(("breaks", "longest"), [(8, 8), (12, 10)])
def test_a_shift_break_not_under_the_longest_shift_is_refused_naming_both(breaks: int, longest: int) -> None:
    """review28i L1: ``longest_shift_hours`` at or under ``shift_break_hours`` made it inert and was accepted."""
    config = wfm_config("https://acme.example.com", shift_break_hours=breaks, longest_shift_hours=longest)
    with pytest.raises(ConfigValidationError, match="'longest_shift_hours'") as refused:
        UkgWfmSettings.from_config(config)
    assert f"'longest_shift_hours' ({longest}) must be greater than 'shift_break_hours' ({breaks})" in str(
        refused.value
    )
