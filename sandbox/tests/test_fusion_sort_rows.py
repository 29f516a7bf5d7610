"""Oracle Fusion's sort pass on partial rows (``ResourceDef.sort_row``) orders and matches exactly as whole rows do.

An ``orderBy`` read sorts every matching row before it serves a page. The partial rows carry only the sort
attributes (``LastUpdateDate`` and the key), so the sort pass need not build whole rows. The reference here sorts
whole rows (``source_row``) with the sort key as it was written before (kept below), ties by row index, and the
emulator's ``_matched`` must give the same keys and indices.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest

from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.emulator import SandboxContext
from xlr8_sandbox.products.oracle_fusion import hcm as hcm_module
from xlr8_sandbox.products.oracle_fusion.erp import OracleErpEmulator
from xlr8_sandbox.products.oracle_fusion.framework import MAX_LIMIT, FusionEmulator, ResourceDef, _Desc
from xlr8_sandbox.products.oracle_fusion.hcm import OracleHcmEmulator
from xlr8_sandbox.products.oracle_fusion.query import AttrInfo, parse_q, typed

#: (emulator, resource): every resource that declares partial sort rows.
SORTED = [
    (OracleHcmEmulator, "workers"),
    (OracleHcmEmulator, "absences"),
    (OracleErpEmulator, "suppliers"),
    (OracleErpEmulator, "purchaseOrders"),
    (OracleErpEmulator, "invoices"),
    (OracleErpEmulator, "journalLines"),
]


def _reference_sort_key(row: Mapping[str, Any], sort_keys: list[tuple[str, bool]], attrs: Any) -> tuple[Any, ...]:
    """The framework's ``_sort_key`` as it was before the sort pass typed each stamp once."""
    parts: list[Any] = []
    for name, asc in sort_keys:
        value = typed(row.get(name), attrs[name].type, name)
        parts.append(value is None)
        parts.append((value if asc else _Desc(value)) if value is not None else 0)
    return tuple(parts)


def _emulator(kind: type[FusionEmulator[Any]], seed: int, scale: int) -> FusionEmulator[Any]:
    return kind(SandboxContext(company=Company(seed=seed, scale=scale)))


def _attrs(resource: ResourceDef) -> dict[str, AttrInfo]:
    return {a.name: AttrInfo(a.type, a.queryable) for a in resource.all_attrs()}


def _served(emulator: FusionEmulator[Any], resource: ResourceDef, order: str, q: str | None) -> tuple[list, list]:
    attrs = _attrs(resource)
    sort_keys = emulator._order(order, attrs)
    day = emulator.ctx.clock.now().date()
    keys, indices = emulator._matched(resource, q, None, order, sort_keys, attrs, 4, day)
    return [tuple(_plain(k) for k in key) for key in keys], indices


def _expected(resource: ResourceDef, order: str, q: str | None, emulator: FusionEmulator[Any]) -> tuple[list, list]:
    attrs = _attrs(resource)
    sort_keys = emulator._order(order, attrs)
    match = parse_q(q, attrs, 4) if q else None
    rows = [(i, resource.source_row(i)) for i in range(resource.count())]
    matched = sorted((_reference_sort_key(row, sort_keys, attrs), i) for i, row in rows if match is None or match(row))
    return [tuple(_plain(k) for k in key) for key, _ in matched], [i for _, i in matched]


def _plain(part: Any) -> Any:
    return ("desc", part.value) if isinstance(part, _Desc) else part


def _orders(resource: ResourceDef) -> list[str]:
    key = ",".join(f"{k}:asc" for k in resource.keys)
    return [
        f"LastUpdateDate:asc,{key}",  # what the tap and the ceiling readers send
        "LastUpdateDate:desc",  # ties broken by row index alone
        f"LastUpdateDate:desc,{resource.keys[0]}:desc",
        "LastUpdateDate",
    ]


@pytest.mark.parametrize(("seed", "scale"), [(42, 400), (7, 1300)])
@pytest.mark.parametrize(("kind", "name"), SORTED)
def test_sort_rows_hold_the_whole_rows_values(kind: Any, name: str, seed: int, scale: int) -> None:
    emulator = _emulator(kind, seed, scale)
    resource = emulator.resources[name]
    assert resource.sort_row is not None
    assert resource.narrow_rows() is resource.sort_row
    assert resource.count() >= 40
    for i in range(resource.count()):
        whole = resource.source_row(i)
        assert resource.sort_row(i) == {a: whole[a] for a in resource.sort_attrs}, (name, i)


