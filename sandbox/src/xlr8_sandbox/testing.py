"""The pytest fixtures every tap's tests start from: one product emulator per test module on an ephemeral port,
reset after each test, and its URL; and a run stopped while the emulator holds its requests. And what an ERP
order's lines should be in Common once mapper-common splits them (``multi_line: split``), for the job tests.

A conftest takes them with ``sandbox, emulator, url = emulator_fixtures("workday", scale=100)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from xlr8_kit.testing.singer_cli import parse_singer_messages, terminated
from xlr8_sandbox.platform.emulator import ProductEmulator
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox, run_sandbox

if TYPE_CHECKING:
    from xlr8_kit.credentials.manager import CredentialManager


def emulator_fixtures(product: str, *, scale: int = 100) -> tuple[Any, Any, Any]:
    """``sandbox`` (module scope: starting emulators is the slow part), ``emulator`` (reset afterwards: no faults,
    latency, inserted records or request log, clock at its start) and ``url``."""

    @pytest.fixture(scope="module", name="sandbox")
    def sandbox_fixture() -> Iterator[Sandbox]:
        with run_sandbox([product], scale=scale) as running:
            yield running

    @pytest.fixture(name="emulator")
    def emulator_fixture(sandbox: Sandbox) -> Iterator[ProductEmulator]:
        yield sandbox.emulator(product)
        sandbox.reset()

    @pytest.fixture(name="url")
    def url_fixture(sandbox: Sandbox) -> str:
        return sandbox.url(product)

    return sandbox_fixture, emulator_fixture, url_fixture


def workday_credential_store(db_path: Path, monkeypatch: pytest.MonkeyPatch, credential_id: str) -> CredentialManager:
    """An encrypted credential store at ``db_path`` (its key in the environment a tap run reads) holding the Workday
    emulator's OAuth client and refresh token as ``credential_id`` (``workday_hcm``): the store of the tests that run
    Workday by ``credential_id`` (B5/B6, lease waits). The caller closes the returned ``CredentialManager``."""
    from xlr8_kit.credentials.model import AuthType, ProductCredential
    from xlr8_kit.testing.credential_store import seeded_credential_store
    from xlr8_sandbox.products.workday import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN

    return seeded_credential_store(
        db_path,
        monkeypatch,
        ProductCredential(
            credential_id=credential_id,
            project_id="acme",
            product_id="workday_hcm",
            auth_type=AuthType.OAUTH2_REFRESH_TOKEN,
            credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN},
        ),
    )


def stopped_while_stuck(
    sandbox: Sandbox, product: str, path_glob: str, stall: FaultSpec, args: Sequence[str], *, settle: float = 0.0
) -> tuple[int, list[dict[str, Any]], str]:
    """``args`` (a tap's console script) run until the emulator holds one of its requests by ``stall`` (a fault on
    ``path_glob``), then stopped by SIGTERM ``settle`` s later: its exit code, Singer messages and stderr. The fault
    is removed whatever happens."""
    stuck = sandbox.faults.add(product, path_glob, stall)
    try:
        code, _, out, err = terminated(args, lambda: stuck.fired > 0, f"a request to {path_glob} held", settle=settle)
    finally:
        sandbox.faults.clear(product)
    return code, parse_singer_messages(out), err


#: The dimensions of S/4's journal set that vary in the company's postings (the others follow from them).
S4_JOURNAL_GRAIN = ("CompanyCode", "GLAccount", "CostCenter", "FiscalYearPeriod", "CompanyCodeCurrency")


def s4_journal_balances(company: Any) -> dict[tuple[str, ...], Decimal]:
    """The company's postings summed per ``S4_JOURNAL_GRAIN`` (debit positive, credit negative), worked out from
    the journals themselves: what the full grain of S/4's analytical ``A_JournalEntryItemBasic`` must hold."""
    sums: dict[tuple[str, ...], Decimal] = {}
    for journal in company.journals():
        period = f"{journal.posted_date.year}{journal.posted_date.month:03d}"
        for line in journal.lines:
            key = (journal.legal_entity, line.account_number.zfill(8), line.cost_center, period, journal.currency)
            sums[key] = sums.get(key, Decimal(0)) + line.debit - line.credit
    return sums


