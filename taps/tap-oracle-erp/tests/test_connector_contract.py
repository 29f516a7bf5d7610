"""The kit's connector contract, run against the Oracle ERP emulator."""

from __future__ import annotations

import pytest

from xlr8_kit.testing.connector_contract import ConnectorContract, ConnectorContractTests
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.oracle_fusion.erp import PASSWORD
from xlr8_tap_oracle_erp.connector import OracleErpConnector

from .conftest import erp_config


class TestOracleErpConnector(ConnectorContractTests):
    @pytest.fixture
    def contract(self, url: str, sandbox: Sandbox) -> ConnectorContract:
        return ConnectorContract(
            connector_class=OracleErpConnector,
            good_config=erp_config(url),
            bad_config=erp_config(url, password="rejected-password-77"),
            entity="purchase_order",
            stream="purchaseOrders",
            filters='currency = "CAD"',
            secrets=[PASSWORD, "rejected-password-77"],
            request_count=lambda: len(sandbox.requests("oracle_erp")),
            settings={"resources": ["purchaseOrders"], "page_size": 20},
        )
