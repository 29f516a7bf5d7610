"""The kit's connector contract, run against the SuccessFactors emulator."""

from __future__ import annotations

import pytest

from xlr8_kit.testing.connector_contract import ConnectorContract, ConnectorContractTests
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.successfactors import API_PASSWORD, SuccessFactorsEmulator
from xlr8_tap_sap_successfactors.connector import SuccessFactorsConnector

from .conftest import basic_config


class TestSuccessFactorsConnector(ConnectorContractTests):
    @pytest.fixture
    def contract(self, url: str, sandbox: Sandbox, emulator: SuccessFactorsEmulator) -> ConnectorContract:
        bad = basic_config(url)
        bad["auth"]["password"] = "rejected-password-77"
        return ConnectorContract(
            connector_class=SuccessFactorsConnector,
            good_config=basic_config(url),
            bad_config=bad,
            entity="employee",
            stream="User",
            filters='department_code = "D001"',
            secrets=[API_PASSWORD, "rejected-password-77"],
            request_count=lambda: len(sandbox.requests("successfactors")),
            settings={"entity_sets": ["User"], "page_size": 20},
        )
