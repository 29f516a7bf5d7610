"""A first Bulk API 2.0 read from a catalog creates its query job beside the describe (``early.py``), over real HTTP
against the emulator: the stream takes that job only if it is the very job it would create (same SOQL, same
operation), else the job is aborted, as it is on every way out (a failure, the quota stop, SIGTERM); records and
STATE are those of the run without the early job. Also the REST early page 1's quota answer (review 19e Low 4)."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import signal
import subprocess
import sys
import threading
import time
import typing as t
from pathlib import Path

import pytest

from xlr8_kit.testing.fake_time import FakeTime
from xlr8_kit.testing.singer_cli import BIN, Running, SingerOutput, signalled, sync_until_error, write_json
from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.emulator import SandboxContext
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox, run_sandbox
from xlr8_sandbox.products.salesforce.objects import SObject
from xlr8_tap_salesforce.client import FIRST_BULK_POLL_WAIT, SalesforceClient
from xlr8_tap_salesforce.early import CREATE_GRACE_SECONDS
from xlr8_tap_salesforce.tap import TapSalesforce

ROWS = 300
DESCRIBE = "/services/data/*/composite/batch"
CREATE = "/services/data/v60.0/jobs/query"
#: The describe held this long: the job's creation sent beside it arrives meanwhile (not a speed check).
DESCRIBE_STALL = 1.0


@pytest.fixture(scope="module")
def accounts() -> t.Iterator[Sandbox]:
    """One sandbox for the module (each test resets it); Bulk jobs done at once unless a test says otherwise."""
    ctx = SandboxContext(
        company=Company(seed=42, scale=100),
        options={"salesforce": {"counts": {"Account": ROWS}, "bulk_job_seconds": 0}},
    )
    with run_sandbox(["salesforce"], ctx=ctx) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(request: pytest.FixtureRequest) -> None:
    """Each test starts on a fresh emulator (no fault or job of the one before)."""
    if "accounts" in request.fixturenames:
        request.getfixturevalue("accounts").reset()


def _config(sf: t.Any, sandbox: Sandbox, **extra: t.Any) -> dict[str, t.Any]:
    return sf.password_config(sandbox, **{"objects": ["Account"], "api_type": "bulk", **extra})


def _catalog(sf: t.Any, sandbox: Sandbox) -> dict[str, t.Any]:
    """Account's catalog as discovery saves it (the read then starts from a catalog, as under Meltano)."""
    return TapSalesforce(config=_config(sf, sandbox), parse_env_config=False).catalog_dict


def _sync(
    config: dict[str, t.Any], catalog: dict[str, t.Any] | None, *, early: bool = True
) -> tuple[SingerOutput, Exception | None, TapSalesforce]:
    """One in-process run from ``catalog`` (polls without sleeping): its output up to the end or to the error it
    raised (returned). ``early=False``: the same run without anything sent beside the describe (today's read)."""
    tap = TapSalesforce(config=config, catalog=copy.deepcopy(catalog), parse_env_config=False)
    tap.client.sleep = lambda _s: None
    if not early:
        tap._send_first_query_early = lambda _entry: None  # type: ignore[method-assign]
    return (*sync_until_error(tap), tap)


def _states(output: SingerOutput) -> list[dict[str, t.Any]]:
    """STATE values without the signpost (the wall clock at the run's start)."""
    found = []
    for message in output.of_type("STATE"):
        value = copy.deepcopy(message["value"])
        for bookmark in value.get("bookmarks", {}).values():
            bookmark.pop("replication_key_signpost", None)
        found.append(value)
    return found


def _assert_same_read(read: SingerOutput, expected: SingerOutput) -> None:
    assert read.records("Account") == expected.records("Account")
    assert _states(read) == _states(expected)


def _creates(sandbox: Sandbox) -> list[t.Any]:
    return [r for r in sandbox.requests("salesforce") if r.method == "POST" and r.path == CREATE]


def _jobs(sf: t.Any, sandbox: Sandbox) -> dict[str, tuple[str, str]]:
    """Every job the org holds: id -> (operation, state)."""
    return {job_id: (job.operation, job.state) for job_id, job in sf.emulator(sandbox)._jobs.items()}


def _no_early_thread() -> bool:
    return not [thread for thread in threading.enumerate() if thread.name.startswith("xlr8-early")]


