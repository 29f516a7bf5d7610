"""The emulators' fast paths give exactly what the slow ones gave (the served bytes depend on it): SeededRandom draws
what ``random.Random`` draws, records built without ``__init__`` equal the ``__init__``-built ones, plain Bulk CSV lines
are csv.writer's lines."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import random
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from xlr8_sandbox import company as company_module
from xlr8_sandbox.company import EPOCH, LAST_NAMES, Company, CrmAccount, Employee, Invoice, PurchaseOrder
from xlr8_sandbox.platform.server import run_sandbox
from xlr8_sandbox.platform.wirecsv import plain_csv_line
from xlr8_sandbox.products.common.data import uuid5_text
from xlr8_sandbox.products.salesforce.objects import _address, _city_location, build_objects
from xlr8_sandbox.products.successfactors import SuccessFactorsEmulator
from xlr8_sandbox.products.successfactors_odata import END_OF_TIME, key_predicate, serialize, wire_value
from xlr8_sandbox.products.ukg_ready import _us_date
from xlr8_sandbox.products.workday import wd_datetime
from xlr8_sandbox.seeded import SeedDigests, SeededRandom, below

SEEDS = [0, 1, 42, 2**32 - 1, 2**32, 2**63 + 12345, 2**64 - 1, 2**200 + 7]


@pytest.mark.parametrize("seed", SEEDS)
def test_draw_for_draw_the_same_as_random_random(seed: int) -> None:
    fast, stdlib = SeededRandom(seed), random.Random(seed)
    population = list(range(37))
    for n in range(1, 3000):
        width = n * n * 7919 % (2**40) + 1  # widths of 1 to 40 bits, many not a power of two
        assert fast.randrange(width) == stdlib.randrange(width)
        assert fast.randrange(n, n + width) == stdlib.randrange(n, n + width)
        assert fast.randrange(-n, 0) == stdlib.randrange(-n, 0)
        assert fast.randrange(0, 10 * n, 3) == stdlib.randrange(0, 10 * n, 3)
        assert fast.choice(population[: n % 37 + 1]) == stdlib.choice(population[: n % 37 + 1])
        assert fast.choice("abc") == stdlib.choice("abc")
        assert fast.random() == stdlib.random()
        assert fast.uniform(1, 5) == stdlib.uniform(1, 5)
        assert fast.gauss() == stdlib.gauss()
    sample = list(range(50))
    fast.shuffle(sample)
    expected = list(range(50))
    stdlib.shuffle(expected)
    assert sample == expected
    assert fast.sample(range(1000), 20) == stdlib.sample(range(1000), 20)
    assert fast.getstate() == stdlib.getstate()


@pytest.mark.parametrize("seed", SEEDS)
def test_below_is_randrange(seed: int) -> None:
    fast, stdlib = SeededRandom(seed), random.Random(seed)
    draw = fast.getrandbits
    for n in range(1, 3000):
        width = n * n * 7919 % (2**40) + 1
        assert below(draw, width) == stdlib.randrange(width)
        assert n + below(draw, width) == stdlib.randrange(n, n + width)
        assert below(draw, n % 37 + 1) == stdlib.choice(range(n % 37 + 1))
    assert fast.getstate() == stdlib.getstate()


def _reference_employee_base(company: Company, i: int) -> Employee:
    """``Company._employee_base`` as it was before its draws went through ``below`` (a plain ``random.Random``)."""
    r = random.Random(company._seed_digests("employee", i))
    first, last = r.choice(company_module.FIRST_NAMES), r.choice(LAST_NAMES)
    hire = date(2015, 1, 1) + timedelta(days=r.randrange(0, 4000))
    roll = r.random()
    status = "terminated" if roll < 0.12 else "leave" if roll < 0.17 else "active"
    term = hire + timedelta(days=r.randrange(30, 1500)) if status == "terminated" else None
    dept_index = r.randrange(len(company.departments))
    dept = company.departments[dept_index]
    loc = company.locations[r.randrange(len(company.locations))]
    modified = datetime(2018, 1, 1, tzinfo=UTC) + timedelta(seconds=r.randrange(0, 8 * 365 * 86400))
    return Employee(
        index=i,
        employee_id=f"E{i + 1:06d}",
        person_id=f"P{i + 1:06d}",
        first_name=first,
        last_name=last,
        email=f"{company_module._ascii(first)}.{company_module._ascii(last)}.{i + 1}@acme.example".lower(),
        birth_date=date(1960, 1, 1) + timedelta(days=r.randrange(0, 14000)),
        hire_date=hire,
        termination_date=term,
        status=status,  # type: ignore[arg-type]
        job_code=company.jobs[r.randrange(len(company.jobs))].code,
        department_code=dept.code,
        location_code=loc.code,
        company_code="C200" if loc.parent == "CA" else "C100",
        cost_center=f"CC{dept_index + 1:02d}",
        pay_group=company.pay_groups[r.randrange(len(company.pay_groups))].code,
        manager_id=None if i < 5 else f"E{r.randrange(0, min(i, 50)) + 1:06d}",
        annual_salary=Decimal(r.randrange(4_000_000, 25_000_000)) / 100,
        currency="CAD" if loc.parent == "CA" else "USD",
        full_time=r.random() > 0.15,
        last_modified=modified,
    )


def _reference_crm_account(company: Company, i: int, as_of: datetime | None) -> CrmAccount:
    """``Company.crm_account`` as it was before its draws went through ``below``."""
    r = random.Random(company._seed_digests("crm_account", i))
    created = datetime(2018, 1, 1, tzinfo=UTC) + timedelta(seconds=r.randrange(0, 6 * 365 * 86400))
    loc = company.locations[r.randrange(len(company.locations))]
    name = f"{r.choice(LAST_NAMES)} {r.choice(['Industries', 'Group', 'Labs', 'Partners', 'Co.'])} {i + 1}"
    industry = r.choice(["Manufacturing", "Healthcare", "Retail", "Technology", "Finance", "Energy"])
    revenue = Decimal(r.randrange(100_000, 900_000_000)) / 100
    modified = created + timedelta(seconds=r.randrange(0, 365 * 86400))
    modified, deleted, events = company._crm_changes("crm_account", i, modified, as_of)
    if events:
        revenue = (revenue * Decimal(100 + 2 * events) / 100).quantize(Decimal("0.01"))
    return CrmAccount(
        index=i,
        account_id=f"001{i:012d}AAA",
        name=name,
        industry=industry,
        annual_revenue=revenue,
        billing_city=loc.name,
        billing_country=loc.parent or "US",
        created=created,
        last_modified=modified,
        is_deleted=deleted,
    )


@pytest.mark.parametrize(("seed", "scale"), [(42, 3000), (0, 700), (2**63 + 12345, 1500), (987654321, 20_000)])
def test_company_records_are_the_reference_builders_records(seed: int, scale: int) -> None:
    """Every product's people and CRM accounts come from these builders: field for field (same ``vars()`` order)
    what the ``random.Random`` reference builds, base and later in sandbox time (updates, terminations)."""
    company = Company(seed=seed, scale=scale)
    step = max(1, scale // 3000)
    statuses: set[str] = set()
    for i in range(0, scale, step):
        built, expected = company._employee_base(i), _reference_employee_base(company, i)
        assert built == expected, (seed, i)
        assert list(vars(built).items()) == list(vars(expected).items())
        statuses.add(built.status)
    assert statuses == {"active", "leave", "terminated"}
    later = EPOCH + timedelta(days=400)
    for i in range(0, company.crm_account_count, step):
        for as_of in (None, later):
            built_account: Any = company.crm_account(i, as_of)
            expected_account = _reference_crm_account(company, i, as_of)
            assert built_account == expected_account, (seed, i, as_of)
            assert list(vars(built_account).items()) == list(vars(expected_account).items())


def _reference_account_row(company: Company, users: int, i: int) -> dict[str, Any]:
    """Salesforce's Account row as it was built before ``below`` and the review-date table."""
    a = company.crm_account(i % company.crm_account_count) if i >= company.crm_account_count else None
    acct = a or company.crm_account(i)
    r = random.Random(company._seed_digests("sf_account", i))
    tier = r.choice(["Gold", "Silver", "Bronze"])
    employees = r.randrange(5, 50_000)
    row = {
        "Name": acct.name if a is None else f"{acct.name} #{i + 1}",
        "Type": r.choice(["Customer - Direct", "Customer - Channel", "Prospect", "Partner"]),
        "Industry": acct.industry,
        "AnnualRevenue": acct.annual_revenue,
        "NumberOfEmployees": employees,
        "Phone": f"+1 555 {i % 10_000:04d}",
        "Website": f"https://www.account{i + 1}.example",
        "OwnerId": f"005{r.randrange(0, max(users, 1)):012d}AAA",
        "ParentId": None if i < 10 or r.random() > 0.1 else f"001{r.randrange(0, 10):012d}AAA",
        "Description": None,
        "Customer_Tier__c": tier,
        "Credit_Limit__c": Decimal(r.randrange(0, 100_000_000)) / 100,
        "Last_Review_Date__c": (date(2024, 1, 1) + timedelta(days=r.randrange(0, 700))).isoformat(),
        "HQ_Location__Latitude__s": _city_location(acct.billing_city)[0],
        "HQ_Location__Longitude__s": _city_location(acct.billing_city)[1],
    }
    row.update(_address("Billing", f"{r.randrange(1, 999)} Main Street", acct.billing_city, acct.billing_country))
    row.update(_address("Shipping", f"{r.randrange(1, 999)} Dock Road", acct.billing_city, acct.billing_country))
    return row


