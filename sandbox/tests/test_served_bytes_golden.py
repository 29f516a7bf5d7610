"""Golden guard for emulator speed work (issue 14 goal 1): what the emulators serve, byte for byte, on a fixed seed.

Each case reads one stream with the bench's ceiling reader (``bench/ceilings/<product>.py``: plain ``requests``,
the vendor's own flow: login, describe, pages, jobs, reports) against a fresh in-process sandbox, twice (cold, then
warm from the emulator's caches), and hashes every response: method, path and query, status, content type and
body. Both reads must give the digest recorded before the speed-ups, so a single changed byte fails.

Only run-time values are made fixed: issued tokens, cursor ids and uuid4s come from counters (``secrets`` and
``uuid4`` are patched for the test), the emulator's ephemeral URL is blanked, and a job's status poll counts once
(its last answer), since how often a client polls depends on timing.

To re-record after an intended change of output: ``XLR8_GOLDEN_UPDATE=1 uv run --frozen pytest
sandbox/tests/test_served_bytes_golden.py``.
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import json
import os
import re
import secrets
import sys
import uuid
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from xlr8_sandbox import company as company_module
from xlr8_sandbox.platform.server import run_sandbox
from xlr8_sandbox.products.oracle_fusion import hcm as hcm_module

ROOT = Path(__file__).resolve().parents[2]
DIGESTS = Path(__file__).with_name("served_bytes_digests.json")
SEED = 42

#: (case id, product, ceiling stream, scale, environment for the ceiling reader).
CASES: list[tuple[str, str, str, int, dict[str, str]]] = [
    ("salesforce-rest-Account", "salesforce", "Account", 6000, {"XLR8_BENCH_SALESFORCE_API": "rest"}),
    ("salesforce-rest-Contact", "salesforce", "Contact", 1000, {"XLR8_BENCH_SALESFORCE_API": "rest"}),
    ("salesforce-rest-Opportunity", "salesforce", "Opportunity", 1000, {"XLR8_BENCH_SALESFORCE_API": "rest"}),
    ("salesforce-rest-Lead", "salesforce", "Lead", 1000, {"XLR8_BENCH_SALESFORCE_API": "rest"}),
    ("salesforce-bulk-Account", "salesforce", "Account", 3000, {"XLR8_BENCH_SALESFORCE_API": "bulk"}),
    ("salesforce-bulk-Contact", "salesforce", "Contact", 1000, {"XLR8_BENCH_SALESFORCE_API": "bulk"}),
    ("successfactors-User", "successfactors", "User", 2500, {}),
    ("successfactors-EmpJob", "successfactors", "EmpJob", 1000, {}),
    ("workday-raas-worker_report", "workday", "worker_report", 1500, {}),
    ("workday-soap-workers", "workday", "soap_workers", 500, {}),
    ("workday-rest-workers", "workday", "workers", 1500, {}),
    ("ukg_pro-raas-employees", "ukg_pro", "raas_xlr8_employees", 1500, {}),
    ("ukg_pro-raas-earnings_history", "ukg_pro", "raas_xlr8_earnings_history", 300, {}),
    ("ukg_pro-rest-employment_details", "ukg_pro", "employment_details", 1500, {}),
    ("ukg_wfm-timecards", "ukg_wfm", "timecards", 600, {}),
    ("ukg_wfm-schedules", "ukg_wfm", "schedules", 600, {}),
    ("ukg_ready-report-pay_statements", "ukg_ready", "pay_statements", 300, {}),
    ("ukg_ready-rest-employees", "ukg_ready", "employees", 1500, {}),
    ("s4hana-purchase_order_items", "s4hana", "A_PurchaseOrderItem", 3000, {}),
    ("s4hana-journal_entry_items", "s4hana", "A_JournalEntryItemBasic", 1000, {}),
    # the analytical answer past the ceiling's window (PAGE 1000): window boundaries of an aggregated answer
    ("s4hana-journal_entry_items-paged", "s4hana", "A_JournalEntryItemBasic", 3000, {}),
    ("oracle_hcm-workers", "oracle_hcm", "workers", 1000, {}),
    ("oracle_hcm-absences", "oracle_hcm", "absences", 500, {}),
    ("oracle_erp-invoices", "oracle_erp", "invoices", 1000, {}),
    ("oracle_erp-purchase_orders", "oracle_erp", "purchaseOrders", 1000, {}),
    # no top-level journalLines on a pod (audit25a F2): the emulator serves it to this recorded read only when told
    ("oracle_erp-journal_lines", "oracle_erp", "journalLines", 1000, {"XLR8_SANDBOX_FUSION_UNLISTED": "1"}),
    ("common-purchase_orders", "common", "purchase_orders", 1000, {}),
    ("common-pending_updates", "common", "erp_sync_pending_updates", 1000, {}),
]


def ceiling_module(product: str) -> ModuleType:
    """The bench's reader for ``product`` (some import shared helpers as ``ceilings._x``: bench/ goes on the path)."""
    bench = str(ROOT / "bench")
    if bench not in sys.path:
        sys.path.append(bench)
    return importlib.import_module(f"ceilings.{product}")


#: The day the digests were recorded: Workday's report windows end on the reading day, and their requests name it.
GOLDEN_DAY = date(2026, 12, 5)

