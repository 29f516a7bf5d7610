"""One consistent fictional company shared by every emulator, deterministic for a seed, generated lazily.

Record ``i`` of any entity is a pure function of (seed, i) (and, for what changes, of sandbox time): emulators page
through millions of rows with flat memory, and the same person has the same keys in UKG, Workday, SuccessFactors
and Oracle (``employee_id`` "E000042", ``person_id`` "P000042").

CONTRACT (emulators rely on these names; extend, do not rename):
- ``Company(seed=42, scale=100)``; ``scale`` = number of employees at sandbox start; other entities scale from it.
- ``company.employee(i, as_of=None) -> Employee``; ``company.employees(start=0, stop=None, *, as_of=None)``;
  ``company.employee_count(as_of=None)`` (the initial ``scale`` plus everyone hired since).
- ``company.departments / jobs / locations / legal_entities / cost_centers / pay_groups / earning_codes /
  deduction_codes / accrual_plans / gl_accounts`` -> small lists, fixed once built (never reassigned or mutated):
  ``job_by_code / department_by_code / location_by_code / legal_entity_by_code`` mirror them, built once, and would
  silently go stale otherwise.
- Payroll and time: ``pay_periods(as_of)``, ``pay_statement(employee_index, period)``, ``pay_statements()``,
  ``timecards()``, ``schedule(i)``, ``accrual_balances(i)``; clock punches ``worked_day(i, day)`` (late punches and
  manager edits appear as sandbox time passes) and scheduled ``shift(i, day)``, wall times in ``time_zone``.
- Finance: ``journal(i)`` / ``journals()``, ``supplier(i)`` / ``suppliers()``, ``invoice(i)`` / ``invoices()``,
  ``purchase_order(i)`` / ``purchase_orders()`` with ``*_count`` properties.
- CRM: ``crm_account(i)`` / ``crm_accounts()``, ``contact(i)`` / ``contacts()``, ``opportunity(i)`` /
  ``opportunities()``, ``lead(i)`` / ``leads()``; deleted records carry ``is_deleted=True``.

Change over sandbox time (``as_of`` defaults to ``company.clock.now()``, i.e. the sandbox clock; nothing has
changed at the clock's start): every employee and CRM record gets an update event every ``UPDATE_PERIOD_DAYS``
days at a seeded phase (``last_modified`` moves, salaries and revenues change); some employees are terminated and
some CRM records deleted at one of those events; new hires arrive at a steady rate (``hires_per_day``).
``changes_between(t0, t1)`` lists what changed, so incremental syncs and deletes can be checked.
"""

from __future__ import annotations

import functools
import hashlib
import random
import threading
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from xlr8_sandbox.seeded import SeedDigests, SeededRandom, below

if TYPE_CHECKING:
    from xlr8_sandbox.platform.clock import SandboxClock

FIRST_NAMES = [
    "Ava",
    "Liam",
    "Noah",
    "Emma",
    "Olivia",
    "Mateo",
    "Sofia",
    "Lucas",
    "Mia",
    "Amelia",
    "Ethan",
    "Zoe",
    "Aarav",
    "Chloé",
    "José",
    "Björn",
    "Saanvi",
    "Hiro",
    "Fatima",
    "Kwame",
    "Ingrid",
    "Diego",
    "Léa",
    "Omar",
    "Priya",
]
LAST_NAMES = [
    "Smith",
    "Garcia",
    "Nguyen",
    "Müller",
    "O'Brien",
    "Kowalski",
    "Rossi",
    "Patel",
    "Johnson",
    "Kim",
    "Dubois",
    "Silva",
    "Haddad",
    "Lee",
    "Brown",
    "Martínez",
    "Andersson",
    "Okafor",
    "Tanaka",
    "Walker",
]


@dataclass(frozen=True)
class Code:
    """A configuration code-table row (job, department, location, ...)."""

    code: str
    name: str
    parent: str | None = None


@dataclass(frozen=True)
class Employee:
    index: int
    employee_id: str  # shared key across HR products, e.g. "E000042"
    person_id: str  # e.g. "P000042"
    first_name: str
    last_name: str
    email: str
    birth_date: date
    hire_date: date
    termination_date: date | None
    status: str  # "active" | "leave" | "terminated"
    job_code: str
    department_code: str
    location_code: str
    company_code: str
    cost_center: str
    pay_group: str
    manager_id: str | None
    annual_salary: Decimal
    currency: str
    full_time: bool
    last_modified: datetime


@dataclass(frozen=True)
class CrmAccount:
    index: int
    account_id: str
    name: str
    industry: str
    annual_revenue: Decimal
    billing_city: str
    billing_country: str
    created: datetime
    last_modified: datetime
    is_deleted: bool = False


@dataclass(frozen=True)
class CrmContact:
    index: int
    contact_id: str
    account_id: str
    first_name: str
    last_name: str
    email: str
    title: str
    created: datetime
    last_modified: datetime
    is_deleted: bool = False


@dataclass(frozen=True)
class Opportunity:
    index: int
    opportunity_id: str
    account_id: str
    name: str
    stage: str
    amount: Decimal
    probability: int
    close_date: date
    owner_employee_id: str
    created: datetime
    last_modified: datetime
    is_deleted: bool = False


@dataclass(frozen=True)
class Lead:
    index: int
    lead_id: str
    first_name: str
    last_name: str
    company: str
    email: str
    status: str
    source: str
    created: datetime
    last_modified: datetime
    is_deleted: bool = False


@dataclass(frozen=True)
class PayPeriod:
    number: int
    start: date
    end: date
    pay_date: date


@dataclass(frozen=True)
class PayLine:
    code: str  # an earning or deduction code
    hours: Decimal | None
    amount: Decimal


@dataclass(frozen=True)
class PayStatement:
    statement_id: str
    employee_id: str
    period: PayPeriod
    gross: Decimal
    deductions_total: Decimal
    net: Decimal
    currency: str
    earnings: tuple[PayLine, ...]
    deductions: tuple[PayLine, ...]


@dataclass(frozen=True)
class Timecard:
    timecard_id: str
    employee_id: str
    work_date: date
    hours: Decimal
    pay_code: str
    approved: bool


@dataclass(frozen=True)
class Schedule:
    schedule_id: str
    employee_id: str
    effective_date: date
    shift_start: time
    shift_end: time
    work_days: str  # e.g. "Mon,Tue,Wed,Thu,Fri"
    weekly_hours: Decimal


@dataclass(frozen=True)
class Punch:
    """One clock punch. ``at`` is the tenant's wall time (naive, in ``Company.time_zone``); the other times UTC."""

    punch_id: str
    employee_id: str
    work_date: date
    kind: Literal["In", "Out"]
    at: datetime
    entered_at: datetime  # when it reached the time system (a forgotten punch is added late)
    updated_at: datetime  # last change: entered_at, or a manager's edit
    edited: bool


@dataclass(frozen=True)
class WorkedDay:
    """What the time system knows about one employee's day as of some moment (punches may still be missing)."""

    employee_id: str
    work_date: date
    punches: tuple[Punch, ...]
    approved: bool
    updated_at: datetime

    @property
    def hours(self) -> Decimal | None:
        """Worked hours of the in/out pair, None while the out punch is missing."""
        if len(self.punches) < 2:
            return None
        seconds = (self.punches[1].at - self.punches[0].at).total_seconds()
        return (Decimal(int(seconds)) / 3600).quantize(_CENT)


