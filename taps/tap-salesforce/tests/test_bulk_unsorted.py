"""Bulk 2.0 reads (audit24a M3): no ORDER BY in the job's SOQL (it disables PK chunking), the rows treated as
unsorted with the bookmark moved once at the job's end and no later than the job's createdDate, and the "Retried
more than 15 times" failure split like QUERY_TIMEOUT. The tap against the emulator over HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from xlr8_kit.testing.singer_cli import sync_in_process
from xlr8_tap_salesforce.client import parse_sf_datetime, sf_stamp
from xlr8_tap_salesforce.tap import TapSalesforce


def _bookmark(output: Any) -> str:
    return str(output.state["bookmarks"]["Account"]["replication_key_value"])


def test_m3_bulk_jobs_carry_no_order_by_and_rest_queries_do(sf: Any) -> None:
    with sf.start_sandbox({"Account": 30}) as sandbox:
        em = sf.emulator(sandbox)
        config = sf.password_config(sandbox, objects=["Account"], api_type="bulk")
        bulk = sf.run_tap(config)
        jobs = list(em._jobs.values())
        rest = sf.run_tap({**config, "api_type": "rest"})
    assert jobs
    assert all(job.plan.query.order_by == [] for job in jobs)  # PK chunking stays on
    assert sorted(r["Id"] for r in bulk.records("Account")) == sorted(r["Id"] for r in rest.records("Account"))


def test_m3_bookmark_of_a_bulk_read_stops_at_the_job_start(sf: Any) -> None:
    """While a job runs, row 8 is edited (its chunk was read already: not in the results), then row 9 (its chunk
    read later: in the results, newer). The bookmark stops at the job's createdDate, so the next run reads row 8."""
    with sf.start_sandbox({"Account": 50}) as sandbox:
        em = sf.emulator(sandbox)
        em.bulk_created_at_sandbox_time = True
        config = sf.password_config(sandbox, objects=["Account"], api_type="bulk", lookback_seconds=0)
        first = sf.run_tap(config)
        em.ctx.clock.advance(timedelta(days=1))
        job_start = em.ctx.clock.now()
        em.touch("Account", 3, Name="Edited before the job")
        edits: list[dict[str, Any]] = []

        def edit_while_the_job_runs(_seconds: float) -> None:  # the tap's wait before its first poll
            if not edits:
                em.ctx.clock.advance(timedelta(minutes=1))
                edits.append(em.touch("Account", 8, Name="Edited after its chunk was read"))
                em.ctx.clock.advance(timedelta(minutes=1))
                edits.append(em.touch_into_running_jobs("Account", 9, Name="Edited before its chunk was read"))

        tap = TapSalesforce(config=config, state=first.state, parse_env_config=False)
        tap.client.sleep = edit_while_the_job_runs
        second = sync_in_process(tap)
        third = sf.run_tap(config, state=second.state)
    accounts = em.objects["Account"]
    read = {r["Id"]: r["Name"] for r in second.records("Account")}
    assert read[accounts.record_id(9)] == "Edited before its chunk was read"
    assert accounts.record_id(8) not in read
    assert _bookmark(second) == sf_stamp(job_start)  # not row 9's stamp, 2 minutes later
    landed = {r["Id"]: r["Name"] for r in third.records("Account")}
    assert landed[accounts.record_id(8)] == "Edited after its chunk was read"


def test_m3_retried_more_than_15_times_splits_the_window(sf: Any) -> None:
    with sf.start_sandbox({"Account": 700}, query_timeout_rows=300) as sandbox:
        em = sf.emulator(sandbox)
        em.bulk_timeout_message = "InternalServerError : Retried more than 15 times"
        config = sf.password_config(sandbox, objects=["Account"], api_type="bulk", min_window_seconds=1)
        run = sf.run_tap(config)
        states = [job.state for job in em._jobs.values()]
    assert "Failed" in states  # the whole-range job failed as Bulk 2.0 does when its chunks keep timing out
    assert sorted(r["Id"] for r in run.records("Account")) == sorted(
        em.objects["Account"].record_id(i) for i in range(700)
    )