@pytest.mark.parametrize("days", [0, 40, 700])
def test_hcm_worker_sort_rows_over_more_people_than_the_memo(days: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over more people than HCM's memo holds, the sort pass reads each worker's date alone
    (``Company.employee_last_modified``): the same values as the whole rows, hires in sandbox time included."""
    monkeypatch.setattr(hcm_module, "_EMPLOYEE_MEMO", 8)
    emulator = _emulator(OracleHcmEmulator, 42, 600)
    assert emulator._employee.cache_parameters()["maxsize"] == 2 * MAX_LIMIT  # the memo a page needs, no more
    emulator.ctx.clock.advance(timedelta(days=days))
    emulator.company.insert_employees(3)
    resource = emulator.resources["workers"]
    assert resource.count() > 600
    partial = 0
    original = emulator.company.employee_last_modified

    def counted(i: int, as_of: datetime | None = None) -> datetime:
        nonlocal partial
        partial += 1
        return original(i, as_of)

    monkeypatch.setattr(emulator.company, "employee_last_modified", counted)
    for i in range(resource.count()):
        narrow = resource.sort_row(i)
        whole = resource.source_row(i)
        assert narrow == {a: whole[a] for a in resource.sort_attrs}, i
    assert partial == resource.count()
    order = "LastUpdateDate:asc,PersonId:asc"
    assert _served(emulator, resource, order, None) == _expected(resource, order, None, emulator)


@pytest.mark.parametrize(("kind", "name"), SORTED)
def test_sorted_reads_on_sort_rows_are_the_whole_row_reads(kind: Any, name: str) -> None:
    emulator = _emulator(kind, 42, 900)
    resource = emulator.resources[name]
    whole = resource.source_row(resource.count() // 3)
    middle = whole["LastUpdateDate"]
    key = resource.keys[0]
    queries: list[tuple[str | None, bool]] = [
        (None, True),
        (f"LastUpdateDate >= '{middle}'", True),
        # The tap's keyset condition: after one row in (LastUpdateDate, key) order.
        (f"(LastUpdateDate > '{middle}' or (LastUpdateDate = '{middle}' and {key} > {whole[key]}) "
         "or LastUpdateDate is null)", True),
        (f"LastUpdateDate < '{middle}' and {key} > 3", True),
    ]  # fmt: skip
    other = next(a.name for a in resource.all_attrs() if a.name not in resource.sort_attrs and a.queryable)
    queries.append((f"{other} is not null and LastUpdateDate >= '{middle}'", False))  # whole rows: q reads more
    for order in _orders(resource):
        attrs = _attrs(resource)
        for q, narrow in queries:
            taken = emulator._narrow_source(resource, q, None, emulator._order(order, attrs), attrs, 4)
            assert (taken is not None) == narrow, (order, q)
            served = _served(emulator, resource, order, q)
            expected = _expected(resource, order, q, emulator)
            assert served == expected, (name, order, q)
            assert len(served[1]) > 1, (name, order, q)  # each query keeps rows to order


@pytest.mark.parametrize(
    "change",
    ["update", "insert", "delete", "flexfield"],
)
def test_changed_rows_are_sorted_by_their_new_values(change: str) -> None:
    """Rows another user changed no longer agree with the declared sort rows: the read sorts whole rows."""
    emulator = _emulator(OracleErpEmulator, 42, 900)
    late = datetime(2031, 5, 1, 9).isoformat() + "+00:00"
    if change == "update":
        emulator.update_row("invoices", 5, {"LastUpdateDate": late})
    elif change == "insert":
        row = emulator.resources["invoices"].source_row(0)
        emulator.insert_row("invoices", {**row, "InvoiceId": row["InvoiceId"] + 10**6, "LastUpdateDate": late})
    elif change == "delete":
        emulator.delete_row("invoices", 0)
    else:  # a flexfield named like a sort attribute is the row's value from now on
        from xlr8_sandbox.products.oracle_fusion.framework import Attr

        emulator.add_attribute("invoices", Attr("LastUpdateDate", "datetime"), lambda row: late)
    resource = emulator.resources["invoices"]
    order = "LastUpdateDate:asc,InvoiceId:asc"
    served = _served(emulator, resource, order, None)
    assert served == _expected(resource, order, None, emulator)
    if change in ("update", "insert"):
        assert served[0][-1][1] == datetime.fromisoformat(late)  # the changed row sorts last
