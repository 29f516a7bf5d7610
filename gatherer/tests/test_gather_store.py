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


def test_a_date_time_key_without_an_offset_is_found_on_a_host_west_of_utc(tmp_path: Path) -> None:
    """review25a F6: the target reads a date-time without an offset as UTC; the answer's key join read it in the
    host's zone, and on a host west of UTC found none of the rows it had read."""
    import os
    import subprocess
    import sys

    path = tmp_path / "s.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("CREATE TABLE t (k TIMESTAMPTZ, v INTEGER)")
        conn.execute("INSERT INTO t VALUES ('2026-01-05T10:00:00+00:00', 3), ('2026-01-06T10:00:00+00:00', 4)")
    script = f"""
from xlr8_gather.answer import compute
answer = compute(duckdb_path={str(path)!r}, table="t", product="p", entity="e", kind="sum", measure="v",
                 group_by=None, canonical_fields={{"v": "v"}}, key_properties=["k"],
                 rows=[{{"k": "2026-01-05T10:00:00", "v": 3}}])
print(answer.text())
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True, text=True, check=False, env={**os.environ, "TZ": "America/Chicago"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "= 3" in done.stdout, done.stdout
    assert "found in the store by key" not in done.stdout, done.stdout


def test_a_product_whose_read_fails_is_skipped_named_and_the_gather_exits_1(
    sandbox: t.Any, sources: dict[str, dict[str, t.Any]], tmp_path: Path, monkeypatch: t.Any
) -> None:
    """audit25e F5: one product's HTTP error mid-read ended the whole gather in a traceback (the other products
    unread, no table); it is a skip naming the product and the failure, the others answer, and the exit is 1."""
    import argparse
    import io

    from xlr8_gather import cli
    from xlr8_gather import gather as gathering
    from xlr8_sandbox.platform.faults import FaultSpec

    chosen = {p: sources[p] for p in ("successfactors", "ukg_pro")}
    monkeypatch.setattr(gathering, "sandbox_sources", lambda *args, **kwargs: chosen)
    sandbox.faults.add("ukg_pro", "/personnel/v1/*", FaultSpec("status", status=400, after=1, times=1000))
    try:
        args = argparse.Namespace(
            question="How many employees are on leave?", project=PROJECT, products=None, store=None,
            duckdb=str(tmp_path / "t.duckdb"), sandbox=True, json=False,
        )  # fmt: skip
        out, err = io.StringIO(), io.StringIO()
        rc = cli.run_gather_cli(args, out, err)
    finally:
        sandbox.faults.clear()
    assert rc == 1, err.getvalue()[-2000:]
    assert "Traceback" not in err.getvalue()
    assert "skipped ukg_pro employee: read failed:" in out.getvalue()
    assert "HTTP 400" in out.getvalue()
    assert any(line.startswith("successfactors") for line in out.getvalue().splitlines())
    assert "the read of ukg_pro employee failed" in err.getvalue()
