"""A connector's caller (a notebook, a service) that goes on after a Ctrl-C: its later requests are still sent. The
tap a connector builds installs the tap's signal handlers, whose first step in a tap's own CLI run gives up every
request of the process for good (``abort.terminate_requests``); in a caller's process it must not (review 20c: a new
connector's ``test_connection`` then failed reachability with "given up")."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
import typing as t
from pathlib import Path

import pytest

from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.emulator import SandboxContext
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox, run_sandbox

CALLER = textwrap.dedent(
    """
    import json, os, signal
    from xlr8_sandbox.company import Company
    from xlr8_sandbox.platform.emulator import SandboxContext
    from xlr8_sandbox.platform.server import run_sandbox
    from xlr8_tap_salesforce.connector import SalesforceConnector

    ctx = SandboxContext(company=Company(seed=42, scale=100), options={"salesforce": {"counts": {"Account": 5}}})
    with run_sandbox(["salesforce"], ctx=ctx) as sandbox:
        creds = sandbox.emulator("salesforce").test_credentials()
        config = {"login_url": sandbox.url("salesforce"), "auth_type": "password", "api_type": "rest",
                  **{k: creds[k] for k in ("client_id", "client_secret", "username", "password", "security_token")}}
        before = SalesforceConnector(config).test_connection()
        try:
            os.kill(os.getpid(), signal.SIGINT)  # the user interrupts a cell; the caller catches it
            interrupted = None
        except BaseException as exc:
            interrupted = type(exc).__name__
        after = SalesforceConnector(config).test_connection()
        print(json.dumps({"before": before.ok, "interrupted": interrupted, "after": after.ok,
                          "why": [check.detail for check in after.checks if not check.ok]}))
    """
)


def test_a_connector_still_sends_requests_after_its_caller_caught_an_interrupt() -> None:
    done = subprocess.run([sys.executable, "-c", CALLER], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["before"] is True
    assert result["interrupted"] == "SystemExit"
    assert result["after"] is True, result["why"]


STALLED_TOKEN = textwrap.dedent(
    """
    import os, signal, threading, time
    from xlr8_sandbox.company import Company
    from xlr8_sandbox.platform.emulator import SandboxContext
    from xlr8_sandbox.platform.faults import FaultSpec
    from xlr8_sandbox.platform.server import run_sandbox
    from xlr8_tap_salesforce.connector import SalesforceConnector

    ctx = SandboxContext(company=Company(seed=42, scale=100), options={"salesforce": {"counts": {"Account": 5}}})
    with run_sandbox(["salesforce"], ctx=ctx) as sandbox:
        creds = sandbox.emulator("salesforce").test_credentials()
        config = {"login_url": sandbox.url("salesforce"), "auth_type": "password", "api_type": "rest",
                  **{k: creds[k] for k in ("client_id", "client_secret", "username", "password", "security_token")}}
        connector = SalesforceConnector(config)
        sandbox.faults.add("salesforce", "/services/oauth2/token", FaultSpec(kind="stall", seconds=12))
        threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()  # Ctrl-C 1 s into the token request
        started = time.monotonic()
        try:
            connector.get_entity_schema("Account")
            what = "returned"
        except BaseException as exc:
            what = type(exc).__name__
        print(what, round(time.monotonic() - started, 2), flush=True)
        os._exit(0)  # not the sandbox's wait for the stalled request
    """
)


def test_a_connector_s_ctrl_c_during_a_stalled_token_request_ends_the_call_at_once() -> None:
    """Review 21c Medium 2: the tap's hold of a signal during a main-thread token refresh (its answer may carry a
    rotated refresh token) is bounded by the kit's grace only in the tap's own CLI run. In a caller's process the
    Ctrl-C must end the call at once, not wait out the stalled request (before: the whole 12 s stall), and write
    nothing on the caller's stdout (ends22: the tap's handler printed ``{"type":"STATE","value":{}}`` there)."""
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", STALLED_TOKEN], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(done.stdout.splitlines()) == 1, done.stdout  # the script's own line only
    what, took = done.stdout.split()[-2:]
    assert what == "SystemExit", done.stderr[-2000:]  # the tap's handler's exit (130), as after any Ctrl-C
    assert float(took) < 4, (took, time.monotonic() - began)


INTERRUPTED_CREATE = textwrap.dedent(
    """
    import json, os, signal, threading, time
    from xlr8_sandbox.company import Company
    from xlr8_sandbox.platform.emulator import SandboxContext
    from xlr8_sandbox.platform.faults import FaultSpec
    from xlr8_sandbox.platform.server import run_sandbox
    from xlr8_tap_salesforce.connector import SalesforceConnector

    ctx = SandboxContext(company=Company(seed=42, scale=100), options={"salesforce": {"counts": {"Account": 5}}})
    with run_sandbox(["salesforce"], ctx=ctx) as sandbox:
        org = sandbox.emulator("salesforce")
        org.bulk_job_seconds = 120.0  # still running when aborted
        creds = org.test_credentials()
        config = {"login_url": sandbox.url("salesforce"), "auth_type": "password", "api_type": "bulk",
                  **{k: creds[k] for k in ("client_id", "client_secret", "username", "password", "security_token")}}
        connector = SalesforceConnector(config)
        connector.get_entity_schema("Account")  # the token and the describe, before
        sandbox.faults.add("salesforce", "/services/data/v60.0/jobs/query",
                           FaultSpec(kind="slow_answer", seconds=2.0, method="POST"))

        def interrupt():  # Ctrl-C once the org made the job, before its answer
            while not org._jobs:
                time.sleep(0.01)
            time.sleep(0.2)
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=interrupt, daemon=True).start()
        started = time.monotonic()
        try:
            connector.bulk_export("Account")
            what = "returned"
        except BaseException as exc:
            what = type(exc).__name__
        took = time.monotonic() - started
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and [j.state for j in org._jobs.values()] != ["Aborted"]:
            time.sleep(0.05)
        print(json.dumps({"what": what, "took": took, "jobs": [j.state for j in org._jobs.values()]}), flush=True)
    """
)


def test_a_connector_s_ctrl_c_while_a_bulk_create_is_out_aborts_the_job_once_it_answers() -> None:
    """Review 21c Info: a caller's Ctrl-C while ``bulk_export``'s create is out (the org made the job, its answer
    comes 2 s late) ends the call at once, and the job is aborted once the create answers, with no later call on the
    connector (before: it ran on, UploadComplete, unless a later read closed it)."""
    done = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_CREATE], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["what"] == "SystemExit", result
    assert result["took"] < 2, result  # not after the create's answer
    assert result["jobs"] == ["Aborted"], (result, done.stderr[-2000:])


#: A script (not a notebook): ``bulk_export`` without a try, so the Ctrl-C's SystemExit ends the interpreter.
SCRIPT = textwrap.dedent(
    """
    import json, sys
    import xlr8_tap_salesforce.early as early
    from xlr8_tap_salesforce.connector import SalesforceConnector

    early.CREATE_GRACE_SECONDS = float(sys.argv[2])
    connector = SalesforceConnector(json.load(open(sys.argv[1])))
    connector.get_entity_schema("Account")  # the token and the describe, before
    print("ready", flush=True)
    sys.stdin.readline()
    connector.bulk_export("Account")
    """
)


def password_config(sandbox: Sandbox, api_type: str, **extra: t.Any) -> dict[str, t.Any]:
    """The emulator org's password-flow config (the scripts above build the same in their own interpreter)."""
    creds = sandbox.emulator("salesforce").test_credentials()
    return {
        "login_url": sandbox.url("salesforce"),
        "auth_type": "password",
        "api_type": api_type,
        **extra,
        **{k: creds[k] for k in ("client_id", "client_secret", "username", "password", "security_token")},
    }


