"""What one discovery run inferred is checked at sync time (audit24b M6). (a) A key inferred from the run
discovery saw must stay unique in every run: a repeat stops the stream naming the report and the column, where
the target would have upserted the rows into one and counted them all as loaded. (b) An integer or number column
refuses a text with a leading zero, NaN or Infinity (``04411`` would become 4411)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_sandbox.products.ukg_pro import UkgProEmulator
from xlr8_sandbox.products.ukg_pro.raas import FOLDER
from xlr8_tap_ukg_pro import discovery
from xlr8_tap_ukg_pro.tap import TapUkgPro

from .conftest import run_tap, ukg_config

EARNINGS = f"{FOLDER}/report[@name='XLR8 Earnings History']"
STREAM = "raas_xlr8_earnings_history"
PARAMS = {"PayDateFrom": "2025-12-01", "PayDateTo": "2025-12-31"}


@pytest.mark.parametrize("output", ["csv", "xml"])
def test_an_inferred_key_that_repeats_stops_the_stream(
    url: str, emulator: UkgProEmulator, tmp_path: Path, output: str
) -> None:
    emulator.working_polls = 0
    config = ukg_config(url, raas_reports=[{"path": EARNINGS, "parameters": PARAMS}], raas_output=output)
    confirmed = ukg_config(url, raas_reports=[{"path": EARNINGS, "parameters": PARAMS,
                                               "primary_keys": ["EarningLineID"]}], raas_output=output)  # fmt: skip
    lines = run_tap(confirmed, streams={STREAM}).records(STREAM)
    employees = [r["EmployeeID"] for r in lines]
    assert len(set(employees)) < len(employees)  # several earning lines per employee in this run

    # A discovery run that saw one line per employee would have picked EmployeeID: the catalog carries it.
    catalog = select_streams(TapUkgPro(config=config, parse_env_config=False).catalog_dict, {STREAM})
    (entry,) = [s for s in catalog["streams"] if s["tap_stream_id"] == STREAM]
    entry["key_properties"] = ["EmployeeID"]
    for meta in entry["metadata"]:
        if meta["breadcrumb"] == []:
            meta["metadata"]["table-key-properties"] = ["EmployeeID"]
    args = ["--config", write_json(tmp_path / "config.json", config), "--catalog",
            write_json(tmp_path / "catalog.json", catalog)]  # fmt: skip
    synced = run_tap_cli("tap-ukg-pro", args, tmp_path, timeout=180)
    assert synced.returncode != 0
    assert "report 'raas_xlr8_earnings_history': key column(s) EmployeeID repeat a value" in synced.stderr
    assert "raas_reports[].primary_keys" in synced.stderr
    assert "was inferred" in synced.stderr  # and it said so before reading
    records = [m for m in parse_singer_messages(synced.stdout) if m["type"] == "RECORD"]
    assert len({r["record"]["EmployeeID"] for r in records}) == len(records)  # no repeat went out

    # the key the user set is trusted: no warning, no check
    args[1] = write_json(tmp_path / "confirmed.json", confirmed)
    entry["key_properties"] = ["EarningLineID"]
    args[3] = write_json(tmp_path / "catalog.json", catalog)
    trusted = run_tap_cli("tap-ukg-pro", args, tmp_path, timeout=180)
    assert trusted.returncode == 0, trusted.stderr
    assert "was inferred" not in trusted.stderr
    assert len([m for m in parse_singer_messages(trusted.stdout) if m["type"] == "RECORD"]) == len(lines)


@pytest.mark.parametrize(
    ("text", "kind"),
    [("04411", "integer"), ("0099", "integer"), ("-01", "integer"), ("+5", "integer"), (" 12", "integer"),
     ("1_000", "integer"), ("007.50", "number"), ("NaN", "number"), ("Infinity", "number"), ("-Infinity", "number"),
     ("1e3", "number"), ("nan", "number")],
)  # fmt: skip
def test_number_columns_refuse_texts_that_would_change(text: str, kind: discovery.ColumnType) -> None:
    with pytest.raises(discovery.ReportDataError, match="'Badge'"):
        discovery.coerce(text, kind, "Badge")
    with pytest.raises(discovery.ReportDataError, match="'Badge'"):
        discovery.cell_coercer(kind, "Badge")(text)
    # a block: refused whole, then typed row by row, which raises at the row
    types: dict[str, discovery.ColumnType] = {"Badge": kind}
    assert discovery.block_builder(types, ["Badge"])([["12"], [text], ["7"]]) is None
    build = discovery.record_builder(types, ["Badge"])
    assert build(["12"]) == {"Badge": 12}
    with pytest.raises(discovery.ReportDataError, match="'Badge'"):
        build([text])


def test_number_columns_still_take_what_discovery_types() -> None:
    integers = discovery.block_builder({"Badge": "integer"}, ["Badge"])([["0"], ["-5"], ["4411"], [""]])
    assert integers is not None
    assert [r["Badge"] for r in integers[0]] == [0, -5, 4411, None]
    numbers = discovery.block_builder({"Amount": "number"}, ["Amount"])([["0.50"], ["-12.25"], ["100"]])
    assert numbers is not None
    assert [str(r["Amount"]) for r in numbers[0]] == ["0.50", "-12.25", "100"]
    assert discovery.coerce("0.5", "number", "Amount") == discovery.coerce("0.50", "number", "Amount")
    assert json.dumps(discovery.coerce("12", "integer", "Badge")) == "12"
