"""A sandbox reset reaches every emulator's own state (``ProductEmulator.reset``), from Python and from the admin
endpoint of any product's port, checked over real HTTP where the state is visible on the wire."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from xlr8_sandbox.platform.emulator import ProductEmulator
from xlr8_sandbox.platform.server import Sandbox, run_sandbox
from xlr8_sandbox.products import salesforce as sf
from xlr8_sandbox.products.salesforce import SalesforceEmulator
from xlr8_sandbox.products.successfactors import SuccessFactorsEmulator
from xlr8_sandbox.products.ukg_pro import UkgProEmulator
from xlr8_sandbox.products.workday import WorkdayEmulator

PRODUCTS = ["salesforce", "successfactors", "ukg_pro", "workday"]
TIMEOUT = 10


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with run_sandbox(PRODUCTS, scale=20) as running:
        yield running


def _emulator(sandbox: Sandbox, product: str, cls: type[Any]) -> Any:
    emulator = sandbox.emulator(product)
    assert isinstance(emulator, cls)
    return emulator


def _sf_token(sandbox: Sandbox, **form: str) -> requests.Response:
    return requests.post(
        sandbox.url("salesforce") + "/services/oauth2/token", data={"client_id": sf.CLIENT_ID, **form}, timeout=TIMEOUT
    )


def _account_name(sandbox: Sandbox, record_id: str) -> str:
    login = _sf_token(
        sandbox,
        grant_type="password",
        client_secret=sf.CLIENT_SECRET,
        username=sf.USERNAME,
        password=sf.PASSWORD + sf.SECURITY_TOKEN,
    )
    login.raise_for_status()
    response = requests.get(
        sandbox.url("salesforce") + "/services/data/v60.0/query",
        params={"q": f"SELECT Id, Name FROM Account WHERE Id = '{record_id}'"},
        headers={"Authorization": f"Bearer {login.json()['access_token']}"},
        timeout=TIMEOUT,
    )
    response.raise_for_status()
    (row,) = response.json()["records"]
    return str(row["Name"])


def test_every_emulator_registers_with_its_context(sandbox: Sandbox) -> None:
    assert {e.product_id for e in sandbox.ctx.emulators} == set(PRODUCTS)


def test_default_reset_hook_is_a_no_op() -> None:
    class Plain(ProductEmulator):
        product_id = "plain"

        def routes(self) -> list[Any]:
            return []

        def test_credentials(self) -> dict[str, str]:
            return {}

    from xlr8_sandbox.company import Company
    from xlr8_sandbox.platform.admin import reset_sandbox
    from xlr8_sandbox.platform.emulator import SandboxContext

    ctx = SandboxContext(company=Company(scale=5))
    plain = Plain(ctx)
    reset_sandbox(ctx)  # nothing to forget: must simply not fail
    assert list(ctx.emulators) == [plain]


def test_python_reset_restores_salesforce_rows_switches_and_tokens(sandbox: Sandbox) -> None:
    emulator = _emulator(sandbox, "salesforce", SalesforceEmulator)
    record_id = emulator.objects["Account"].record_id(3)
    original = _account_name(sandbox, record_id)
    emulator.touch("Account", 3, Name="Renamed For The Test")
    emulator.api_used, emulator.api_limit, emulator.revoke_sessions_at_request = 4_999, 5_000, 7
    emulator.rotate_refresh_tokens = True
    rotated = _sf_token(sandbox, grant_type="refresh_token", refresh_token=sf.REFRESH_TOKEN)
    assert rotated.status_code == 200
    assert _sf_token(sandbox, grant_type="refresh_token", refresh_token=sf.REFRESH_TOKEN).status_code == 400
    emulator.api_used = 0  # let the name check below through the quota
    assert _account_name(sandbox, record_id) == "Renamed For The Test"

    sandbox.reset()

    assert _account_name(sandbox, record_id) == original
    assert (emulator.api_limit, emulator.revoke_sessions_at_request, emulator.rotate_refresh_tokens) == (
        1_000_000,
        None,
        False,
    )
    assert emulator.api_used == 1  # the name check just made is the only call counted since the reset
    assert _sf_token(sandbox, grant_type="refresh_token", refresh_token=sf.REFRESH_TOKEN).status_code == 200


def test_admin_reset_on_one_port_resets_every_products_emulator(sandbox: Sandbox) -> None:
    successfactors = _emulator(sandbox, "successfactors", SuccessFactorsEmulator)
    ukg = _emulator(sandbox, "ukg_pro", UkgProEmulator)
    workday = _emulator(sandbox, "workday", WorkdayEmulator)
    inserted = requests.post(
        sandbox.url("successfactors") + "/__sandbox/records/insert", json={"count": 2}, timeout=TIMEOUT
    )
    assert inserted.status_code == 200
    assert any(entity.extra for entity in successfactors.entities.values())
    ukg.working_polls, ukg.fail_next_report = 5, "XLR8 Employees"
    ukg.change_windows.append(("2026-01-01", None))
    workday.throttle_soap(3)
    workday.rotate_refresh_tokens = True

    reset = requests.post(sandbox.url("salesforce") + "/__sandbox/reset", timeout=TIMEOUT)

    assert reset.status_code == 200
    assert not any(entity.extra for entity in successfactors.entities.values())
    assert (ukg.working_polls, ukg.fail_next_report, ukg.change_windows) == (1, None, [])
    assert workday._soap_throttle == 0
    assert workday.rotate_refresh_tokens is False
