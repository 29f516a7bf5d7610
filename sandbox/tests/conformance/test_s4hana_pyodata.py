"""The S/4HANA emulator's v2 services driven by pyodata, a standard OData v2 client that knows nothing of this
project: ``$metadata`` of every service parsed in strict mode, then entity sets read with ``$top``, ``$filter``
(typed literals on the change timestamps) and ``/$count``, values typed by pyodata from the EDMX."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pyodata
import pytest
import requests
from pyodata.v2.model import Config, PolicyFatal

from xlr8_sandbox.products.s4hana import COMM_PASSWORD, COMM_USER, SAP_CLIENT
from xlr8_sandbox.testing import emulator_fixtures

sandbox, emulator, url = emulator_fixtures("s4hana", scale=100)

SERVICES = [
    "API_BUSINESS_PARTNER",
    "API_PURCHASEORDER_PROCESS_SRV",
    "API_COSTCENTER_SRV",
    "API_JOURNALENTRYITEMBASIC_SRV",
    "API_GLACCOUNTINCHARTOFACCOUNTS_SRV",
]


def client_for(url: str, service: str) -> Any:
    session = requests.Session()
    session.auth = (COMM_USER, COMM_PASSWORD)
    session.params = {"sap-client": SAP_CLIENT}  # type: ignore[assignment]
    strict = Config(default_error_policy=PolicyFatal(), retain_null=True)
    return pyodata.Client(f"{url}/sap/opu/odata/sap/{service}", session, config=strict)


@pytest.mark.parametrize("service", SERVICES)
def test_strict_metadata_declares_every_served_entity_set(url: str, emulator: Any, service: str) -> None:
    client = client_for(url, service)
    served = next(s for s in emulator.services.values() if s.name == service)
    assert {s.name for s in client.schema.entity_sets} == set(served.sets)


def test_purchase_orders_filtered_on_their_change_timestamp(url: str, sandbox: Any) -> None:
    client = client_for(url, "API_PURCHASEORDER_PROCESS_SRV")
    orders = client.entity_sets.A_PurchaseOrder.get_entities().top(5).execute()
    assert [o.PurchaseOrder for o in orders] == [f"PO{i:08d}" for i in range(1, 6)]
    assert orders[0].Supplier == sandbox.ctx.company.purchase_order(0).supplier_id
    since = datetime(2025, 12, 1, tzinfo=UTC)
    company = sandbox.ctx.company
    expected = sum(1 for i in range(company.purchase_order_count) if company.purchase_order_changed(i) >= since)
    query = client.entity_sets.A_PurchaseOrder.get_entities()
    changed = query.filter("LastChangeDateTime ge datetimeoffset'2025-12-01T00:00:00Z'").count().execute()
    assert changed == expected
    assert 0 < changed < company.purchase_order_count


def test_items_of_one_order_and_their_count(url: str, sandbox: Any) -> None:
    client = client_for(url, "API_PURCHASEORDER_PROCESS_SRV")
    items = client.entity_sets.A_PurchaseOrderItem.get_entities().filter("PurchaseOrder eq 'PO00000002'").execute()
    lines = sandbox.ctx.company.purchase_order_items(1)
    # pyodata hands Edm.Decimal over as the wire string: exact digits
    assert [(i.PurchaseOrderItem, Decimal(i.NetPriceAmount)) for i in items] == [
        (f"{line.item_number:05d}", line.net_price) for line in lines
    ]
    total = client.entity_sets.A_PurchaseOrderItem.get_entities().count().execute()
    assert total == sum(sandbox.ctx.company.purchase_order(i).line_count for i in range(50))
