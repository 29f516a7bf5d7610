"""Bulk 2.0 job polls: the first comes ``FIRST_BULK_POLL_WAIT`` after the job was created (never right after the
create answer: a job just created is not done), the wait doubles up to ``bulk_poll_interval`` (a small job no longer
costs a whole interval), each wait is counted from the previous request's send (a round trip on the wire is part of
the wait, not added to it); ``bulk_max_wait`` counts the waits."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from xlr8_kit.testing.singer_cli import sync_in_process
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_tap_salesforce.client import FIRST_BULK_POLL_WAIT, SalesforceAPIError, bulk_poll_wait
from xlr8_tap_salesforce.tap import TapSalesforce

JOB = "/services/data/v60.0/jobs/query/"


def _bulk_run(sf: Any, polls_before_complete: int, **extra: Any) -> tuple[list[float], Any]:
    """A Bulk read whose job answers InProgress to its first ``polls_before_complete`` polls, on a clock that
    moves only by the tap's sleeps: the sleeps are the poll schedule itself."""
    with sf.start_sandbox({"Account": 30}) as sandbox:
        sf.emulator(sandbox).bulk2_polls_before_complete = polls_before_complete
        config = sf.password_config(sandbox, objects=["Account"], api_type="bulk", **extra)
        tap = TapSalesforce(config=config, parse_env_config=False)
        waits: list[float] = []
        now = [0.0]

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            now[0] += seconds

        tap.client.sleep = sleep
        tap.client.clock = lambda: now[0]
        return waits, sync_in_process(tap)


def _job_polls(sandbox: Any) -> list[Any]:
    """The job status requests (GET of the job, not its results)."""
    logged = sandbox.ctx.requests.entries("salesforce", JOB)
    return [e for e in logged if e.method == "GET" and "/results" not in e.path]


def test_the_wait_between_polls_grows_from_half_a_second_to_the_interval(sf: Any) -> None:
    waits, run = _bulk_run(sf, polls_before_complete=6, bulk_poll_interval=5)
    assert waits == pytest.approx([0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0])  # a wait before each poll: 6 InProgress, 1 done
    assert len(run.records("Account")) == 30


def test_a_short_interval_is_never_exceeded(sf: Any) -> None:
    waits, run = _bulk_run(sf, polls_before_complete=3, bulk_poll_interval=0.2)
    assert waits == pytest.approx([0.2, 0.2, 0.2, 0.2])
    assert len(run.records("Account")) == 30


def test_the_longest_wait_counts_the_waits_taken(sf: Any) -> None:
    """0.5 + 1 + 2 = 3.5 s waited by the third poll: past a bulk_max_wait of 3, the job is given up."""
    with pytest.raises(Exception, match=r"still InProgress after 4 s \(bulk_max_wait\)"):
        _bulk_run(sf, polls_before_complete=10, bulk_poll_interval=5, bulk_max_wait=3)


def test_a_job_done_by_the_first_poll_is_polled_once(sf: Any) -> None:
    """Real time, real HTTP: a job that runs 0.3 s is done when the first poll, half a second after the create,
    arrives, so the read asks about it once (a poll right after the create answer would find it InProgress)."""
    with sf.start_sandbox({"Account": 30}, bulk_job_seconds=0.3) as sandbox:
        config = sf.password_config(sandbox, objects=["Account"], api_type="bulk")
        run = sync_in_process(TapSalesforce(config=config, parse_env_config=False))
        polls = _job_polls(sandbox)
        created = sandbox.ctx.requests.entries("salesforce", "/services/data/v60.0/jobs/query")[0]
    assert len(run.records("Account")) == 30
    assert len(polls) == 1
    assert polls[0].arrived_at - created.arrived_at >= FIRST_BULK_POLL_WAIT - 0.2  # not at once (slack for load)


def test_the_round_trip_counts_towards_the_wait(sf: Any) -> None:
    """At 300 ms a request the create's and the first poll's round trips are spent inside the waits before the
    next polls: the tap sleeps what is left of 0.5 s and of 1 s, not all of them, and the polls still go out no
    closer than their wait."""
    with sf.start_sandbox({"Account": 30}, bulk_job_seconds=0.0) as sandbox:
        em = sf.emulator(sandbox)
        em.bulk2_polls_before_complete = 1
        sandbox.ctx.faults.set_latency("salesforce", 300)
        config = sf.password_config(sandbox, objects=["Account"], api_type="bulk")
        tap = TapSalesforce(config=config, parse_env_config=False)
        waits: list[float] = []
        real_sleep = tap.client.sleep

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            real_sleep(seconds)

        tap.client.sleep = sleep
        run = sync_in_process(tap)
        polls = _job_polls(sandbox)
    assert len(run.records("Account")) == 30
    assert len(waits) == 2
    assert len(polls) == 2
    assert waits[0] <= FIRST_BULK_POLL_WAIT - 0.25
    assert waits[1] <= 2 * FIRST_BULK_POLL_WAIT - 0.25
    assert polls[1].arrived_at - polls[0].arrived_at >= 2 * FIRST_BULK_POLL_WAIT - 0.15  # never closer than the wait