def test_a_row_edited_while_a_split_windows_lower_half_ran_lands_next_run(sf: Any) -> None:
    """review24g #2: the whole window's job times out and the window splits; while the lower half's job runs a row is
    edited (stamped before the split point, missing from that job) and the clock then passes the split point. The
    upper half's job alone would move the bookmark past the edit: the read's earliest job caps it, so the next run
    reads the edit."""
    from xlr8_tap_salesforce.client import QueryTimeoutError

    edited = "Edited while the lower half's job ran"
    with sf.start_sandbox({"Account": 50}) as sandbox:
        em = sf.emulator(sandbox)
        em.bulk_created_at_sandbox_time = True
        config = sf.password_config(
            sandbox, objects=["Account"], api_type="bulk", lookback_seconds=0, min_window_seconds=1
        )
        em.touch("Account", 1, Name="Edited before run 1")  # a recent bookmark, as an hourly sync's
        first = sf.run_tap(config)
        em.ctx.clock.advance(timedelta(days=1))
        em.touch("Account", 3, Name="Edited before run 2")
        tap = TapSalesforce(config=config, state=first.state, parse_env_config=False)
        real_read = tap.client.read_bulk_job
        calls: list[str] = []

        def read_bulk_job(job_id: str, **kw: Any) -> Any:
            calls.append(job_id)
            if len(calls) == 1:  # the whole window's job fails as an org's timing-out job does
                raise QueryTimeoutError("salesforce bulk query job Failed: QUERY_TIMEOUT", error_code="QUERY_TIMEOUT")
            return real_read(job_id, **kw)

        edits: list[Any] = []

        def long_lower_job(_seconds: float) -> None:
            if len(calls) == 2 and not edits:
                em.ctx.clock.advance(timedelta(minutes=1))
                edits.append(em.touch("Account", 8, Name=edited))
                em.ctx.clock.advance(timedelta(days=200))  # long enough for the clock to pass the split point
                edits.append(em.touch("Account", 20, Name="Edited after the split point"))

        tap.client.read_bulk_job = read_bulk_job  # type: ignore[method-assign]
        tap.client.sleep = long_lower_job  # type: ignore[method-assign]
        second = sync_in_process(tap)
        third = sf.run_tap(config, state=second.state)
        row8 = em.objects["Account"].record_id(8)
    assert len(calls) >= 3, calls  # the failed job, then the two halves
    assert edits, "the lower half's job never polled"
    landed = {r["Id"]: r["Name"] for r in [*second.records("Account"), *third.records("Account")]}
    assert landed.get(row8) == edited


def test_an_empty_earliest_job_still_caps_the_reads_bookmark() -> None:
    """review24h #1: the lower half's job came back empty (created 09:00; a row edited at 09:05 is missing from it),
    the upper half's job (created 09:30) has a row at 09:20: the bookmark stays at 09:00, not 09:20."""
    import logging
    from types import SimpleNamespace

    from xlr8_tap_salesforce.client import SalesforceStream

    state = {"replication_key": "SystemModstamp", "replication_key_value": "2026-12-07T08:00:00.000Z"}
    started = {"J1": "2026-12-07T09:00:00.000+0000", "J2": "2026-12-07T09:30:00.000+0000"}
    stream = SimpleNamespace(
        name="Account",
        replication_key="SystemModstamp",
        logger=logging.getLogger("test"),
        _bulk_read_cap=None,
        _bulk_newest=None,
        get_context_state=lambda _context: state,
        client=SimpleNamespace(bulk_job_started=started),
    )
    SalesforceStream._land_bulk(stream, "J1")  # type: ignore[arg-type]
    stream._bulk_newest = "2026-12-07T09:20:00.000Z"
    SalesforceStream._land_bulk(stream, "J2")  # type: ignore[arg-type]
    assert state["replication_key_value"] == sf_stamp(parse_sf_datetime("2026-12-07T09:00:00.000+0000"))