@dataclass(frozen=True)
class Shift:
    """One scheduled shift; times are the tenant's wall time (naive, in ``Company.time_zone``)."""

    shift_id: str
    employee_id: str
    work_date: date
    start: datetime
    end: datetime
    location_code: str
    job_code: str


@dataclass(frozen=True)
class AccrualBalance:
    employee_id: str
    plan_code: str
    balance_hours: Decimal
    accrued_ytd: Decimal
    taken_ytd: Decimal
    as_of: date


@dataclass(frozen=True)
class GLAccount:
    number: str
    name: str
    account_type: str  # Asset | Liability | Equity | Revenue | Expense
    normal_balance: str  # Debit | Credit


@dataclass(frozen=True)
class JournalLine:
    line_number: int
    account_number: str
    debit: Decimal
    credit: Decimal
    cost_center: str
    description: str


@dataclass(frozen=True)
class JournalEntry:
    index: int
    journal_id: str
    ledger: str
    legal_entity: str
    posted_date: date
    description: str
    currency: str
    status: str
    lines: tuple[JournalLine, ...]


@dataclass(frozen=True)
class Supplier:
    index: int
    supplier_id: str
    name: str
    country: str
    currency: str
    payment_terms: str
    active: bool
    created: datetime


@dataclass(frozen=True)
class PurchaseOrder:
    index: int
    po_id: str
    supplier_id: str
    buyer_employee_id: str
    order_date: date
    status: str
    currency: str
    amount: Decimal
    line_count: int


@dataclass(frozen=True)
class PurchaseOrderItem:
    """One line of a purchase order; the lines' net amounts add up to the order's ``amount``."""

    po_id: str
    item_number: int  # 10, 20, 30 ... as ERP systems number them
    description: str
    quantity: Decimal  # three decimals
    unit: str
    net_price: Decimal  # per unit, two decimals (rounded; net_amount is the exact line total)
    net_amount: Decimal
    currency: str
    gl_account: str
    cost_center: str


@dataclass(frozen=True)
class Invoice:
    index: int
    invoice_id: str
    supplier_id: str
    po_id: str | None
    invoice_number: str
    invoice_date: date
    due_date: date
    amount: Decimal
    currency: str
    status: str


ChangeKind = Literal["insert", "update", "terminate", "delete"]


@dataclass(frozen=True)
class Change:
    """One change in sandbox time: what an incremental sync (or a deletes feed) should pick up."""

    entity: str  # "employee" | "crm_account" | "contact" | "opportunity" | "lead"
    index: int
    key: str
    kind: ChangeKind
    at: datetime


_PO_STATUSES = ("Open", "Approved", "Received", "Closed", "Cancelled")
_INVOICE_TERMS = (30, 45, 60)
_INVOICE_STATUSES = ("Open", "Approved", "Paid", "Paid", "Paid", "On Hold")
_DEPARTMENTS = ["Finance", "Human Resources", "Engineering", "Sales", "Operations", "Customer Support", "Legal"]
_JOBS = ["Analyst", "Engineer", "Manager", "Director", "Specialist", "Coordinator", "Technician", "Consultant"]
_LOCATIONS = [
    ("ATL", "Atlanta", "US"),
    ("BOS", "Boston", "US"),
    ("TOR", "Toronto", "CA"),
    ("LON", "London", "GB"),
    ("BER", "Berlin", "DE"),
    ("SYD", "Sydney", "AU"),
]
_INDUSTRIES = ["Manufacturing", "Healthcare", "Retail", "Technology", "Finance", "Energy"]
_ACCOUNT_KINDS = ["Industries", "Group", "Labs", "Partners", "Co."]
_BASE = datetime(2018, 1, 1, tzinfo=UTC)
#: Sandbox time zero (same as ``xlr8_sandbox.platform.clock.EPOCH``): every record is as generated until then.
EPOCH = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)
#: Every employee and CRM record is touched once per this many days (a prime, so phases spread evenly).
UPDATE_PERIOD_DAYS = 31
_DAY = timedelta(days=1)
_CENT = Decimal("0.01")
_T = TypeVar("_T")
#: ``date.fromordinal(_ORDINAL_2015 + n)`` is ``date(2015, 1, 1) + timedelta(days=n)``, in one call.
_ORDINAL_2015 = date(2015, 1, 1).toordinal()
_ORDINAL_1960 = date(1960, 1, 1).toordinal()
_FIRST_COUNT, _LAST_COUNT = len(FIRST_NAMES), len(LAST_NAMES)


def _draw_name(draw: Callable[[int], int]) -> tuple[str, str]:
    """A person's (first, last) name: the first two draws of their "employee" generator."""
    return FIRST_NAMES[below(draw, _FIRST_COUNT)], LAST_NAMES[below(draw, _LAST_COUNT)]


_fromordinal = date.fromordinal
#: How many of each pure finance record (supplier, purchase order, invoice) a company keeps (~0.5-0.7 kB each).
_MEMO_SIZE = 16_384
#: First biweekly pay period start; periods whose pay date has passed are visible.
_PAY_ORIGIN = date(2025, 6, 2)
_OFFSET_ACCOUNTS = (0, 4, 5, 6)
_JOURNAL_KINDS = ("accrual", "reclass", "payment", "adjustment")
_CONTACT_TITLES = ("CFO", "HR Director", "Buyer", "CTO", "Payroll Manager")
_EDIT_MINUTES = (-45, -30, -15, 15, 30, 45)
_START_HOURS = (6, 7, 8, 9, 14, 22)
_PART_TIME_DAYS = ("Mon,Wed,Fri", "Tue,Thu", "Sat,Sun")
_STAGES = [
    ("Prospecting", 10),
    ("Qualification", 20),
    ("Needs Analysis", 40),
    ("Proposal/Price Quote", 60),
    ("Negotiation/Review", 80),
    ("Closed Won", 100),
    ("Closed Lost", 0),
]
_GL_ACCOUNTS = [
    ("1000", "Cash", "Asset"),
    ("1100", "Accounts Receivable", "Asset"),
    ("1200", "Inventory", "Asset"),
    ("1500", "Fixed Assets", "Asset"),
    ("2000", "Accounts Payable", "Liability"),
    ("2100", "Accrued Payroll", "Liability"),
    ("2200", "Payroll Tax Payable", "Liability"),
    ("2300", "Benefits Payable", "Liability"),
    ("3000", "Retained Earnings", "Equity"),
    ("4000", "Product Revenue", "Revenue"),
    ("4100", "Service Revenue", "Revenue"),
    ("5000", "Cost of Goods Sold", "Expense"),
    ("6000", "Salaries and Wages", "Expense"),
    ("6100", "Payroll Taxes", "Expense"),
    ("6200", "Employee Benefits", "Expense"),
    ("6300", "Travel", "Expense"),
    ("6400", "Software", "Expense"),
    ("6500", "Rent", "Expense"),
    ("6600", "Professional Services", "Expense"),
]


