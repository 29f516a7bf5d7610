"""The connector framework against a real product (tap-ukg-ready over its emulator), and the contract suite on it."""

from __future__ import annotations

import typing as t

import pytest

from xlr8_kit.connectors import BulkNotSupportedError, ConnectionStatus, ConnectorError
from xlr8_kit.query import matches, translate_filters
from xlr8_kit.testing.connector_contract import ConnectorContract, ConnectorContractTests, sync_stream
from xlr8_kit.vocabulary import UnknownFieldError
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox, run_sandbox
from xlr8_sandbox.products.ukg_ready import API_KEY, PASSWORD, STATUS, UkgReadyEmulator
from xlr8_sandbox.testing import emulator_fixtures
from xlr8_tap_ukg_ready.connector import UkgReadyConnector

# --- fixtures ---------------------------------------------------------------------------------------------------

sandbox, emulator, url = emulator_fixtures("ukg_ready", scale=23)
#: The employees resource as the emulator's request log records it (decoded).
PATH = "/ta/rest/v2/companies/|ACMEREADY/employees"


class Server:
    """What these tests read from the product: its employee rows, the requests it answered, what was pushed."""

    def __init__(self, sandbox: Sandbox, emulator: UkgReadyEmulator, url: str) -> None:
        self.sandbox, self.emulator, self.url = sandbox, emulator, url
        self.rows = [
            {"employee_id": e.employee_id, "first_name": e.first_name, "last_name": e.last_name,
             "hired_date": e.hire_date.isoformat(), "status": STATUS[e.status]}
            for e in sandbox.ctx.company.employees()
        ]  # fmt: skip

    @property
    def data_requests(self) -> int:
        return sum(1 for r in self.sandbox.requests("ukg_ready", PATH) if r.path == PATH)  # not per-employee calls


@pytest.fixture
def server(sandbox: Sandbox, emulator: UkgReadyEmulator, url: str) -> Server:
    return Server(sandbox, emulator, url)


def good_config(server: Server, **more: t.Any) -> dict[str, t.Any]:
    return {"base_url": server.url, **server.emulator.test_credentials(), "page_size": 5, **more}


@pytest.fixture
def contract(server: Server) -> ConnectorContract:
    return ConnectorContract(
        connector_class=UkgReadyConnector,
        good_config=good_config(server),
        bad_config={**good_config(server), "api_key": "wrong-key-5d2a"},
        entity="people",
        stream="employees",
        filters="employment_status = active and hire_date >= 2018-01-01 and last_name != 'Smith'",
        secrets=[API_KEY, PASSWORD],
        request_count=lambda: server.data_requests,
    )


class TestReadyConnector(ConnectorContractTests):
    """The kit's contract suite run against a real product: the suite itself must pass on a correct connector."""


# --- the framework's own behaviour ------------------------------------------------------------------------------


def test_get_entity_sends_pushed_params_and_returns_the_filtered_rows(server: Server) -> None:
    with UkgReadyConnector(good_config(server)) as connector:
        rows = list(connector.get_entity("employee", "employment_status = leave"))
    expected = [r for r in server.rows if r["status"] == "On Leave"]
    assert [r["employee_id"] for r in rows] == [r["employee_id"] for r in expected]
    assert expected
    assert all(q.get("status") == "On Leave" for q in server.emulator.employee_queries)


def test_unpushable_filter_parts_are_applied_after_fetching(server: Server) -> None:
    with UkgReadyConnector(good_config(server)) as connector:
        rows = list(connector.get_entity("employees", "last_name contains 'a' or first_name = 'Zoe'"))
    expected = [r for r in server.rows if "a" in r["last_name"] or r["first_name"] == "Zoe"]
    assert [r["employee_id"] for r in rows] == [r["employee_id"] for r in expected]
    assert 0 < len(rows) < len(server.rows)
    assert all("status" not in q for q in server.emulator.employee_queries)


