"""Builders drawing through ``seeded.below`` serve what the ``random.Random`` builders they replace served.

Each reference below is the builder as it was before ``below`` (``randrange``/``choice``/``random`` on a plain
``random.Random`` from the same seed digest), kept here and compared value for value over several seeds and sizes:
the same words read in the same order give the same records.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest

from xlr8_sandbox import company as company_module
from xlr8_sandbox.company import (
    EPOCH,
    FIRST_NAMES,
    LAST_NAMES,
    Company,
    CrmContact,
    JournalEntry,
    JournalLine,
    PayLine,
    PayStatement,
    Punch,
    Schedule,
    Shift,
    WorkedDay,
)
from xlr8_sandbox.products.salesforce.objects import _address, build_objects

_BASE = company_module._BASE
_CENT = Decimal("0.01")


def _ref_rng(company: Company, kind: str, i: int) -> random.Random:
    return random.Random(company._seed_digests(kind, i))


# --- Company ------------------------------------------------------------------------------------------------------


def _reference_contact(company: Company, i: int, as_of: datetime | None) -> CrmContact:
    r = _ref_rng(company, "contact", i)
    account = i // 2
    first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
    created = _BASE + timedelta(seconds=r.randrange(0, 6 * 365 * 86400))
    email = f"{company_module._ascii(first)}.{company_module._ascii(last)}.c{i + 1}@customer.example".lower()
    title = r.choice(["CFO", "HR Director", "Buyer", "CTO", "Payroll Manager"])
    modified = created + timedelta(seconds=r.randrange(0, 365 * 86400))
    modified, deleted, _ = company._crm_changes("contact", i, modified, as_of)
    return CrmContact(
        index=i,
        contact_id=company_module._sf_id("003", i),
        account_id=company_module._sf_id("001", account),
        first_name=first,
        last_name=last,
        email=email,
        title=title,
        created=created,
        last_modified=modified,
        is_deleted=deleted,
    )


def _reference_pay_statement(company: Company, e: Any, employee_index: int, period: Any) -> PayStatement | None:
    if not company._employed_during(e, period.start, period.end):
        return None
    r = _ref_rng(company, f"pay:{period.number}", employee_index)
    rate = (e.annual_salary / 2080).quantize(_CENT)
    earnings = [PayLine("REG", Decimal(80), (rate * 80).quantize(_CENT))]
    if r.random() < 0.3:
        hours = Decimal(r.randrange(1, 12))
        earnings.append(PayLine("OT", hours, (rate * Decimal("1.5") * hours).quantize(_CENT)))
    if r.random() < 0.05:
        earnings.append(PayLine("BON", None, Decimal(r.randrange(100, 2000))))
    gross = sum((line.amount for line in earnings), Decimal(0))
    shares: dict[str, Decimal] = {
        "FIT": Decimal(r.randrange(10, 23)),
        "SS": Decimal("6.2"),
        "MED": Decimal("1.45"),
        "401K": Decimal(r.randrange(0, 7)),
    }
    deductions = [PayLine(c, None, (gross * p / 100).quantize(_CENT)) for c, p in shares.items() if p]
    if e.full_time:
        deductions.append(PayLine("MEDPLAN", None, Decimal("142.50")))
    total = sum((line.amount for line in deductions), Decimal(0))
    return PayStatement(
        statement_id=f"PS-{e.employee_id}-{period.number:04d}",
        employee_id=e.employee_id,
        period=period,
        gross=gross,
        deductions_total=total,
        net=gross - total,
        currency=e.currency,
        earnings=tuple(earnings),
        deductions=tuple(deductions),
    )


def _reference_start_hour(company: Company, i: int) -> int:
    return _ref_rng(company, "schedule", i).choice([6, 7, 8, 9, 14, 22])


def _reference_worked_day(company: Company, i: int, day: date, t: datetime) -> WorkedDay | None:
    e = company.employee(i, t)
    if day.weekday() >= 5 or not company._employed_during(e, day, day):
        return None
    r = _ref_rng(company, f"timecard:{day.isoformat()}", i)
    if r.random() < 0.05:
        return None
    hours = Decimal(r.randrange(30, 40)) / 4
    zone = company_module._zone(company.time_zone)
    p = _ref_rng(company, f"punch:{day.isoformat()}", i)
    start = _reference_start_hour(company, i)
    punched_in = datetime.combine(day, time(start)) + timedelta(minutes=p.randrange(-12, 16))
    punched_out = punched_in + timedelta(minutes=int(hours * 60))
    in_utc = punched_in.replace(tzinfo=zone).astimezone(UTC)
    out_utc = punched_out.replace(tzinfo=zone).astimezone(UTC)
    in_entered = in_utc + timedelta(seconds=p.randrange(1, 90))
    late = p.random() < 0.1
    out_entered = out_utc + (timedelta(hours=p.randrange(2, 40)) if late else timedelta(seconds=p.randrange(1, 90)))
    edit_at = out_entered + timedelta(minutes=p.randrange(6 * 60, 72 * 60)) if p.random() < 0.08 else None
    edit_minutes = p.choice([-45, -30, -15, 15, 30, 45])
    key = f"{e.employee_id}-{day:%Y%m%d}"
    punches: list[Punch] = []
    if in_entered <= t:
        punches.append(Punch(f"PI-{key}", e.employee_id, day, "In", punched_in, in_entered, in_entered, False))
    if punches and out_entered <= t:
        if edit_at is not None and edit_at <= t:
            punched_out += timedelta(minutes=edit_minutes)
            punches.append(Punch(f"PO-{key}", e.employee_id, day, "Out", punched_out, out_entered, edit_at, True))
        else:
            punches.append(Punch(f"PO-{key}", e.employee_id, day, "Out", punched_out, out_entered, out_entered, False))
    if not punches:
        return None
    approved_at = datetime.combine(day + timedelta(days=3), time(12), tzinfo=UTC)
    approved = approved_at <= t and len(punches) == 2
    updated = max(x.updated_at for x in punches)
    if approved:
        updated = max(updated, approved_at)
    return WorkedDay(e.employee_id, day, tuple(punches), approved, updated)


def _utc(company: Company, wall: datetime) -> datetime:
    return wall.replace(tzinfo=company_module._zone(company.time_zone)).astimezone(UTC)


def _reference_schedule(company: Company, i: int, as_of: datetime) -> Schedule:
    e = company.employee(i, as_of)
    r = _ref_rng(company, "schedule", i)
    start_hour = r.choice([6, 7, 8, 9, 14, 22])
    days = "Mon,Tue,Wed,Thu,Fri" if e.full_time else r.choice(["Mon,Wed,Fri", "Tue,Thu", "Sat,Sun"])
    hours_per_day = 8
    return Schedule(
        schedule_id=f"SCH-{e.employee_id}",
        employee_id=e.employee_id,
        effective_date=e.hire_date,
        shift_start=time(start_hour, 0),
        shift_end=time((start_hour + hours_per_day + 1) % 24, 0),
        work_days=days,
        weekly_hours=Decimal(hours_per_day * len(days.split(","))),
    )


def _reference_shift(company: Company, i: int, day: date, as_of: datetime) -> Shift | None:
    e = company.employee(i, as_of)
    if not company._employed_during(e, day, day):
        return None
    r = _ref_rng(company, "schedule", i)
    start_hour = r.choice([6, 7, 8, 9, 14, 22])
    days = "Mon,Tue,Wed,Thu,Fri" if e.full_time else r.choice(["Mon,Wed,Fri", "Tue,Thu", "Sat,Sun"])
    if ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[day.weekday()] not in days.split(","):
        return None
    start = datetime.combine(day, time(start_hour))
    return Shift(f"SH-{e.employee_id}-{day:%Y%m%d}", e.employee_id, day, start, start + timedelta(hours=9),
                 e.location_code, e.job_code)  # fmt: skip


SEEDS = [(42, 1500), (0, 700), (2**63 + 12345, 2500), (987654321, 20_000)]


@pytest.mark.parametrize(("seed", "scale"), SEEDS)
def test_contacts_are_the_reference_contacts(seed: int, scale: int) -> None:
    company = Company(seed=seed, scale=scale)
    step = max(1, company.contact_count // 3000)
    for as_of in (None, EPOCH + timedelta(days=400)):
        for i in range(0, company.contact_count, step):
            built, expected = company.contact(i, as_of), _reference_contact(company, i, as_of)
            assert list(vars(built).items()) == list(vars(expected).items()), (seed, i, as_of)


@pytest.mark.parametrize(("seed", "scale"), SEEDS[:3])
def test_pay_statements_are_the_reference_statements(seed: int, scale: int) -> None:
    company = Company(seed=seed, scale=scale)
    as_of = EPOCH + timedelta(days=30)
    periods = company.pay_periods(as_of)
    stop = min(company.employee_count(as_of), 400)
    built = list(company.pay_statements(0, stop, as_of=as_of))
    expected = [
        s
        for i in range(stop)
        for period in periods
        if (s := _reference_pay_statement(company, company.employee(i, as_of), i, period)) is not None
    ]
    assert built == expected
    assert len(built) > stop  # several periods each
    assert any(line.code == "OT" for s in built for line in s.earnings)  # both random() branches drawn
    assert any(line.code == "BON" for s in built for line in s.earnings)


@pytest.mark.parametrize(("seed", "scale"), SEEDS[:3])
def test_worked_days_are_the_reference_worked_days(seed: int, scale: int) -> None:
    """Punches (late and edited outs included) and start hours, read at several moments."""
    company = Company(seed=seed, scale=scale)
    late = edited = days_seen = 0
    for t in (EPOCH + timedelta(days=20, hours=15), EPOCH + timedelta(days=45)):
        for i in range(0, min(company.employee_count(t), 300)):
            assert company.schedule_start_hour(i) == _reference_start_hour(company, i)
            for back in range(1, 15):
                day = t.date() - timedelta(days=back)
                built, expected = company.worked_day(i, day, t), _reference_worked_day(company, i, day, t)
                assert built == expected, (seed, i, day, t)
                if built is not None:
                    days_seen += 1
                    edited += any(p.edited for p in built.punches)
                    late += any(p.entered_at - _utc(company, p.at) > timedelta(hours=1) for p in built.punches)
    assert days_seen > 1000
    assert edited > 0
    assert late > 0


def _reference_journal(company: Company, i: int) -> JournalEntry:
    r = _ref_rng(company, "journal", i)
    entity = company.legal_entities[r.randrange(len(company.legal_entities))]
    currency = "CAD" if entity.code == "C200" else "USD"
    expense = company.gl_accounts[r.randrange(11, len(company.gl_accounts))]
    offset = company.gl_accounts[r.choice([0, 4, 5, 6])]
    cost_center = company.cost_centers[r.randrange(len(company.cost_centers))].code
    amounts = [Decimal(r.randrange(1_000, 5_000_000)) / 100 for _ in range(r.randrange(1, 4))]
    lines = [
        JournalLine(n + 1, expense.number, amount, Decimal(0), cost_center, f"{expense.name} accrual")
        for n, amount in enumerate(amounts)
    ]
    total = sum(amounts, Decimal(0))
    lines.append(JournalLine(len(lines) + 1, offset.number, Decimal(0), total, cost_center, offset.name))
    return JournalEntry(
        index=i,
        journal_id=f"JE{i + 1:08d}",
        ledger=f"{entity.name} Primary",
        legal_entity=entity.code,
        posted_date=EPOCH.date() - timedelta(days=r.randrange(1, 730)),
        description=f"{expense.name} {r.choice(['accrual', 'reclass', 'payment', 'adjustment'])}",
        currency=currency,
        status="Posted",
        lines=tuple(lines),
    )


@pytest.mark.parametrize("memo", [company_module._MEMO_SIZE, 0])
@pytest.mark.parametrize(("seed", "scale"), SEEDS)
def test_journals_are_the_reference_journals(seed: int, scale: int, memo: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built through ``below`` and kept (bounded): the same journal on every read, equal to the reference's. Its
    outline (line count, posted date: row offsets and the sort pass) is the reference's too, from the whole journal
    while the memo holds every journal and from the draws up to the date alone when it does not (``memo`` 0); line
    numbers count from 1, which the ERP sort pass relies on."""
    monkeypatch.setattr(company_module, "_MEMO_SIZE", memo)
    company = Company(seed=seed, scale=scale)
    step = max(1, company.journal_count // 3000)
    sizes = set()
    for i in range(0, company.journal_count, step):
        built, expected = company.journal(i), _reference_journal(company, i)
        assert list(vars(built).items()) == list(vars(expected).items()), (seed, i)
        assert company.journal_outline(i) == (len(expected.lines), expected.posted_date), (seed, i)
        assert [line.line_number for line in built.lines] == list(range(1, len(built.lines) + 1))
        assert company.journal(i) is built or not memo  # kept
        sizes.add(len(built.lines))
    assert sizes == {2, 3, 4}  # every line count drawn
    assert list(company.journals(0, 50)) == [_reference_journal(company, i) for i in range(50)]


@pytest.mark.parametrize(("seed", "scale"), SEEDS[:3])
def test_schedules_and_shifts_are_the_reference_ones(seed: int, scale: int) -> None:
    """The kept schedule draws give each person's schedule and shifts (part-timers' days included), read twice."""
    company = Company(seed=seed, scale=scale)
    t = EPOCH + timedelta(days=10)
    part_time = set()
    for _ in range(2):  # built, then from the memo
        for i in range(min(company.employee_count(t), 500)):
            schedule = company.schedule(i, t)
            assert schedule == _reference_schedule(company, i, t), (seed, i)
            part_time.add(schedule.work_days)
            for back in range(8):
                day = t.date() - timedelta(days=back)
                assert company.shift(i, day, t) == _reference_shift(company, i, day, t), (seed, i, day)
    assert part_time == {"Mon,Tue,Wed,Thu,Fri", "Mon,Wed,Fri", "Tue,Thu", "Sat,Sun"}


# --- Salesforce ---------------------------------------------------------------------------------------------------


def _reference_contact_row(company: Company, accounts: int, users: int, i: int) -> dict[str, Any]:
    c = company.contact(i % company.contact_count)
    r = _ref_rng(company, "sf_contact", i)
    row = {
        "AccountId": f"001{(i // 2) % max(accounts, 1):012d}AAA",
        "FirstName": c.first_name,
        "LastName": c.last_name,
        "Name": f"{c.first_name} {c.last_name}",
        "Email": c.email,
        "Title": c.title,
        "Phone": f"+1 555 {(i * 7) % 10_000:04d}",
        "Birthdate": (date(1965, 1, 1) + timedelta(days=r.randrange(0, 12_000))).isoformat(),
        "OwnerId": f"005{r.randrange(0, max(users, 1)):012d}AAA",
        "Preferred_Channel__c": r.choice(["Email", "Phone", "Portal"]),
    }
    row.update(_address("Mailing", f"{r.randrange(1, 999)} Elm Street", "Boston", "US"))
    return row


def _reference_opportunity_row(company: Company, accounts: int, users: int, i: int) -> dict[str, Any]:
    r = _ref_rng(company, "sf_opportunity", i)
    stage, probability = r.choice(
        [("Prospecting", 10), ("Qualification", 20), ("Proposal", 60), ("Closed Won", 100), ("Closed Lost", 0)]
    )
    return {
        "AccountId": f"001{(i // 2) % max(accounts, 1):012d}AAA",
        "Name": f"Opportunity {i + 1}",
        "StageName": stage,
        "Amount": Decimal(r.randrange(100_000, 50_000_000)) / 100,
        "Probability": Decimal(probability),
        "CloseDate": (date(2024, 1, 1) + timedelta(days=r.randrange(0, 900))).isoformat(),
        "IsClosed": stage.startswith("Closed"),
        "IsWon": stage == "Closed Won",
        "OwnerId": f"005{r.randrange(0, max(users, 1)):012d}AAA",
        "Project__c": None if r.random() < 0.5 else f"a01{r.randrange(0, max(company.scale // 10, 5)):012d}AAA",
    }


def _reference_lead_row(company: Company, accounts: int, users: int, i: int) -> dict[str, Any]:
    e = company.employee(i % company.scale)
    r = _ref_rng(company, "sf_lead", i)
    converted = r.random() < 0.2
    row = {
        "FirstName": e.first_name,
        "LastName": e.last_name,
        "Company": f"{e.last_name} Prospects {i + 1}",
        "Email": f"lead{i + 1}@prospect.example",
        "Status": "Closed - Converted" if converted else r.choice(["Open - Not Contacted", "Working - Contacted"]),
        "LeadSource": r.choice(["Web", "Partner Referral", "Trade Show", "Phone Inquiry"]),
        "IsConverted": converted,
        "ConvertedAccountId": f"001{i % max(accounts, 1):012d}AAA" if converted else None,
        "NumberOfEmployees": r.randrange(1, 5000),
        "AnnualRevenue": Decimal(r.randrange(0, 1_000_000_000)) / 100,
    }
    row.update(_address("", f"{r.randrange(1, 999)} Market Street", "Toronto", "CA"))
    return row


_SF_REFERENCES = {
    "Contact": _reference_contact_row,
    "Opportunity": _reference_opportunity_row,
    "Lead": _reference_lead_row,
}


@pytest.mark.parametrize(("seed", "scale", "users"), [(42, 2000, None), (5, 900, 1), (2**64 - 1, 4000, 777)])
@pytest.mark.parametrize("name", sorted(_SF_REFERENCES))
def test_salesforce_rows_are_the_reference_rows(name: str, seed: int, scale: int, users: int | None) -> None:
    """Contact, Opportunity and Lead rows, with the org's default and overridden User counts."""
    company = Company(seed=seed, scale=scale)
    counts = {} if users is None else {"User": users}
    objects = build_objects(company, counts)
    accounts, owners = company.crm_account_count, counts.get("User", company.scale)
    sobject = objects[name]
    kinds: set[Any] = set()
    for i in range(min(sobject.count, 3000)):
        built, expected = sobject.row(i), _SF_REFERENCES[name](company, accounts, owners, i)
        assert list(built.items()) == list(expected.items()), (name, seed, i)
        kinds.add(built.get("Project__c") is None if name == "Opportunity" else built.get("IsConverted"))
    if name != "Contact":
        assert kinds == {True, False}  # both sides of the random() branch drawn
