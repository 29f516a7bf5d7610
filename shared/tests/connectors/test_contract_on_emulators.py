"""The kit's connector contract run on real taps against their emulators, through the generic ``TapConnector``
(the same test code every tap's own connector is meant to run)."""

from __future__ import annotations

import typing as t

import pytest

from xlr8_kit.connectors.tap import TapConnector, tap_connector
from xlr8_kit.testing.connector_contract import ConnectorContract, ConnectorContractTests
from xlr8_sandbox.platform.server import run_sandbox
from xlr8_sandbox.products.salesforce import CLIENT_ID, CLIENT_SECRET, SECURITY_TOKEN
from xlr8_sandbox.products.salesforce import PASSWORD as SF_PASSWORD
from xlr8_sandbox.products.salesforce import USERNAME as SF_USERNAME
from xlr8_sandbox.products.successfactors import API_PASSWORD, API_USER, COMPANY_ID
from xlr8_sandbox.products.ukg_pro import CUSTOMER_API_KEY, PASSWORD, USER_ACCESS_KEY, USERNAME
from xlr8_sandbox.products.ukg_ready import API_KEY as READY_API_KEY
from xlr8_sandbox.products.ukg_ready import COMPANY_SHORT_NAME as READY_COMPANY
from xlr8_sandbox.products.ukg_ready import PASSWORD as READY_PASSWORD
from xlr8_sandbox.products.ukg_ready import USERNAME as READY_USERNAME


def _connector_class(product: str, config: dict[str, t.Any]) -> type[TapConnector]:
    return type(tap_connector(product, config))


@pytest.fixture(scope="module")
def sandbox() -> t.Iterator[t.Any]:
    with run_sandbox(["successfactors", "ukg_pro", "salesforce", "ukg_ready"], seed=42, scale=30) as running:
        yield running


class TestSuccessFactorsContract(ConnectorContractTests):
    @pytest.fixture
    def contract(self, sandbox: t.Any) -> ConnectorContract:
        good = {
            "api_url": sandbox.url("successfactors"),
            "company_id": COMPANY_ID,
            "auth": {"type": "basic", "username": API_USER, "password": API_PASSWORD},
            "page_size": 7,
        }
        bad = {**good, "auth": {"type": "basic", "username": API_USER, "password": "wrong-password-31"}}
        return ConnectorContract(
            connector_class=_connector_class("successfactors", good),
            good_config=good,
            bad_config=bad,
            entity="employee",
            stream="User",
            filters="hire_date >= 2020-01-01 and last_name != 'Smith'",
            secrets=[API_PASSWORD, "wrong-password-31"],
            request_count=lambda: len(sandbox.requests("successfactors", "/odata/v2/User")),
        )


class TestUkgProContract(ConnectorContractTests):
    @pytest.fixture
    def contract(self, sandbox: t.Any) -> ConnectorContract:
        good = {
            "base_url": sandbox.url("ukg_pro"),
            "username": USERNAME,
            "password": PASSWORD,
            "customer_api_key": CUSTOMER_API_KEY,
            "user_access_key": USER_ACCESS_KEY,
            "per_page": 7,
        }
        bad = {**good, "password": "wrong-password-47"}
        return ConnectorContract(
            connector_class=_connector_class("ukg_pro", good),
            good_config=good,
            bad_config=bad,
            entity="employee",
            stream="employment_details",
            filters="employment_status = active and hire_date >= 2019-01-01",
            secrets=[PASSWORD, "wrong-password-47"],
            request_count=lambda: len(sandbox.requests("ukg_pro", "/personnel/v1/employment-details")),
        )


class TestSalesforceContract(ConnectorContractTests):
    """One SOQL page at this scale (batch_size >= 200), so laziness is checked as an iterator only."""

    @pytest.fixture
    def contract(self, sandbox: t.Any) -> ConnectorContract:
        auth = {
            "type": "password",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "username": SF_USERNAME,
            "password": SF_PASSWORD,
            "security_token": SECURITY_TOKEN,
        }
        good = {"login_url": sandbox.url("salesforce"), "auth": auth, "objects": ["Contact", "Account"]}
        bad = {**good, "auth": {**auth, "password": "wrong-password-59"}}
        return ConnectorContract(
            connector_class=_connector_class("salesforce", good),
            good_config=good,
            bad_config=bad,
            entity="contact",
            stream="Contact",
            filters="title = 'CFO' or last_name = \"O'Brien\"",
            secrets=[SF_PASSWORD, CLIENT_SECRET, "wrong-password-59"],
        )


class TestUkgReadyContract(ConnectorContractTests):
    @pytest.fixture
    def contract(self, sandbox: t.Any) -> ConnectorContract:
        good = {
            "base_url": sandbox.url("ukg_ready"),
            "api_key": READY_API_KEY,
            "username": READY_USERNAME,
            "password": READY_PASSWORD,
            "company_short_name": READY_COMPANY,
            "page_size": 7,
        }
        bad = {**good, "password": "wrong-password-61"}
        path = f"/ta/rest/v2/companies/|{READY_COMPANY}/employees"
        return ConnectorContract(
            connector_class=_connector_class("ukg_ready", good),
            good_config=good,
            bad_config=bad,
            entity="employee",
            stream="employees",
            filters="employment_status = active and hire_date >= 2019-01-01",
            secrets=[READY_PASSWORD, READY_API_KEY, "wrong-password-61"],
            request_count=lambda: [r.path for r in sandbox.requests("ukg_ready", path)].count(path),
        )
