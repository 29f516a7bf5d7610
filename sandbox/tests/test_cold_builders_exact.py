"""The cold-path builders and serializers give exactly what the reference path they replace gives (issue 14 goal 1,
cold17).

- SuccessFactors ``serialize_bytes`` against the stdlib encoding of ``serialize`` (what ``JSONResponse`` writes):
  every entity, three ``$select``s, generated rows and rows holding values msgspec writes differently (floats
  outside positional notation, Decimals in untyped properties, non-ASCII text), with and without ``$expand``.
- ``Company.employee_name`` against ``Company.employee``'s names: the initial population, people hired in sandbox
  time (scheduled and inserted), after sandbox time moved on, and a person not hired yet (the same error).
- ``Company.employee_last_modified`` (Oracle HCM's sort pass over more people than its memo holds, cold21) against
  ``Company.employee``'s ``last_modified``, the same way, at several moments of sandbox time.
- Salesforce ``_stamp`` (system field stamps, from ``isoformat``) against ``sf_datetime`` (``strftime``).
- Oracle ERP purchase orders and Salesforce Leads, which name a person through it, against rows built with the
  whole employee record (the pre-change builders, kept here).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from xlr8_sandbox.company import EPOCH, Company
from xlr8_sandbox.platform.emulator import SandboxContext
from xlr8_sandbox.platform.server import run_sandbox
from xlr8_sandbox.products.oracle_fusion.erp import OracleErpEmulator
from xlr8_sandbox.products.salesforce.objects import BASE_TIME, SECONDS_PER_STEP, _stamp, build_objects, sf_datetime
from xlr8_sandbox.products.successfactors import SuccessFactorsEmulator
from xlr8_sandbox.products.successfactors_odata import END_OF_TIME, serialize, serialize_bytes

STDLIB = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
WINDOW = (datetime(1900, 1, 1, tzinfo=UTC), END_OF_TIME)
#: Values an untyped (pass-through) property may hold that msgspec alone would write differently or not at all.
ODD_VALUES: list[Any] = [1e16, 0.00001, 2.5, -0.0, Decimal("1.50"), "Zoë ✓ \u2028", True, 7, [1, "a"], {"k": 1e17}]


def _stdlib(entity: Any, row: dict[str, Any], select: list[str] | None, expand: dict[str, Any]) -> bytes:
    return STDLIB.encode(serialize(entity, row, "http://x/odata/v2", select, expand, WINDOW)).encode()


@pytest.mark.parametrize(("seed", "scale"), [(3, 150), (42, 400)])
def test_successfactors_serialize_bytes_is_the_stdlib_encoding(seed: int, scale: int) -> None:
    with run_sandbox(["successfactors"], seed=seed, scale=scale) as sandbox:
        emulator = sandbox.emulator("successfactors")
        assert isinstance(emulator, SuccessFactorsEmulator)
        compared = 0
        for entity in emulator.entities.values():
            names = [p.name for p in entity.props]
            selects = [None, names[::2], [*names[1::3], entity.navs[0].name if entity.navs else names[0]]]
            for select in selects:
                for i in range(0, entity.count(), 2):
                    row = entity.row(i)
                    if row is None:
                        continue
                    built = serialize_bytes(entity, row, "http://x/odata/v2", select, {}, WINDOW)
                    assert built == _stdlib(entity, row, select, {}), (entity.name, i, select)
                    compared += 1
        assert compared > 1000


def test_successfactors_serialize_bytes_falls_back_on_values_msgspec_writes_differently() -> None:
    """A pass-through property holding a float, Decimal, list or dict: the same bytes as the stdlib (or its error)."""
    with run_sandbox(["successfactors"], seed=5, scale=60) as sandbox:
        emulator = sandbox.emulator("successfactors")
        assert isinstance(emulator, SuccessFactorsEmulator)
        user = emulator.entities["User"]
        row = user.row(0)
        assert row is not None
        for value in ODD_VALUES:
            for name in ("department", "timeZone"):  # Edm.String: written as given
                odd = {**row, name: value}
                if isinstance(value, Decimal):
                    with pytest.raises(TypeError):
                        _stdlib(user, odd, None, {})
                    with pytest.raises(TypeError):
                        serialize_bytes(user, odd, "http://x/odata/v2", None, {}, WINDOW)
                    continue
                built = serialize_bytes(user, odd, "http://x/odata/v2", None, {}, WINDOW)
                assert built == _stdlib(user, odd, None, {}), (name, value)
        nan = {**row, "department": float("nan")}
        with pytest.raises(ValueError, match="Out of range float"):
            serialize_bytes(user, nan, "http://x/odata/v2", None, {}, WINDOW)


def test_successfactors_serialize_bytes_with_expand_is_the_stdlib_encoding() -> None:
    with run_sandbox(["successfactors"], seed=9, scale=120) as sandbox:
        emulator = sandbox.emulator("successfactors")
        assert isinstance(emulator, SuccessFactorsEmulator)
        expanded = 0
        for entity in emulator.entities.values():
            for nav in entity.navs:
                tree = emulator._expand(entity, nav.name)
                expand = {name: target for name, (target, _) in tree.items()}
                for i in range(0, entity.count(), 5):
                    row = entity.row(i)
                    if row is None:
                        continue
                    built = serialize_bytes(entity, row, "http://x/odata/v2", None, expand, WINDOW, tree)
                    expected = STDLIB.encode(
                        serialize(entity, row, "http://x/odata/v2", None, expand, WINDOW, tree)
                    ).encode()
                    assert built == expected, (entity.name, nav.name, i)
                    expanded += b'"__deferred"' not in built.split(f'"{nav.name}":'.encode(), 1)[1][:20]
        assert expanded > 0


@pytest.mark.parametrize(("seed", "scale"), [(0, 50), (42, 700), (2**64 - 1, 3000)])
def test_employee_name_is_the_employees_name(seed: int, scale: int) -> None:
    company = Company(seed=seed, scale=scale)
    for i in range(scale):
        e = company.employee(i)
        assert company.employee_name(i) == (e.first_name, e.last_name), i
    # Sandbox time moves on: people change (pay, job, status) and are hired; names stay the base record's.
    later = EPOCH + timedelta(days=400)
    company.insert_employees(3)
    count = company.employee_count(later)
    assert count > scale
    for i in [*range(0, scale, 7), *range(scale, count)]:
        e = company.employee(i, later)
        assert company.employee_name(i, later) == (e.first_name, e.last_name), i
    with pytest.raises(IndexError, match="not hired yet") as raised:
        company.employee(count - 1, EPOCH)
    with pytest.raises(IndexError, match="not hired yet") as named:
        company.employee_name(count - 1, EPOCH)
    assert str(named.value) == str(raised.value)


@pytest.mark.parametrize(("seed", "scale"), [(0, 50), (42, 700), (2**64 - 1, 1500)])
def test_employee_last_modified_is_the_employees(seed: int, scale: int) -> None:
    company = Company(seed=seed, scale=scale)
    for i in range(scale):
        assert company.employee_last_modified(i) == company.employee(i).last_modified, i
    # Sandbox time moves on: updates and terminations stamp people, new hires are stamped at their hire.
    company.insert_employees(2)
    for later in (EPOCH + timedelta(days=3, hours=5), EPOCH + timedelta(days=95), EPOCH + timedelta(days=900)):
        count = company.employee_count(later)
        assert count > scale
        changed = 0
        for i in [*range(0, scale, 3), *range(scale, count)]:
            e = company.employee(i, later)
            assert company.employee_last_modified(i, later) == e.last_modified, (later, i)
            changed += e.last_modified > EPOCH
        assert changed > 0, later
    with pytest.raises(IndexError, match="not hired yet") as raised:
        company.employee(count - 1, EPOCH)
    with pytest.raises(IndexError, match="not hired yet") as dated:
        company.employee_last_modified(count - 1, EPOCH)
    assert str(dated.value) == str(raised.value)


def _reference_purchase_order(emulator: OracleErpEmulator, i: int) -> dict[str, Any]:
    """The pre-change ``_purchase_order``: the buyer's whole record for their name."""
    row = emulator._purchase_order(i)
    e = emulator.company.employee(int(row["__po"].buyer_employee_id[1:]) - 1)
    return {**row, "Buyer": f"{e.first_name} {e.last_name}"}


