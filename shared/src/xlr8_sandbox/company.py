"""One consistent fictional company shared by every emulator, deterministic for a seed, generated lazily.

Record ``i`` of any entity is a pure function of (seed, i): emulators page through millions of rows with flat
memory, and the same person has the same keys in UKG, Workday, SuccessFactors and Oracle.

CONTRACT (emulators rely on these names; extend, do not rename):
- ``Company(seed=42, scale=100)``; ``scale`` = number of employees; other entities scale from it.
- ``company.employee(i) -> Employee`` and ``company.employees(as_of=None) -> Iterator[Employee]``.
- ``company.departments / jobs / locations / legal_entities / cost_centers / pay_groups`` -> lists of ``Code``.
- ``company.crm_account(i)`` / ``crm_accounts()`` / ``contacts()`` for CRM products.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

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
_BASE = datetime(2018, 1, 1, tzinfo=UTC)


class Company:
    def __init__(self, seed: int = 42, scale: int = 100) -> None:
        self.seed = seed
        self.scale = scale
        self.departments = [Code(f"D{i + 1:03d}", n) for i, n in enumerate(_DEPARTMENTS)]
        self.jobs = [Code(f"J{i + 1:03d}", n) for i, n in enumerate(_JOBS)]
        self.locations = [Code(c, n, parent=country) for c, n, country in _LOCATIONS]
        self.legal_entities = [Code("C100", "Acme Holdings Inc."), Code("C200", "Acme Canada Ltd.")]
        self.cost_centers = [
            Code(f"CC{i + 1:02d}", f"{d.name} cost center", d.code) for i, d in enumerate(self.departments)
        ]
        self.pay_groups = [Code("BW", "Biweekly"), Code("MO", "Monthly"), Code("WK", "Weekly")]

    def _rng(self, kind: str, i: int) -> random.Random:
        digest = hashlib.blake2b(f"{self.seed}:{kind}:{i}".encode(), digest_size=8).digest()
        return random.Random(int.from_bytes(digest, "big"))

    # --- HR -------------------------------------------------------------------------------------------------
    def employee(self, i: int) -> Employee:
        r = self._rng("employee", i)
        first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
        hire = date(2015, 1, 1) + timedelta(days=r.randrange(0, 4000))
        roll = r.random()
        status = "terminated" if roll < 0.12 else "leave" if roll < 0.17 else "active"
        term = hire + timedelta(days=r.randrange(30, 1500)) if status == "terminated" else None
        dept = self.departments[r.randrange(len(self.departments))]
        loc = self.locations[r.randrange(len(self.locations))]
        modified = _BASE + timedelta(seconds=r.randrange(0, 8 * 365 * 86400))
        return Employee(
            index=i,
            employee_id=f"E{i + 1:06d}",
            person_id=f"P{i + 1:06d}",
            first_name=first,
            last_name=last,
            email=f"{_ascii(first)}.{_ascii(last)}.{i + 1}@acme.example".lower(),
            birth_date=date(1960, 1, 1) + timedelta(days=r.randrange(0, 14000)),
            hire_date=hire,
            termination_date=term,
            status=status,
            job_code=self.jobs[r.randrange(len(self.jobs))].code,
            department_code=dept.code,
            location_code=loc.code,
            company_code="C200" if loc.parent == "CA" else "C100",
            cost_center=f"CC{self.departments.index(dept) + 1:02d}",
            pay_group=self.pay_groups[r.randrange(len(self.pay_groups))].code,
            manager_id=None if i < 5 else f"E{r.randrange(0, min(i, 50)) + 1:06d}",
            annual_salary=Decimal(r.randrange(4_000_000, 25_000_000)) / 100,
            currency="CAD" if loc.parent == "CA" else "USD",
            full_time=r.random() > 0.15,
            last_modified=modified,
        )

    def employees(self, start: int = 0, stop: int | None = None) -> Iterator[Employee]:
        for i in range(start, self.scale if stop is None else min(stop, self.scale)):
            yield self.employee(i)

    # --- CRM ------------------------------------------------------------------------------------------------
    @property
    def crm_account_count(self) -> int:
        return max(10, self.scale // 2)

    def crm_account(self, i: int) -> CrmAccount:
        r = self._rng("crm_account", i)
        created = _BASE + timedelta(seconds=r.randrange(0, 6 * 365 * 86400))
        loc = self.locations[r.randrange(len(self.locations))]
        return CrmAccount(
            index=i,
            account_id=_sf_id("001", i),
            name=f"{r.choice(LAST_NAMES)} {r.choice(['Industries', 'Group', 'Labs', 'Partners', 'Co.'])} {i + 1}",
            industry=r.choice(_INDUSTRIES),
            annual_revenue=Decimal(r.randrange(100_000, 900_000_000)) / 100,
            billing_city=loc.name,
            billing_country=loc.parent or "US",
            created=created,
            last_modified=created + timedelta(seconds=r.randrange(0, 365 * 86400)),
        )

    def crm_accounts(self) -> Iterator[CrmAccount]:
        for i in range(self.crm_account_count):
            yield self.crm_account(i)

    @property
    def contact_count(self) -> int:
        return self.crm_account_count * 2

    def contact(self, i: int) -> CrmContact:
        r = self._rng("contact", i)
        account = i // 2
        first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
        created = _BASE + timedelta(seconds=r.randrange(0, 6 * 365 * 86400))
        return CrmContact(
            index=i,
            contact_id=_sf_id("003", i),
            account_id=_sf_id("001", account),
            first_name=first,
            last_name=last,
            email=f"{_ascii(first)}.{_ascii(last)}.c{i + 1}@customer.example".lower(),
            title=r.choice(["CFO", "HR Director", "Buyer", "CTO", "Payroll Manager"]),
            created=created,
            last_modified=created + timedelta(seconds=r.randrange(0, 365 * 86400)),
        )

    def contacts(self) -> Iterator[CrmContact]:
        for i in range(self.contact_count):
            yield self.contact(i)


def _ascii(name: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().replace("'", "")


def _sf_id(prefix: str, i: int) -> str:
    """A 18-character Salesforce-style id, deterministic for the index."""
    return f"{prefix}{i:012d}AAA"
