"""Faults on the wire and bad settings: retried where transient, fatal with the vendor's words where not, never
"zero rows"; configuration errors name the setting."""

from __future__ import annotations

import pytest
from singer_sdk.exceptions import ConfigValidationError

from xlr8_kit.http.errors import AnswerShapeError, AuthenticationError, ClientRequestError, KitHTTPError
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.s4hana import COMM_PASSWORD, S4HanaEmulator
from xlr8_tap_sap_s4hana.tap import S4Settings, TapSapS4Hana

from .conftest import basic_config, run_tap

SUPPLIERS = "/sap/opu/odata/sap/API_BUSINESS_PARTNER/A_Supplier"
FAST_RETRY = {"http": {"backoff_base": 0.01, "backoff_max": 0.05}}


def test_transient_503_is_retried_and_rows_land_once(url: str, sandbox: Sandbox, emulator: S4HanaEmulator) -> None:
    sandbox.faults.add("s4hana", SUPPLIERS, FaultSpec("status", status=503, after=1, times=2))
    output = run_tap(basic_config(url, entity_sets=["A_Supplier"], page_size=4, **FAST_RETRY))
    ids = [s["Supplier"] for s in output.records("A_Supplier")]
    assert ids == [s.supplier_id for s in sandbox.ctx.company.suppliers()]


def test_error_body_in_a_200_is_fatal_not_empty(url: str, sandbox: Sandbox, emulator: S4HanaEmulator) -> None:
    sandbox.faults.add("s4hana", SUPPLIERS, FaultSpec("error_body", after=1, times=1))
    with pytest.raises(KitHTTPError, match=r"/IWBEP/CM_MGW_RT/000") as caught:
        run_tap(basic_config(url, entity_sets=["A_Supplier"], page_size=4))
    assert COMM_PASSWORD not in str(caught.value)


def test_bad_filter_reports_gateways_message(url: str, emulator: S4HanaEmulator) -> None:
    tap = TapSapS4Hana(config=basic_config(url, services=["API_BUSINESS_PARTNER"]), parse_env_config=False)
    with pytest.raises(ClientRequestError, match=r"HTTP 400 for path .*/A_Supplier: /IWBEP/CM_MGW_RT/022"):
        list(tap.client.iter_rows(f"{url}/sap/opu/odata/sap/API_BUSINESS_PARTNER/A_Supplier",
                                  {"$filter": "Nonsense eq 1"}, version=2, page_size=10))  # fmt: skip


def test_wrong_password_is_an_authentication_error_without_the_secret(url: str) -> None:
    with pytest.raises(AuthenticationError, match="HTTP 401") as caught:
        run_tap(basic_config(url, password="wrong-password-31", entity_sets=["A_Supplier"]))
    assert "wrong-password-31" not in str(caught.value)


def test_unknown_entity_set_names_the_setting(url: str) -> None:
    with pytest.raises(ValueError, match=r"setting 'entity_sets' names A_Nope"):
        run_tap(basic_config(url, services=["API_COSTCENTER_SRV"], entity_sets=["A_Nope"]))


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"base_url": "ftp://x"}, "setting 'base_url' must be an https:// URL"),
        ({"base_url": "https://s4.example.com/sap/opu/odata/sap"}, "without /sap/opu"),
        ({"base_url": "https://s4.example.com", "username": "U"}, "setting 'password' is required"),
        (
            {"base_url": "https://s4.example.com", "auth_type": "oauth_client_credentials", "client_id": "C"},
            "setting 'client_secret' is required",
        ),
        ({"base_url": "https://s4.example.com", "auth_type": "saml"}, "setting 'auth_type' must be one of"),
        ({"base_url": "https://s4.example.com", "username": "U", "password": "P", "page_size": 9000}, "page_size"),
    ],
)
def test_bad_settings_are_named(config: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigValidationError, match=message):
        S4Settings.from_config(config)


def test_partners_created_while_paging_lose_no_row(url: str, sandbox: Sandbox, emulator: S4HanaEmulator) -> None:
    """Three partners are created while the third window is read: offset paging may read a row twice (the target
    upserts by key) but never skips one; the new partners are read by the next incremental run."""
    path = "/sap/opu/odata/sap/API_BUSINESS_PARTNER/A_BusinessPartner"
    sandbox.faults.add("s4hana", path, FaultSpec("insert_records", count=3, after=2, times=1))
    config = basic_config(url, entity_sets=["A_BusinessPartner"], page_size=10)
    first = run_tap(config)
    company = sandbox.ctx.company
    ids = [r["BusinessPartner"] for r in first.records("A_BusinessPartner")]
    expected = {s.supplier_id for s in company.suppliers()} | {
        f"C{i + 1:09d}" for i in range(company.crm_account_count)
    }
    assert expected <= set(ids)
    second = run_tap(config, state=first.state)
    assert {f"N{n:09d}" for n in (1, 2, 3)} <= {r["BusinessPartner"] for r in second.records("A_BusinessPartner")}


COST_CENTERS_PATH = "/sap/opu/odata/sap/API_COSTCENTER_SRV/A_CostCenter"


@pytest.mark.parametrize("body", ['{"d": {}}', '{"d": {"results": null}}'])
def test_a_v2_answer_without_results_stops_the_stream_naming_path_and_key(
    url: str, sandbox: Sandbox, emulator: S4HanaEmulator, body: str
) -> None:
    """s4aud29: a 200 answer ``{"d": {}}`` (no ``results``: a gateway's or proxy's page, a changed shape) read as one
    row of nulls and the run went on, exit 0. It is now the kit's ``AnswerShapeError`` naming the path and the key."""
    json_200 = {"Content-Type": "application/json"}
    sandbox.faults.add(
        "s4hana", COST_CENTERS_PATH, FaultSpec("status", status=200, body=body, headers=json_200, query={"$skip": "4"})
    )
    config = basic_config(url, services=["API_COSTCENTER_SRV"], entity_sets=["A_CostCenter"], page_size=2)
    with pytest.raises(AnswerShapeError) as raised:
        run_tap({**config, "http": {"max_attempts": 1}})
    message = str(raised.value)
    assert COST_CENTERS_PATH in message
    assert "'results'" in message


def test_a_v2_answer_with_empty_results_is_no_rows(url: str, sandbox: Sandbox, emulator: S4HanaEmulator) -> None:
    """``results: []`` is the end of the rows, not an error: the two windows before it land, exit 0."""
    json_200 = {"Content-Type": "application/json"}
    sandbox.faults.add(
        "s4hana",
        COST_CENTERS_PATH,
        FaultSpec("status", status=200, body='{"d": {"results": []}}', headers=json_200, query={"$skip": "4"}),
    )
    config = basic_config(url, services=["API_COSTCENTER_SRV"], entity_sets=["A_CostCenter"], page_size=2)
    output = run_tap(config)
    landed = output.records("A_CostCenter")
    codes = sorted(c.code for c in sandbox.ctx.company.cost_centers)
    assert len(codes) > 4
    assert [r["CostCenter"] for r in landed] == codes[:4]