@pytest.mark.parametrize(("seed", "scale"), [(1, 40), (42, 2000)])
def test_purchase_orders_name_their_buyer_as_the_employee_record_does(seed: int, scale: int) -> None:
    emulator = OracleErpEmulator(SandboxContext(company=Company(seed=seed, scale=scale)))
    for i in range(emulator.company.purchase_order_count):
        built = emulator._purchase_order(i)
        assert list(built.items()) == list(_reference_purchase_order(emulator, i).items()), i


@pytest.mark.parametrize(("seed", "scale"), [(1, 40), (42, 2000)])
def test_salesforce_leads_are_the_employee_record_rows(seed: int, scale: int) -> None:
    company = Company(seed=seed, scale=scale)
    lead = build_objects(company, None)["Lead"]
    for i in range(lead.count):
        e = company.employee(i % company.scale)
        expected = {"FirstName": e.first_name, "LastName": e.last_name, "Company": f"{e.last_name} Prospects {i + 1}"}
        row = lead.row(i)
        assert {k: row[k] for k in expected} == expected, i


def test_salesforce_stamps_are_sf_datetime() -> None:
    """``_stamp`` writes from ``isoformat``; the reference is ``sf_datetime`` (``strftime``) of the same moment."""
    steps = [*range(0, 5000), *range(5000, 2_000_000, 997), 52_000_000, 4_000_000_000]  # to the year 9,624
    for step in steps:
        for hours in (0, 1):
            moment = BASE_TIME + timedelta(seconds=step * SECONDS_PER_STEP, hours=hours)
            assert _stamp.__wrapped__(step, hours) == sf_datetime(moment), (step, hours)
    assert _stamp.__wrapped__(4_000_000_000, 1).startswith("9624-")
