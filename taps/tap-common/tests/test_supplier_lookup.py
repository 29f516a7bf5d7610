"""The supplier look-up behind ``supplier_number`` is read on a thread beside the purchase orders: the records get
the same supplier numbers, a failed look-up stops the stream at its first record as before, and a run without
purchase orders drops the look-up and its error."""

from __future__ import annotations

import threading

import pytest

from xlr8_kit.http.errors import KitHTTPError
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.common import CommonEmulator
from xlr8_tap_common import streams

from .conftest import common_config, run_tap

FAILING = {"http": {"max_attempts": 1}}
#: A bookmark after every purchase order: the run reads none.
PAST_EVERY_ORDER = {
    "bookmarks": {
        "purchase_orders": {"replication_key": "updated_at", "replication_key_value": "2999-01-01T00:00:00+00:00"}
    }
}


def test_every_order_gets_its_seller_s_erp_supplier_id(
    url: str, emulator: CommonEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read once, on the thread beside the orders."""
    read_on: list[str] = []
    read = streams._supplier_numbers

    def spy(companies: streams.CompaniesStream) -> dict[str, str]:
        read_on.append(threading.current_thread().name)
        return read(companies)

    monkeypatch.setattr(streams, "_supplier_numbers", spy)
    out = run_tap(common_config(url, page_size=7), streams={"purchase_orders"})
    assert [name.split("_")[0] for name in read_on] == ["xlr8-suppliers"]
    suppliers = {c["id"]: c.get("erp_supplier_id") for c in run_tap(common_config(url)).records("companies")}
    orders = out.records("purchase_orders")
    assert orders
    assert [o["supplier_number"] for o in orders] == [suppliers[o["seller_company_id"]] for o in orders]


def test_a_seller_created_after_the_lookup_is_looked_up_again_once(
    url: str, emulator: CommonEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cmnaud28 finding 4, half (a): a supplier company onboarded after the run's look-up (its first answer lacks
    it) is looked up again, once, so its orders get their ``supplier_number``. Before, they landed with null, and no
    later incremental run corrected it (the order's ``updated_at`` does not move when its seller appears)."""
    read = streams._supplier_numbers
    answers: list[dict[str, str | None]] = []
    orders = emulator.data.purchase_orders()
    late = orders[0]["seller_company_id"]  # the company of the first order read: created "after" the look-up

    def lookup(companies: streams.CompaniesStream) -> dict[str, str | None]:
        found = read(companies)
        answers.append(found)
        return {k: v for k, v in found.items() if k != late} if len(answers) == 1 else found

    monkeypatch.setattr(streams, "_supplier_numbers", lookup)
    out = run_tap(common_config(url, page_size=7), streams={"purchase_orders"})
    records = out.records("purchase_orders")
    late_orders = [o for o in records if o["seller_company_id"] == late]
    assert late_orders
    assert {o["supplier_number"] for o in late_orders} == {answers[0][late]}  # not null
    assert [o["supplier_number"] for o in records] == [answers[0][o["seller_company_id"]] for o in records]
    assert len(answers) == 2  # beside the orders, then once again for the seller it did not hold


def test_a_failed_lookup_stops_the_orders(url: str, emulator: CommonEmulator, sandbox: Sandbox) -> None:
    sandbox.faults.add("common", "/api/v1/companies", FaultSpec("error_body", times=10))
    try:
        with pytest.raises(KitHTTPError, match="INTERNAL_ERROR"):
            run_tap(common_config(url, **FAILING), streams={"purchase_orders"})
    finally:
        sandbox.faults.clear()


def test_a_run_without_orders_drops_the_lookup_and_its_error(
    url: str, emulator: CommonEmulator, sandbox: Sandbox
) -> None:
    sandbox.faults.add("common", "/api/v1/companies", FaultSpec("error_body", times=10))
    try:
        out = run_tap(common_config(url, **FAILING), streams={"purchase_orders"}, state=PAST_EVERY_ORDER)
    finally:
        sandbox.faults.clear()
    assert out.records("purchase_orders") == []
