"""Every row a gather reads lands or is counted as a dead letter, per product, with decimals exact, dates typed and
nested values kept (issue 17: decimals used to become strings and the store rejected whole streams)."""

from __future__ import annotations

import io
import typing as t
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from xlr8_gather.gather import GatherReport, Landing, gather, record_json
from xlr8_kit.cli import main
from xlr8_kit.connectors.tap import tap_connector

PROJECT = "2d7f0c1e-8b3a-4e55-9d0c-6a1b2c3d4e5f"


def test_decimals_are_exact_json_numbers() -> None:
    text = record_json({"record": {"a": Decimal("12.50"), "b": [Decimal("-0.000000001")], "c": "12.50"}})
    assert text == '{"record": {"a": 12.50, "b": [-1E-9], "c": "12.50"}}'  # exact, valid JSON numbers


# product, question, stream, decimal property, date property, nested property
CASES = [
    ("salesforce", "opportunities in salesforce", "Opportunity", "Amount", "CloseDate", None),
    ("workday_fins", "journal entries in workday financials", "journals", "Amount", "Accounting_Date", "Lines"),
    ("successfactors", "job codes in successfactors", "FOJobCode", "standardHours", "startDate", None),
    ("ukg_wfm", "timecards in ukg wfm", "timecards", "hours", "applyDate", None),
    ("workday_hcm", "workers in workday hcm", "workers", None, "hireDate", "location"),
    ("ukg_pro", "employees in ukg pro", "employment_details", None, "originalHireDate", None),
]


@pytest.mark.parametrize(("product", "question", "stream", "decimal", "day", "nested"), CASES)
def test_every_row_read_lands_with_its_types(
    sources: dict[str, dict[str, t.Any]],
    tmp_path: Path,
    product: str,
    question: str,
    stream: str,
    decimal: str | None,
    day: str,
    nested: str | None,
) -> None:
    report = GatherReport()
    path = str(tmp_path / "t.duckdb")
    truths = gather(question, project=PROJECT, sources={product: sources[product]}, duckdb_path=path, report=report)
    assert [(p, s) for p, _e, s, _r, _l in report.landings] == [(product, stream)]
    read, landing = report.landings[0][3], report.landings[0][4]
    assert read > 0
    assert landing == Landing(received=read, landed=read, dead_lettered=0)
    assert report.dead_lettered == 0
    assert report.unaccounted == 0
    truth = truths[0]
    assert truth.metadata["landed"] == read
    schema = tap_connector(product, sources[product]).get_entity_schema(stream)["properties"]
    table = truth.metadata["table"]
    with duckdb.connect(path, read_only=True) as conn:
        types = {row[0]: row[1] for row in conn.execute(f'DESCRIBE "{table}"').fetchall()}
        columns = {name: column for column in types for name in schema if _snake(name) == column}
        assert conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone() == (read,)
        assert types[columns[day]] in ("DATE", "TIMESTAMP WITH TIME ZONE")
        if decimal is not None:
            assert types[columns[decimal]].startswith("DECIMAL")
            expected = sum((Decimal(str(r[decimal])) for r in truth.content if r.get(decimal) is not None), Decimal(0))
            assert conn.execute(f'SELECT SUM("{columns[decimal]}") FROM "{table}"').fetchone()[0] == expected
        if nested is not None:
            assert types[columns[nested]] == "JSON"
            kept = conn.execute(f'SELECT COUNT("{columns[nested]}") FROM "{table}"').fetchone()[0]
            assert kept == sum(1 for r in truth.content if r.get(nested) is not None) > 0


def _snake(name: str) -> str:
    from target_xlr8_truths.naming import snake_case

    return snake_case(name)


def test_cli_exits_non_zero_and_says_so_when_rows_are_dead_lettered(
    sources: dict[str, dict[str, t.Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xlr8_gather.gather as gathering

    real_land = gathering.land

    def spoil(**kwargs: t.Any) -> Landing:
        # a row the schema refuses (an amount that is not a number) must be dead-lettered, not lost
        kwargs["rows"] = ({**row, "Amount": "not a number"} if i == 0 else row for i, row in enumerate(kwargs["rows"]))
        return real_land(**kwargs)

    monkeypatch.setattr(gathering, "land", spoil)
    monkeypatch.setattr(gathering, "project_sources", lambda project, store: {"salesforce": sources["salesforce"]})
    monkeypatch.setenv("XLR8_PII_KEY_FILE", str(_key(tmp_path)))
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["gather", "--project", PROJECT, "--duckdb", str(tmp_path / "t.duckdb"), "opportunities"], out=out, err=err
    )
    assert code == 1, err.getvalue()
    row = next(line.split() for line in out.getvalue().splitlines() if line.startswith("salesforce"))
    read = int(row[3])
    assert row[:6] == ["salesforce", "opportunity", "reality", str(read), str(read - 1), "1"]
    assert "1 row(s) dead-lettered" in err.getvalue()


def _key(tmp_path: Path) -> Path:
    from xlr8_kit.privacy.cipher import generate_key_file

    return generate_key_file(tmp_path / "pii.key")
