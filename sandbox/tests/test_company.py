"""The fictional company: deterministic for a seed, flat memory at scale, changing over sandbox time."""

from __future__ import annotations

import tracemalloc
from collections import Counter
from datetime import timedelta

import pytest

from xlr8_sandbox.company import EPOCH, Company
from xlr8_sandbox.platform.clock import SandboxClock


def snapshot(company: Company) -> list[object]:
    return [
        list(company.employees()),
        list(company.crm_accounts()),
        list(company.contacts()),
        list(company.opportunities()),
        list(company.leads()),
        list(company.journals()),
        list(company.suppliers()),
        list(company.invoices()),
        list(company.purchase_orders()),
        list(company.pay_statements(0, 10)),
        list(company.timecards(0, 10)),
        [company.schedule(i) for i in range(10)],
        [company.accrual_balances(i) for i in range(10)],
    ]


def test_same_seed_same_records_different_seed_differs() -> None:
    first, again, other = Company(seed=42, scale=100), Company(seed=42, scale=100), Company(seed=43, scale=100)
    assert snapshot(first) == snapshot(again)
    ours, theirs = snapshot(first), snapshot(other)
    assert all(a != b for a, b in zip(ours, theirs, strict=True))
    # Keys are shared across seeds (so products agree), values are not.
    assert [e.employee_id for e in first.employees()] == [e.employee_id for e in other.employees()]


def test_record_i_does_not_depend_on_scale_or_on_what_was_generated_before() -> None:
    small, big = Company(seed=5, scale=100), Company(seed=5, scale=10_000)
    assert small.employee(57) == big.employee(57)
    list(big.employees(0, 500))
    assert big.employee(57) == Company(seed=5, scale=10_000).employee(57)


def test_entities_are_consistent_with_each_other() -> None:
    company = Company(seed=1, scale=200)
    employee_ids = {e.employee_id for e in company.employees()}
    supplier_ids = {s.supplier_id for s in company.suppliers()}
    po_ids = {p.po_id for p in company.purchase_orders()}
    account_ids = {a.account_id for a in company.crm_accounts(include_deleted=True)}
    assert all(p.buyer_employee_id in employee_ids and p.supplier_id in supplier_ids for p in company.purchase_orders())
    assert all(i.supplier_id in supplier_ids and (i.po_id is None or i.po_id in po_ids) for i in company.invoices())
    assert all(o.account_id in account_ids and o.owner_employee_id in employee_ids for o in company.opportunities())
    for journal in company.journals():
        assert sum(line.debit for line in journal.lines) == sum(line.credit for line in journal.lines)
    for statement in company.pay_statements(0, 20):
        assert statement.employee_id in employee_ids
        assert statement.gross == sum(line.amount for line in statement.earnings)
        assert statement.net == statement.gross - sum(line.amount for line in statement.deductions)
        assert {line.code for line in statement.earnings} <= {c.code for c in company.earning_codes}
        assert {line.code for line in statement.deductions} <= {c.code for c in company.deduction_codes}


def test_generation_is_lazy_with_flat_memory_at_200k_employees() -> None:
    company = Company(seed=42, scale=200_000)
    tracemalloc.start()
    try:
        count = 0
        for employee in company.employees():
            count += 1
            assert employee.index == count - 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 200_000
    # A list of 200,000 Employee objects would take well over 100 MB; streaming keeps the peak tiny.
    assert peak < 2_000_000


def test_nothing_changes_until_the_clock_moves() -> None:
    clock = SandboxClock()
    company = Company(seed=9, scale=100, clock=clock)
    before = list(company.employees())
    assert before == list(Company(seed=9, scale=100).employees())
    assert list(company.changes_between(EPOCH - timedelta(days=1), EPOCH)) == []


def test_clock_driven_hires_updates_terminations_and_deletions() -> None:
    clock = SandboxClock()
    company = Company(seed=9, scale=100, clock=clock)
    before = {e.employee_id: e for e in company.employees()}
    t0 = clock.now()
    t1 = clock.advance(timedelta(days=62))
    after = {e.employee_id: e for e in company.employees()}
    changes = list(company.changes_between(t0, t1))
    kinds = Counter((c.entity, c.kind) for c in changes)

    hired = set(after) - set(before)
    assert len(hired) == company.hires_per_day * 62
    assert {c.key for c in changes if c.kind == "insert"} == hired
    assert all(t0.date() <= after[k].hire_date <= t1.date() for k in hired)
    assert all(t0 < after[k].last_modified <= t1 for k in hired)
    assert kinds["employee", "terminate"] > 0
    assert kinds["employee", "update"] > 0
    assert sum(n for (entity, kind), n in kinds.items() if kind == "delete") > 0

    # changes_between agrees with a brute-force diff of the two views.
    moved = {k for k, e in after.items() if k in before and e != before[k]}
    touched = {c.key for c in changes if c.entity == "employee" and c.kind in ("update", "terminate")}
    assert moved == touched & set(before)
    assert touched - set(before) <= hired
    for change in changes:
        if change.entity == "employee" and change.kind == "terminate":
            assert after[change.key].status == "terminated"
            assert after[change.key].termination_date == change.at.date()
        if change.entity == "crm_account" and change.kind == "delete":
            assert company.crm_account(change.index).is_deleted
            assert change.key not in {a.account_id for a in company.crm_accounts()}
    deleted_accounts = {c.key for c in changes if c.entity == "crm_account" and c.kind == "delete"}
    live = {a.account_id for a in company.crm_accounts()}
    assert len(live) == company.crm_account_count - len(deleted_accounts)


