"""A sort pass's dates drawn alone are the whole records' dates (issue 14 goal 1, cold18).

Oracle ERP sorts purchase orders, invoices and journal lines on ``LastUpdateDate`` (the order, invoice or posted
date) before it serves a page. Over more records than the company's memo holds, the records a sort pass built
were evicted before any page read them again, so ``Company.purchase_order_date``, ``invoice_date`` and
``journal_outline`` then make only the record's first draws. Checked here against the builders as they were
before (kept below, drawing in their own order), on many seeds and scales, with the memo at its size and shrunk
so the partial draws serve; and the whole records are unchanged. ``test_served_bytes_golden`` reads the three
streams over HTTP with the memo shrunk as well.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

import xlr8_sandbox.company as company_module
from xlr8_sandbox.company import EPOCH, Company, JournalEntry, JournalLine
from xlr8_sandbox.seeded import below

SEEDS_AND_SCALES = [(0, 10), (1, 57), (7, 300), (42, 1000), (99_991, 2_500)]


def _reference_purchase_order(c: Company, i: int) -> dict[str, Any]:
    """``_build_purchase_order`` before cold18, as plain values (``randrange``'s words through ``below``)."""
    draw = c._rng("purchase_order", i).getrandbits
    supplier = c.supplier(below(draw, c.supplier_count))
    return {
        "index": i,
        "po_id": f"PO{i + 1:08d}",
        "supplier_id": supplier.supplier_id,
        "buyer_employee_id": f"E{below(draw, c.scale) + 1:06d}",
        "order_date": EPOCH.date() - timedelta(days=1 + below(draw, 729)),
        "status": company_module._PO_STATUSES[below(draw, 5)],
        "currency": supplier.currency,
        "amount": Decimal(10_000 + below(draw, 9_990_000)) / 100,
        "line_count": 1 + below(draw, 7),
    }


def _reference_invoice(c: Company, i: int) -> dict[str, Any]:
    """``_build_invoice`` before cold18, as plain values."""
    r = c._rng("invoice", i)
    draw = r.getrandbits
    po = _reference_purchase_order(c, below(draw, c.purchase_order_count)) if r.random() < 0.7 else None
    supplier = c.supplier(below(draw, c.supplier_count)) if po is None else None
    invoice_date = EPOCH.date() - timedelta(days=1 + below(draw, 699))
    return {
        "index": i,
        "invoice_id": f"INV{i + 1:08d}",
        "supplier_id": po["supplier_id"] if po is not None else supplier.supplier_id,  # type: ignore[union-attr]
        "po_id": po["po_id"] if po is not None else None,
        "invoice_number": f"{10_000 + below(draw, 89_999)}-{i + 1}",
        "invoice_date": invoice_date,
        "due_date": invoice_date + timedelta(days=company_module._INVOICE_TERMS[below(draw, 3)]),
        "amount": po["amount"] if po is not None else Decimal(5_000 + below(draw, 1_995_000)) / 100,
        "currency": po["currency"] if po is not None else supplier.currency,  # type: ignore[union-attr]
        "status": company_module._INVOICE_STATUSES[below(draw, 6)],
    }


def _reference_journal(c: Company, i: int) -> JournalEntry:
    """``_build_journal`` before cold18."""
    draw = c._rng("journal", i).getrandbits
    entity = c.legal_entities[below(draw, len(c.legal_entities))]
    currency = "CAD" if entity.code == "C200" else "USD"
    accounts = c.gl_accounts
    expense = accounts[11 + below(draw, len(accounts) - 11)]
    offset = accounts[company_module._OFFSET_ACCOUNTS[below(draw, 4)]]
    cost_center = c.cost_centers[below(draw, len(c.cost_centers))].code
    amounts = [Decimal(1_000 + below(draw, 4_999_000)) / 100 for _ in range(1 + below(draw, 3))]
    lines = [
        JournalLine(n + 1, expense.number, amount, Decimal(0), cost_center, f"{expense.name} accrual")
        for n, amount in enumerate(amounts)
    ]
    total = sum(amounts, Decimal(0))
    lines.append(JournalLine(len(lines) + 1, offset.number, Decimal(0), total, cost_center, offset.name))
    return JournalEntry(
        index=i,
        journal_id=f"JE{i + 1:08d}",
        ledger=f"{entity.name} Primary",
        legal_entity=entity.code,
        posted_date=EPOCH.date() - timedelta(days=1 + below(draw, 729)),
        description=f"{expense.name} {company_module._JOURNAL_KINDS[below(draw, 4)]}",
        currency=currency,
        status="Posted",
        lines=tuple(lines),
    )


@pytest.mark.parametrize("memo", [company_module._MEMO_SIZE, 0, 3])
@pytest.mark.parametrize(("seed", "scale"), SEEDS_AND_SCALES)
def test_sort_dates_and_records_match_the_builders_before(
    seed: int, scale: int, memo: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The memo's size chooses the path (whole record while it holds every record, the first draws alone
    otherwise); both give the reference dates, and the whole records stay the reference records."""
    monkeypatch.setattr(company_module, "_MEMO_SIZE", memo)
    c = Company(seed=seed, scale=scale)
    reference = Company(seed=seed, scale=scale)
    orders = [_reference_purchase_order(reference, i) for i in range(c.purchase_order_count)]
    invoices = [_reference_invoice(reference, i) for i in range(c.invoice_count)]
    assert [c.purchase_order_date(i) for i in range(c.purchase_order_count)] == [o["order_date"] for o in orders]
    assert [c.invoice_date(i) for i in range(c.invoice_count)] == [v["invoice_date"] for v in invoices]
    assert [vars(c.purchase_order(i)) for i in range(c.purchase_order_count)] == orders
    assert [vars(c.invoice(i)) for i in range(c.invoice_count)] == invoices
    journals = [_reference_journal(reference, i) for i in range(c.journal_count)]
    assert [c.journal_outline(i) for i in range(c.journal_count)] == [(len(j.lines), j.posted_date) for j in journals]
    assert [c.journal(i) for i in range(c.journal_count)] == journals
    assert all(line.line_number == k + 1 for j in journals for k, line in enumerate(j.lines))  # the sort keys' rule
    # Sorted the way the ERP emulator's sort pass sorts them, the orders and invoices come out in the same order.
    by_date = sorted(range(c.invoice_count), key=lambda i: (c.invoice_date(i), i))
    assert by_date == sorted(range(c.invoice_count), key=lambda i: (invoices[i]["invoice_date"], i))