@pytest.mark.parametrize("longest", [0.1, 0.5, 1.0, 5.0, 60.0])
def test_bulk_poll_wait_doubles_up_to_the_longest(longest: float) -> None:
    waits = [bulk_poll_wait(0.0, longest)]
    for _ in range(12):
        waits.append(bulk_poll_wait(waits[-1], longest))
    assert waits[0] == min(FIRST_BULK_POLL_WAIT, longest)
    assert all(later == min(longest, 2 * earlier) for earlier, later in itertools.pairwise(waits))
    assert waits[-1] == longest


def _bulk_read_ending(sf: Any, end: Callable[[Any, Any, str], None]) -> SalesforceAPIError:
    """A Bulk read whose job ``end(emulator, client, job_id)`` finishes badly while the tap waits for its first
    poll (where a real job is aborted or fails); the error the read raised."""
    with sf.start_sandbox({"Account": 30}) as sandbox:
        em = sf.emulator(sandbox)
        em.bulk_job_seconds = 60.0  # running when ``end`` comes
        config = sf.password_config(sandbox, objects=["Account"], api_type="bulk")
        tap = TapSalesforce(config=config, parse_env_config=False)

        def sleep(_seconds: float) -> None:
            (job_id,) = em._jobs
            end(em, tap.client, job_id)

        tap.client.sleep = sleep
        with pytest.raises(SalesforceAPIError) as raised:
            sync_in_process(tap)
        polls = _job_polls(sandbox)
    assert len(polls) == 1  # the read stops at the poll that tells it
    return raised.value


def _abort(_em: Any, client: Any, job_id: str) -> None:
    client.request("PATCH", client.data_url(f"jobs/query/{job_id}"), json_body={"state": "Aborted"})


def _fail(em: Any, _client: Any, job_id: str) -> None:
    em._jobs[job_id].error = "INVALID_FIELD: No such column 'Rating__x' on entity 'Account'"
    em.bulk_job_seconds = 0.0  # and it has run its course


@pytest.mark.parametrize(("end", "said"), [(_abort, "Aborted: Aborted"), (_fail, "Failed: INVALID_FIELD")])
def test_a_job_that_ends_badly_stops_the_read_with_its_state(sf: Any, end: Any, said: str) -> None:
    """A job aborted (Abort a Query Job, by an admin) or failed while the tap waits for its first poll: the read
    stops at that poll with the job's state and message (``BULK_JOB_FAILED``), not with rows or a retry."""
    error = _bulk_read_ending(sf, end)
    assert error.error_code == "BULK_JOB_FAILED"
    assert said in str(error)


def _aborts(sandbox: Any) -> list[Any]:
    """Abort a Query Job requests (PATCH of the job)."""
    return [e for e in sandbox.ctx.requests.entries("salesforce", JOB) if e.method == "PATCH"]


def _timed_out_tap(sf: Any, sandbox: Any) -> tuple[TapSalesforce, list[float]]:
    """A tap whose Bulk job is still running when ``bulk_max_wait`` (3 s) is spent, on a clock moved only by its
    sleeps; the session's retry waits are recorded, not slept."""
    sf.emulator(sandbox).bulk2_polls_before_complete = 10
    config = sf.password_config(sandbox, objects=["Account"], api_type="bulk", bulk_max_wait=3)
    tap = TapSalesforce(config=config, parse_env_config=False)
    now = [0.0]
    tap.client.sleep = lambda seconds: now.__setitem__(0, now[0] + seconds)
    tap.client.clock = lambda: now[0]
    retry_waits: list[float] = []
    tap.client.session.sleep = retry_waits.append
    return tap, retry_waits


