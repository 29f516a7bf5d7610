"""A_JournalEntryItemBasic as SAP publishes it: an analytical set (``sap:semantics="aggregate"``, generated key
``ID``) that the emulator groups by the selected dimensions and sums; the tap reads it through its analytical path
(every dimension, ordered by all of them, keyed ``DimensionKey``) over real HTTP and the console script."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs

from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_kit.vocabulary import mapping_for_stream
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.s4hana import S4HanaEmulator
from xlr8_sandbox.testing import S4_JOURNAL_GRAIN, s4_journal_balances
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
