"""ConnectorFactory: entry point discovery, aliases, clear errors, credentials in every form, and the
``xlr8-credentials test`` command driving ``test_connection`` through it."""

from __future__ import annotations

import base64
import os
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from xlr8_kit.connectors import ENTRY_POINT_GROUP, ConnectorError, ConnectorFactory, ConnectorNotFoundError
from xlr8_kit.credentials import cli
from xlr8_kit.credentials.model import AuthType, ProductCredential
from xlr8_kit.credentials.resolve import open_manager
from xlr8_kit.vocabulary import resolve_product
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_ready import API_KEY, UkgReadyEmulator
from xlr8_sandbox.testing import emulator_fixtures
from xlr8_tap_ukg_ready.connector import UkgReadyConnector

#: A real product's connector (tap-ukg-ready) over its emulator; entry points are replaced per test.
CONNECTOR = "xlr8_tap_ukg_ready.connector:UkgReadyConnector"
sandbox, emulator, url = emulator_fixtures("ukg_ready", scale=23)


@pytest.fixture
def entry_points(monkeypatch: pytest.MonkeyPatch) -> list[EntryPoint]:
    found = [EntryPoint(name="ukg_ready", value=CONNECTOR, group=ENTRY_POINT_GROUP)]
    monkeypatch.setattr(ConnectorFactory, "_entry_points", classmethod(lambda cls: list(found)))
    return found


class Server:
    def __init__(self, sandbox: Sandbox, emulator: UkgReadyEmulator, url: str) -> None:
        self.url = url
        self.rows = list(sandbox.ctx.company.employees())
        self.login = emulator.test_credentials()


@pytest.fixture
def server(sandbox: Sandbox, emulator: UkgReadyEmulator, url: str) -> Server:
    return Server(sandbox, emulator, url)


def test_installed_entry_points_of_the_workspace_resolve_to_registry_ids() -> None:
    installed = ConnectorFactory.installed()
    for product_id, target in installed.items():
        assert resolve_product(product_id).id == product_id
        assert ":" in target


def test_entry_point_aliases_resolve_to_registry_ids(entry_points: list[EntryPoint]) -> None:
    entry_points.append(EntryPoint(name="sap_sf", value=CONNECTOR, group=ENTRY_POINT_GROUP))
    entry_points.append(EntryPoint(name="ukg_wfm_dimensions", value=CONNECTOR, group=ENTRY_POINT_GROUP))
    assert ConnectorFactory.installed() == {
        "successfactors": CONNECTOR,
        "ukg_ready": CONNECTOR,
        "ukg_wfm": CONNECTOR,
    }
    assert ConnectorFactory.connector_class("sap_sf") is UkgReadyConnector
    assert ConnectorFactory.connector_class("tap-ukg-ready") is UkgReadyConnector


def test_unknown_product_lists_the_installed_connectors(entry_points: list[EntryPoint]) -> None:
    with pytest.raises(ConnectorNotFoundError) as err:
        ConnectorFactory.create("peoplesoft", {})
    assert "unknown product 'peoplesoft'" in str(err.value)
    assert "installed connectors: ukg_ready" in str(err.value)


def test_known_product_without_connector_is_refused_clearly(entry_points: list[EntryPoint]) -> None:
    with pytest.raises(
        ConnectorNotFoundError, match="no connector installed for product 'oracle_hcm'; installed: ukg_ready"
    ):
        ConnectorFactory.create("oracle_hcm", {})


def test_broken_entry_point_is_reported(entry_points: list[EntryPoint]) -> None:
    entry_points[0] = EntryPoint(name="ukg_ready", value="xlr8_kit.no_such_module:X", group=ENTRY_POINT_GROUP)
    with pytest.raises(
        ConnectorError, match=r"connector for 'ukg_ready' \(xlr8_kit.no_such_module:X\) cannot be loaded"
    ):
        ConnectorFactory.connector_class("ukg_ready")
    entry_points[0] = EntryPoint(name="ukg_ready", value="xlr8_kit.vocabulary:resolve_product", group=ENTRY_POINT_GROUP)
    with pytest.raises(ConnectorError, match="is not a connector class"):
        ConnectorFactory.connector_class("ukg_ready")


def test_create_from_a_product_credential(entry_points: list[EntryPoint], server: Server) -> None:
    credential = ProductCredential(
        credential_id="ready-1",
        project_id="acme",
        product_id="ukg_ready",
        auth_type=AuthType.SESSION_LOGIN,
        credentials=server.login,
        instance_url=server.url,
    )
    connector = ConnectorFactory.create("ukg_ready", credential, settings={"base_url": server.url, "page_size": 50})
    assert isinstance(connector, UkgReadyConnector)
    with connector:
        assert connector.test_connection().ok
        assert len(list(connector.get_entity("employee"))) == len(server.rows)
    other = ProductCredential("sf-1", "acme", "salesforce", AuthType.API_KEY, {"api_token": "x-y-z-w"})
    with pytest.raises(ConnectorError, match="credential 'sf-1' is for product 'salesforce', not 'ukg_ready'"):
        ConnectorFactory.create("ukg_ready", other)


def _store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: Server, api_key: str) -> str:
    monkeypatch.setenv("XLR8_CREDENTIALS_KEY", base64.b64encode(os.urandom(32)).decode())
    location = str(tmp_path / "credentials.db")
    manager = open_manager(location)
    try:
        manager.store(
            ProductCredential(
                credential_id="ready-2",
                project_id="acme",
                product_id="ukg_ready",
                auth_type=AuthType.SESSION_LOGIN,
                credentials={**server.login, "api_key": api_key, "base_url": server.url},
            )
        )
    finally:
        manager.close()
    return location


def test_create_from_a_stored_credential_id(
    entry_points: list[EntryPoint], server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    location = _store(tmp_path, monkeypatch, server, API_KEY)
    connector = ConnectorFactory.create("ukg_ready", "ready-2", store=location, settings={"base_url": server.url})
    assert connector.config == {"base_url": server.url, "credential_id": "ready-2", "credential_store": location}
    with connector:
        status = connector.test_connection()
    assert status.ok, status.message


@pytest.mark.parametrize(("token", "exit_code", "word"), [(API_KEY, 0, "ok"), ("revoked-api-key-123", 1, "FAILED")])
def test_xlr8_credentials_test_uses_test_connection(
    server: Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    token: str,
    exit_code: int,
    word: str,
) -> None:
    location = _store(tmp_path, monkeypatch, server, token)
    ConnectorFactory.register("ukg_ready", UkgReadyConnector)
    try:
        code = cli.main(["--store", location, "test", "ready-2"])
    finally:
        ConnectorFactory.unregister("ukg_ready")
    out = capsys.readouterr()
    assert code == exit_code
    assert f"test ready-2: {word}" in out.out
    assert "authentication" in out.out
    assert token not in out.out + out.err
