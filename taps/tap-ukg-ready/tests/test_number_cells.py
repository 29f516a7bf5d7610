"""A report's integer and number columns refuse texts ``int``/``Decimal`` would change (mendukg24 "left", as
tap-ukg-pro's RaaS reports since audit24b M6): ``04411`` would land as 4411 (a badge losing its zero), ``NaN`` and
``Infinity`` as numbers. The run stops with an error naming the report and the column; the row never goes out."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_sandbox.company import Company
from xlr8_sandbox.products.ukg_ready import UkgReadyEmulator
from xlr8_tap_ukg_ready import reports

from .conftest import REPORTS, SCALE, ready_config

STATEMENTS = [s.statement_id for s in Company(seed=42, scale=SCALE).pay_statements()]
BAD = STATEMENTS[3]


@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.parametrize(
    ("vendor_type", "good", "bad"), [("INTEGER", "4411", "04411"), ("DECIMAL", "12.50", "NaN"),
                                     ("DECIMAL", "12.50", "Infinity"), ("INTEGER", "7", "+7")],
)  # fmt: skip
def test_a_number_text_that_would_change_stops_the_run_naming_report_and_column(
    url: str, emulator: UkgReadyEmulator, tmp_path: Path, fmt: str, vendor_type: str, good: str, bad: str
) -> None:
    emulator.add_report_column("saved", 1001, "Badge", vendor_type, lambda s: bad if s.statement_id == BAD else good)
    write_json(tmp_path / "config.json", ready_config(url, reports=REPORTS, report_format=fmt))
    discovered = run_tap_cli("tap-ukg-ready", ["--config", "config.json", "--discover"], tmp_path)
    assert discovered.returncode == 0, discovered.stderr
    write_json(tmp_path / "catalog.json", select_streams(json.loads(discovered.stdout), {"pay_statements"}))
    synced = run_tap_cli("tap-ukg-ready", ["--config", "config.json", "--catalog", "catalog.json"], tmp_path)
    assert synced.returncode != 0
    assert "report 'XLR8 Pay Statements' (saved/1001, stream 'pay_statements'): report column 'Badge'" in synced.stderr
    assert "leading zero" in synced.stderr
    records = [m["record"] for m in parse_singer_messages(synced.stdout) if m["type"] == "RECORD"]
    assert BAD not in {r["PayStatementId"] for r in records}  # the row never went out
    assert records  # the rows before it did
    assert all(Decimal(str(r["Badge"])) == Decimal(good) for r in records)


def test_plain_numbers_still_land_and_json_numbers_are_checked() -> None:
    read_integer, read_number = reports.cell_reader("integer", "Badge"), reports.cell_reader("number", "Pay")
    assert [read_integer(v) for v in ("0", "-5", "4411", "", None, 12)] == [0, -5, 4411, None, None, 12]
    assert [str(read_number(v)) for v in ("0.50", "-12.25", "100")] == ["0.50", "-12.25", "100"]
    for value in (12.5, float("nan"), True):  # JSON: a fraction under an integer column, NaN, a boolean
        with pytest.raises(reports.ReportDataError, match="'Badge'"):
            read_integer(value)
    with pytest.raises(reports.ReportDataError, match="'Pay'"):
        read_number(float("inf"))
