"""The gatherer's Python surface over the same client: the kit's connector contract against the Common emulator."""

from __future__ import annotations

import pytest

from xlr8_kit.testing.connector_contract import ConnectorContract, ConnectorContractTests
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.common import PASSWORD, CommonEmulator
from xlr8_tap_common.connector import CommonConnector

from .conftest import common_config


def test_connector_is_found_by_product_id(url: str, emulator: CommonEmulator) -> None:
    from xlr8_kit.connectors import ConnectorFactory

    connector = ConnectorFactory.create("common", common_config(url))
    assert isinstance(connector, CommonConnector)
    orders = list(connector.get_entity("purchase_order"))
    assert {o["po_number"] for o in orders} == {p.po_id for p in emulator.ctx.company.purchase_orders()}
    assert connector.get_entity_schema("purchase_orders")["x-xlr8"]["entity"] == "purchase_order"


class TestCommonConnectorContract(ConnectorContractTests):
    """The kit's connector contract (test_connection, get_entity == sync rows, schema, filter push-down)."""

    @pytest.fixture
    def contract(self, url: str, sandbox: Sandbox, emulator: CommonEmulator) -> ConnectorContract:
        good = common_config(url, page_size=9)
        return ConnectorContract(
            connector_class=CommonConnector,
            good_config=good,
            bad_config={**good, "password": "wrong-password-77"},
            entity="purchase_order",
            stream="purchase_orders",
            filters="status = 'pending' and order_date >= 2024-06-01",
            secrets=[PASSWORD, "wrong-password-77"],
            request_count=lambda: len(sandbox.requests("common", "/api/v1/purchase-orders")),
        )
