"""A gather lands into the pipeline's table: it must neither mark rows it did not read as deleted nor answer over
them (audit25e F1, F11)."""

from __future__ import annotations

import typing as t
from decimal import Decimal
from pathlib import Path

import duckdb

from xlr8_gather.gather import GatherReport, gather

PROJECT = "7c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f"


def _timecards(path: str) -> tuple[int, int, set[str]]:
    with duckdb.connect(path, read_only=True) as conn:
        (table,) = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '%timecards%'"
            ).fetchall()
        ]
        live, deleted = conn.execute(
            "SELECT COUNT(*) FILTER (WHERE _sdc_deleted_at IS NULL), "
            f'COUNT(*) FILTER (WHERE _sdc_deleted_at IS NOT NULL) FROM "{table}"'
        ).fetchone()
        codes = {
            r[0]
            for r in conn.execute(f'SELECT DISTINCT pay_code FROM "{table}" WHERE _sdc_deleted_at IS NULL').fetchall()
        }
    return live, deleted, codes


def test_a_filtered_gather_leaves_the_other_rows_of_its_sets_live(
    sources: dict[str, dict[str, t.Any]], tmp_path: Path
) -> None:
    """WFM timecards are replaced by person-day in a pipeline; a question reading part of each day is no such read."""
    path = str(tmp_path / "t.duckdb")
    src = {"ukg_wfm": sources["ukg_wfm"]}
    first = GatherReport()
    gather("List timecards in UKG WFM", project=PROJECT, sources=src, duckdb_path=path, report=first)
    live, deleted, codes = _timecards(path)
    assert (live, deleted) == (first.landings[0][3], 0)
    assert len(codes) > 1
    second = GatherReport()
    gather(
        "List timecards with more than 7.5 hours in UKG WFM",
        project=PROJECT,
        sources=src,
        duckdb_path=path,
        report=second,
    )
    assert 0 < second.landings[0][3] < live
    assert _timecards(path) == (live, 0, codes)


def test_an_answer_counts_only_the_rows_its_read_saw_when_a_key_part_is_a_date(
    sources: dict[str, dict[str, t.Any]], tmp_path: Path
) -> None:
    """Timecards are keyed (person, day, pay code): a join on the text parts alone summed every landed day."""
    path = str(tmp_path / "t.duckdb")
    src = {"ukg_wfm": sources["ukg_wfm"]}
    gather("List timecards in UKG WFM", project=PROJECT, sources=src, duckdb_path=path, report=GatherReport())
    report = GatherReport()
    whole = gather("List timecards in UKG WFM", project=PROJECT, sources=src, duckdb_path=path, report=report)
    days = sorted({str(row["applyDate"])[:10] for row in whole[0].content})
    since = days[len(days) // 2]
    report = GatherReport()
    truths = gather(
        f"Total hours of timecards since {since} in UKG WFM",
        project=PROJECT,
        sources=src,
        duckdb_path=path,
        report=report,
    )
    rows = truths[0].content
    assert 0 < len(rows) < len(whole[0].content)
    expected = sum((Decimal(str(r["hours"])) for r in rows), Decimal(0))
    (answer,) = report.answers
    assert f"= {expected}" in answer.text() or f"= {expected:,}" in answer.text(), answer.text()
    assert "found in the store by key" not in answer.text()
