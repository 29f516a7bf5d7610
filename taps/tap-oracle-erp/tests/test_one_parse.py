"""A Fusion body is parsed exactly once: the classifier's first question parses a 2xx JSON body with the product's
parse and keeps it (``FusionClassifier.parse_body``, ``kept_body``), and its status and member checks, the page
reader, the paginators and ``FusionClient.request_json`` (describe, ESS) all read that one parse."""

from __future__ import annotations

import pytest

from xlr8_kit.testing.probes import spy_body_reads
from xlr8_sandbox.products.oracle_fusion.erp import INVOICE_JOB, OracleErpEmulator
from xlr8_tap_oracle_erp.connector import OracleErpConnector

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


def test_an_ess_job_reads_each_answer_once(
    url: str, emulator: OracleErpEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The submit answer, the status polls and the output document (a base64 zip inside JSON, the largest body of
    the bulk path) are each parsed once: the classifier's kept parse is what ``request_json`` returns."""
    emulator.job_running_polls = 2
    reads = spy_body_reads(monkeypatch)
    with OracleErpConnector(erp_config(url)) as connector:
        rows = list(connector.execute_ess_job(*INVOICE_JOB, parameters=["2025-01-01"]))
    assert len(rows) == emulator.company.invoice_count
    assert {r["InvoiceNumber"] for r in rows} == {i.invoice_number for i in emulator.company.invoices()}
    answers = reads.bodies(1)
    assert any(b"ReqstId" in answer for answer in answers)  # the submit answer
    assert any(b"DocumentContent" in answer for answer in answers)  # the output
    assert set(reads.counts()) == {1}