def test_changes_are_incremental_slices() -> None:
    """Day-by-day slices add up to the whole window: what an incremental sync relies on."""
    company = Company(seed=3, scale=300)
    whole = set(company.changes_between(EPOCH, EPOCH + timedelta(days=10)))
    slices: set[object] = set()
    for day in range(10):
        slices |= set(company.changes_between(EPOCH + timedelta(days=day), EPOCH + timedelta(days=day + 1)))
    assert whole == slices
    assert whole


def test_inserted_employees_keep_their_identity_as_the_clock_moves() -> None:
    clock = SandboxClock()
    company = Company(seed=4, scale=100, clock=clock)
    clock.advance(timedelta(hours=12))
    company.insert_employees(2)
    inserted = [company.employee(100), company.employee(101)]
    assert company.employee_count() == 102
    clock.advance(timedelta(days=3))
    assert [company.employee(100), company.employee(101)] == inserted
    assert company.employee_count() == 102 + 3 * company.hires_per_day
    company.reset_changes()
    clock.reset()
    assert company.employee_count() == 100
    with pytest.raises(IndexError, match="not hired yet"):
        company.employee(100)


def test_bad_scale_is_rejected() -> None:
    with pytest.raises(ValueError, match="scale"):
        Company(scale=0)


def test_a_million_employees_cost_nothing_until_read() -> None:
    company = Company(seed=42, scale=1_000_000)
    last = company.employee(999_999)
    assert last.employee_id == "E1000000"
    day = EPOCH + timedelta(days=1)
    assert company.employee_count(day) == 1_000_000 + company.hires_per_day
    tracemalloc.start()
    try:
        changes = company.changes_between(EPOCH, day)
        first = [next(changes) for _ in range(2_000)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert {c.kind for c in first} == {"insert"}
    assert peak < 5_000_000


def test_people_who_left_before_sandbox_time_never_change() -> None:
    clock = SandboxClock()
    company = Company(seed=11, scale=200, clock=clock)
    gone = [e for e in company.employees() if e.status == "terminated"]
    assert gone
    clock.advance(timedelta(days=120))
    assert [company.employee(e.index) for e in gone] == gone
    keys = {e.employee_id for e in gone}
    assert not [c for c in company.changes_between(EPOCH, clock.now()) if c.key in keys]


def test_worked_days_follow_the_timecards_and_change_after_the_fact() -> None:
    """Punches: the same days and (unedited) hours as ``timecards()``; late out punches and manager edits appear
    only as sandbox time passes, and a day read again later can differ."""
    from datetime import date

    company = Company(seed=42, scale=50)
    start = EPOCH + timedelta(days=14)
    cards = {(c.employee_id, c.work_date): c for c in company.timecards(0, 50, as_of=start)}
    days = [start.date() - timedelta(days=n) for n in range(14, 0, -1)]
    later = start + timedelta(days=10)
    worked = {}
    for i in range(50):
        for day in days:
            final = company.worked_day(i, day, later)
            if final is not None:
                worked[(final.employee_id, day)] = final
    assert set(worked) == set(cards)
    unedited = [w for w in worked.values() if not any(p.edited for p in w.punches)]
    assert all(w.hours == cards[(w.employee_id, w.work_date)].hours for w in unedited)
    assert any(any(p.edited for p in w.punches) for w in worked.values())
    changed = 0
    for (employee_id, day), final in worked.items():
        early = company.worked_day(int(employee_id[1:]) - 1, day, datetime_at(day) + timedelta(hours=23))
        changed += early is None or early.punches != final.punches
    assert changed > 0
    assert company.worked_day(0, date(2026, 1, 10)) is None  # a Saturday


def datetime_at(day: object) -> object:
    from datetime import UTC, datetime, time

    return datetime.combine(day, time(0), tzinfo=UTC)  # type: ignore[arg-type]