@pytest.mark.parametrize(("seed", "scale"), [(42, 2000), (5, 900), (2**64 - 1, 4000)])
def test_salesforce_account_rows_are_the_reference_rows(seed: int, scale: int) -> None:
    """Including rows past the CRM accounts (``#n`` names, a count override) and the first ten (no ParentId draw)."""
    company = Company(seed=seed, scale=scale)
    accounts = build_objects(company, {"Account": company.crm_account_count + 300})["Account"]
    parents = 0
    for i in range(accounts.count):
        built, expected = accounts.row(i), _reference_account_row(company, company.scale, i)
        assert list(built.items()) == list(expected.items()), (seed, i)
        parents += built["ParentId"] is not None
    assert parents > 0


def test_successfactors_planned_serialize_is_wire_value_per_property() -> None:
    """``serialize`` writes each property from a per-select plan; the reference is ``wire_value`` per property."""
    with run_sandbox(["successfactors"], seed=3, scale=150) as sandbox:
        emulator = sandbox.emulator("successfactors")
        assert isinstance(emulator, SuccessFactorsEmulator)
        window = (datetime(1900, 1, 1, tzinfo=UTC), END_OF_TIME)
        kinds: set[type] = set()
        for entity in emulator.entities.values():
            names = [p.name for p in entity.props]
            for select in (None, names[::2], [*names[1::3], entity.navs[0].name if entity.navs else names[0]]):
                for i in range(0, entity.count(), 3):
                    row = entity.row(i)
                    if row is None:
                        continue
                    uri = f"http://x/odata/v2/{entity.name}({key_predicate(entity, row)})"
                    expected: dict[str, Any] = {"__metadata": {"uri": uri, "type": f"SFOData.{entity.name}"}}
                    for prop in entity.props:
                        if select is None or prop.name in select:
                            expected[prop.name] = wire_value(prop, row.get(prop.name))
                            kinds.add(type(row.get(prop.name)))
                    for nav in entity.navs:
                        if select is None or nav.name in select:
                            expected[nav.name] = {"__deferred": {"uri": f"{uri}/{nav.name}"}}
                    built = serialize(entity, row, "http://x/odata/v2", select, {}, window)
                    assert list(built.items()) == list(expected.items()), (entity.name, i, select)
        assert {datetime, Decimal, int, str, bool, type(None)} <= kinds