@pytest.mark.parametrize(
    ("answer_after", "grace", "again", "jobs", "abort_stall"),
    [
        (2.0, 10.0, None, ["Aborted"], None),
        (5.0, 1.0, None, ["UploadComplete"], None),
        (5.0, 10.0, 1.0, ["UploadComplete"], None),
        (1.5, 10.0, 3.0, ["UploadComplete"], 15.0),
    ],
    ids=[
        "answered-within-the-grace",
        "unanswered-at-the-grace-s-end",
        "a-second-ctrl-c-during-the-wait",
        "a-second-ctrl-c-while-the-abort-is-out",
    ],
)
def test_a_script_ended_by_its_ctrl_c_while_a_bulk_create_is_out_aborts_the_job_before_it_exits(
    tmp_path: Path, answer_after: float, grace: float, again: float | None, jobs: list[str], abort_stall: float | None
) -> None:
    """Review 21f Low 1: the create's daemon thread, which aborts the job once the create answers, died with the
    interpreter when the Ctrl-C ended the script (before: exit 0.11 s, the job UploadComplete). The exit now waits
    for that abort, bounded by the create grace from the Ctrl-C; a create unanswered by then is logged by object.

    A second Ctrl-C ``again`` s into that wait ends it at once (the user wants out): exit 130 well before the answer,
    the create logged once as left by that interruption, no traceback (ends22: "Exception ignored in atexit
    callback", the SystemExit's traceback, and nothing logged). If the create had answered and its abort is what is
    still out (a slow org), the line names the job's id, so the user can abort it by hand (review23f Low 3)."""
    ctx = SandboxContext(company=Company(seed=42, scale=100), options={"salesforce": {"counts": {"Account": 5}}})
    with run_sandbox(["salesforce"], ctx=ctx) as sandbox:
        org = sandbox.emulator("salesforce")
        org.bulk_job_seconds = 120.0  # still running when aborted
        config = password_config(sandbox, "bulk")
        (tmp_path / "config.json").write_text(json.dumps(config))
        child = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(tmp_path / "config.json"), str(grace)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None
            assert child.stdin is not None
            assert child.stdout.readline().strip() == "ready"
            sandbox.faults.add(
                "salesforce",
                "/services/data/v60.0/jobs/query",
                FaultSpec(kind="slow_answer", seconds=answer_after, method="POST"),
            )
            if abort_stall is not None:
                sandbox.faults.add(
                    "salesforce",
                    "/services/data/v60.0/jobs/query/*",
                    FaultSpec(kind="stall", seconds=abort_stall, method="PATCH"),
                )
            child.stdin.write("go\n")
            child.stdin.flush()
            deadline = time.monotonic() + 30
            while not org._jobs and time.monotonic() < deadline:  # Ctrl-C once the org made the job
                time.sleep(0.01)
            time.sleep(0.2)
            child.send_signal(signal.SIGINT)
            interrupted = time.monotonic()
            if again is not None:
                time.sleep(again)
                assert child.poll() is None, "the exit did not wait for the create"
                child.send_signal(signal.SIGINT)
            code = child.wait(timeout=60)
            took = time.monotonic() - interrupted
        finally:
            child.kill()
            child.wait()
        states = [job.state for job in org._jobs.values()]
        job_ids = list(org._jobs)
        stderr = child.stderr.read() if child.stderr is not None else ""
    assert code == 130, stderr[-2000:]
    assert states == jobs, (states, took, stderr[-2000:])
    assert took < (grace + 4 if again is None else again + 3), took  # bounded by the grace (or the 2nd Ctrl-C)
    unseen = "salesforce bulk query job of Account: its create is still unanswered at exit"
    assert stderr.count(unseen) == (jobs != ["Aborted"] and abort_stall is None), stderr[-2000:]
    abort_out = f"salesforce bulk query job {job_ids[0]} of Account: its abort is still out at exit"
    assert stderr.count("its abort is still out at exit") == stderr.count(abort_out) == (abort_stall is not None), (
        stderr[-2000:]
    )
    assert ("whose wait a second interruption ended" in stderr) == (again is not None), stderr[-2000:]
    assert "Traceback" not in stderr, stderr[-2000:]
    assert "Exception ignored" not in stderr, stderr[-2000:]


