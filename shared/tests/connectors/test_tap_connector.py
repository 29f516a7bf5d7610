"""The connector framework against a fake product over a local HTTP server, and the contract suite on it."""

from __future__ import annotations

import typing as t

import pytest

from xlr8_kit.connectors import BulkNotSupportedError, ConnectionStatus, ConnectorError
from xlr8_kit.query import matches, translate_filters
from xlr8_kit.testing.connector_contract import ConnectorContract, ConnectorContractTests, sync_stream
from xlr8_kit.testing.fake_ready import (
    GOOD_TOKEN,
    MAPPING,
    PATH,
    FakeReadyConnector,
    FakeReadyServer,
)
from xlr8_kit.testing.faultserver import Reply
from xlr8_kit.vocabulary import UnknownFieldError, mapping_for_stream, register_mapping

# --- fixtures ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def fake_mapping() -> t.Iterator[None]:
    original = mapping_for_stream("ukg_ready", "employees")
    register_mapping(MAPPING)
    yield
    assert original is not None
    register_mapping(original)


@pytest.fixture
def server() -> t.Iterator[FakeReadyServer]:
    with FakeReadyServer() as running:
        yield running


def good_config(server: FakeReadyServer, **more: t.Any) -> dict[str, t.Any]:
    return {"base_url": server.url, "api_token": GOOD_TOKEN, "page_size": 5, **more}


@pytest.fixture
def contract(server: FakeReadyServer) -> ConnectorContract:
    return ConnectorContract(
        connector_class=FakeReadyConnector,
        good_config=good_config(server),
        bad_config={**good_config(server), "api_token": "wrong-token-5d2a"},
        entity="people",
        stream="employees",
        filters="employment_status = active and hire_date >= 2018-01-01 and last_name != 'Smith'",
        secrets=[GOOD_TOKEN],
        request_count=lambda: server.data_requests,
    )


class TestFakeReadyConnector(ConnectorContractTests):
    """The kit's contract suite run against the fake product: the suite itself must pass on a correct connector."""


# --- the framework's own behaviour ------------------------------------------------------------------------------


def test_get_entity_sends_pushed_params_and_returns_the_filtered_rows(server: FakeReadyServer) -> None:
    with FakeReadyConnector(good_config(server)) as connector:
        rows = list(connector.get_entity("employee", "employment_status = leave"))
    expected = [r for r in server.rows if r["status"] == "On Leave"]
    assert [r["employee_id"] for r in rows] == [r["employee_id"] for r in expected]
    assert expected
    assert all(req.query.get("status") == ["On Leave"] for req in server.requests_to(PATH))


def test_unpushable_filter_parts_are_applied_after_fetching(server: FakeReadyServer) -> None:
    with FakeReadyConnector(good_config(server)) as connector:
        rows = list(connector.get_entity("employees", "last_name contains 'a' or first_name = 'Zoe'"))
    expected = [r for r in server.rows if "a" in r["last_name"] or r["first_name"] == "Zoe"]
    assert [r["employee_id"] for r in rows] == [r["employee_id"] for r in expected]
    assert 0 < len(rows) < len(server.rows)
    assert all("status" not in req.query for req in server.requests_to(PATH))


def test_empty_in_list_sends_no_request(server: FakeReadyServer) -> None:
    with FakeReadyConnector(good_config(server)) as connector:
        connector.tap.kit  # noqa: B018
        assert list(connector.get_entity("employee", "employee_id in ()")) == []
    assert server.data_requests == 0


def test_execute_query_universal_with_fields_and_limit(server: FakeReadyServer) -> None:
    with FakeReadyConnector(good_config(server)) as connector:
        query = "employee where hire_date >= 2020-01-01 fields employee_id, hire_date limit 3"
        rows = list(connector.execute_query(query))
    expected = [r for r in server.rows if r["hired_date"] >= "2020-01-01"][:3]
    assert rows == [{"employee_id": r["employee_id"], "hired_date": r["hired_date"]} for r in expected]


def test_execute_query_stops_fetching_at_the_limit(server: FakeReadyServer) -> None:
    with FakeReadyConnector(good_config(server)) as connector:
        assert len(list(connector.execute_query("employee limit 2"))) == 2
    assert server.data_requests == 1


def test_a_filter_from_the_tap_setting_is_replaced_per_call(server: FakeReadyServer) -> None:
    config = good_config(server, filters="employment_status = terminated")
    with FakeReadyConnector(config) as connector:
        everyone = list(connector.get_entity("employee"))
        active = list(connector.get_entity("employee", "employment_status = active"))
        again = list(connector.get_entity("employee"))
    assert {r["status"] for r in everyone} == {"Terminated"}
    assert {r["status"] for r in active} == {"Active"}
    assert again == everyone


def test_unknown_field_and_entity_are_refused(server: FakeReadyServer) -> None:
    with FakeReadyConnector(good_config(server)) as connector:
        with pytest.raises(UnknownFieldError, match="'shoe_size' is not carried by ukg_ready stream 'employees'"):
            connector.get_entity("employee", "shoe_size = 9")
        with pytest.raises(ConnectorError, match="no stream of this tap carries 'invoice'"):
            connector.get_entity("invoice")
        with pytest.raises(ConnectorError, match="'gizmo' is neither a stream of this tap"):
            connector.get_entity("gizmo")


def test_connection_unreachable_is_reported_not_raised() -> None:
    with FakeReadyServer() as stopped:
        dead_url = stopped.url
    config = {"base_url": dead_url, "api_token": GOOD_TOKEN, "http": {"max_attempts": 1}}
    status = FakeReadyConnector(config).test_connection()
    assert isinstance(status, ConnectionStatus)
    assert not status.ok
    assert status.check("configuration").ok is True
    assert status.check("reachability").ok is False
    assert status.check("authentication").ok is None
    assert GOOD_TOKEN not in status.message


def test_connection_bad_configuration_names_the_setting() -> None:
    status = FakeReadyConnector({"api_token": "secret-value-xyz"}).test_connection()
    assert not status.ok
    assert status.check("configuration").ok is False
    assert "base_url" in (status.error or "")
    assert "secret-value-xyz" not in status.message


def test_connection_forbidden_is_a_permissions_failure(server: FakeReadyServer) -> None:
    server.script(PATH, Reply(403, body={"error": "not allowed"}))
    status = FakeReadyConnector(good_config(server)).test_connection()
    assert status.check("authentication").ok is True
    assert status.check("permissions").ok is False
    assert "403" in (status.error or "")


def test_bulk_is_refused_clearly(server: FakeReadyServer) -> None:
    with pytest.raises(BulkNotSupportedError, match="ukg_ready: this connector has no bulk API"):
        FakeReadyConnector(good_config(server)).bulk_export("employee")


def test_sync_stream_helper_matches_server_rows(server: FakeReadyServer) -> None:
    contract = ConnectorContract(
        FakeReadyConnector, good_config(server), good_config(server), "employee", "employees", "status = x"
    )
    schema, records = sync_stream(contract)
    assert schema["x-xlr8"]["entity"] == "employee"
    assert [r["employee_id"] for r in records] == [r["employee_id"] for r in server.rows]
    physical = translate_filters("hire_date >= 2020-01-01", "ukg_ready", stream="employees").filter
    assert [r for r in records if matches(r, physical)]