def test_errors_are_the_stdlib_errors() -> None:
    fast, stdlib = SeededRandom(7), random.Random(7)
    for args in [(0,), (-3,), (5, 5), (5, 1)]:
        with pytest.raises(ValueError, match="empty range"):
            fast.randrange(*args)
        with pytest.raises(ValueError, match="empty range"):
            stdlib.randrange(*args)
    with pytest.raises(IndexError):
        fast.choice([])
    assert fast.getstate() == stdlib.getstate()


def test_seed_digests_are_the_f_string_digests() -> None:
    digests = SeedDigests("42:", max_kinds=3)
    for kind in ["employee", "employee:update:3", "timecard:2026-01-05", "pay:4", "supplier", "employee"]:
        for i in [0, 1, 99, 123_456_789]:
            text = f"42:{kind}:{i}".encode()
            expected = int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")
            assert digests(kind, i) == expected
            assert digests.rng(kind, i).random() == random.Random(expected).random()


def test_records_built_without_init_are_the_init_built_records() -> None:
    """The company builds its hot records with ``_frozen`` (no generated ``__init__``): every field is set, in
    field order, so the record equals ``cls(**fields)`` and has the same ``vars()``."""
    company = Company(seed=42, scale=300)
    built = [
        *(company.employee(i) for i in range(0, 300, 7)),
        *(company.crm_account(i) for i in range(0, 150, 7)),
        *(company.contact(i) for i in range(0, 300, 7)),
        *(company.opportunity(i) for i in range(0, 150, 7)),
        *(company.lead(i) for i in range(0, 150, 7)),
        *(company.supplier(i) for i in range(30)),
        *(company.purchase_order(i) for i in range(0, 150, 7)),
        *(item for i in range(0, 150, 7) for item in company.purchase_order_items(i)),
        *(company.invoice(i) for i in range(0, 300, 7)),
    ]
    assert {type(record).__name__ for record in built} == {
        "Employee", "CrmAccount", "CrmContact", "Opportunity", "Lead", "Supplier", "PurchaseOrder",
        "PurchaseOrderItem", "Invoice",
    }  # fmt: skip
    for record in built:
        names = [f.name for f in dataclasses.fields(record)]
        assert list(vars(record)) == names
        rebuilt = type(record)(**vars(record))
        assert rebuilt == record
        assert vars(rebuilt) == vars(record)
        assert hash(rebuilt) == hash(record)
        with pytest.raises(dataclasses.FrozenInstanceError):
            record.index = 1  # type: ignore[misc]