def test_empty_in_list_sends_no_request(server: Server) -> None:
    with UkgReadyConnector(good_config(server)) as connector:
        connector.tap.kit  # noqa: B018
        assert list(connector.get_entity("employee", "employee_id in ()")) == []
    assert server.data_requests == 0


def test_execute_query_universal_with_fields_and_limit(server: Server) -> None:
    with UkgReadyConnector(good_config(server)) as connector:
        query = "employee where hire_date >= 2020-01-01 fields employee_id, hire_date limit 3"
        rows = list(connector.execute_query(query))
    expected = [r for r in server.rows if r["hired_date"] >= "2020-01-01"][:3]
    assert rows == [{"employee_id": r["employee_id"], "hired_date": r["hired_date"]} for r in expected]


def test_execute_query_stops_fetching_at_the_limit(server: Server) -> None:
    with UkgReadyConnector(good_config(server)) as connector:
        assert len(list(connector.execute_query("employee limit 2"))) == 2
    assert server.data_requests == 1


def test_a_filter_from_the_tap_setting_is_replaced_per_call(server: Server) -> None:
    config = good_config(server, filters="employment_status = terminated")
    with UkgReadyConnector(config) as connector:
        everyone = list(connector.get_entity("employee"))
        active = list(connector.get_entity("employee", "employment_status = active"))
        again = list(connector.get_entity("employee"))
    assert {r["status"] for r in everyone} == {"Terminated"}
    assert {r["status"] for r in active} == {"Active"}
    assert again == everyone


def test_unknown_field_and_entity_are_refused(server: Server) -> None:
    with UkgReadyConnector(good_config(server)) as connector:
        with pytest.raises(UnknownFieldError, match="'shoe_size' is not carried by ukg_ready stream 'employees'"):
            connector.get_entity("employee", "shoe_size = 9")
        with pytest.raises(ConnectorError, match="no stream of this tap carries 'invoice'"):
            connector.get_entity("invoice")
        with pytest.raises(ConnectorError, match="'gizmo' is neither a stream of this tap"):
            connector.get_entity("gizmo")


def test_connection_unreachable_is_reported_not_raised(server: Server) -> None:
    with run_sandbox(["ukg_ready"], scale=1) as stopped:
        dead_url = stopped.url("ukg_ready")
    config = {**good_config(server), "base_url": dead_url, "http": {"max_attempts": 1}}
    status = UkgReadyConnector(config).test_connection()
    assert isinstance(status, ConnectionStatus)
    assert not status.ok
    assert status.check("configuration").ok is True
    assert status.check("reachability").ok is False
    assert status.check("authentication").ok is None
    assert PASSWORD not in status.message


def test_connection_bad_configuration_names_the_setting() -> None:
    status = UkgReadyConnector({"api_key": "secret-value-xyz"}).test_connection()
    assert not status.ok
    assert status.check("configuration").ok is False
    assert "base_url" in (status.error or "")
    assert "secret-value-xyz" not in status.message


def test_connection_forbidden_is_a_permissions_failure(server: Server) -> None:
    server.sandbox.faults.add("ukg_ready", PATH, FaultSpec("status", status=403, body='{"errors": []}', times=1))
    status = UkgReadyConnector(good_config(server)).test_connection()
    assert status.check("authentication").ok is True
    assert status.check("permissions").ok is False
    assert "403" in (status.error or "")


def test_bulk_is_refused_clearly(server: Server) -> None:
    with pytest.raises(BulkNotSupportedError, match="ukg_ready: this connector has no bulk API"):
        UkgReadyConnector(good_config(server)).bulk_export("employee")


def test_sync_stream_helper_matches_server_rows(server: Server) -> None:
    contract = ConnectorContract(
        UkgReadyConnector, good_config(server), good_config(server), "employee", "employees", "status = x"
    )
    schema, records = sync_stream(contract)
    assert schema["x-xlr8"]["entity"] == "employee"
    assert [r["employee_id"] for r in records] == [r["employee_id"] for r in server.rows]
    physical = translate_filters("hire_date >= 2020-01-01", "ukg_ready", stream="employees").filter
    assert [r for r in records if matches(r, physical)]
