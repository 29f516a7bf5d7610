"""The contract every product connector passes against its emulator (issue 10), the same test code for all.

In a tap's tests::

    from xlr8_kit.testing.connector_contract import ConnectorContract, ConnectorContractTests

    class TestSuccessFactorsConnector(ConnectorContractTests):
        @pytest.fixture
        def contract(self, emulator) -> ConnectorContract:
            return ConnectorContract(
                connector_class=SuccessFactorsConnector,
                good_config={...}, bad_config={... wrong secret ...},
                entity="employee", stream="User", filters="hire_date >= 2020-01-01",
                secrets=["the-secret"], request_count=lambda: emulator.request_count,
            )

What it checks: ``test_connection`` succeeds with good credentials and fails at the authentication check with
bad ones (no secret in the status); ``get_entity`` returns exactly the rows a sync of the stream emits, lazily;
``get_entity_schema`` equals the SCHEMA message of a sync; a filter gives the same rows pushed down as filtered
after fetching, and those are the sync's rows that ``matches`` the filter.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import pytest
from singer_sdk.singerlib import RecordMessage, SchemaMessage

from xlr8_kit.connectors.base import ConnectorError
from xlr8_kit.connectors.tap import TapConnector
from xlr8_kit.query import matches, translate_filters
from xlr8_kit.vocabulary import VocabularyError


@dataclass
class ConnectorContract:
    """What a tap's tests supply; the emulator must serve the stream in at least two pages."""

    connector_class: type[TapConnector]
    good_config: Mapping[str, Any]
    #: The same endpoint with a rejected secret.
    bad_config: Mapping[str, Any]
    #: Canonical entity (or stream name) ``get_entity`` is asked for, served by ``stream``.
    entity: str
    stream: str
    #: A universal filter selecting a non-empty strict subset of the stream's rows.
    filters: str
    #: Secret values that must never appear in a status or error.
    secrets: Sequence[str] = ()
    #: How many HTTP requests the emulator has answered so far (for the laziness check).
    request_count: Callable[[], int] | None = None
    #: Extra settings merged into both configs (start dates, object lists).
    settings: Mapping[str, Any] = field(default_factory=dict)

    def connector(self, *, good: bool = True) -> TapConnector:
        return self.connector_class({**self.settings, **(self.good_config if good else self.bad_config)})


def sync_stream(contract: ConnectorContract) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The SCHEMA and RECORD messages of a real sync of the contract's stream (in-process, nothing on stdout)."""
    tap = contract.connector_class.tap_class(
        config={**contract.settings, **contract.good_config}, parse_env_config=False, validate_config=True
    )
    messages: list[Any] = []
    tap.write_message = messages.append  # type: ignore[misc,assignment]  # capture instead of stdout
    tap.streams[contract.stream].sync()
    schemas = [m.schema for m in messages if isinstance(m, SchemaMessage) and m.stream == contract.stream]
    records = [m.record for m in messages if isinstance(m, RecordMessage) and m.stream == contract.stream]
    assert schemas, f"a sync of {contract.stream!r} emitted no SCHEMA message"
    return schemas[0], records


def _canonical(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)


class ConnectorContractTests:
    """Subclass as ``Test<Product>Connector`` and provide a ``contract`` fixture."""

    def test_connection_succeeds_with_good_credentials(self, contract: ConnectorContract) -> None:
        with contract.connector() as connector:
            status = connector.test_connection()
        assert status.ok, status.message
        assert status.product == contract.connector_class.product_id
        assert [c.name for c in status.checks][:4] == ["configuration", "reachability", "authentication", "permissions"]
        assert all(c.ok for c in status.checks[:4])
        assert status.error is None

    def test_connection_fails_clearly_with_bad_credentials(self, contract: ConnectorContract) -> None:
        connector = contract.connector(good=False)
        try:
            status = connector.test_connection()  # never raises, even when building the tap needs the API
        finally:
            connector.disconnect()
        assert not status.ok
        assert status.check("authentication").ok is False, status.message
        assert status.check("reachability").ok is True
        assert status.error
        for secret in [*contract.secrets, *_strings(contract.bad_config, contract.connector_class)]:
            assert secret not in status.message
            assert secret not in repr(status)

    def test_get_entity_equals_sync_rows(self, contract: ConnectorContract) -> None:
        _, synced = sync_stream(contract)
        assert len(synced) >= 2, "the emulator must serve at least two rows"
        with contract.connector() as connector:
            rows = list(connector.get_entity(contract.entity))
        assert rows == synced

    def test_get_entity_schema_equals_sync_schema(self, contract: ConnectorContract) -> None:
        schema, _ = sync_stream(contract)
        with contract.connector() as connector:
            assert connector.get_entity_schema(contract.entity) == schema
            assert connector.get_entity_schema(contract.stream) == schema

    def test_get_entity_is_lazy(self, contract: ConnectorContract) -> None:
        with contract.connector() as connector:
            rows = connector.get_entity(contract.entity)
            assert isinstance(rows, Iterator)
            if contract.request_count is None:
                return
            connector.tap.kit  # noqa: B018 - authenticate before counting data requests
            before = contract.request_count()
            first = list(islice(rows, 1))
            after_first = contract.request_count()
            rest = list(rows)
            after_all = contract.request_count()
        assert first
        assert rest
        assert after_first - before < after_all - before, "the first row should not need every page"

    def test_filters_pushed_down_equal_post_fetch_and_matches(self, contract: ConnectorContract) -> None:
        _, synced = sync_stream(contract)
        product = contract.connector_class.product_id
        physical = translate_filters(contract.filters, product, stream=contract.stream).filter
        expected = [r for r in synced if matches(r, physical)]
        assert 0 < len(expected) < len(synced), "the contract's filter must select a strict, non-empty subset"
        with contract.connector() as connector:
            pushed = list(connector.get_entity(contract.entity, contract.filters))
            stream, translation = connector.resolve_stream(contract.entity, contract.filters)
            post = list(connector.read(stream, translation, pushdown=False))
        assert _canonical(pushed) == _canonical(expected)
        assert _canonical(post) == _canonical(expected)

    def test_unknown_entity_is_refused_clearly(self, contract: ConnectorContract) -> None:
        with contract.connector() as connector, pytest.raises((ConnectorError, VocabularyError)) as err:
            list(connector.get_entity("spaceship"))
        assert "spaceship" in str(err.value)


def _strings(config: Mapping[str, Any], connector_class: type[TapConnector]) -> list[str]:
    """The secret values of a config, per the tap's settings schema."""
    from xlr8_kit.rest import _secret_values

    return [v for _, v in _secret_values(dict(config), connector_class.tap_class.config_jsonschema)]