def test_the_job_is_created_beside_the_describe_and_read(sf: t.Any, accounts: Sandbox) -> None:
    """The describe held: the job's creation arrives before the describe is answered, and it is the only job of
    the run (the stream took it: no second create); records and STATE are those of the run without it."""
    catalog = _catalog(sf, accounts)
    accounts.reset()
    today, error, _ = _sync(_config(sf, accounts), catalog, early=False)
    assert error is None
    accounts.reset()
    accounts.faults.add("salesforce", DESCRIBE, FaultSpec(kind="stall", seconds=DESCRIBE_STALL))
    read, error, _ = _sync(_config(sf, accounts), catalog)
    assert error is None
    (describe,) = [r for r in accounts.requests("salesforce") if r.path.endswith("/composite/batch")]
    creates = _creates(accounts)
    assert len(creates) == 1
    assert creates[0].at < describe.at  # created (and answered) while the describe was out
    assert list(_jobs(sf, accounts).values()) == [("queryAll", "JobComplete")]
    assert len(read.records("Account")) == ROWS
    _assert_same_read(read, today)
    assert _no_early_thread()


def test_a_field_dropped_since_discovery_makes_the_stream_create_its_own_job(sf: t.Any, accounts: Sandbox) -> None:
    """The catalog names a field the org dropped since discovery (Industry): the job created early asks for it and
    the org refuses it (INVALID_FIELD: no job), the stream's query, built from the describe, leaves it out and
    creates its own job. The run lands what the run without the early job lands, no error."""
    catalog = _catalog(sf, accounts)
    account = sf.emulator(accounts).objects["Account"]
    fields = account.fields
    try:
        account.fields = [f for f in fields if f["name"] != "Industry"]
        account.__post_init__()
        accounts.reset()
        read, error, _ = _sync(_config(sf, accounts), catalog)
        assert error is None
        refused = [r.status for r in _creates(accounts)]
        jobs = _jobs(sf, accounts)
        accounts.reset()
        today, error, _ = _sync(_config(sf, accounts), catalog, early=False)
        assert error is None
    finally:
        account.fields = fields
        account.__post_init__()
    assert refused == [400, 200]  # the early create, with the field; the stream's own
    assert list(jobs.values()) == [("queryAll", "JobComplete")]
    assert len(read.records("Account")) == ROWS
    assert not any("Industry" in record for record in read.records("Account"))
    _assert_same_read(read, today)


def test_a_job_for_another_operation_is_aborted_and_the_deleted_rows_land(sf: t.Any, accounts: Sandbox) -> None:
    """A catalog without IsDeleted for an object that has it: the job created early is a ``query`` (no deleted
    rows), the stream, once described, creates a ``queryAll`` of the very same SOQL text. The early job must not be
    read for it (the deleted rows would be lost silently) and must not be left running: it is aborted, and the run
    lands the deleted rows, as the run without the early job does."""
    catalog = _catalog(sf, accounts)
    (entry,) = [e for e in catalog["streams"] if e["tap_stream_id"] == "Account"]
    del entry["schema"]["properties"]["IsDeleted"]
    entry["metadata"] = [m for m in entry["metadata"] if m["breadcrumb"] != ["properties", "IsDeleted"]]

    def prepare() -> set[str]:
        accounts.reset()
        em = sf.emulator(accounts)
        em.bulk2_polls_before_complete = 1  # a job runs until it is polled once: one never polled can be aborted
        for index in (3, 7, 11):
            accounts.ctx.clock.set(SObject.modstamp_at(index))
            em.delete("Account", index)
        return {em.objects["Account"].record_id(index) for index in (3, 7, 11)}

    deleted = prepare()
    read, error, _ = _sync(_config(sf, accounts), catalog)
    assert error is None
    jobs = _jobs(sf, accounts)
    prepare()
    today, error, _ = _sync(_config(sf, accounts), catalog, early=False)
    assert error is None
    assert sorted(jobs.values()) == [("query", "Aborted"), ("queryAll", "JobComplete")]
    assert deleted <= {record["Id"] for record in today.records("Account")}
    assert deleted <= {record["Id"] for record in read.records("Account")}
    _assert_same_read(read, today)
    assert _no_early_thread()


