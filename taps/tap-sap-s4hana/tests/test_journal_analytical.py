"""A_JournalEntryItemBasic as SAP publishes it: an analytical set (``sap:semantics="aggregate"``, generated key
``ID``) that the emulator groups by the selected dimensions and sums; the tap reads it through its analytical path
(every dimension, ordered by all of them, keyed ``DimensionKey``) over real HTTP and the console script."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from xlr8_kit.connectors import ConnectorError
from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_kit.vocabulary import mapping_for_stream
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.s4hana import S4HanaEmulator
from xlr8_sandbox.testing import S4_JOURNAL_GRAIN, s4_journal_balances
from xlr8_tap_sap_s4hana.connector import SapS4HanaConnector
from xlr8_tap_sap_s4hana.discovery import DIMENSION_KEY_COLUMN

from .conftest import basic_config

JOURNAL = "A_JournalEntryItemBasic"
SERVICE = "API_JOURNALENTRYITEMBASIC_SRV"
#: The dimensions the emulator's set serves, in $metadata order (what every window must be ordered by).
DIMENSIONS = [
    "Ledger", "LedgerFiscalYear", "ControllingArea", "CompanyCode", "CompanyCodeName", "GLAccount", "GLAccountName",
    "CostCenter", "ProfitCenter", "TransactionCurrency", "CompanyCodeCurrency", "FiscalPeriod", "FiscalYearVariant",
    "FiscalYearPeriod", "ChartOfAccounts",
]  # fmt: skip


def _run(args: list[str], tmp_path: Path) -> tuple[int, str, str]:
    done = run_tap_cli("tap-sap-s4hana", args, tmp_path)
    return done.returncode, done.stdout, done.stderr


def _discover(url: str, tmp_path: Path, **extra: object) -> tuple[str, dict[str, object]]:
    config_file = write_json(tmp_path / "config.json", basic_config(url, services=[SERVICE], **extra))
    rc, out, err = _run(["--config", config_file, "--discover"], tmp_path)
    assert rc == 0, err
    return config_file, json.loads(out)


def _journal_windows(emulator: S4HanaEmulator) -> list[dict[str, list[str]]]:
    return [parse_qs(q) for p, q in emulator.queries if p.endswith(f"/{JOURNAL}")]


def test_discovery_shows_the_analytical_set_keyed_by_its_dimensions(url: str, tmp_path: Path) -> None:
    _, catalog = _discover(url, tmp_path)
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}  # type: ignore[attr-defined]
    journal = streams[JOURNAL]
    assert journal["key_properties"] == [DIMENSION_KEY_COLUMN]
    assert journal.get("replication_key") is None  # no change stamp on an analytical set: read whole every run
    properties = journal["schema"]["properties"]
    assert {"ID", DIMENSION_KEY_COLUMN, *DIMENSIONS, "AmountInCompanyCodeCurrency"} <= set(properties)
    for fabricated in ("AccountingDocument", "LedgerGLLineItem", "LastChangeDate", "PostingDate", "SourceLedger"):
        assert fabricated not in properties  # none of these is on SAP's published set
    root = next(m["metadata"] for m in journal["metadata"] if not m["breadcrumb"])
    assert root["forced-replication-method"] == "FULL_TABLE"
    # The product vocabulary reads only columns the set has (no journal number, posting date or item text).
    mapping = mapping_for_stream("s4hana", JOURNAL)
    assert mapping is not None
    assert mapping.entity == "journal_entry"
    assert {spec.column for spec in mapping.fields.values()} <= set(properties)


def test_a_two_page_read_lands_every_aggregated_row_once_with_its_sum(
    url: str, sandbox: Sandbox, emulator: S4HanaEmulator, tmp_path: Path
) -> None:
    emulator.shuffle_ties = True  # ties in another order per window: only a complete $orderby lands each row once
    expected = s4_journal_balances(sandbox.ctx.company)
    page = -(-len(expected) // 2)  # two windows hold every row
    config_file, catalog = _discover(url, tmp_path, page_size=page)
    catalog_file = write_json(tmp_path / "catalog.json", select_streams(catalog, {JOURNAL}))
    emulator.queries.clear()
    rc, out, err = _run(["--config", config_file, "--catalog", catalog_file], tmp_path)
    assert rc == 0, err
    records = [m["record"] for m in parse_singer_messages(out, exact_decimals=True)
               if m["type"] == "RECORD" and m["stream"] == JOURNAL]  # fmt: skip
    assert len({r[DIMENSION_KEY_COLUMN] for r in records}) == len(records)  # each aggregated row once
    landed = {tuple(r[d] for d in S4_JOURNAL_GRAIN): r["AmountInCompanyCodeCurrency"] for r in records}
    assert len(landed) == len(records) == len(expected)
    assert landed == expected
    assert all(r["AmountInTransactionCurrency"] == r["AmountInCompanyCodeCurrency"] for r in records)
    assert sum(landed.values()) == 0  # every journal balances
    windows = [w for w in _journal_windows(emulator) if "$top" in w]
    assert [int(w.get("$skip", ["0"])[0]) for w in windows][:2] == [0, page]
    assert all(w["$orderby"] == [",".join(DIMENSIONS)] for w in windows)
    assert all("$select" not in w for w in windows)  # every dimension: the set's full grain


def test_a_deselected_dimension_is_still_read_and_dropped_after(
    url: str, sandbox: Sandbox, emulator: S4HanaEmulator, tmp_path: Path
) -> None:
    emulator.shuffle_ties = True
    expected = s4_journal_balances(sandbox.ctx.company)
    config_file, catalog = _discover(url, tmp_path, page_size=40)
    selected = select_streams(catalog, {JOURNAL})
    stream = next(s for s in selected["streams"] if s["tap_stream_id"] == JOURNAL)
    for entry in stream["metadata"]:
        if entry["breadcrumb"] == ["properties", "CostCenter"]:
            entry["metadata"]["selected"] = False
    catalog_file = write_json(tmp_path / "catalog.json", selected)
    emulator.queries.clear()
    rc, out, err = _run(["--config", config_file, "--catalog", catalog_file], tmp_path)
    assert rc == 0, err
    records = [m["record"] for m in parse_singer_messages(out, exact_decimals=True)
               if m["type"] == "RECORD" and m["stream"] == JOURNAL]  # fmt: skip
    assert records
    assert all("CostCenter" not in r for r in records)
    # Full grain all the same: one row per combination including the cost center, amounts not summed over it.
    assert len({r[DIMENSION_KEY_COLUMN] for r in records}) == len(records) == len(expected)
    assert sorted(r["AmountInCompanyCodeCurrency"] for r in records) == sorted(expected.values())
    windows = _journal_windows(emulator)
    assert windows
    assert all("$select" not in w and "CostCenter" in w["$orderby"][0] for w in windows)


def test_connector_windows_are_ordered_by_every_column_of_the_answer(
    url: str, sandbox: Sandbox, emulator: S4HanaEmulator
) -> None:
    """An ad-hoc analytical query is grouped by the dimensions it selects and by each selected measure's unit (SAP
    adds it): ordered by the account alone, an account posted in USD and in CAD was two tied rows whose order
    differs per request, and a window doubled one and missed the other (review29d M1). The unit joins $orderby."""
    emulator.shuffle_ties = True
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for journal in sandbox.ctx.company.journals():
        for line in journal.lines:
            sums[(line.account_number.zfill(8), journal.currency)] += line.debit - line.credit
    per_currency: dict[str, Decimal] = defaultdict(Decimal)
    for (_, currency), amount in sums.items():
        per_currency[currency] += amount
    emulator.queries.clear()
    with SapS4HanaConnector(basic_config(url, services=[SERVICE], page_size=5)) as s4:
        rows = list(s4.execute_query(f"{JOURNAL}?$select=GLAccount,AmountInCompanyCodeCurrency"))
        totals = list(s4.execute_query(f"{JOURNAL}?$select=AmountInCompanyCodeCurrency"))
    assert len(sums) > len({account for account, _ in sums})  # accounts posted in two currencies: tied rows
    assert len(sums) > 5  # several windows
    got = [((r["GLAccount"], r["CompanyCodeCurrency"]), r["AmountInCompanyCodeCurrency"]) for r in rows]
    assert len(got) == len(sums)
    assert dict(got) == dict(sums)
    assert {c: r["AmountInCompanyCodeCurrency"] for r in totals for c in [r["CompanyCodeCurrency"]]} == per_currency
    windows = [w for w in _journal_windows(emulator) if "$top" in w]
    assert {w["$orderby"][0] for w in windows} == {"GLAccount,CompanyCodeCurrency", "CompanyCodeCurrency"}
    assert all(w["$select"][0].endswith(",CompanyCodeCurrency") for w in windows)


def test_connector_refuses_an_analytical_query_it_cannot_order(url: str, emulator: S4HanaEmulator) -> None:
    """No dimension selected and no measure with a unit: nothing to order the windows by. Before, they went out
    with no $orderby at all (review29d M1); now a clear error naming $select, and nothing is requested."""
    emulator.queries.clear()
    with (
        SapS4HanaConnector(basic_config(url, services=[SERVICE], page_size=5)) as s4,
        pytest.raises(ConnectorError, match=r"A_JournalEntryItemBasic is an analytical set and \$select=ID names no"),
    ):
        list(s4.execute_query(f"{JOURNAL}?$select=ID"))
    assert not _journal_windows(emulator)