def s4_lines_as_common(s4: Any, prefix: str = "") -> dict[str, dict[str, Any]]:
    """Every item of every S/4 order (``S4Data``) as ``multi_line: split`` lands it in Common: po_number
    <prefix><order>-<item> (the order's first item, its lowest number: <prefix><order>), the item's values and
    schedule line's date, the order's status (cancelled when the item or the order is deleted)."""
    status = {"01": "draft", "02": "amendment_pending", "03": "pending", "05": "confirmed", "08": "cancelled"}
    expected = {}
    for i in range(s4.company.purchase_order_count):
        order = s4.purchase_order(i)
        items = s4.items_of_order(order)
        first = min(int(item["PurchaseOrderItem"]) for item in items) if items else None
        for item in items:
            deleted = "L" in (order["PurchasingDocumentDeletionCode"], item["PurchasingDocumentDeletionCode"])
            line = f"-{item['PurchaseOrderItem']}" if int(item["PurchaseOrderItem"]) != first else ""
            expected[f"{prefix}{order['PurchaseOrder']}{line}"] = {
                "product_id": item["Material"],
                "product_name": item["PurchaseOrderItemText"],
                "unit": item["PurchaseOrderQuantityUnit"],
                "quantity": Decimal(str(item["OrderQuantity"])),
                "unit_price": Decimal(str(item["NetPriceAmount"])),
                "delivery_date": s4.schedule_lines_of_item(item)[0]["ScheduleLineDeliveryDate"].date().isoformat(),
                "status": "cancelled" if deleted else status[order["PurchasingProcessingStatus"]],
                "currency": order["DocumentCurrency"],
                "order_date": order["PurchaseOrderDate"].date().isoformat(),
            }
    return expected


def fusion_lines_as_common(orders: Iterable[dict[str, Any]], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Every line of Fusion's purchase orders (as ``expand=lines.schedules`` serves them) as ``multi_line: split``
    with ``price_rounding: half_up`` lands it in Common: po_number <prefix><OrderNumber>/<LineNumber> (the order's
    first line, its lowest number: <prefix><OrderNumber>), the line's values, its price rounded half up to cents,
    its schedule's requested date; a line the buyer cancelled (``CancelFlag``) is a cancelled PO."""
    status = {"OPEN": "confirmed", "CLOSED FOR RECEIVING": "received", "CLOSED": "delivered", "CANCELED": "cancelled"}
    expected = {}
    for order in orders:
        created = datetime.fromisoformat(str(order["CreationDate"]).replace("Z", "+00:00"))
        first = min((int(line["LineNumber"]) for line in order["lines"]), default=None)
        for line in order["lines"]:
            number = f"/{line['LineNumber']}" if int(line["LineNumber"]) != first else ""
            expected[f"{prefix}{order['OrderNumber']}{number}"] = {
                "product_id": line["Item"],
                "product_name": line["Description"],
                "unit": line["UOMCode"],
                "quantity": Decimal(str(line["Quantity"])),
                "unit_price": Decimal(str(line["Price"])).quantize(Decimal("0.01"), ROUND_HALF_UP),
                "total_amount": Decimal(str(line["Amount"])),
                "delivery_date": line["schedules"][0]["RequestedDeliveryDate"][:10],
                "status": "cancelled" if line.get("CancelFlag") is True else status[order["StatusCode"]],
                "currency": order["CurrencyCode"],
                "order_date": created.astimezone(UTC).date().isoformat(),
            }
    return expected


def landed_as(po: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """Common's ``po`` in the terms of ``expected`` (exact decimals where it has them), for one equality."""
    return {name: Decimal(po[name]) if isinstance(value, Decimal) else po[name] for name, value in expected.items()}