def test_plain_csv_lines_are_what_csv_writer_writes() -> None:
    """Bulk CSV lines skip csv.writer when no cell needs quoting; when they do, they are the writer's bytes."""
    alphabet = ["a", "Zé", " ", ",", '"', "\n", "\r", "\t", ";", "'", "0.50", ""]
    rng = random.Random(14)
    written = 0
    for _ in range(20_000):
        cells = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 4))) for _ in range(rng.randrange(1, 5))]
        for terminator in ("\n", "\r\n"):
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator=terminator).writerow(cells)
            line = plain_csv_line(cells, terminator)
            if line is not None:
                assert line == buffer.getvalue()
                written += 1
    assert written > 2_000


def test_workday_datetimes_are_strftimes() -> None:
    zones = [UTC, timezone(timedelta(hours=-8)), timezone(timedelta(hours=5, minutes=30))]
    rng = random.Random(49)
    for _ in range(5_000):
        moment = datetime(rng.randrange(2, 9999), 1, 1, tzinfo=rng.choice(zones)) + timedelta(
            seconds=rng.randrange(0, 366 * 86400), microseconds=rng.randrange(0, 1_000_000)
        )
        expected = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")
        assert wd_datetime(moment) == expected


def test_ukg_ready_us_dates_are_strftimes() -> None:
    rng = random.Random(50)
    for _ in range(5_000):
        day = date.fromordinal(rng.randrange(1, date(9999, 12, 31).toordinal()))
        assert _us_date(day) == day.strftime("%m/%d/%Y")
    assert _us_date(None) == ""


def test_common_uuid5_texts_are_uuid5() -> None:
    namespace = uuid.UUID("6f1c3a52-94c2-4c57-9a0e-2c1f6f0c0001")
    sha1 = hashlib.sha1(namespace.bytes, usedforsecurity=False)
    rng = random.Random(51)
    for n in range(5_000):
        name = f"42:{rng.choice(['po', 'company', 'update'])}:{rng.randrange(10 ** rng.randrange(1, 12))}" + "é" * (
            n % 3
        )
        assert uuid5_text(sha1, name) == str(uuid.uuid5(namespace, name))


def test_memoised_fusion_stamp_is_the_utc_isoformat_of_each_moment() -> None:
    """``stamp`` is memoised on the moment; equal instants in other offsets share an entry, so it must still write
    each one in UTC, to the second, whichever offset filled the entry first."""
    from xlr8_sandbox.products.oracle_fusion.hcm import stamp

    stamp.cache_clear()
    rng = random.Random(11)
    zones = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8)), timezone(timedelta(hours=1))]
    moments = []
    for _ in range(3000):
        utc = datetime(2017, 1, 1, tzinfo=UTC) + timedelta(
            seconds=rng.randrange(400_000_000), microseconds=rng.randrange(10**6)
        )
        moments.append(utc.astimezone(rng.choice(zones)))
    for moment in moments + moments[::-1]:  # misses first, then hits (filled by the same or an equal instant)
        assert stamp(moment) == moment.astimezone(UTC).isoformat(timespec="seconds")
    assert stamp.cache_info().hits >= 3000