#: User code that runs the tap itself, stdout piped to a target: a Singer stream, so a signal still ends it with a
#: STATE. ``--test`` (the SDK runs it while parsing, outside the CLI run proper) likewise.
DIRECT = textwrap.dedent(
    """
    import io, contextlib, json, sys
    from xlr8_tap_salesforce.tap import TapSalesforce

    print("ready", file=sys.stderr, flush=True)
    TapSalesforce(config=json.load(open(sys.argv[1])), parse_env_config=False).sync_all()
    """
)


@pytest.mark.parametrize("how", ["sync_all", "--test"])
def test_a_tap_run_by_user_code_or_test_still_writes_its_state_when_a_signal_ends_it(tmp_path: Path, how: str) -> None:
    """Review23f Low 4: the STATE on a signal was gated on the tap's CLI run, so ``TapX(...).sync_all()`` in user
    code (and ``tap-x --test``) lost its final STATE (a re-read of up to a stream). Only a connector's tap skips it."""
    ctx = SandboxContext(company=Company(seed=42, scale=100), options={"salesforce": {"counts": {"Account": 3000}}})
    with run_sandbox(["salesforce"], ctx=ctx) as sandbox:
        config = password_config(sandbox, "rest", objects=["Account"], batch_size=200)
        (tmp_path / "config.json").write_text(json.dumps(config))
        # sync_all: SIGTERM mid-read; --test (one record): during its first query
        sandbox.faults.set_latency("salesforce", 300 if how == "sync_all" else 4000, "/services/data/v60.0/query*")
        command = (
            [sys.executable, "-c", DIRECT, str(tmp_path / "config.json")]
            if how == "sync_all"
            else [
                str(Path(sys.executable).parent / "tap-salesforce"),
                "--config",
                str(tmp_path / "config.json"),
                "--test",
            ]
        )
        errors = (tmp_path / "stderr").open("w")
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
        try:
            assert child.stdout is not None
            deadline = time.monotonic() + 60
            awaited = "RECORD" if how == "sync_all" else "SCHEMA"
            while time.monotonic() < deadline:  # SIGTERM once the read is under way
                line = child.stdout.readline()
                if not line or json.loads(line)["type"] == awaited:
                    break
            time.sleep(0.5 if how == "sync_all" else 1.0)
            child.send_signal(signal.SIGTERM)
            out = child.stdout.read()  # not communicate(): it reads past what readline() buffered
            child.wait(timeout=60)
        finally:
            child.kill()
            child.wait()
            errors.close()
    err = (tmp_path / "stderr").read_text()
    lines = [json.loads(text) for text in out.splitlines()]
    assert child.returncode == 143, err[-2000:]
    assert lines, err[-2000:]
    assert lines[-1]["type"] == "STATE", (lines[-3:], err[-2000:])