class Company:
    def __init__(self, seed: int = 42, scale: int = 100, clock: SandboxClock | None = None) -> None:
        if scale < 1:
            raise ValueError(f"company scale must be >= 1, got {scale}")
        self.seed = seed
        self.scale = scale
        #: Sandbox time the views follow when no ``as_of`` is given (set by ``SandboxContext``).
        self.clock = clock
        self._inserted: list[tuple[datetime, int]] = []
        #: Bumped by every change not implied by sandbox time (inserts, resets): part of ``data_version()``.
        self._changes = 0
        self._lock = threading.Lock()
        self._seed_digests = SeedDigests(f"{seed}:")
        # Finance records are pure functions of (seed, i), kept a while: a read sorts a collection (one pass to
        # find the order, one to serve it) and invoices and orders refer to suppliers and orders many times.
        # Bounded (a few MB each at most), so memory stays flat at any scale; frozen, so sharing them is safe.
        # Employees are not kept: employee streams read each person once (Oracle HCM keeps its own few).
        self._suppliers = functools.lru_cache(maxsize=_MEMO_SIZE)(self._build_supplier)
        self._purchase_orders = functools.lru_cache(maxsize=_MEMO_SIZE)(self._build_purchase_order)
        self._invoices = functools.lru_cache(maxsize=_MEMO_SIZE)(self._build_invoice)
        self._journals = functools.lru_cache(maxsize=_MEMO_SIZE)(self._build_journal)
        # A person's schedule draws (two small values): every worked day and shift of theirs reads them.
        self._schedule_draws = functools.lru_cache(maxsize=_MEMO_SIZE)(self._draw_schedule)
        self.departments = [Code(f"D{i + 1:03d}", n) for i, n in enumerate(_DEPARTMENTS)]
        self.jobs = [Code(f"J{i + 1:03d}", n) for i, n in enumerate(_JOBS)]
        self.locations = [Code(c, n, parent=country) for c, n, country in _LOCATIONS]
        self.legal_entities = [Code("C100", "Acme Holdings Inc."), Code("C200", "Acme Canada Ltd.")]
        #: The code tables rows name by code, looked up by it (a scan of the list cost ~0.5 µs a row and table).
        self.job_by_code = {c.code: c for c in self.jobs}
        self.department_by_code = {c.code: c for c in self.departments}
        self.location_by_code = {c.code: c for c in self.locations}
        self.legal_entity_by_code = {c.code: c for c in self.legal_entities}
        self.cost_centers = [
            Code(f"CC{i + 1:02d}", f"{d.name} cost center", d.code) for i, d in enumerate(self.departments)
        ]
        self.pay_groups = [Code("BW", "Biweekly"), Code("MO", "Monthly"), Code("WK", "Weekly")]
        self.earning_codes = [
            Code("REG", "Regular"),
            Code("OT", "Overtime"),
            Code("HOL", "Holiday"),
            Code("VAC", "Vacation"),
            Code("SICK", "Sick"),
            Code("BON", "Bonus"),
        ]
        self.deduction_codes = [
            Code("FIT", "Federal income tax", "tax"),
            Code("SS", "Social security", "tax"),
            Code("MED", "Medicare", "tax"),
            Code("401K", "401(k) contribution", "pre-tax"),
            Code("MEDPLAN", "Medical plan", "pre-tax"),
            Code("DENTAL", "Dental plan", "pre-tax"),
        ]
        self.accrual_plans = [Code("PTO", "Paid time off"), Code("SICK", "Sick leave")]
        #: The time-keeping tenant's zone: punch and shift wall times are local to it.
        self.time_zone = "America/New_York"
        self.gl_accounts = [
            GLAccount(n, name, kind, "Debit" if kind in ("Asset", "Expense") else "Credit")
            for n, name, kind in _GL_ACCOUNTS
        ]
        # Update-event phases: index i is touched on days d with d % P == (a * i + b) % P.
        r = self._rng("phases", 0)
        self._phase_a = r.randrange(1, UPDATE_PERIOD_DAYS)
        self._phase_a_inv = pow(self._phase_a, -1, UPDATE_PERIOD_DAYS)
        self._phase_b = {
            e: r.randrange(UPDATE_PERIOD_DAYS) for e in ("employee", "crm_account", "contact", "opportunity", "lead")
        }
        # Purchase orders are touched on their own schedule (own generator: the phases above stay as they were).
        self._phase_b["purchase_order"] = self._rng("phases", 1).randrange(UPDATE_PERIOD_DAYS)

    def _rng(self, kind: str, i: int) -> random.Random:
        """``random.Random(int(blake2b(f"{seed}:{kind}:{i}")))``, made and drawn from faster (same draws)."""
        return SeededRandom(self._seed_digests(kind, i))

    def _now(self) -> datetime:
        return self.clock.now() if self.clock is not None else EPOCH

    def _as_of(self, as_of: datetime | None) -> datetime:
        return self._now() if as_of is None else as_of

    # --- change schedule ------------------------------------------------------------------------------------
    def _phase(self, entity: str, i: int) -> int:
        return (self._phase_a * i + self._phase_b[entity]) % UPDATE_PERIOD_DAYS

    def _event_time(self, entity: str, i: int, k: int) -> datetime:
        """When record ``i`` of ``entity`` is touched for the ``k``-th time (k >= 0) after sandbox start."""
        day = self._phase(entity, i) + k * UPDATE_PERIOD_DAYS
        offset = int.from_bytes(hashlib.blake2b(f"{self.seed}:{entity}:{i}:{day}".encode(), digest_size=4).digest())
        return EPOCH + day * _DAY + timedelta(seconds=1 + offset % 86_000)

    def _event_count(self, entity: str, i: int, as_of: datetime) -> int:
        """How many update events record ``i`` has had by ``as_of``."""
        if as_of <= EPOCH:
            return 0
        days = (as_of - EPOCH) // _DAY
        phase = self._phase(entity, i)
        if days < phase:
            return 0
        k = (days - phase) // UPDATE_PERIOD_DAYS
        return k + 1 if self._event_time(entity, i, k) <= as_of else k

    def _final_event(self, entity: str, i: int, rate: float) -> int | None:
        """The event at which a record ends (employee terminated, CRM record deleted), or None."""
        r = self._rng(f"{entity}:end", i)
        return r.randrange(0, 6) if r.random() < rate else None

    def _events_visible(self, entity: str, i: int, as_of: datetime, rate: float) -> tuple[int, int | None]:
        """(events so far, capped at the ending event; index of the ending event if it happened)."""
        n = self._event_count(entity, i, as_of)
        end = self._final_event(entity, i, rate)
        if end is not None and n > end:
            return end + 1, end
        return n, None

    # --- HR -------------------------------------------------------------------------------------------------
    @property
    def hires_per_day(self) -> int:
        return max(1, self.scale // 200)

    @property
    def _hire_interval(self) -> timedelta:
        return timedelta(microseconds=86_400_000_000 // self.hires_per_day)

    def _scheduled_hires(self, t: datetime) -> int:
        return 0 if t <= EPOCH else (t - EPOCH) // self._hire_interval

    def _scheduled_hire_time(self, m: int) -> datetime:
        return EPOCH + (m + 1) * self._hire_interval

    def employee_count(self, as_of: datetime | None = None) -> int:
        """Everyone employed at any point up to ``as_of`` (terminated people stay, as in every HR system)."""
        t = self._as_of(as_of)
        with self._lock:
            inserted = sum(n for at, n in self._inserted if at <= t)
        return self.scale + self._scheduled_hires(t) + inserted

    def hire_time(self, i: int) -> datetime | None:
        """When employee ``i`` was hired in sandbox time; None for the initial population."""
        if i < self.scale:
            return None
        j = i - self.scale
        with self._lock:
            events = list(self._inserted)
        inserted = 0
        for at, n in events:
            m = j - inserted
            if self._scheduled_hire_time(m) < at:
                return self._scheduled_hire_time(m)
            inserted += n
            if self._scheduled_hires(at) + inserted > j:
                return at
        return self._scheduled_hire_time(j - inserted)

    def insert_employees(self, count: int) -> None:
        """Hire ``count`` people now (as another user would while a client pages)."""
        with self._lock:
            self._inserted.append((self._now(), count))
            self._changes += 1

    def reset_changes(self) -> None:
        with self._lock:
            self._inserted.clear()
            self._changes += 1

    def data_version(self) -> tuple[datetime, int]:
        """Changes whenever any record may have changed (sandbox time moved, records inserted or reset): emulators
        key their row caches on it (``xlr8_sandbox.platform.rowcache``)."""
        with self._lock:
            changes = self._changes
        return self._now(), changes

    def employee(self, i: int, as_of: datetime | None = None) -> Employee:
        t = self._as_of(as_of)
        hired_at = self.hire_time(i)
        if hired_at is not None and hired_at > t:
            raise IndexError(f"employee index {i} is not hired yet as of {t.isoformat()}")
        base = self._employee_base(i)
        if hired_at is not None:
            base = replace(
                base, hire_date=hired_at.date(), termination_date=None, status="active", last_modified=hired_at
            )
        if t <= EPOCH or base.status == "terminated":
            return base  # people who left before sandbox time do not change any more
        salary, job, modified = base.annual_salary, base.job_code, base.last_modified
        for k, at, ends in self._employee_events(i, t, hired_at):
            modified = at
            if ends:
                return replace(
                    base,
                    status="terminated",
                    termination_date=at.date(),
                    annual_salary=salary,
                    job_code=job,
                    last_modified=at,
                )
            r = self._rng(f"employee:update:{k}", i)
            salary = (salary * Decimal(1 + r.randrange(1, 6) / 100)).quantize(_CENT)
            if r.random() < 0.2:
                job = self.jobs[r.randrange(len(self.jobs))].code
        return replace(base, annual_salary=salary, job_code=job, last_modified=modified)

    def _employee_events(self, i: int, t: datetime, hired_at: datetime | None) -> Iterator[tuple[int, datetime, bool]]:
        """Person ``i``'s update events visible at ``t`` after their hire, in order: (k, when, whether it ends
        their employment)."""
        events, ended = self._events_visible("employee", i, t, 0.3)
        for k in range(events):
            at = self._event_time("employee", i, k)
            if hired_at is None or at > hired_at:
                yield k, at, k == ended

    def employee_last_modified(self, i: int, as_of: datetime | None = None) -> datetime:
        """``employee(i, as_of).last_modified`` without the record, for a sort pass over every person (Oracle HCM
        workers by ``LastUpdateDate``): the base record's draws up to its date and the update events' times, no
        names, pay, job or frozen record. A person not hired yet raises as ``employee`` does."""
        t = self._as_of(as_of)
        hired_at = self.hire_time(i)
        if hired_at is not None and hired_at > t:
            self.employee(i, as_of)  # raises its IndexError
        head = self._employee_head(self._rng("employee", i))
        status, modified = head[3], head[7]
        if hired_at is not None:
            status, modified = "active", hired_at
        if t <= EPOCH or status == "terminated":
            return modified
        for _k, at, ends in self._employee_events(i, t, hired_at):
            modified = at
            if ends:
                break
        return modified

    def employee_name(self, i: int, as_of: datetime | None = None) -> tuple[str, str]:
        """``employee(i, as_of)``'s (first_name, last_name) without the rest of the record: for rows that name a
        person (a buyer, a lead). The names are the base record's first two draws, and no later change or
        sandbox-time hire touches them; a person not hired yet raises as ``employee`` does."""
        hired_at = self.hire_time(i)
        if hired_at is not None and hired_at > self._as_of(as_of):
            self.employee(i, as_of)  # raises its IndexError
        return _draw_name(self._rng("employee", i).getrandbits)

    def _employee_base(self, i: int) -> Employee:
        # Draws through ``below`` (randrange(a, b) is a + below(b - a)), in the order of the reference builder in
        # sandbox/tests/test_fast_paths_exact.py: the same values, about 1.5 us fewer a person.
        r = self._rng("employee", i)
        draw = r.getrandbits
        first, last, hire, status, term, dept_index, loc, modified = self._employee_head(r)
        departments = self.departments
        birth = _fromordinal(_ORDINAL_1960 + below(draw, 14000))
        jobs, pay_groups = self.jobs, self.pay_groups
        job = jobs[below(draw, len(jobs))].code
        pay_group = pay_groups[below(draw, len(pay_groups))].code
        manager = None if i < 5 else f"E{below(draw, min(i, 50)) + 1:06d}"
        salary = Decimal(4_000_000 + below(draw, 21_000_000)) / 100
        canada = loc.parent == "CA"
        n = i + 1
        return _frozen(
            Employee,
            index=i,
            employee_id=f"E{n:06d}",
            person_id=f"P{n:06d}",
            first_name=first,
            last_name=last,
            email=f"{_email_part(first)}.{_email_part(last)}.{n}@acme.example",
            birth_date=birth,
            hire_date=hire,
            termination_date=term,
            status=status,
            job_code=job,
            department_code=departments[dept_index].code,
            location_code=loc.code,
            company_code="C200" if canada else "C100",
            cost_center=f"CC{dept_index + 1:02d}",
            pay_group=pay_group,
            manager_id=manager,
            annual_salary=salary,
            currency="CAD" if canada else "USD",
            full_time=r.random() > 0.15,
            last_modified=modified,
        )

    def _employee_head(self, r: random.Random) -> tuple[str, str, date, str, date | None, int, Code, datetime]:
        """A person's first draws from their "employee" generator, in this order (``_employee_base`` draws on from
        here): first and last name, hire date, status, termination date, department index, location, last
        modified."""
        draw = r.getrandbits
        first, last = _draw_name(draw)
        hire = _fromordinal(_ORDINAL_2015 + below(draw, 4000))
        roll = r.random()
        status = "terminated" if roll < 0.12 else "leave" if roll < 0.17 else "active"
        term = hire + timedelta(days=30 + below(draw, 1470)) if status == "terminated" else None
        dept_index = below(draw, len(self.departments))
        loc = self.locations[below(draw, len(self.locations))]
        modified = _BASE + timedelta(seconds=below(draw, 8 * 365 * 86400))
        return first, last, hire, status, term, dept_index, loc, modified

    def employees(
        self, start: int = 0, stop: int | None = None, *, as_of: datetime | None = None
    ) -> Iterator[Employee]:
        t = self._as_of(as_of)
        count = self.employee_count(t)
        for i in range(start, count if stop is None else min(stop, count)):
            yield self.employee(i, t)

    def _employed_during(self, e: Employee, first: date, last: date) -> bool:
        return e.hire_date <= last and (e.termination_date is None or e.termination_date >= first)

    # --- payroll and time -----------------------------------------------------------------------------------
    def pay_periods(self, as_of: datetime | None = None) -> list[PayPeriod]:
        """Biweekly periods whose pay date has passed by ``as_of`` (a few dozen: a list is fine)."""
        today = self._as_of(as_of).date()
        periods: list[PayPeriod] = []
        n = 0
        while True:
            start = _PAY_ORIGIN + timedelta(days=14 * n)
            period = PayPeriod(n + 1, start, start + timedelta(days=13), start + timedelta(days=18))
            if period.pay_date > today:
                return periods
            periods.append(period)
            n += 1

    def pay_statement(
        self, employee_index: int, period: PayPeriod, as_of: datetime | None = None
    ) -> PayStatement | None:
        """The employee's statement for a period, or None when they were not employed during it."""
        return self._pay_statement(self.employee(employee_index, as_of), employee_index, period)

    def _pay_statement(self, e: Employee, employee_index: int, period: PayPeriod) -> PayStatement | None:
        """``pay_statement`` for employee ``e`` (``employee(employee_index, as_of)``), built by the caller."""
        if not self._employed_during(e, period.start, period.end):
            return None
        r = self._rng(f"pay:{period.number}", employee_index)
        draw = r.getrandbits  # ``below``: randrange's words, in the same order
        rate = (e.annual_salary / 2080).quantize(_CENT)
        earnings = [PayLine("REG", Decimal(80), (rate * 80).quantize(_CENT))]
        if r.random() < 0.3:
            hours = Decimal(1 + below(draw, 11))
            earnings.append(PayLine("OT", hours, (rate * Decimal("1.5") * hours).quantize(_CENT)))
        if r.random() < 0.05:
            earnings.append(PayLine("BON", None, Decimal(100 + below(draw, 1900))))
        gross = sum((line.amount for line in earnings), Decimal(0))
        shares: dict[str, Decimal] = {
            "FIT": Decimal(10 + below(draw, 13)),
            "SS": Decimal("6.2"),
            "MED": Decimal("1.45"),
            "401K": Decimal(below(draw, 7)),
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

    def pay_statements(
        self, start: int = 0, stop: int | None = None, *, as_of: datetime | None = None
    ) -> Iterator[PayStatement]:
        """Statements of employees ``start..stop``, employee by employee, period by period."""
        t = self._as_of(as_of)
        periods = self.pay_periods(t)
        count = self.employee_count(t)
        for i in range(start, count if stop is None else min(stop, count)):
            employee = self.employee(i, t)  # once per person, not once per period
            for period in periods:
                statement = self._pay_statement(employee, i, period)
                if statement is not None:
                    yield statement

    def timecards(
        self, start: int = 0, stop: int | None = None, *, days: int = 14, as_of: datetime | None = None
    ) -> Iterator[Timecard]:
        """One timecard per employee per worked weekday in the ``days`` before ``as_of``."""
        t = self._as_of(as_of)
        today = t.date()
        count = self.employee_count(t)
        for i in range(start, count if stop is None else min(stop, count)):
            e = self.employee(i, t)
            for back in range(days, 0, -1):
                day = today - timedelta(days=back)
                if day.weekday() >= 5 or not self._employed_during(e, day, day):
                    continue
                r = self._rng(f"timecard:{day.isoformat()}", i)
                if r.random() < 0.05:
                    continue  # absent
                yield Timecard(
                    timecard_id=f"TC-{e.employee_id}-{day:%Y%m%d}",
                    employee_id=e.employee_id,
                    work_date=day,
                    hours=Decimal(r.randrange(30, 40)) / 4,
                    pay_code="REG" if r.random() > 0.1 else "OT",
                    approved=back > 2,
                )

    def schedule(self, i: int, as_of: datetime | None = None) -> Schedule:
        e = self.employee(i, as_of)
        start_hour, part_time_days = self._schedule_draws(i)
        days = "Mon,Tue,Wed,Thu,Fri" if e.full_time else part_time_days
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

    def worked_day(
        self, i: int, day: date, as_of: datetime | None = None, *, employee: Employee | None = None
    ) -> WorkedDay | None:
        """Employee ``i``'s punches for ``day`` as the time system shows them at ``as_of`` (None: no work that day).

        The same days and hours as ``timecards()``; the in punch is at the scheduled start give or take a few
        minutes. Some out punches are entered late (forgotten, added by a manager hours later) and some are edited
        one to three days after the fact, so a day read early can look different when read again."""
        t = self._as_of(as_of)
        e = employee or self.employee(i, t)
        if day.weekday() >= 5 or not self._employed_during(e, day, day):
            return None
        r = self._rng(f"timecard:{day.isoformat()}", i)
        if r.random() < 0.05:
            return None  # absent, as in timecards()
        hours = Decimal(30 + below(r.getrandbits, 10)) / 4
        zone = _zone(self.time_zone)
        p = self._rng(f"punch:{day.isoformat()}", i)
        draw = p.getrandbits  # ``below``: randrange/choice's words, in the same order (random() between them)
        start = self.schedule_start_hour(i)
        punched_in = datetime.combine(day, time(start)) + timedelta(minutes=below(draw, 28) - 12)
        punched_out = punched_in + timedelta(minutes=int(hours * 60))
        in_utc = punched_in.replace(tzinfo=zone).astimezone(UTC)
        out_utc = punched_out.replace(tzinfo=zone).astimezone(UTC)
        in_entered = in_utc + timedelta(seconds=1 + below(draw, 89))
        late = p.random() < 0.1
        out_entered = out_utc + (
            timedelta(hours=2 + below(draw, 38)) if late else timedelta(seconds=1 + below(draw, 89))
        )
        edit_at = out_entered + timedelta(minutes=360 + below(draw, 66 * 60)) if p.random() < 0.08 else None
        edit_minutes = _EDIT_MINUTES[below(draw, 6)]
        key = f"{e.employee_id}-{day:%Y%m%d}"
        punches: list[Punch] = []
        if in_entered <= t:
            punches.append(Punch(f"PI-{key}", e.employee_id, day, "In", punched_in, in_entered, in_entered, False))
        if punches and out_entered <= t:
            if edit_at is not None and edit_at <= t:
                punched_out += timedelta(minutes=edit_minutes)
                punches.append(Punch(f"PO-{key}", e.employee_id, day, "Out", punched_out, out_entered, edit_at, True))
            else:
                punches.append(
                    Punch(f"PO-{key}", e.employee_id, day, "Out", punched_out, out_entered, out_entered, False)
                )
        if not punches:
            return None
        approved_at = datetime.combine(day + timedelta(days=3), time(12), tzinfo=UTC)
        approved = approved_at <= t and len(punches) == 2
        updated = max(p.updated_at for p in punches)
        if approved:
            updated = max(updated, approved_at)
        return WorkedDay(e.employee_id, day, tuple(punches), approved, updated)

    def schedule_start_hour(self, i: int) -> int:
        return self._schedule_draws(i)[0]

    def _draw_schedule(self, i: int) -> tuple[int, str]:
        """(start hour, work days if part time): the first two draws of the person's "schedule" generator, which
        ``schedule``/``shift``/``worked_day`` read (the second is drawn even for full-time people, whose
        schedules never read it: a generator of its own, so nothing else moves)."""
        draw = self._rng("schedule", i).getrandbits  # ``below``: choice's words, in the same order
        return _START_HOURS[below(draw, 6)], _PART_TIME_DAYS[below(draw, 3)]

    def shift(
        self, i: int, day: date, as_of: datetime | None = None, *, employee: Employee | None = None
    ) -> Shift | None:
        """Employee ``i``'s scheduled shift on ``day`` (their ``schedule``'s days and start hour), if any."""
        e = employee or self.employee(i, as_of)
        if not self._employed_during(e, day, day):
            return None
        start_hour, part_time_days = self._schedule_draws(i)
        days = "Mon,Tue,Wed,Thu,Fri" if e.full_time else part_time_days
        if _WEEKDAYS[day.weekday()] not in days.split(","):
            return None
        start = datetime.combine(day, time(start_hour))
        return Shift(f"SH-{e.employee_id}-{day:%Y%m%d}", e.employee_id, day, start, start + timedelta(hours=9),
                     e.location_code, e.job_code)  # fmt: skip

    def accrual_balances(self, i: int, as_of: datetime | None = None) -> list[AccrualBalance]:
        t = self._as_of(as_of)
        e = self.employee(i, t)
        balances = []
        for plan in self.accrual_plans:
            r = self._rng(f"accrual:{plan.code}", i)
            accrued = Decimal(r.randrange(0, 16000)) / 100
            taken = min(accrued, Decimal(r.randrange(0, 12000)) / 100)
            carried = Decimal(r.randrange(0, 8000)) / 100
            balances.append(
                AccrualBalance(e.employee_id, plan.code, carried + accrued - taken, accrued, taken, t.date())
            )
        return balances

    # --- finance --------------------------------------------------------------------------------------------
    @property
    def journal_count(self) -> int:
        return max(10, self.scale // 2)

    def journal(self, i: int) -> JournalEntry:
        """Kept (bounded): a journal serves one row per line, and a sorted read passes over its lines twice."""
        return self._journals(i)

    def journal_outline(self, i: int) -> tuple[int, date]:
        """(line count, posted date) of journal ``i``, for a pass over every journal (row offsets, a sort): from the
        whole journal while the memo holds every journal (later passes find it), else from its draws up to the
        posted date alone (no lines, no Decimals), since a pass over more journals than the memo holds evicts the
        journals it built before any page reads them."""
        if self.journal_count <= _MEMO_SIZE:
            journal = self.journal(i)
            return len(journal.lines), journal.posted_date
        head = self._journal_head(self._rng("journal", i).getrandbits)
        return len(head[4]) + 1, head[5]  # the expense lines and the offset line; the posted date

    def _journal_head(self, draw: Callable[[int], int]) -> tuple[Code, GLAccount, GLAccount, str, list[int], date]:
        """A journal's draws up to its posted date, in this order: (legal entity, expense account, offset account,
        cost center, the expense lines' amounts in cents, posted date)."""
        entity = self.legal_entities[below(draw, len(self.legal_entities))]
        accounts = self.gl_accounts
        expense = accounts[11 + below(draw, len(accounts) - 11)]
        offset = accounts[_OFFSET_ACCOUNTS[below(draw, 4)]]
        cost_center = self.cost_centers[below(draw, len(self.cost_centers))].code
        cents = [1_000 + below(draw, 4_999_000) for _ in range(1 + below(draw, 3))]
        return entity, expense, offset, cost_center, cents, EPOCH.date() - timedelta(days=1 + below(draw, 729))

    def _build_journal(self, i: int) -> JournalEntry:
        draw = self._rng("journal", i).getrandbits  # ``below``: randrange/choice's words, in the same order
        entity, expense, offset, cost_center, cents, posted = self._journal_head(draw)
        currency = "CAD" if entity.code == "C200" else "USD"
        amounts = [Decimal(c) / 100 for c in cents]
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
            posted_date=posted,
            description=f"{expense.name} {_JOURNAL_KINDS[below(draw, 4)]}",
            currency=currency,
            status="Posted",
            lines=tuple(lines),
        )

    def journals(self, start: int = 0, stop: int | None = None) -> Iterator[JournalEntry]:
        for i in range(start, self.journal_count if stop is None else min(stop, self.journal_count)):
            yield self.journal(i)

    @property
    def supplier_count(self) -> int:
        return max(10, self.scale // 10)

    def supplier(self, i: int) -> Supplier:
        return self._suppliers(i)

    def _build_supplier(self, i: int) -> Supplier:
        r = self._rng("supplier", i)
        loc = self.locations[r.randrange(len(self.locations))]
        return _frozen(
            Supplier,
            index=i,
            supplier_id=f"S{i + 1:07d}",
            name=f"{r.choice(LAST_NAMES)} {r.choice(['Supply', 'Logistics', 'Services', 'Components', 'Consulting'])}"
            f" {i + 1}",
            country=loc.parent or "US",
            currency="CAD" if loc.parent == "CA" else "USD",
            payment_terms=r.choice(["NET30", "NET45", "NET60", "2/10 NET30"]),
            active=r.random() > 0.05,
            created=_BASE + timedelta(seconds=r.randrange(0, 7 * 365 * 86400)),
        )

    def suppliers(self) -> Iterator[Supplier]:
        for i in range(self.supplier_count):
            yield self.supplier(i)

    @property
    def purchase_order_count(self) -> int:
        return max(10, self.scale // 2)

    def purchase_order(self, i: int) -> PurchaseOrder:
        return self._purchase_orders(i)

    def purchase_order_date(self, i: int) -> date:
        """``purchase_order(i).order_date``, for a sort pass over every order. When the memo holds every order, the
        whole order is built (the page then finds it); over more orders than it holds, the orders a pass builds
        are evicted before a page reads them, so the date comes from the order's first three draws alone."""
        if self.purchase_order_count <= _MEMO_SIZE:
            return self.purchase_order(i).order_date
        return self._purchase_order_head(self._rng("purchase_order", i).getrandbits)[2]

    def _purchase_order_head(self, draw: Callable[[int], int]) -> tuple[int, int, date]:
        """An order's first draws, in this order: (supplier index, buyer index, order date)."""
        return (
            below(draw, self.supplier_count),
            below(draw, self.scale),
            EPOCH.date() - timedelta(days=1 + below(draw, 729)),
        )

    def _build_purchase_order(self, i: int) -> PurchaseOrder:
        draw = self._rng("purchase_order", i).getrandbits  # ``below``: randrange's words, one call a draw
        supplier_index, buyer, order_date = self._purchase_order_head(draw)
        supplier = self.supplier(supplier_index)
        return _frozen(
            PurchaseOrder,
            index=i,
            po_id=f"PO{i + 1:08d}",
            supplier_id=supplier.supplier_id,
            buyer_employee_id=f"E{buyer + 1:06d}",
            order_date=order_date,
            status=_PO_STATUSES[below(draw, 5)],
            currency=supplier.currency,
            amount=Decimal(10_000 + below(draw, 9_990_000)) / 100,
            line_count=1 + below(draw, 7),
        )

    def purchase_orders(self) -> Iterator[PurchaseOrder]:
        for i in range(self.purchase_order_count):
            yield self.purchase_order(i)

    def purchase_order_created(self, i: int) -> datetime:
        """When purchase order ``i`` was entered: its order date, during office hours."""
        po = self.purchase_order(i)
        seconds = self._rng("purchase_order:created", i).randrange(8 * 3600, 17 * 3600)
        return datetime(po.order_date.year, po.order_date.month, po.order_date.day, tzinfo=UTC) + timedelta(
            seconds=seconds
        )

    def purchase_order_changed(self, i: int, as_of: datetime | None = None) -> datetime:
        """When purchase order ``i`` (header or items) last changed as of ``as_of`` (default: sandbox now).

        Before sandbox time zero, the later of creation and a follow-up edit (approval, goods receipt); after it,
        every order is touched once per ``UPDATE_PERIOD_DAYS`` like employees and CRM records."""
        events = self._event_count("purchase_order", i, self._as_of(as_of))
        if events:
            return self._event_time("purchase_order", i, events - 1)
        created = self.purchase_order_created(i)
        edited = created + timedelta(hours=self._rng("purchase_order:edit", i).randrange(0, 24 * 30))
        return min(edited, EPOCH - timedelta(hours=1))

    def purchase_order_items(self, i: int) -> tuple[PurchaseOrderItem, ...]:
        """The ``line_count`` lines of purchase order ``i``, numbered 10, 20, ...; amounts add up exactly."""
        po = self.purchase_order(i)
        r = self._rng("purchase_order_items", i)
        cents = int(po.amount * 100)
        weights = [r.randrange(1, 10) for _ in range(po.line_count)]
        shares = [cents * w // sum(weights) for w in weights]
        shares[-1] += cents - sum(shares)
        expense = [a for a in self.gl_accounts if a.account_type == "Expense"]
        items = []
        for n, share in enumerate(shares):
            quantity = Decimal(r.randrange(1, 500_000)) / 1000
            amount = (Decimal(share) / 100).quantize(_CENT)
            account = expense[r.randrange(len(expense))]
            items.append(
                _frozen(
                    PurchaseOrderItem,
                    po_id=po.po_id,
                    item_number=10 * (n + 1),
                    description=f"{account.name} {r.choice(['goods', 'services', 'materials', 'licences'])}",
                    quantity=quantity,
                    unit=r.choice(["EA", "PC", "H", "KG"]),
                    net_price=(amount / quantity).quantize(_CENT),
                    net_amount=amount,
                    currency=po.currency,
                    gl_account=account.number,
                    cost_center=self.cost_centers[r.randrange(len(self.cost_centers))].code,
                )
            )
        return tuple(items)

    @property
    def invoice_count(self) -> int:
        return max(10, self.scale)

    def invoice(self, i: int) -> Invoice:
        return self._invoices(i)

    def invoice_date(self, i: int) -> date:
        """``invoice(i).invoice_date``, for a sort pass over every invoice: as ``purchase_order_date``, whole
        invoices while the memo holds them all, else the invoice's first draws alone (no order, no supplier)."""
        if self.invoice_count <= _MEMO_SIZE:
            return self.invoice(i).invoice_date
        return self._invoice_head(self._rng("invoice", i))[1]

    def _invoice_head(self, r: random.Random) -> tuple[tuple[bool, int], date]:
        """An invoice's first draws: ((from an order?, order or supplier index), invoice date)."""
        draw = r.getrandbits  # ``below``: randrange's words, one call a draw
        from_order = r.random() < 0.7
        source = below(draw, self.purchase_order_count if from_order else self.supplier_count)
        return (from_order, source), EPOCH.date() - timedelta(days=1 + below(draw, 699))

    def _build_invoice(self, i: int) -> Invoice:
        r = self._rng("invoice", i)
        draw = r.getrandbits  # after the head's draws (left to right: the tuple's order is the draw order)
        (from_order, source), invoice_date = self._invoice_head(r)
        po = self.purchase_order(source) if from_order else None
        supplier = None if from_order else self.supplier(source)
        supplier_id = po.supplier_id if po is not None else supplier.supplier_id  # type: ignore[union-attr]
        return _frozen(
            Invoice,
            index=i,
            invoice_id=f"INV{i + 1:08d}",
            supplier_id=supplier_id,
            po_id=po.po_id if po is not None else None,
            invoice_number=f"{10_000 + below(draw, 89_999)}-{i + 1}",
            invoice_date=invoice_date,
            due_date=invoice_date + timedelta(days=_INVOICE_TERMS[below(draw, 3)]),
            amount=po.amount if po is not None else Decimal(5_000 + below(draw, 1_995_000)) / 100,
            currency=po.currency if po is not None else supplier.currency,  # type: ignore[union-attr]
            status=_INVOICE_STATUSES[below(draw, 6)],
        )

    def invoices(self) -> Iterator[Invoice]:
        for i in range(self.invoice_count):
            yield self.invoice(i)

    # --- CRM ------------------------------------------------------------------------------------------------
    @property
    def crm_account_count(self) -> int:
        return max(10, self.scale // 2)

    def _crm_changes(
        self, entity: str, i: int, modified: datetime, as_of: datetime | None
    ) -> tuple[datetime, bool, int]:
        """(last_modified, is_deleted, events applied) for a CRM record as of ``as_of``."""
        t = self._as_of(as_of)
        if t <= EPOCH:
            return modified, False, 0
        events, ended = self._events_visible(entity, i, t, 0.1)
        if events:
            modified = self._event_time(entity, i, events - 1)
        return modified, ended is not None, events

    def crm_account(self, i: int, as_of: datetime | None = None) -> CrmAccount:
        draw = self._rng("crm_account", i).getrandbits  # ``below``: the reference's randrange/choice draws
        created = _BASE + timedelta(seconds=below(draw, 6 * 365 * 86400))
        loc = self.locations[below(draw, len(self.locations))]
        name = f"{LAST_NAMES[below(draw, _LAST_COUNT)]} {_ACCOUNT_KINDS[below(draw, len(_ACCOUNT_KINDS))]} {i + 1}"
        industry = _INDUSTRIES[below(draw, len(_INDUSTRIES))]
        revenue = Decimal(100_000 + below(draw, 899_900_000)) / 100
        modified = created + timedelta(seconds=below(draw, 365 * 86400))
        modified, deleted, events = self._crm_changes("crm_account", i, modified, as_of)
        if events:
            revenue = (revenue * Decimal(100 + 2 * events) / 100).quantize(_CENT)
        return _frozen(
            CrmAccount,
            index=i,
            account_id=_sf_id("001", i),
            name=name,
            industry=industry,
            annual_revenue=revenue,
            billing_city=loc.name,
            billing_country=loc.parent or "US",
            created=created,
            last_modified=modified,
            is_deleted=deleted,
        )

    def crm_accounts(self, *, as_of: datetime | None = None, include_deleted: bool = False) -> Iterator[CrmAccount]:
        for i in range(self.crm_account_count):
            account = self.crm_account(i, as_of)
            if include_deleted or not account.is_deleted:
                yield account

    @property
    def contact_count(self) -> int:
        return self.crm_account_count * 2

    def contact(self, i: int, as_of: datetime | None = None) -> CrmContact:
        draw = self._rng("contact", i).getrandbits  # ``below``: randrange/choice's words, in the same order
        account = i // 2
        first, last = FIRST_NAMES[below(draw, _FIRST_COUNT)], LAST_NAMES[below(draw, _LAST_COUNT)]
        created = _BASE + timedelta(seconds=below(draw, 6 * 365 * 86400))
        email = f"{_email_part(first)}.{_email_part(last)}.c{i + 1}@customer.example"
        title = _CONTACT_TITLES[below(draw, 5)]
        modified = created + timedelta(seconds=below(draw, 365 * 86400))
        modified, deleted, _ = self._crm_changes("contact", i, modified, as_of)
        return _frozen(
            CrmContact,
            index=i,
            contact_id=_sf_id("003", i),
            account_id=_sf_id("001", account),
            first_name=first,
            last_name=last,
            email=email,
            title=title,
            created=created,
            last_modified=modified,
            is_deleted=deleted,
        )

    def contacts(self, *, as_of: datetime | None = None, include_deleted: bool = False) -> Iterator[CrmContact]:
        for i in range(self.contact_count):
            contact = self.contact(i, as_of)
            if include_deleted or not contact.is_deleted:
                yield contact

    @property
    def opportunity_count(self) -> int:
        return self.crm_account_count

    def opportunity(self, i: int, as_of: datetime | None = None) -> Opportunity:
        r = self._rng("opportunity", i)
        account = r.randrange(self.crm_account_count)
        created = _BASE + timedelta(seconds=r.randrange(0, 7 * 365 * 86400))
        stage, probability = r.choice(_STAGES)
        amount = Decimal(r.randrange(500_000, 500_000_000)) / 100
        modified = created + timedelta(seconds=r.randrange(0, 180 * 86400))
        modified, deleted, _ = self._crm_changes("opportunity", i, modified, as_of)
        return _frozen(
            Opportunity,
            index=i,
            opportunity_id=_sf_id("006", i),
            account_id=_sf_id("001", account),
            name=f"{r.choice(['Payroll', 'HCM', 'Analytics', 'Renewal', 'Expansion'])} deal {i + 1}",
            stage=stage,
            amount=amount,
            probability=probability,
            close_date=(created + timedelta(days=r.randrange(14, 240))).date(),
            owner_employee_id=f"E{r.randrange(self.scale) + 1:06d}",
            created=created,
            last_modified=modified,
            is_deleted=deleted,
        )

    def opportunities(self, *, as_of: datetime | None = None, include_deleted: bool = False) -> Iterator[Opportunity]:
        for i in range(self.opportunity_count):
            opportunity = self.opportunity(i, as_of)
            if include_deleted or not opportunity.is_deleted:
                yield opportunity

    @property
    def lead_count(self) -> int:
        return self.crm_account_count

    def lead(self, i: int, as_of: datetime | None = None) -> Lead:
        r = self._rng("lead", i)
        first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
        created = _BASE + timedelta(seconds=r.randrange(0, 7 * 365 * 86400))
        modified = created + timedelta(seconds=r.randrange(0, 90 * 86400))
        company = f"{r.choice(LAST_NAMES)} {r.choice(['Holdings', 'Foods', 'Health', 'Motors'])}"
        status = r.choice(
            ["Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"]
        )
        source = r.choice(["Web", "Partner Referral", "Trade Show", "Phone Inquiry"])
        modified, deleted, _ = self._crm_changes("lead", i, modified, as_of)
        return _frozen(
            Lead,
            index=i,
            lead_id=_sf_id("00Q", i),
            first_name=first,
            last_name=last,
            company=company,
            email=f"{_email_part(first)}.{_email_part(last)}.l{i + 1}@prospect.example",
            status=status,
            source=source,
            created=created,
            last_modified=modified,
            is_deleted=deleted,
        )

    def leads(self, *, as_of: datetime | None = None, include_deleted: bool = False) -> Iterator[Lead]:
        for i in range(self.lead_count):
            lead = self.lead(i, as_of)
            if include_deleted or not lead.is_deleted:
                yield lead

    # --- changes over time ----------------------------------------------------------------------------------
    def changes_between(self, t0: datetime, t1: datetime) -> Iterator[Change]:
        """What changed in ``(t0, t1]``: hires, updates, terminations, CRM updates and deletions.

        Grouped by entity, then by day; lazy, and O(changed records + days) rather than O(company).
        """
        if t1 <= t0:
            return
        first, last = self.employee_count(t0), self.employee_count(t1)
        for i in range(first, last):
            yield Change("employee", i, f"E{i + 1:06d}", "insert", self.hire_time(i) or EPOCH)
        counts = {
            "employee": last,
            "crm_account": self.crm_account_count,
            "contact": self.contact_count,
            "opportunity": self.opportunity_count,
            "lead": self.lead_count,
        }
        for entity, count in counts.items():
            yield from self._updates_between(entity, count, t0, t1)

    def _updates_between(self, entity: str, count: int, t0: datetime, t1: datetime) -> Iterator[Change]:
        rate = 0.3 if entity == "employee" else 0.1
        first_day = max(0, (max(t0, EPOCH) - EPOCH) // _DAY)
        last_day = (t1 - EPOCH) // _DAY
        for day in range(first_day, last_day + 1):
            phase = day % UPDATE_PERIOD_DAYS
            k = day // UPDATE_PERIOD_DAYS
            first_index = (self._phase_a_inv * (phase - self._phase_b[entity])) % UPDATE_PERIOD_DAYS
            for i in range(first_index, count, UPDATE_PERIOD_DAYS):
                at = self._event_time(entity, i, k)
                if not t0 < at <= t1:
                    continue
                end = self._final_event(entity, i, rate)
                if end is not None and k > end:
                    continue  # already gone
                if entity == "employee" and i >= self.scale and at <= (self.hire_time(i) or EPOCH):
                    continue  # the event predates this new hire
                if entity == "employee" and i < self.scale and self._employee_base(i).status == "terminated":
                    continue  # left before sandbox time
                yield self._change(entity, i, k, end, at)

    def _change(self, entity: str, i: int, k: int, end: int | None, at: datetime) -> Change:
        key = {
            "employee": f"E{i + 1:06d}",
            "crm_account": _sf_id("001", i),
            "contact": _sf_id("003", i),
            "opportunity": _sf_id("006", i),
            "lead": _sf_id("00Q", i),
        }[entity]
        if k != end:
            return Change(entity, i, key, "update", at)
        if entity != "employee":
            return Change(entity, i, key, "delete", at)
        e = self.employee(i, at)
        return Change(entity, i, key, "terminate" if e.termination_date == at.date() else "update", at)


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@functools.cache
def _zone(name: str) -> tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def _frozen(cls: type[_T], **fields: Any) -> _T:
    """``cls(**fields)`` for a frozen dataclass given every field, in field order, without the generated
    ``__init__``'s ``object.__setattr__`` per field (about 4x faster for 21 fields): an equal instance with the same
    ``vars()``. Only for dataclasses without ``__post_init__`` (``sandbox/tests/test_fast_paths_exact.py`` checks the
    builders that use it)."""
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


@functools.lru_cache(maxsize=256)
def _ascii(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().replace("'", "")


@functools.lru_cache(maxsize=256)
def _email_part(name: str) -> str:
    """``_ascii(name).lower()``, kept per name: the text is ASCII, so an address built of such parts and a
    lowercase rest equals the whole address lowered (as the builders wrote it), one cache hit a part cheaper."""
    return _ascii(name).lower()


def _sf_id(prefix: str, i: int) -> str:
    """A 18-character Salesforce-style id, deterministic for the index."""
    return f"{prefix}{i:012d}AAA"