def test_a_failed_describe_aborts_the_job_created_beside_it(sf: t.Any, accounts: Sandbox) -> None:
    """The describe fails (a 400) while the job is created beside it: the run fails on the describe as it did, and
    the job is aborted once its creation is answered (whichever answer came first), not left running on the org."""
    catalog = _catalog(sf, accounts)
    accounts.reset()
    sf.emulator(accounts).bulk2_polls_before_complete = 1
    accounts.faults.add("salesforce", DESCRIBE, FaultSpec(kind="status", status=400))
    read, error, _ = _sync(_config(sf, accounts), catalog)
    assert error is not None
    assert "composite/batch: HTTP 400" in str(error)
    assert read.records("Account") == []
    assert [r.status for r in _creates(accounts)] == [200]
    assert list(_jobs(sf, accounts).values()) == [("queryAll", "Aborted")]
    assert _no_early_thread()


def test_the_quota_stop_before_any_stream_aborts_the_job_past_the_guard(
    sf: t.Any, accounts: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The org at the quota share: the job's creation (no usage reading yet) is answered before the describe goes
    out (held here until then, a busy host), so the guard refuses the describe and the run stops with state safe
    (exit 75's stop). The job created early is aborted all the same: the abort passes the guard (one request past
    the share, so the org's job stops), as every way out must leave no job running."""
    catalog = _catalog(sf, accounts)
    accounts.reset()
    em = sf.emulator(accounts)
    em.bulk2_polls_before_complete = 1
    em.api_limit, em.api_used = 1000, 600
    describe_many = SalesforceClient.describe_many

    def after_the_create(self: SalesforceClient, names: list[str]) -> dict[str, dict[str, t.Any]]:
        early = getattr(self, "_early_bulk", None)
        if early is not None:
            with contextlib.suppress(Exception):
                early._job.result()
        return describe_many(self, names)

    monkeypatch.setattr(SalesforceClient, "describe_many", after_the_create)
    read, error, tap = _sync(_config(sf, accounts, api_quota_share=0.5), catalog)
    assert error is None
    assert tap.quota_stopped
    assert read.records("Account") == []
    assert not [r for r in accounts.requests("salesforce") if r.path.endswith("/composite/batch")]
    assert list(_jobs(sf, accounts).values()) == [("queryAll", "Aborted")]
    assert _no_early_thread()


def _terminated(
    tmp_path: Path, config: dict[str, t.Any], catalog: dict[str, t.Any] | None, until: t.Callable[[], bool], what: str
) -> tuple[int, float, str]:
    """``tap-salesforce`` from the catalog (or, None, without one) as users run it, ended by SIGTERM once ``until``:
    its exit code, how long the exit took, the end of its stderr."""
    args = [str(BIN / "tap-salesforce"), "--config", write_json(tmp_path / "config.json", config)]
    if catalog is not None:
        args += ["--catalog", write_json(tmp_path / "catalog.json", catalog)]
    return signalled(args, until, what)


def test_sigterm_during_the_describe_aborts_the_job_created_beside_it(sf: t.Any, tmp_path: Path) -> None:
    """``tap-salesforce`` as users run it, stopped by SIGTERM while the describe is out (held 10 s), once the job
    created beside it is on the org: it exits 143 and the job is aborted on the way out. (Its own sandbox: the held
    describe is answered after the test, into no other test's request log.)"""
    with sf.start_sandbox({"Account": ROWS}) as sandbox:
        catalog = _catalog(sf, sandbox)
        sandbox.reset()
        sf.emulator(sandbox).bulk2_polls_before_complete = 1
        sandbox.faults.add("salesforce", DESCRIBE, FaultSpec(kind="stall", seconds=10))
        code, took, err = _terminated(
            tmp_path, _config(sf, sandbox), catalog, lambda: len(sf.emulator(sandbox)._jobs) == 1, "the job's creation"
        )
        jobs = _jobs(sf, sandbox)
    assert code == 143, err
    assert took < 10  # not after the held describe's answer
    assert list(jobs.values()) == [("queryAll", "Aborted")]


def test_the_org_s_quota_answer_to_the_rest_early_page_1_is_not_asked_again(sf: t.Any, accounts: Sandbox) -> None:
    """Review 19e Low 4: with the kit's guard off, the org answers the REST page 1 sent beside the describe with its
    own 403 REQUEST_LIMIT_EXCEEDED. That is the query's answer: the stream stops on it with state safe (as the run
    without the early query does) and does not send page 1 again to an org past its limit."""
    catalog = _catalog(sf, accounts)
    config = _config(sf, accounts, api_type="rest", rest_concurrent_queries=1, http={"max_quota_share": None})
    page_1 = "/services/data/*/queryAll"

    def run(early: bool) -> tuple[SingerOutput, TapSalesforce, list[int]]:
        accounts.reset()
        accounts.faults.add("salesforce", page_1, FaultSpec(kind="quota", times=1))
        read, error, tap = _sync(config, catalog, early=early)
        assert error is None
        statuses = [r.status for r in accounts.requests("salesforce") if r.path.endswith("/queryAll")]
        return read, tap, statuses

    read, tap, statuses = run(early=True)
    today, tap_today, statuses_today = run(early=False)
    assert statuses == statuses_today == [403]
    assert tap.quota_stopped
    assert tap_today.quota_stopped
    assert read.records("Account") == today.records("Account") == []
    assert _states(read) == _states(today)


def test_the_first_poll_waits_from_the_create_not_from_the_token_before_it(
    sf: t.Any, accounts: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The early create is the run's first request after the token (which takes 0.5 s here), and a job's first poll
    goes out ``FIRST_BULK_POLL_WAIT`` after its create was sent. Counted from before the token (the job's age taken
    before the token was fetched), the poll came right after the create's answer (no wait): a 0.25 s job was still
    running, a poll more, an API request spent on nothing. The tap's clock is the test's (``FakeTime``: the token
    fetch moves it 0.5 s, the tap's waits move it, nothing else does), so what the tap waited is exact whatever the
    load: on the wall clock a create answered more than 0.25 s after the tap took its age found the job running
    (1 run in 20 beside two busy loops, session 27)."""
    catalog = _catalog(sf, accounts)
    accounts.reset()
    fake = FakeTime()
    tap = TapSalesforce(config=_config(sf, accounts), catalog=copy.deepcopy(catalog), parse_env_config=False)
    tap.client.clock, tap.client.sleep = fake.clock, fake.sleep
    authenticator = type(tap.kit.authenticator)
    fetch = authenticator.fetch_token

    def slow_fetch(self: t.Any) -> t.Any:
        token = fetch(self)
        fake.advance(0.5)  # the token endpoint's answer took 0.5 s
        return token

    monkeypatch.setattr(authenticator, "fetch_token", slow_fetch)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        tap.sync_all()
    polls = [r for r in accounts.requests("salesforce") if r.method == "GET" and r.path.startswith(CREATE + "/")]
    assert len(SingerOutput.parse(buffer.getvalue()).records("Account")) == ROWS
    assert fake.sleeps == [FIRST_BULK_POLL_WAIT]  # the whole wait, from the create: none of it spent on the token
    assert [r.path.endswith("/results") for r in polls] == [False, True]  # one poll (JobComplete), then results


def test_the_quota_stop_at_the_first_stream_aborts_the_job_it_took_and_never_read(sf: t.Any, accounts: Sandbox) -> None:
    """Two Bulk streams, the org at the quota share. The describe goes out before any usage reading (the early
    create is held), Account's job created early is taken when the first stream starts the jobs ahead, then the
    guard refuses Contact's create: the run stops with state safe before Account's job was read. That job is
    aborted at the run's end, not left running (nor is any job started ahead and never read)."""
    config = _config(sf, accounts, objects=["Account", "Contact"], api_quota_share=0.5)
    catalog = TapSalesforce(config=config, parse_env_config=False).catalog_dict
    accounts.reset()
    em = sf.emulator(accounts)
    em.bulk2_polls_before_complete = 1
    em.api_limit, em.api_used = 1000, 600
    accounts.faults.add("salesforce", "/services/data/*/jobs/query", FaultSpec(kind="stall", seconds=0.5, times=1))
    read, error, tap = _sync(config, catalog)
    assert error is None
    assert tap.quota_stopped
    assert read.records("Account") == []
    assert read.records("Contact") == []
    assert [r.status for r in _creates(accounts)] == [200]  # Contact's refused by the guard: never sent
    assert [(job.plan.sobject.name, job.state) for job in em._jobs.values()] == [("Account", "Aborted")]
    assert _no_early_thread()


def test_the_quota_stop_at_a_poll_aborts_the_stream_s_job(sf: t.Any, accounts: Sandbox) -> None:
    """The guard lets the job's creation through and refuses its poll (the org's usage reaches the share with the
    create): the stream stops with state safe, and the job it created, still running, is aborted rather than
    left to run on against the org's daily query jobs."""
    config = _config(sf, accounts, api_quota_share=0.5)
    em = sf.emulator(accounts)
    em.bulk2_polls_before_complete = 1
    em.api_limit, em.api_used = 1000, 498  # the describe's answer reads 499, the create's 500: the share
    read, error, tap = _sync(config, None)
    assert error is None
    assert tap.quota_stopped
    assert read.records("Account") == []
    assert [r.status for r in _creates(accounts)] == [200]
    assert [r for r in accounts.requests("salesforce") if r.method == "GET" and "/jobs/query/" in r.path] == []
    assert list(_jobs(sf, accounts).values()) == [("queryAll", "Aborted")]


def test_sigterm_while_a_job_is_polled_aborts_it(sf: t.Any, tmp_path: Path) -> None:
    """``tap-salesforce`` stopped by SIGTERM while it polls the job it reads (one still running): it exits 143 at
    once and aborts the job on the way out (review 20c: the signal gave up the abort with every other request, and
    the job ran on, InProgress; before the signal gave requests up, the exit waited for the job to finish)."""
    with sf.start_sandbox({"Account": ROWS}) as sandbox:
        catalog = _catalog(sf, sandbox)
        sandbox.reset()
        sf.emulator(sandbox).bulk_job_seconds = 120.0
        polls = lambda: [r for r in sandbox.requests("salesforce") if r.method == "GET" and "/jobs/query/" in r.path]  # noqa: E731
        code, took, err = _terminated(
            tmp_path, _config(sf, sandbox, bulk_poll_interval=0.2), catalog, lambda: len(polls()) >= 2, "two polls"
        )
        jobs = _jobs(sf, sandbox)
    assert code == 143, err
    assert took < 10  # not after the job's 120 s
    assert list(jobs.values()) == [("queryAll", "Aborted")]


@pytest.mark.parametrize(
    ("objects", "from_catalog"),
    [(["Account"], False), (["Account", "Contact"], False), (["Account"], True)],
    ids=["own-job", "jobs-ahead", "early-job-taken"],
)
def test_sigterm_while_the_sync_waits_for_a_create_aborts_the_job_it_made(
    sf: t.Any, tmp_path: Path, objects: list[str], from_catalog: bool
) -> None:
    """Review 20e Medium 1: the org makes the job, then answers 2 s late; SIGTERM in between, while the sync waits
    for the answer: without a catalog its own create (and, with two objects, the jobs started ahead), from a catalog
    the job created beside the describe, which the stream is taking. The answer is not lost to the signal: the exit
    waits for it (bounded) and aborts the job, exit 143. (Before: the handler's SystemExit cut the create on the main
    thread, or the wait of the stream taking the early job, in 0.02 s, and the job ran on.)"""
    with sf.start_sandbox({name: ROWS for name in objects}) as sandbox:
        catalog = _catalog(sf, sandbox) if from_catalog else None
        sandbox.reset()
        sf.emulator(sandbox).bulk_job_seconds = 120.0  # still running when aborted (a done job cannot be)
        sandbox.faults.add("salesforce", CREATE, FaultSpec(kind="slow_answer", seconds=2.0, method="POST"))
        code, took, err = _terminated(
            tmp_path,
            _config(sf, sandbox, objects=objects),
            catalog,
            lambda: len(sf.emulator(sandbox)._jobs) == 1,
            "the first job on the org",
        )
        time.sleep(0.5)  # an abort sent after the exit would land here (none should be)
        jobs = _jobs(sf, sandbox)
    assert code == 143, err
    assert took < 10, err  # the held answer (2 s) and one PATCH, not the job's run
    assert [state for _operation, state in jobs.values()] == ["Aborted"], (jobs, err)
    assert "Traceback" not in err


def test_sigterm_waits_for_a_create_s_answer_a_bounded_time(sf: t.Any, tmp_path: Path) -> None:
    """A create the org answers 40 s late: the exit waits ``CREATE_GRACE_SECONDS`` for it, not the whole answer,
    then exits 143 saying which object's job may run on (none can abort a job whose id it never read)."""
    with sf.start_sandbox({"Account": ROWS}) as sandbox:
        sandbox.faults.add("salesforce", CREATE, FaultSpec(kind="slow_answer", seconds=40.0, method="POST"))
        code, took, err = _terminated(
            tmp_path, _config(sf, sandbox), None, lambda: len(sf.emulator(sandbox)._jobs) == 1, "the job on the org"
        )
    assert code == 143, err
    assert CREATE_GRACE_SECONDS <= took < CREATE_GRACE_SECONDS + 8, err
    assert "salesforce bulk query job of Account: its create is still unanswered" in err
    assert "Traceback" not in err


def test_sigterm_during_a_long_wait_between_polls_ends_it_and_aborts_the_job(sf: t.Any, tmp_path: Path) -> None:
    """The poll read ahead on a worker thread waits 0.5 s from the create, then 1, 2, 4, then 8 s between polls
    (``bulk_poll_interval`` 60): SIGTERM in the 8 s wait after the 4th poll ends the wait at once (no poll more),
    the job is aborted, exit 143. (Before: the exit waited out the sleep, 15.9 s after the 5th poll; with the default
    interval of 5 s up to 5 s, with a longer one up to it.)"""
    with sf.start_sandbox({"Account": ROWS}) as sandbox:
        sf.emulator(sandbox).bulk_job_seconds = 120.0
        polls = lambda: [r for r in sandbox.requests("salesforce") if r.method == "GET" and "/jobs/query/" in r.path]  # noqa: E731
        code, took, err = _terminated(
            tmp_path, _config(sf, sandbox, bulk_poll_interval=60), None, lambda: len(polls()) >= 4, "four polls"
        )
        jobs, asked = _jobs(sf, sandbox), len(polls())
    assert code == 143, err
    assert took < 5, err  # not the rest of the 8 s wait
    assert asked == 4  # no poll after the signal
    assert [state for _operation, state in jobs.values()] == ["Aborted"], (jobs, err)


def test_a_second_sigterm_during_the_way_out_is_ignored_and_every_job_is_aborted(sf: t.Any, tmp_path: Path) -> None:
    """Review 21c Medium 1: four Bulk objects, every create and abort answered 1.5 s late. SIGTERM #1 once three
    jobs are on the org (two started ahead and answered, the third's create out), SIGTERM #2 when the way out's
    second abort reaches the org. The second is logged and ignored: every job is aborted, exit 143. (Before: its
    SystemExit cut the loop of aborts, a job answered and known was left UploadComplete, nothing logged.)"""
    objects = ["Account", "Contact", "Lead", "Opportunity"]
    with sf.start_sandbox({name: 50 for name in objects}) as sandbox:
        em = sf.emulator(sandbox)
        em.bulk_job_seconds = 120.0  # still running when aborted
        sandbox.faults.add("salesforce", CREATE, FaultSpec(kind="slow_answer", seconds=1.5, method="POST"))
        sandbox.faults.add("salesforce", CREATE + "/*", FaultSpec(kind="slow_answer", seconds=1.5, method="PATCH"))
        patches = lambda: [r for r in sandbox.requests("salesforce") if r.method == "PATCH"]  # noqa: E731
        config = write_json(tmp_path / "config.json", _config(sf, sandbox, objects=objects))
        run = Running([str(BIN / "tap-salesforce"), "--config", config])
        try:
            run.wait_for(lambda: len(em._jobs) == 3, "three jobs on the org")
            time.sleep(0.2)
            run.proc.send_signal(signal.SIGTERM)
            run.wait_for(lambda: len(patches()) >= 2, "the way out's second abort")
            run.proc.send_signal(signal.SIGTERM)
            code = run.proc.wait(60)
        finally:
            run.close()
        time.sleep(0.5)  # an abort sent after the exit would land here (none should be)
        jobs = _jobs(sf, sandbox)
    err = "".join(run.err)[-3000:]
    assert code == 143, err
    assert len(jobs) == 3, (jobs, err)
    assert [state for _operation, state in jobs.values()] == ["Aborted"] * 3, (jobs, err)
    assert "SIGTERM during the way out: ignored" in err
    assert "Traceback" not in err


NOT_SENT = """
import json, sys
from xlr8_kit.http.abort import terminate_requests
from xlr8_tap_salesforce.tap import TapSalesforce

tap = TapSalesforce(config=json.loads(sys.argv[1]), parse_env_config=False)
tap.client.data_url("jobs/query")  # the token, before the signal
terminate_requests()  # what the handler does first
try:
    tap.client.start_bulk_job("SELECT Id FROM Account")
except Exception as exc:
    print(type(exc).__name__)
"""


def test_a_create_not_yet_sent_when_a_signal_ends_the_process_is_not_sent(sf: t.Any, accounts: Sandbox) -> None:
    """A create is never cut once sent, but one not sent yet when the process is ending is not sent at all: no job
    is made that the exit would have to wait for and abort (in a child process: the signal's state is for good)."""
    done = subprocess.run(
        [sys.executable, "-c", NOT_SENT, json.dumps(_config(sf, accounts))],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.stdout.strip() == "RequestAbortedError", done.stderr[-2000:]
    assert _creates(accounts) == []
    assert _jobs(sf, accounts) == {}