def test_a_signal_during_discover_writes_no_state_into_the_catalog(tmp_path: Path) -> None:
    """``--discover`` writes a catalog on stdout, not a Singer stream: a SIGTERM during its describes ends it with
    143 and writes no STATE there (review23f Info; ``KitTap.run_discovery``)."""
    ctx = SandboxContext(company=Company(seed=42, scale=100), options={"salesforce": {"counts": {"Account": 5}}})
    with run_sandbox(["salesforce"], ctx=ctx) as sandbox:
        config = password_config(sandbox, "rest", objects=["Account"])
        (tmp_path / "config.json").write_text(json.dumps(config))
        sandbox.faults.set_latency("salesforce", 3000, "/services/data/*")  # the describes
        tap = str(Path(sys.executable).parent / "tap-salesforce")
        child = subprocess.Popen(
            [tap, "--config", str(tmp_path / "config.json"), "--discover"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not any(
                "/token" in r.path for r in sandbox.requests("salesforce")
            ):  # the token answered: the describes are next
                time.sleep(0.05)
            time.sleep(1.0)
            child.send_signal(signal.SIGTERM)
            out, err = child.communicate(timeout=60)
        finally:
            child.kill()
            child.wait()
    assert child.returncode == 143, err[-2000:]
    assert '"STATE"' not in out, out[-2000:]