def test_a_job_given_up_after_bulk_max_wait_is_aborted(sf: Any) -> None:
    """A stream's job still running at ``bulk_max_wait`` is aborted before the read fails: left running it would
    keep counting against the org's Bulk job limits for nothing."""
    with sf.start_sandbox({"Account": 30}) as sandbox:
        tap, _ = _timed_out_tap(sf, sandbox)
        with pytest.raises(Exception, match=r"\(bulk_max_wait\)"):
            sync_in_process(tap)
        aborted = _aborts(sandbox)
        jobs = sf.emulator(sandbox)._jobs
    assert len(aborted) == 1
    assert [job.state for job in jobs.values()] == ["Aborted"]


@pytest.mark.parametrize(
    "answer",
    [FaultSpec(kind="status", status=429, retry_after=550, method="PATCH"), FaultSpec(kind="status", method="PATCH")],
    ids=["429 Retry-After 550", "503"],
)
def test_an_abort_refused_is_tried_once_and_the_read_fails_with_its_own_reason(sf: Any, answer: FaultSpec) -> None:
    """The abort is a courtesy: one attempt, no retry wait (review 19b: it retried like a data request, waiting out
    Retry-After 550 s up to the 1,800 s budget before the tap could report why it gave up), no open circuit."""
    with sf.start_sandbox({"Account": 30}) as sandbox:
        sandbox.ctx.faults.add("salesforce", JOB + "*", answer)
        tap, retry_waits = _timed_out_tap(sf, sandbox)
        with pytest.raises(Exception, match=r"still InProgress after 4 s \(bulk_max_wait\)"):
            sync_in_process(tap)
        aborted = _aborts(sandbox)
    assert len(aborted) == 1
    assert retry_waits == []


def test_a_job_handed_in_by_a_caller_is_not_aborted_when_its_read_gives_up(sf: Any) -> None:
    """``read_bulk_job`` on a job a connector caller created leaves it running at ``bulk_max_wait`` (review 19b: it
    aborted the caller's export, whose next read then failed); the caller reads it whole later."""
    with sf.start_sandbox({"Account": 30}) as sandbox:
        tap, _ = _timed_out_tap(sf, sandbox)
        job_id = tap.client.start_bulk_job("SELECT Id FROM Account")
        with pytest.raises(Exception, match=r"\(bulk_max_wait\)"):
            list(tap.client.read_bulk_job(job_id))
        assert _aborts(sandbox) == []
        sf.emulator(sandbox).bulk2_polls_before_complete = 0
        rows = [row for page in tap.client.read_bulk_job(job_id) for row in page]
    assert len(rows) == 30


def test_a_job_started_ahead_for_another_query_is_aborted_and_the_read_is_whole(sf: Any) -> None:
    """A job started ahead is read only if the stream builds that very query; one started for another query is
    aborted (not left running against the org's limits), and the stream reads its own job in full."""
    with sf.start_sandbox({"Account": 30}, bulk_job_seconds=0.0) as sandbox:
        config = sf.password_config(sandbox, objects=["Account"], api_type="bulk")
        tap = TapSalesforce(config=config, parse_env_config=False)
        stale = tap.client.start_bulk_job("SELECT Id FROM Account")
        sf.emulator(sandbox)._jobs[stale].created_at += 3600  # it runs an hour more; the stream's own job at once
        stream = tap.streams["Account"]
        stream._prefetched_job = ("SELECT Id FROM Account", stale)
        tap._bulk_jobs_started = True  # no other job ahead: the stale one stands for it
        run = sync_in_process(tap)
        aborted = _aborts(sandbox)
        jobs = sf.emulator(sandbox)._jobs
    assert len(run.records("Account")) == 30
    assert [e.path.rsplit("/", 1)[-1] for e in aborted] == [stale]
    assert jobs[stale].state == "Aborted"
    assert [job.state for job_id, job in jobs.items() if job_id != stale] == ["JobComplete"]


def test_a_job_handed_in_by_a_caller_is_asked_about_at_once(sf: Any) -> None:
    """A job the client did not create (a connector caller's, which may already know it finished) is polled
    without a first wait (review 19a: 0.5 s lost per connector read), then on the schedule."""
    with sf.start_sandbox({"Account": 30}, bulk_job_seconds=0.0) as sandbox:
        tap, waits = _timed_out_tap(sf, sandbox)
        sf.emulator(sandbox).bulk2_polls_before_complete = 0
        tap.client.sleep = waits.append
        job_id = tap.client.start_bulk_job("SELECT Id FROM Account")
        tap.client._bulk_created.clear()  # as if created by another client
        rows = [row for page in tap.client.read_bulk_job(job_id) for row in page]
        polls = _job_polls(sandbox)
    assert len(rows) == 30
    assert waits == []
    assert len(polls) == 1
