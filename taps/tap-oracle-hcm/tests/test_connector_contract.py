"""The kit's connector contract, run against the Oracle HCM emulator."""

from __future__ import annotations

import pytest

from xlr8_kit.testing.connector_contract import ConnectorContract, ConnectorContractTests
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.oracle_fusion.hcm import PASSWORD
from xlr8_tap_oracle_hcm.connector import OracleHcmConnector

from .conftest import hcm_config


class TestOracleHcmConnector(ConnectorContractTests):
    @pytest.fixture
    def contract(self, url: str, sandbox: Sandbox) -> ConnectorContract:
        return ConnectorContract(
            connector_class=OracleHcmConnector,
            good_config=hcm_config(url),
            bad_config=hcm_config(url, password="rejected-password-77"),
            entity="employee",
            stream="workers",
            filters="hire_date >= 2020-01-01",
            secrets=[PASSWORD, "rejected-password-77"],
            request_count=lambda: len(sandbox.requests("oracle_hcm")),
            settings={"resources": ["workers"], "page_size": 30},
        )


def test_native_query_and_errors_naming_the_attribute(url: str) -> None:
    with OracleHcmConnector(hcm_config(url, resources=["workers"])) as connector:
        rows = list(connector.execute_query("workers?q=PersonNumber in ('E000003','E000004')&fields=PersonNumber"))
        assert sorted(r["PersonNumber"] for r in rows) == ["E000003", "E000004"]
        with pytest.raises(Exception, match="Bogus") as caught:
            list(connector.execute_query("workers?q=Bogus = 1"))
    assert "HTTP 400" in str(caught.value)