def test_memoised_fusion_erp_stamp_is_nine_in_the_morning_utc_of_each_day() -> None:
    from xlr8_sandbox.products.oracle_fusion.erp import stamp

    stamp.cache_clear()
    days = [date(2015, 1, 1) + timedelta(days=n * 37 % 3000) for n in range(3000)]
    days += days[::-1]  # misses, then hits
    for day in days:
        assert stamp(day) == datetime.combine(day, datetime.min.time().replace(hour=9), UTC).isoformat(
            timespec="seconds"
        )
    assert stamp.cache_info().hits >= 3000


def _reference_purchase_order(company: Company, i: int) -> Any:
    """``Company._build_purchase_order`` as it was before ``below``."""
    r = random.Random(company._seed_digests("purchase_order", i))
    supplier = company.supplier(r.randrange(company.supplier_count))
    return PurchaseOrder(
        index=i,
        po_id=f"PO{i + 1:08d}",
        supplier_id=supplier.supplier_id,
        buyer_employee_id=f"E{r.randrange(company.scale) + 1:06d}",
        order_date=EPOCH.date() - timedelta(days=r.randrange(1, 730)),
        status=r.choice(["Open", "Approved", "Received", "Closed", "Cancelled"]),
        currency=supplier.currency,
        amount=Decimal(r.randrange(10_000, 10_000_000)) / 100,
        line_count=r.randrange(1, 8),
    )


def _reference_invoice(company: Company, i: int) -> Any:
    """``Company._build_invoice`` as it was before ``below``."""
    r = random.Random(company._seed_digests("invoice", i))
    po = company.purchase_order(r.randrange(company.purchase_order_count)) if r.random() < 0.7 else None
    supplier = company.supplier(r.randrange(company.supplier_count)) if po is None else None
    invoice_date = EPOCH.date() - timedelta(days=r.randrange(1, 700))
    return Invoice(
        index=i,
        invoice_id=f"INV{i + 1:08d}",
        supplier_id=po.supplier_id if po is not None else supplier.supplier_id,  # type: ignore[union-attr]
        po_id=po.po_id if po is not None else None,
        invoice_number=f"{r.randrange(10_000, 99_999)}-{i + 1}",
        invoice_date=invoice_date,
        due_date=invoice_date + timedelta(days=r.choice([30, 45, 60])),
        amount=po.amount if po is not None else Decimal(r.randrange(5_000, 2_000_000)) / 100,
        currency=po.currency if po is not None else supplier.currency,  # type: ignore[union-attr]
        status=r.choice(["Open", "Approved", "Paid", "Paid", "Paid", "On Hold"]),
    )


@pytest.mark.parametrize("memo", [company_module._MEMO_SIZE, 0])
@pytest.mark.parametrize(("seed", "scale"), [(42, 3000), (0, 700), (2**63 + 12345, 1500), (987654321, 20_000)])
def test_purchase_orders_and_invoices_are_the_reference_builders_records(
    seed: int, scale: int, memo: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Oracle ERP, S/4HANA and Common serve these: field for field (``vars()`` order) the reference's. A sort
    pass's dates (``purchase_order_date``, ``invoice_date``) are the records' dates, from the whole record while
    the memo holds every record and from the first draws alone when it does not (``memo`` 0, as at scale 100,000)."""
    monkeypatch.setattr(company_module, "_MEMO_SIZE", memo)
    company = Company(seed=seed, scale=scale)
    step = max(1, scale // 3000)
    for i in range(0, company.purchase_order_count, step):
        built, expected = company.purchase_order(i), _reference_purchase_order(company, i)
        assert list(vars(built).items()) == list(vars(expected).items()), (seed, i)
        assert company.purchase_order_date(i) == expected.order_date, (seed, i)
    with_po = 0
    for i in range(0, company.invoice_count, step):
        built_invoice, expected_invoice = company.invoice(i), _reference_invoice(company, i)
        assert list(vars(built_invoice).items()) == list(vars(expected_invoice).items()), (seed, i)
        assert company.invoice_date(i) == expected_invoice.invoice_date, (seed, i)
        with_po += built_invoice.po_id is not None
    assert 0 < with_po < len(range(0, company.invoice_count, step))  # both branches drawn
