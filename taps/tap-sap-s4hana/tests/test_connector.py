"""The kit's connector contract against the S/4HANA emulator, plus S/4's own surface: OData paths and BAPIs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from xlr8_kit.connectors import ConnectorError
from xlr8_kit.soap.rfc import BapiError
from xlr8_kit.testing.connector_contract import ConnectorContract, ConnectorContractTests
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.s4hana import COMM_PASSWORD, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, S4HanaEmulator
from xlr8_tap_sap_s4hana.connector import SapS4HanaConnector

from .conftest import basic_config


class TestS4HanaConnector(ConnectorContractTests):
    @pytest.fixture
    def contract(self, url: str, sandbox: Sandbox, emulator: S4HanaEmulator) -> ConnectorContract:
        bad = basic_config(url, password="rejected-password-77")
        return ConnectorContract(
            connector_class=SapS4HanaConnector,
            good_config=basic_config(url),
            bad_config=bad,
            entity="purchase_order",
            stream="A_PurchaseOrder",
            filters='supplier_id = "S0000001"',
            secrets=[COMM_PASSWORD, "rejected-password-77"],
            request_count=lambda: len(sandbox.requests("s4hana")),
            settings={"services": ["API_PURCHASEORDER_PROCESS_SRV"], "page_size": 10},
        )


def connector(url: str, **extra: object) -> SapS4HanaConnector:
    return SapS4HanaConnector(basic_config(url, services=["API_PURCHASEORDER_PROCESS_SRV"], **extra))


def test_execute_query_takes_an_odata_path(url: str, sandbox: Sandbox) -> None:
    with connector(url) as s4:
        rows = list(s4.execute_query("A_PurchaseOrderItem?$filter=PurchaseOrder eq 'PO00000002'"))
    expected = sandbox.ctx.company.purchase_order_items(1)
    assert [(r["PurchaseOrderItem"], r["NetPriceAmount"], r["OrderQuantity"]) for r in rows] == [
        (f"{line.item_number:05d}", line.net_price, line.quantity) for line in expected
    ]
    assert all(isinstance(r["NetPriceAmount"], Decimal) for r in rows)


def test_bapi_success_returns_tables_as_rows(url: str, sandbox: Sandbox) -> None:
    with connector(url) as s4:
        result = s4.execute_bapi("BAPI_PO_GETDETAIL1", {"PURCHASEORDER": "PO00000003", "POITEM": [], "RETURN": []})
        companies = s4.execute_bapi("BAPI_COMPANYCODE_GETLIST", {"COMPANYCODE_LIST": []})
    lines = sandbox.ctx.company.purchase_order_items(2)
    assert result["RETURN"] == []
    assert isinstance(result["POHEADER"], dict)
    assert result["POHEADER"]["VENDOR"] == sandbox.ctx.company.purchase_order(2).supplier_id
    assert [(row["PO_ITEM"], Decimal(row["QUANTITY"])) for row in result["POITEM"]] == [
        (f"{line.item_number:05d}", line.quantity) for line in lines
    ]
    assert companies["COMPANYCODE_LIST"] == [
        {"COMP_CODE": "C100", "COMP_NAME": "Acme Holdings Inc."},
        {"COMP_CODE": "C200", "COMP_NAME": "Acme Canada Ltd."},
    ]


def test_bapi_return_type_e_is_a_clear_error(url: str) -> None:
    with connector(url) as s4, pytest.raises(BapiError) as caught:
        s4.execute_bapi("BAPI_PO_GETDETAIL1", {"PURCHASEORDER": "4500999999", "POITEM": [], "RETURN": []})
    message = str(caught.value)
    assert message.startswith("BAPI_PO_GETDETAIL1 failed: E 06/019")
    assert "Purchase order 4500999999 does not exist" in message
    assert caught.value.messages[0]["TYPE"] == "E"


def test_bapis_that_write_are_refused_before_any_call(url: str, sandbox: Sandbox) -> None:
    with connector(url) as s4:
        before = len(sandbox.requests("s4hana", "/sap/bc/soap"))
        with pytest.raises(ConnectorError, match="only read-only BAPIs"):
            s4.execute_bapi("BAPI_PO_CREATE1", {"POHEADER": {"COMP_CODE": "C100"}})
        with pytest.raises(ConnectorError, match="not a function module name"):
            s4.execute_bapi("BAPI_PO_GETDETAIL1'; DROP", {})
    assert len(sandbox.requests("s4hana", "/sap/bc/soap")) == before


def test_oauth_client_credentials_reads_and_wrong_secret_fails(url: str) -> None:
    oauth = {"auth_type": "oauth_client_credentials", "client_id": OAUTH_CLIENT_ID}
    config = {k: v for k, v in basic_config(url).items() if k not in ("username", "password")}
    good = SapS4HanaConnector({**config, **oauth, "client_secret": OAUTH_CLIENT_SECRET, "entity_sets": ["A_Supplier"],
                               "services": ["API_BUSINESS_PARTNER"]})  # fmt: skip
    with good:
        assert good.test_connection().ok
        assert len(list(good.get_entity("supplier"))) >= 10
    bad = SapS4HanaConnector(
        {**config, **oauth, "client_secret": "wrong-secret-55", "services": ["API_COSTCENTER_SRV"]}
    )
    with bad:
        status = bad.test_connection()
    assert not status.ok
    assert "wrong-secret-55" not in repr(status)


def test_wrong_sap_client_is_refused_naming_the_path(url: str) -> None:
    with SapS4HanaConnector(basic_config(url, sap_client="999", services=["API_COSTCENTER_SRV"])) as s4:
        status = s4.test_connection()
    assert not status.ok
    assert "Client 999 is not available" in repr(status)
