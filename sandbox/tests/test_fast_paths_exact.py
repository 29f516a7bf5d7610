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

import pytest

from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.wirecsv import plain_csv_line
from xlr8_sandbox.products.common.data import uuid5_text
from xlr8_sandbox.products.ukg_ready import _us_date
from xlr8_sandbox.products.workday import wd_datetime
from xlr8_sandbox.seeded import SeedDigests, SeededRandom

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
