"""Expanded children in both of Fusion's shapes (audit23b #1): an invoice with 40 lines lands all 40
``invoices_invoiceLines`` rows under framework 2 (arrays) and 4 (collection objects of 25 rows with ``hasMore``,
the rest read from ``invoices/<id>/child/invoiceLines``), and so does a purchase order's 40 lines."""

from __future__ import annotations

import typing as t

import pytest

from xlr8_sandbox.products.oracle_fusion.erp import OracleErpEmulator

from .conftest import erp_config, run_tap

MANY = 40


@pytest.fixture
def long_documents(emulator: OracleErpEmulator) -> t.Iterator[tuple[int, int]]:
    """The first invoice and the first purchase order with 40 lines each: (InvoiceId, POHeaderId)."""
    invoices, orders = emulator.resources["invoices"], emulator.resources["purchaseOrders"]
    lines, po_lines = invoices.children["invoiceLines"], orders.children["lines"]
    line_rows, po_line_rows = lines.rows, po_lines.rows
    invoice_id, po_id = invoices.row(0)["InvoiceId"], orders.row(0)["POHeaderId"]

    def many_lines(header: dict[str, t.Any]) -> list[dict[str, t.Any]]:
        rows = line_rows(header)
        if header["InvoiceId"] != invoice_id:
            return rows
        return [{**rows[0], "LineNumber": k + 1, "Description": f"line {k + 1}"} for k in range(MANY)]

    def many_po_lines(header: dict[str, t.Any]) -> list[dict[str, t.Any]]:
        rows = po_line_rows(header)
        if header["POHeaderId"] != po_id:
            return rows
        return [{**rows[0], "POLineId": rows[0]["POLineId"] * 100 + k, "LineNumber": k + 1} for k in range(MANY)]

    lines.rows, po_lines.rows = many_lines, many_po_lines
    try:
        yield invoice_id, po_id
    finally:
        lines.rows, po_lines.rows = line_rows, po_line_rows


@pytest.mark.parametrize("framework", ["2", "4"])
def test_every_line_of_a_long_document_lands(url: str, long_documents: tuple[int, int], framework: str) -> None:
    invoice_id, po_id = long_documents
    config = erp_config(url, resources=["invoices", "purchaseOrders"], rest_framework_version=framework)
    out = run_tap(config)
    lines = [r for r in out.records("invoices_invoiceLines") if r["InvoiceId"] == invoice_id]
    assert sorted(r["LineNumber"] for r in lines) == list(range(1, MANY + 1))
    assert {r["Description"] for r in lines} == {f"line {k}" for k in range(1, MANY + 1)}
    po_lines = [r for r in out.records("purchaseOrders_lines") if r["POHeaderId"] == po_id]
    assert sorted(r["LineNumber"] for r in po_lines) == list(range(1, MANY + 1))
    others = {r["InvoiceId"] for r in out.records("invoices_invoiceLines")} - {invoice_id}
    assert len(others) == len(out.records("invoices")) - 1  # every other invoice has lines too