#: Wall-clock readings in bodies: an OAuth answer's ``issued_at`` and the signature over it, a Bulk job's dates.
VOLATILE = [re.compile(rb'"issued_at":"\d+"'), re.compile(rb'"signature":"[^"]*"'),
            re.compile(rb'"(createdDate|systemModstamp)":"[^"]*"')]  # fmt: skip


class Recorder:
    """Every response the reader gets, in order, keyed so that repeated status polls keep only their last answer."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.responses: dict[str, bytes] = {}
        self.order: list[str] = []

    def add(self, response: requests.Response) -> None:
        request = response.request
        split = urlsplit(request.url or "")
        key = f"{request.method} {split.path}?{split.query}"
        body = response.content.replace(self.base.encode(), b"<url>")
        host = self.base.split("//", 1)[1]
        body = body.replace(host.encode(), b"<host>")
        for pattern in VOLATILE:
            body = pattern.sub(b"<volatile>", body)
        record = b"\n".join([key.encode(), str(response.status_code).encode(),
                             response.headers.get("content-type", "").encode(), body])  # fmt: skip
        if key not in self.responses:
            self.order.append(key)
        self.responses[key] = record

    def digest(self) -> tuple[int, str]:
        digest = hashlib.sha256()
        for key in self.order:
            digest.update(hashlib.sha256(self.responses[key]).digest())
        return len(self.order), digest.hexdigest()


class Counter:
    """Stands in for the randomness of tokens, cursor ids and uuid4s; restarted before each read."""

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self._next = itertools.count(1)

    def __call__(self) -> int:
        return next(self._next)


@pytest.fixture
def fixed_randomness(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Tokens, cursor ids and uuid4s from a counter, so a read's bodies depend only on the requests made."""
    counter = Counter()
    monkeypatch.setattr(secrets, "token_hex", lambda n=32: f"{counter():0{2 * (n or 32)}x}")
    monkeypatch.setattr(secrets, "token_urlsafe", lambda n=32: f"tok{counter():0{n or 32}d}")
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=counter()))
    return counter


def read_digest(product: str, stream: str, scale: int, counter: Counter,
                monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str, int]]:  # fmt: skip
    module = ceiling_module(product)
    if hasattr(module, "reading_day"):  # a reader whose requests name today's date reads as on the recorded day
        monkeypatch.setattr(module, "reading_day", lambda: GOLDEN_DAY)
    reads: list[tuple[int, str, int]] = []
    original_send = requests.Session.send
    with run_sandbox([product], seed=SEED, scale=scale) as sandbox:
        url = sandbox.url(product)
        credentials = sandbox.emulator(product).test_credentials()
        for _ in ("cold", "warm"):
            recorder = Recorder(url)
            counter.restart()

            def send(
                self: requests.Session, request: Any, recorder: Recorder = recorder, **kwargs: Any
            ) -> requests.Response:
                response = original_send(self, request, **kwargs)
                recorder.add(response)
                return response

            requests.Session.send = send  # type: ignore[method-assign]
            try:
                rows = sum(1 for _ in module.read(url, credentials, stream))
            finally:
                requests.Session.send = original_send  # type: ignore[method-assign]
            count, digest = recorder.digest()
            reads.append((count, digest, rows))
    return reads


#: The sorted Oracle ERP reads and S/4HANA's journal items again with the company's memo shrunk to 8 records: at the
#: golden's scale every record fits it, so this is how their passes over every record (a sort, row offsets) take
#: the partial draws (``Company.purchase_order_date``, ``invoice_date``, ``journal_outline``) that they take at scale
#: 100,000; the bytes must be the recorded ones. Oracle HCM workers the same way with the emulator's employee memo
#: shrunk (its sort pass then reads ``Company.employee_last_modified``, as at scale 100,000).
OUTGROWN = {
    "oracle_hcm-workers",
    "oracle_erp-invoices",
    "oracle_erp-purchase_orders",
    "oracle_erp-journal_lines",
    "s4hana-journal_entry_items",
}
RUNS = [(*c, None) for c in CASES] + [(*c, 8) for c in CASES if c[0] in OUTGROWN]


@pytest.mark.parametrize(
    ("case", "product", "stream", "scale", "env", "memo"),
    RUNS,
    ids=[r[0] + (f"-memo{r[5]}" if r[5] else "") for r in RUNS],
)
def test_served_bytes_match_golden(
    case: str,
    product: str,
    stream: str,
    scale: int,
    env: dict[str, str],
    memo: int | None,
    fixed_randomness: Counter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if memo is not None:
        monkeypatch.setattr(company_module, "_MEMO_SIZE", memo)
        monkeypatch.setattr(hcm_module, "_EMPLOYEE_MEMO", memo)
    (cold_count, cold, rows), (warm_count, warm, warm_rows) = read_digest(
        product, stream, scale, fixed_randomness, monkeypatch
    )
    assert rows > 0, f"{case}: the reader got no rows"
    found = {"responses": cold_count, "rows": rows, "sha256": cold}
    if os.environ.get("XLR8_GOLDEN_UPDATE") == "1" and memo is None:
        recorded = json.loads(DIGESTS.read_text()) if DIGESTS.exists() else {}
        recorded[case] = found
        DIGESTS.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")
    expected = json.loads(DIGESTS.read_text())[case]
    assert found == expected, f"{case}: the cold read served different bytes than the golden"
    assert (warm_count, warm_rows, warm) == (cold_count, rows, cold), f"{case}: the warm read differs from the cold"
