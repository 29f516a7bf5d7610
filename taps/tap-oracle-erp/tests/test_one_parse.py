"""A Fusion body is parsed exactly once: the classifier's first question parses a 2xx JSON body with the product's
parse and keeps it (``FusionClassifier.parse_body``, ``kept_body``), and its status and member checks, the page
reader, the paginator and the describe reader all read that one parse."""

from __future__ import annotations

import pytest

from xlr8_kit.testing.probes import spy_body_reads
from xlr8_sandbox.products.oracle_fusion.erp import OracleErpEmulator

from .conftest import erp_config, run_tap


@pytest.mark.parametrize("width", [1, 4])
def test_every_body_of_a_read_is_parsed_once(
    width: int, url: str, emulator: OracleErpEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Discovery (describe), page 1, the ranges' bounds and pages (width 4) and the pages after them."""
    reads = spy_body_reads(monkeypatch)
    out = run_tap(erp_config(url, resources=["invoices"], max_concurrent_requests=width), streams={"invoices"})
    records = out.records("invoices")
    expected = {invoice.invoice_number for invoice in emulator.company.invoices()}
    assert len(records) == len(expected) > 40
    assert {r["InvoiceNumber"] for r in records} == expected
    pages = [body for body in reads.bodies(1) if b'"items"' in body]
    assert len(pages) >= len(records) // 40  # page_size 40: every page's body was read
    assert reads.bodies(2) == []
    assert set(reads.counts()) == {1}
